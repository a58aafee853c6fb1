#!/usr/bin/env python3
"""Evaluate a shipped sentiment model dir (models/sentiment) the way hearsay will run it.

    HF_HUB_OFFLINE=1 python tools/train-sentiment/evaluate.py [--model models/sentiment] [--sets val,reviews,complaints]

Loads model.safetensors as stored (float16) and computes in float32 (what the Rust native f32 path does);
`--fp32-checkpoint /tmp/hearsay-sentiment/model_fp32.pt` evaluates the training-time fp32 weights instead.
Sets: val.tsv, the seeded reviews hold-out (same split as train.py), tools/train-sentiment/complaints.tsv.
Prints macro-recall, per-class F1, accuracy, confusion matrix, binary neg/pos accuracy for reviews, and
optionally writes everything as JSON (`--json`).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import (binary_accuracy, default_data_dir, format_metrics, metrics, preprocess_v1,  # noqa: E402
                    read_tsv, repo_root, split_reviews)


def load_model(model_dir, fp32_checkpoint=None):
    config = BertConfig.from_pretrained(model_dir)
    model = BertForSequenceClassification(config)
    if fp32_checkpoint:
        state = torch.load(fp32_checkpoint, map_location="cpu")
    else:
        state = {k: v.float() for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    assert not missing and not unexpected, f"missing {missing}, unexpected {unexpected}"
    model.eval()
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(model_dir, "tokenizer.json"),
                                        unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                        cls_token="[CLS]", mask_token="[MASK]")
    with open(os.path.join(model_dir, "labels.json"), encoding="utf-8") as fh:
        labels = json.load(fh)
    assert labels["preprocess"] == "v1", labels
    return model, tokenizer, labels


@torch.no_grad()
def logits_for(model, tokenizer, texts, max_length, batch_size=128):
    texts = [preprocess_v1(t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = [None] * len(texts)
    for s in range(0, len(order), batch_size):
        part = order[s:s + batch_size]
        enc = tokenizer([texts[i] for i in part], truncation=True, max_length=max_length, padding=True,
                        return_tensors="pt", return_token_type_ids=True)
        logits = model(**enc).logits.float().tolist()
        for i, row in zip(part, logits):
            out[i] = row
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(repo_root(), "models", "sentiment"))
    p.add_argument("--data", default=default_data_dir())
    p.add_argument("--sets", default="val,reviews,complaints")
    p.add_argument("--reviews-holdout", type=int, default=2000, help="must match train.py")
    p.add_argument("--seed", type=int, default=13, help="must match train.py")
    p.add_argument("--holdout-seed", type=int, default=13, help="seed of the reviews hold-out split (keep it fixed across runs so it stays unseen)")
    p.add_argument("--fp32-checkpoint", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None, help="write metrics (and, with --logits, raw logits) here")
    p.add_argument("--logits", action="store_true", help="include gold labels and raw logits in --json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    model, tokenizer, labels = load_model(args.model, args.fp32_checkpoint)
    sets = {}
    wanted = args.sets.split(",")
    if "val" in wanted:
        sets["val"] = read_tsv(os.path.join(args.data, "val.tsv"))
    if "reviews" in wanted:
        _, held = split_reviews(read_tsv(os.path.join(args.data, "reviews_train.tsv")), args.reviews_holdout, args.holdout_seed)
        sets["reviews_holdout"] = held
    if "complaints" in wanted:
        sets["complaints"] = read_tsv(os.path.join(HERE, "complaints.tsv"))

    weights = "fp32 checkpoint" if args.fp32_checkpoint else "fp16 safetensors (computed in fp32)"
    print(f"model {args.model} [{weights}], temperature {labels['temperature']}, max_length {labels['max_length']}")
    results = {}
    for name, rows in sets.items():
        gold = [lab for lab, _ in rows]
        logits = logits_for(model, tokenizer, [t for _, t in rows], labels["max_length"])
        pred = [int(np.argmax(r)) for r in logits]
        m = metrics(gold, pred)
        m["binary_accuracy"] = binary_accuracy(gold, logits)
        results[name] = m
        if args.logits:
            m["gold"], m["logits"] = gold, logits
        print(format_metrics(name, m, m["binary_accuracy"] if name == "reviews_holdout" else None))
        if name == "complaints":
            for (lab, text), r in zip(rows, pred):
                if r != lab:
                    print(f"  missed: [{['negative', 'neutral', 'positive'][r]}] {text}")
        print()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"weights": weights, **results}, fh, indent=2)


if __name__ == "__main__":
    main()
