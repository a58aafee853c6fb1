"""Fine-tune the multilingual sentiment model (`models/sentiment-multilingual/`) on a CPU.

The base is multilingual-e5-small with its vocabulary pruned (`base.py`). Two cores cannot fine-tune all
twelve layers on ~90k texts in a working day, so this recipe freezes the embeddings and the lowest
`--frozen` layers, runs them once over every text (`prepare`: their output is cached in float16), and then
trains only the upper layers, the pooler and the classifier on the cache (`train`), which costs per epoch
about (12 - frozen) / 12 of one forward pass plus its backward pass. The frozen part stays bit for bit the
4-bit base, so `export` can store it as int8 values with one float16 scale per 32 weights (lossless for
Q4_0 weights; see `src/sentiment/common.rs`) and the trained part in float16.

    python train.py prepare --base /tmp/hearsay-ml/base --data ../shared/data --work /tmp/hearsay-ml/work
    python train.py train --base /tmp/hearsay-ml/base --work /tmp/hearsay-ml/work --epochs 3
    python train.py export --base /tmp/hearsay-ml/base --work /tmp/hearsay-ml/work --out models/sentiment-multilingual

Seeds are fixed (13): data slices, shuffling, head initialisation, dropout. `train --time-budget MIN` ends on time
with a fully decayed learning rate (schedule = max(step fraction, time fraction)), as `../train.py` does.
"""

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import data as mldata  # noqa: E402
from common import LABELS, preprocess_v1  # noqa: E402
from train_gpu import Bert  # noqa: E402

# Reviews are cut at 64 tokens (hearsay's texts are mostly shorter); training and inference alike.
MAX_LEN = 64
QK = 32


def config(base):
    shape = json.load(open(os.path.join(base, "shape.json")))
    return {
        "architectures": ["BertForSequenceClassification"],
        "model_type": "bert",
        "hidden_size": shape["H"],
        "num_hidden_layers": shape["NL"],
        "num_attention_heads": shape["NH"],
        "intermediate_size": shape["FF"],
        "vocab_size": shape["VOC"],
        "max_position_embeddings": shape["MAXP"],
        "type_vocab_size": shape["TVS"],
        "layer_norm_eps": 1e-12,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "position_embedding_type": "absolute",
        "pad_token_id": 1,
        "id2label": {str(i): name for i, name in enumerate(LABELS)},
        "label2id": {name: i for i, name in enumerate(LABELS)},
        # the keys rust-bert's and candle's BERT configs require (unused by the native backend)
        "initializer_range": 0.02,
        "is_decoder": False,
        "add_cross_attention": False,
        "classifier_dropout": None,
        "use_cache": True,
    }


def load_model(base, head_seed=13):
    cfg = config(base)
    torch.manual_seed(head_seed)
    model = Bert(cfg)
    for m in (model.bert.pooler.dense, model.classifier):
        torch.nn.init.normal_(m.weight, std=0.02)
        torch.nn.init.zeros_(m.bias)
    state = {k: torch.from_numpy(v) for k, v in load_file(os.path.join(base, "base.safetensors")).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert all(k.startswith(("bert.pooler", "classifier")) for k in missing), missing
    return model, cfg


def encode(tok, texts):
    return [e.ids[:MAX_LEN - 1] + [2] if len(e.ids) > MAX_LEN else e.ids
            for e in tok.encode_batch([preprocess_v1(t) for t in texts])]


def lower(model, ids_list, frozen, batch=64):
    """Hidden states after the embeddings and `frozen` layers, per text (float16, [len, h])."""
    out = [None] * len(ids_list)
    order = sorted(range(len(ids_list)), key=lambda i: len(ids_list[i]))
    model.eval()
    t0 = time.time()
    with torch.no_grad():
        for s in range(0, len(order), batch):
            part = order[s:s + batch]
            x, mask = run_lower(model, [ids_list[i] for i in part], frozen)
            for j, i in enumerate(part):
                out[i] = x[j, : len(ids_list[i])].to(torch.float16).clone()
            if s // batch % 50 == 0:
                print(f"  lower {s}/{len(order)} {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    return out


def pad_ids(seqs):
    t = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), t), 1, dtype=torch.long)
    mask = torch.zeros((len(seqs), t), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


def layer_forward(model, lay, x, mask, training):
    b, t, h = x.shape
    heads = model.heads
    hd = h // heads
    s = lay.attention.self

    def split(y):
        return y.view(b, t, heads, hd).transpose(1, 2)

    attn_mask = mask[:, None, None, :].bool()
    a = F.scaled_dot_product_attention(split(s.query(x)), split(s.key(x)), split(s.value(x)), attn_mask=attn_mask,
                                       dropout_p=model.p_attn if training else 0.0)
    a = a.transpose(1, 2).reshape(b, t, -1)
    o = lay.attention.output
    x = o.LayerNorm(F.dropout(o.dense(a), model.p_hidden, training) + x)
    m = F.gelu(lay.intermediate.dense(x))
    return lay.output.LayerNorm(F.dropout(lay.output.dense(m), model.p_hidden, training) + x)


def run_lower(model, seqs, frozen):
    ids, mask = pad_ids(seqs)
    e = model.bert.embeddings
    pos = torch.arange(ids.shape[1])
    x = e.LayerNorm(e.word_embeddings(ids) + e.position_embeddings(pos)[None] + e.token_type_embeddings.weight[0])
    for lay in model.bert.encoder.layer[:frozen]:
        x = layer_forward(model, lay, x, mask, False)
    return x, mask


def upper(model, states, frozen, training):
    t = max(s.shape[0] for s in states)
    h = states[0].shape[1]
    x = torch.zeros((len(states), t, h))
    mask = torch.zeros((len(states), t), dtype=torch.long)
    for i, s in enumerate(states):
        x[i, : s.shape[0]] = s.float()
        mask[i, : s.shape[0]] = 1
    for lay in model.bert.encoder.layer[frozen:]:
        x = layer_forward(model, lay, x, mask, training)
    pooled = torch.tanh(model.bert.pooler.dense(x[:, 0]))
    return model.classifier(F.dropout(pooled, model.p_hidden, training))


def prepare(args):
    model, _cfg = load_model(args.base)
    tok = Tokenizer.from_file(os.path.join(args.base, "tokenizer.json"))
    train, holdout = mldata.split(args.data)
    os.makedirs(args.work, exist_ok=True)
    t0 = time.time()
    ids = encode(tok, [t for t, _l, _g in train])
    print(f"tokenised {len(ids)} training texts, {sum(map(len, ids))} tokens, {time.time() - t0:.0f}s",
          file=sys.stderr)
    held = {f"{k[0]}/{k[1]}": (encode(tok, [t for t, _l in v]), [lab for _t, lab in v])
            for k, v in holdout.items() if v}
    held_states = {k: lower(model, v[0], args.frozen) for k, v in held.items()}
    torch.save({"frozen": args.frozen, "held": {k: (held_states[k], held[k][1]) for k in held}},
               os.path.join(args.work, "held.pt"))
    states = lower(model, ids, args.frozen)
    torch.save({"frozen": args.frozen, "states": states, "labels": [lab for _t, lab, _g in train],
                "langs": [g for _t, _l, g in train]}, os.path.join(args.work, "train.pt"))
    print(f"prepare done in {time.time() - t0:.0f}s", file=sys.stderr)


def metrics(logits, gold):
    pred = logits.argmax(1).tolist()
    rec = []
    for c in range(3):
        n = sum(1 for g in gold if g == c)
        if n:
            rec.append(sum(1 for p, g in zip(pred, gold) if g == c and p == c) / n)
    pn = [(p, g) for p, g in zip(logits[:, [0, 2]].argmax(1).tolist(), gold) if g != 1]
    return {
        "n": len(gold),
        "macro_recall": sum(rec) / len(rec),
        "accuracy": sum(1 for p, g in zip(pred, gold) if p == g) / len(gold),
        "binary_accuracy": sum(1 for p, g in pn if (p == 1) == (g == 2)) / max(1, len(pn)),
        "negative_recall": (sum(1 for p, g in zip(pred, gold) if g == 0 and p == 0)
                            / max(1, sum(1 for g in gold if g == 0))),
    }


@torch.no_grad()
def evaluate(model, held, frozen):
    model.eval()
    out = {}
    for name, (states, gold) in held.items():
        order = sorted(range(len(states)), key=lambda i: states[i].shape[0])
        logits = torch.zeros((len(states), 3))
        for s in range(0, len(order), 128):
            part = order[s:s + 128]
            logits[part] = upper(model, [states[i] for i in part], frozen, False)
        out[name] = (logits, gold)
    model.train()
    return out


def summary(evals):
    rows = {k: metrics(lg, gold) for k, (lg, gold) in evals.items()}
    tweets = [rows[f"{lang}/xlm-t"]["macro_recall"] for lang in ("ar", "de", "en", "es", "fr", "hi", "it", "pt")]
    zh = [rows[k]["binary_accuracy"] for k in rows if k.startswith("zh/")]
    return rows, {"tweets_macro_recall": sum(tweets) / len(tweets), "tweets_min": min(tweets),
                  "zh_reviews_binary": sum(zh) / len(zh)}


def train(args):
    model, _cfg = load_model(args.base)
    data = torch.load(os.path.join(args.work, "train.pt"))
    held = torch.load(os.path.join(args.work, "held.pt"))["held"]
    frozen = data["frozen"]
    if args.init:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in load_file(args.init).items()}, strict=False)
    for name, p in model.named_parameters():
        p.requires_grad = not (name.startswith("bert.embeddings")
                               or any(name.startswith(f"bert.encoder.layer.{i}.") for i in range(frozen)))
    states, labels, langs = data["states"], data["labels"], data["langs"]
    # Languages with few rows are repeated so that each language counts at least `--min-per-lang` per epoch.
    per_lang = {}
    for i, g in enumerate(langs):
        per_lang.setdefault(g, []).append(i)
    rng = random.Random(13)
    counts = [0, 0, 0]
    for lab in labels:
        counts[lab] += 1
    weight = torch.tensor([(sum(counts) / (3 * c)) ** 0.5 for c in counts])
    weight[0] *= args.neg_weight
    head = [p for n, p in model.named_parameters() if n.startswith(("bert.pooler", "classifier"))]
    body = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith(("bert.pooler",
                                                                                              "classifier"))]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr}, {"params": head, "lr": args.lr * 5}],
                            weight_decay=0.01)
    base_lrs = [g["lr"] for g in opt.param_groups]

    def epoch_order():
        idx = []
        for g, rows in per_lang.items():
            reps = max(1, math.ceil(args.min_per_lang / len(rows)))
            for _ in range(reps):
                idx.extend(rows)
        rng.shuffle(idx)
        # length-bucketed batches: sort within pools of 50 batches, then shuffle the batches
        pool = args.batch * 50
        batches = []
        for s in range(0, len(idx), pool):
            chunk = sorted(idx[s:s + pool], key=lambda i: states[i].shape[0])
            batches.extend(chunk[b:b + args.batch] for b in range(0, len(chunk), args.batch))
        rng.shuffle(batches)
        return batches

    plan = [epoch_order() for _ in range(math.ceil(args.epochs))]
    total = int(sum(len(p) for p in plan) * (args.epochs / math.ceil(args.epochs)))
    t0 = time.time()
    step = 0
    torch.manual_seed(13)
    model.train()
    best = None
    done = False
    for ep, batches in enumerate(plan):
        for part in batches:
            frac = step / total
            if args.time_budget:
                frac = max(frac, (time.time() - t0) / (args.time_budget * 60))
            if frac >= 1:
                done = True
                break
            warm = 0.06
            scale = frac / warm if frac < warm else (1 - frac) / (1 - warm)
            for g, lr in zip(opt.param_groups, base_lrs):
                g["lr"] = lr * scale
            logits = upper(model, [states[i] for i in part], frozen, True)
            y = torch.tensor([labels[i] for i in part])
            loss = F.cross_entropy(logits, y, weight=weight, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            if step % 100 == 0:
                print(f"step {step}/{total} ep {ep} loss {loss.item():.4f} {time.time() - t0:.0f}s", file=sys.stderr,
                      flush=True)
            if step % args.eval_every == 0:
                rows, head_line = summary(evaluate(model, held, frozen))
                print(f"eval step {step}: {json.dumps(head_line)}", file=sys.stderr, flush=True)
        if done:
            break
    rows, head_line = summary(evaluate(model, held, frozen))
    print(f"final step {step}: {json.dumps(head_line)}", file=sys.stderr, flush=True)
    state = {k: v.detach().contiguous().numpy() for k, v in model.state_dict().items()
             if not k.startswith("bert.embeddings")
             and not any(k.startswith(f"bert.encoder.layer.{i}.") for i in range(frozen))}
    save_file(state, os.path.join(args.work, "upper.safetensors"))
    json.dump({"steps": step, "seconds": round(time.time() - t0), "args": vars(args), "summary": head_line,
               "holdout": rows, "frozen": frozen, "best": best},
              open(os.path.join(args.work, "train_summary.json"), "w"), indent=1)


def fit_temperature(logits, gold):
    best = (1e9, 1.0)
    y = torch.tensor(gold)
    for t in [0.5 + 0.02 * i for i in range(100)]:
        nll = F.cross_entropy(logits / t, y).item()
        best = min(best, (nll, t))
    return best[1]


def quantise_blocks(w):
    """float32 [rows, cols] holding Q4_0-dequantised values -> (int8 [rows, cols], float16 [rows, cols/32])."""
    rows, cols = w.shape
    blocks = w.reshape(rows, cols // QK, QK)
    amax = np.abs(blocks).max(axis=2)
    # Q4_0: value = q * d with q in -8..7 and d the block's fp16 scale; |q| reaches 8 only for -8, so the scale
    # is amax / 8 when the block's extreme is negative, else amax / 7 at most. Recover d exactly as the block's
    # smallest non-zero |value| step: every value is an integer multiple of d.
    d = np.zeros((rows, cols // QK), dtype=np.float32)
    nz = np.where(blocks != 0, np.abs(blocks), np.inf).min(axis=2)
    ok = np.isfinite(nz)
    d[ok] = nz[ok]
    q = np.zeros_like(blocks, dtype=np.float32)
    q[ok] = blocks[ok] / d[ok][:, None]
    # the smallest non-zero magnitude may be a multiple > 1 of d: fall back to a divisor that makes q integral
    for k in (2, 3, 4, 5, 6, 7):
        bad = np.abs(q - np.round(q)).max(axis=2) > 1e-3
        if not bad.any():
            break
        d[bad] /= k
        q[bad] = blocks[bad] / d[bad][:, None]
    assert np.abs(q - np.round(q)).max() < 1e-3 and np.abs(np.round(q)).max() <= 127
    assert (amax <= 127 * d + 1e-12).all()
    d16 = d.astype(np.float16)
    assert np.array_equal(d16.astype(np.float32), d), "block scale not representable in float16"
    return np.round(q).astype(np.int8).reshape(rows, cols), d16


def export(args):
    model, cfg = load_model(args.base)
    summary_path = os.path.join(args.work, "train_summary.json")
    trained = json.load(open(summary_path))
    frozen = trained["frozen"]
    model.load_state_dict({k: torch.from_numpy(v) for k, v in
                           load_file(os.path.join(args.work, "upper.safetensors")).items()}, strict=False)
    held = torch.load(os.path.join(args.work, "held.pt"))["held"]
    evals = evaluate(model, held, frozen)
    # temperature on the pooled hold-outs of the three-class sets (not the binary Chinese reviews)
    lg = torch.cat([evals[k][0] for k in evals if not k.startswith("zh/")])
    gold = sum((evals[k][1] for k in evals if not k.startswith("zh/")), [])
    temperature = fit_temperature(lg, gold)
    rows, head_line = summary(evals)
    base_state = load_file(os.path.join(args.base, "base.safetensors"))
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().numpy()
        is_frozen = k.startswith("bert.embeddings") or any(k.startswith(f"bert.encoder.layer.{i}.")
                                                            for i in range(frozen))
        if is_frozen:
            assert np.array_equal(v, base_state[k]), f"{k} changed but is frozen"
        if is_frozen and v.ndim == 2 and k != "bert.embeddings.position_embeddings.weight" \
                and k != "bert.embeddings.token_type_embeddings.weight":
            q, d = quantise_blocks(v)
            assert np.array_equal(q.astype(np.float32).reshape(v.shape[0], -1, QK)
                                  * d.astype(np.float32)[:, :, None], v.reshape(v.shape[0], -1, QK))
            tensors[k] = q
            tensors[k + ".block_scale"] = d
        elif is_frozen:
            tensors[k] = v.astype(np.float32)
        else:
            tensors[k] = v.astype(np.float16)
    os.makedirs(args.out, exist_ok=True)
    save_file(tensors, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})
    cfg = dict(cfg)
    with open(os.path.join(args.out, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)
        fh.write("\n")
    with open(os.path.join(args.base, "tokenizer.json"), encoding="utf-8") as src, \
            open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as dst:
        dst.write(src.read())
    with open(os.path.join(args.out, "labels.json"), "w") as fh:
        json.dump({"labels": LABELS, "temperature": round(temperature, 4), "max_length": MAX_LEN,
                   "preprocess": "v1", "version": args.version,
                   "languages": args.languages.split(",")}, fh, indent=2)
        fh.write("\n")
    with open(os.path.join(args.out, "metrics.json"), "w") as fh:
        json.dump({"version": args.version, "temperature": temperature, "summary": head_line, "holdout": rows,
                   "train": {**{k: trained[k] for k in ("steps", "seconds", "frozen")},
                             # paths are the machine's own: left out
                             "args": {k: v for k, v in trained["args"].items() if k not in ("base", "work", "init")}}},
                  fh, indent=1)
        fh.write("\n")
    print(json.dumps(head_line), file=sys.stderr)


def read_widened(path):
    """A hearsay model file as float32 numpy arrays (I8 tensors widened with their block scales, as hearsay does)."""
    raw = load_file(path)
    state = {}
    for k, v in raw.items():
        if k.endswith(".block_scale"):
            continue
        if v.dtype == np.int8:
            d = raw[k + ".block_scale"].astype(np.float32)
            v = (v.astype(np.float32).reshape(v.shape[0], -1, QK) * d[:, :, None]).reshape(v.shape)
        state[k] = np.ascontiguousarray(v.astype(np.float32))
    return state


def load_exported(model_dir):
    """The shipped model as float32 torch."""
    state = {k: torch.from_numpy(v) for k, v in read_widened(os.path.join(model_dir, "model.safetensors")).items()}
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    model = Bert(cfg)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, json.load(open(os.path.join(model_dir, "labels.json")))


# Sentences for the Rust parity fixture: one or two per language the model serves, and the usual trouble.
REFERENCE_SENTENCES = [
    "Kundenservice ist eine Katastrophe, seit drei Wochen keine Erstattung",
    "Le service client est excellent, merci beaucoup !",
    "El pedido llegó el martes.",
    "Il prodotto è arrivato rotto e nessuno risponde",
    "O aplicativo é ótimo, recomendo 👍",
    "De levering was snel en alles klopt",
    "خدمة العملاء سيئة جدا ولا أحد يرد",
    "यह ऐप बहुत अच्छा है",
    "カスタマーサポートが最悪、3週間返金なし",
    "这个应用太慢了",
    "Pelayanannya ramah dan cepat",
    "@Acme still no refund after 3 weeks 😡 https://t.co/xyz",
    "",
]


def reference(args):
    model, labels = load_exported(args.model)
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    cases = []
    with torch.no_grad():
        for text in REFERENCE_SENTENCES:
            clean = preprocess_v1(text)
            ids = encode(tok, [text])[0]
            x = torch.tensor([ids])
            logits = model(x, torch.ones_like(x))[0].float()
            probs = torch.softmax(logits / labels["temperature"], dim=-1)
            cases.append({"text": text, "preprocessed": clean, "input_ids": ids,
                          "logits": [round(float(v), 6) for v in logits],
                          "probabilities": [round(float(v), 6) for v in probs],
                          "label": labels["labels"][int(torch.argmax(logits))]})
    out = {"model_version": labels["version"], "labels": labels["labels"], "temperature": labels["temperature"],
           "max_length": labels["max_length"], "preprocess": labels["preprocess"],
           "weights": "I8 (block scales) + float16 safetensors, computed in float32", "suggested_tolerance": 1e-3,
           "cases": cases}
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--base", required=True)
    p.add_argument("--data", default=os.path.normpath(os.path.join(HERE, "../../../../shared/data")))
    p.add_argument("--work", required=True)
    p.add_argument("--frozen", type=int, default=10)
    p = sub.add_parser("train")
    p.add_argument("--base", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--init", help="continue from an upper.safetensors")
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--neg-weight", type=float, default=1.15)
    p.add_argument("--min-per-lang", type=int, default=3000)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--time-budget", type=float, default=0, help="minutes; 0 = step-based")
    p = sub.add_parser("export")
    p.add_argument("--base", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--version", default="hearsay-sentiment-multilingual-1")
    p.add_argument("--languages", default="ar,de,es,fr,hi,id,it,ja,ms,nl,pt,zh")
    p = sub.add_parser("reference", help="parity fixture for tests/sentiment.rs (JSON on stdout)")
    p.add_argument("--model", default=os.path.normpath(os.path.join(HERE, "../../../models/sentiment-multilingual")))
    args = ap.parse_args()
    torch.set_num_threads(2)
    {"prepare": prepare, "train": train, "export": export, "reference": reference}[args.cmd](args)


if __name__ == "__main__":
    main()
