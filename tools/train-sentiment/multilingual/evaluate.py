"""Per-language figures of what hearsay does with a mention: language identification, routing, label.

Runs the release binary's `hearsay classify` (language detection, then the English model or the multilingual
one, int8 by default, exactly as the daemon) on the seeded hold-out slices of `data.py` (never trained on)
and prints, per slice, language-identification accuracy, macro-recall, negative recall and negative-vs-positive
accuracy; then the issue's summary lines. `--before` runs the English model alone on every text (what hearsay
did before languages were known) for the side-by-side column.

    cargo build --release
    python3 tools/train-sentiment/multilingual/evaluate.py [--before] [--json out.json]

A text left unlabelled (its language covered by no model) counts as wrong in every figure.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
import data as mldata  # noqa: E402

LABELS = ["negative", "neutral", "positive"]
TWEETS = ["ar", "de", "en", "es", "fr", "hi", "it", "pt"]


def classify(binary, texts, extra):
    # one text per line: the hold-out texts carry no newlines (the data README says so)
    res = subprocess.run([binary, "classify", *extra], input="\n".join(texts) + "\n", capture_output=True,
                         text=True, check=True)
    return [json.loads(line) for line in res.stdout.splitlines()]


def figures(out, gold, lang):
    pred = [o["label"] for o in out]
    rec = []
    for c in range(3):
        idx = [i for i, g in enumerate(gold) if g == c]
        if idx:
            rec.append(sum(pred[i] == LABELS[c] for i in idx) / len(idx))
    polar = [i for i, g in enumerate(gold) if g != 1]
    # decision = the larger of the negative and positive scores (as common.binary_accuracy), neutral ignored
    binary = sum(1 for i in polar if pred[i] is not None
                 and (out[i]["scores"]["negative"] >= out[i]["scores"]["positive"]) == (gold[i] == 0))
    neg = [i for i, g in enumerate(gold) if g == 0]
    return {
        "n": len(gold),
        "lang_id": sum(o.get("lang") == lang for o in out) / len(out),
        "unlabelled": sum(p is None for p in pred) / len(pred),
        "macro_recall": sum(rec) / len(rec),
        "negative_recall": sum(pred[i] == "negative" for i in neg) / max(1, len(neg)),
        "binary_accuracy": binary / max(1, len(polar)),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "hearsay"))
    ap.add_argument("--data", default=os.path.normpath(os.path.join(ROOT, "..", "shared", "data")))
    ap.add_argument("--before", action="store_true", help="the English model on every text")
    ap.add_argument("--json")
    args = ap.parse_args()
    _train, holdout = mldata.split(args.data)
    tmp = tempfile.mkdtemp()
    if args.before:
        # The English model, told it covers every language: hearsay before language routing.
        en_all = os.path.join(tmp, "sentiment")
        shutil.copytree(os.path.join(ROOT, "models", "sentiment"), en_all)
        labels = json.load(open(os.path.join(en_all, "labels.json")))
        labels["languages"] = sorted({k[0] for k in holdout} | {"en", "ja", "nl", "und"})
        json.dump(labels, open(os.path.join(en_all, "labels.json"), "w"))
        extra = ["--model", en_all, "--no-multilingual"]
    else:
        extra = ["--model", os.path.join(ROOT, "models", "sentiment"),
                 "--multilingual-model", os.path.join(ROOT, "models", "sentiment-multilingual")]
    rows = {}
    for (lang, source), items in sorted(holdout.items()):
        if not items:
            continue
        out = classify(args.bin, [t for t, _ in items], extra)
        rows[f"{lang}/{source}"] = figures(out, [g for _, g in items], lang)
    shutil.rmtree(tmp)
    for k, r in rows.items():
        print(f"{k:30s} n={r['n']:4d} lang-id {r['lang_id']:.3f} unlabelled {r['unlabelled']:.3f} "
              f"macro-recall {r['macro_recall']:.3f} neg-recall {r['negative_recall']:.3f} "
              f"neg/pos {r['binary_accuracy']:.3f}")
    tw = [rows[f"{lang}/xlm-t"] for lang in TWEETS]
    zh = [r for k, r in rows.items() if k.startswith("zh/")]
    summary = {
        "tweets_8_macro_recall_mean": sum(r["macro_recall"] for r in tw) / len(tw),
        "tweets_8_macro_recall_min": min(r["macro_recall"] for r in tw),
        "tweets_8_negative_recall_mean": sum(r["negative_recall"] for r in tw) / len(tw),
        "tweets_8_lang_id_mean": sum(r["lang_id"] for r in tw) / len(tw),
        "zh_reviews_neg_pos_accuracy": sum(r["binary_accuracy"] for r in zh) / len(zh),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        json.dump({"rows": rows, "summary": summary}, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
