"""Shared pieces of the sentiment tooling: preprocessing v1, data loading, metrics.

Preprocess "v1" is a contract with the Rust inference code (src/sentiment): it must stay byte-for-byte
identical there. Change it only together with a new "preprocess" tag in labels.json.
"""

import json
import os
import random
import re

LABELS = ["negative", "neutral", "positive"]
LABEL2ID = {name: i for i, name in enumerate(LABELS)}

# "Whitespace" is exactly the Unicode White_Space property (what Rust's char::is_whitespace and the Rust regex
# crate's \s use). It is spelled out because Python's \s and str.split() also count U+001C..U+001F.
_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_MENTION = re.compile(r"@[A-Za-z0-9_]+(@[A-Za-z0-9_.-]+)?")
_URL = re.compile(f"https?://[^{_WS}]+|www\\.[^{_WS}]+")
_SPACES = re.compile(f"[{_WS}]+")
# The tokenizer lower-cases, so case is left alone here.


def preprocess_v1(text: str) -> str:
    """1. @handle (optionally @handle@instance) -> @user, 2. URLs -> http, 3. collapse whitespace, trim."""
    text = _MENTION.sub("@user", text)
    text = _URL.sub("http", text)
    return _SPACES.sub(" ", text).strip(" ")  # after collapsing, any edge whitespace is one " "


def repo_root() -> str:
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def default_data_dir() -> str:
    return os.path.normpath(os.path.join(repo_root(), "..", "shared", "data", "sentiment"))


def read_tsv(path):
    """Reads a `label<TAB>text` file with a header; returns [(label_id, text)]."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        assert header == ["label", "text"], f"{path}: unexpected header {header}"
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            label, text = line.split("\t", 1)
            rows.append((LABEL2ID[label], text))
    return rows


def split_reviews(rows, holdout, seed):
    """Deterministic hold-out slice of reviews_train.tsv used for model selection."""
    idx = list(range(len(rows)))
    random.Random(seed).shuffle(idx)
    held = sorted(idx[:holdout])
    rest = sorted(idx[holdout:])
    return [rows[i] for i in rest], [rows[i] for i in held]


def metrics(gold, pred, n=3):
    """Macro-recall, per-class precision/recall/F1, accuracy and confusion matrix (rows gold, cols pred)."""
    cm = [[0] * n for _ in range(n)]
    for g, p in zip(gold, pred):
        cm[g][p] += 1
    per = {}
    recalls = []
    for c in range(n):
        tp = cm[c][c]
        support = sum(cm[c])
        predicted = sum(cm[r][c] for r in range(n))
        rec = tp / support if support else float("nan")
        prec = tp / predicted if predicted else 0.0
        f1 = 2 * prec * rec / (prec + rec) if support and (prec + rec) else 0.0
        per[LABELS[c]] = {"precision": prec, "recall": rec, "f1": f1, "support": support}
        if support:
            recalls.append(rec)
    total = len(gold)
    out = {
        "n": total,
        "macro_recall": sum(recalls) / len(recalls) if recalls else float("nan"),
        "accuracy": sum(cm[c][c] for c in range(n)) / total if total else float("nan"),
        "per_class": per,
        "confusion": cm,
    }
    return out


def binary_accuracy(gold, logits):
    """Neg vs pos accuracy on rows whose gold label is not neutral; decision = larger of the two logits."""
    ok = tot = 0
    for g, row in zip(gold, logits):
        if g == 1:
            continue
        tot += 1
        p = 0 if row[0] >= row[2] else 2
        ok += p == g
    return ok / tot if tot else float("nan")


def format_metrics(name, m, binary=None):
    lines = [f"## {name}  (n={m['n']})",
             f"macro-recall {m['macro_recall']:.4f}   accuracy {m['accuracy']:.4f}"
             + (f"   binary-acc(neg/pos) {binary:.4f}" if binary is not None else "")]
    lines.append("class      precision recall  f1      support")
    for c in LABELS:
        p = m["per_class"][c]
        lines.append(f"{c:<10} {p['precision']:.4f}    {p['recall']:.4f}  {p['f1']:.4f}  {p['support']}")
    lines.append("confusion (rows gold neg/neu/pos, cols pred neg/neu/pos):")
    for c, row in zip(LABELS, m["confusion"]):
        lines.append(f"  {c:<9} {row}")
    return "\n".join(lines)


def dump_json(obj, path):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, ensure_ascii=False)
        fh.write("\n")


def fit_temperature(logits, gold):
    """Single scalar T > 0 minimising the NLL of softmax(logits / T) on held-out data.
    Returns (T, NLL at T = 1, NLL at T)."""
    import torch  # only the training scripts need it

    z = torch.tensor(logits, dtype=torch.float64)
    y = torch.tensor(gold)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    nll_before = float(torch.nn.functional.cross_entropy(z, y))
    nll_after = float(torch.nn.functional.cross_entropy(z / t, y))
    return t, nll_before, nll_after
