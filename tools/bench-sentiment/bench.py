#!/usr/bin/env python3
"""Sentences per second: Python `transformers` (fp32) vs hearsay's Rust backends, same model, same texts.

Takes the first N texts of the sentiment data (val.tsv, then train.tsv; read at run time, never copied
into the repository), applies preprocess v1 for the Python side (the Rust side does it itself), and runs

* Python: the `text-classification` pipeline, fp32, batch 32, texts sorted by token count,
  torch threads = --threads; also a plain `torch.no_grad()` loop over the same batches, which shows how
  much of the Python time is pipeline overhead, and that loop under bf16 autocast and with dynamic int8
  quantisation (the issue's other reference points; ratios stay against the fp32 pipeline);
* Rust: the bench binary (`bench.rs` next to this file), which loads the model, classifies all texts
  with `classify_batch` (length-sorted batches of 32) and reports its own timing and RSS, once per --variant
  (backend:precision).

Each side runs --repeat times; best and median are printed, plus Rust/Python ratios and the share of
labels on which the two agree. Run from the repository root:

    cargo build --release --example bench-sentiment
    python3 tools/bench-sentiment/bench.py        # native:int8 (the default) and native:f32

    # every backend and precision (rust-bert needs libtorch-dev):
    cargo build --release --features candle,rust-bert --example bench-sentiment
    python3 tools/bench-sentiment/bench.py --variant native:int8 --variant native:f32 --variant candle:f32 \\
        --variant candle:f16 --variant rust-bert:f32 --variant rust-bert:bf16

`--multilingual DIR` benchmarks the mixed stream instead: half English texts (tweets and reviews), half the
other languages' (tweets and reviews of `sentiment-multilingual/train.tsv`, round robin over its languages). Python
runs the English model's pipeline on the English texts and DIR's (widened to float32 in a temporary HF directory)
on the others, routed by the data's own language column; the Rust side identifies every text's language itself
(inside its timed loop) and routes it as the daemon does:

    python3 tools/bench-sentiment/bench.py --multilingual models/sentiment-multilingual

The machine should be otherwise idle; other jobs on the cores make both sides slower unevenly.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "train-sentiment"))
from common import preprocess_v1  # noqa: E402


def read_texts(data_dir, n):
    texts = []
    for name in ("val.tsv", "train.tsv"):
        path = os.path.join(data_dir, name)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as fh:
            next(fh)
            for line in fh:
                if len(texts) == n:
                    return texts
                _, text = line.rstrip("\n").split("\t", 1)
                texts.append(text)
    if not texts:
        sys.exit(f"no texts found in {data_dir}")
    return texts


def read_mixed(data_root, n):
    """(texts, langs): n/2 English (half tweets, half reviews), n/2 in the other languages, interleaved."""
    english = read_texts(os.path.join(data_root, "sentiment"), n // 4)
    with open(os.path.join(data_root, "sentiment", "reviews_train.tsv"), encoding="utf-8") as fh:
        next(fh)
        english += [line.rstrip("\n").split("\t", 1)[1] for _, line in zip(range(n // 2 - len(english)), fh)]
    by_lang = {}
    with open(os.path.join(data_root, "sentiment-multilingual", "train.tsv"), encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            lang, _label, _source, text = line.rstrip("\n").split("\t", 3)
            if lang not in ("en", "ms"):
                by_lang.setdefault(lang, []).append(text)
    others, langs = [], sorted(by_lang)
    while len(others) < n - len(english):
        lang = langs[len(others) % len(langs)]
        others.append((by_lang[lang][len(others) // len(langs)], lang))
    texts, tags = [], []
    for i in range(max(len(english), len(others))):
        if i < len(english):
            texts.append(english[i])
            tags.append("en")
        if i < len(others):
            texts.append(others[i][0])
            tags.append(others[i][1])
    return texts, tags


def hf_copy(model_dir, out_dir):
    """A float32, HF-loadable copy of a hearsay model directory (I8 block-quantised tensors widened)."""
    from safetensors.numpy import save_file
    sys.path.insert(0, os.path.join(ROOT, "tools", "train-sentiment", "multilingual"))
    from train import read_widened  # noqa: E402 - pulls in torch, which the Python side needs anyway
    state = read_widened(os.path.join(model_dir, "model.safetensors"))
    save_file(state, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    for name in ("config.json", "tokenizer.json", "labels.json"):
        with open(os.path.join(model_dir, name), "rb") as src, open(os.path.join(out_dir, name), "wb") as dst:
            dst.write(src.read())
    max_length = json.load(open(os.path.join(model_dir, "labels.json")))["max_length"]
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "<pad>", "unk_token": "<unk>",
               "cls_token": "<s>", "sep_token": "</s>", "model_max_length": max_length},
              open(os.path.join(out_dir, "tokenizer_config.json"), "w"))
    return out_dir


def bench_python_mixed(en_dir, ml_dir, texts, langs, batch_size, threads, repeat):
    """Both pipelines, each on its own texts; rates over all texts (sum of the two times per repeat)."""
    en_idx = [i for i, g in enumerate(langs) if g == "en"]
    ml_idx = [i for i, g in enumerate(langs) if g != "en"]
    with tempfile.TemporaryDirectory() as tmp:
        en = bench_python(en_dir, [texts[i] for i in en_idx], batch_size, threads, repeat)
        ml = bench_python(hf_copy(ml_dir, tmp), [texts[i] for i in ml_idx], batch_size, threads, repeat)
    labels = [None] * len(texts)
    for part, res in ((en_idx, en), (ml_idx, ml)):
        for i, lab in zip(part, res["labels"]):
            labels[i] = lab

    def combined(name):
        # best and median of the two halves' times added up (each half timed on its own)
        t_best = len(en_idx) / en[name]["best_per_s"] + len(ml_idx) / ml[name]["best_per_s"]
        t_med = len(en_idx) / en[name]["median_per_s"] + len(ml_idx) / ml[name]["median_per_s"]
        return {"best_per_s": len(texts) / t_best, "median_per_s": len(texts) / t_med}

    return {"load_s": en["load_s"] + ml["load_s"], "pipeline": combined("pipeline"),
            "torch_loop": combined("torch_loop"), "reduced": {}, "labels": labels}


def bench_python(model_dir, texts, batch_size, threads, repeat):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    torch.set_num_threads(threads)
    max_length = json.load(open(os.path.join(model_dir, "labels.json")))["max_length"]
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32).eval()
    load_s = time.perf_counter() - t0
    clf = pipeline("text-classification", model=model, tokenizer=tok, device=-1)

    prepared = [preprocess_v1(t) for t in texts]
    lengths = [len(ids) for ids in tok(prepared, truncation=True, max_length=max_length)["input_ids"]]
    order = sorted(range(len(prepared)), key=lambda i: lengths[i])
    ordered = [prepared[i] for i in order]

    def rates(times):
        return {"best_per_s": len(ordered) / min(times), "median_per_s": len(ordered) / statistics.median(times)}

    def timed_loop(run_model):
        """A plain `torch.no_grad()` loop over the same length-sorted batches, `repeat` times."""
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            with torch.no_grad():
                for s in range(0, len(ordered), batch_size):
                    enc = tok(ordered[s:s + batch_size], padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt")
                    run_model(enc)
            times.append(time.perf_counter() - t0)
        return rates(times)

    pipe_times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = clf(ordered, batch_size=batch_size, truncation=True, max_length=max_length, top_k=1)
        pipe_times.append(time.perf_counter() - t0)
    torch_loop = timed_loop(lambda enc: model(**enc).logits.softmax(-1))

    # The other Python reference points: the same loop under bf16 autocast, and with dynamic int8
    # quantisation of the Linear layers. Reported beside the others; the ratios stay against fp32.
    reduced = {}
    try:
        def bf16(enc):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                model(**enc).logits.float().softmax(-1)
        reduced["torch_loop bf16"] = timed_loop(bf16)
    except Exception as e:  # noqa: BLE001 - a missing feature is reported, not fatal
        print(f"python bf16 autocast unavailable: {e}")
    try:
        qmodel = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        reduced["torch_loop int8"] = timed_loop(lambda enc: qmodel(**enc).logits.softmax(-1))
    except Exception as e:  # noqa: BLE001
        print(f"python dynamic int8 unavailable: {e}")

    by_position = [None] * len(ordered)
    for i, o in zip(order, out):
        o = o[0] if isinstance(o, list) else o
        by_position[i] = o["label"].lower()
    return {
        "load_s": load_s,
        "pipeline": rates(pipe_times),
        "torch_loop": torch_loop,
        "reduced": reduced,
        "labels": by_position,
    }


def bench_rust(rust_bin, model_dir, texts_file, batch_size, variant, threads, repeat, multilingual=None):
    backend, precision = variant.split(":")
    with tempfile.NamedTemporaryFile("r", suffix=".labels") as out:
        env = dict(os.environ)
        if threads:
            env["RAYON_NUM_THREADS"] = str(threads)
            env["OMP_NUM_THREADS"] = str(threads)
            env["HEARSAY_INFERENCE_THREADS"] = str(threads)
        cmd = [rust_bin, "--model", model_dir, "--texts", texts_file, "--batch-size", str(batch_size),
               "--backend", backend, "--precision", precision, "--repeat", str(repeat), "--out", out.name]
        if multilingual:
            cmd += ["--multilingual", multilingual]
        res = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        report = json.loads(res.stdout.strip().splitlines()[-1])
        report["labels"] = out.read().split("\n")[:-1]
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "sentiment"))
    ap.add_argument("--data", default=os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "sentiment")))
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rust-bin", default=os.path.join(ROOT, "target", "release", "examples", "bench-sentiment"))
    ap.add_argument("--variant", action="append",
                    help="BACKEND:PRECISION, e.g. native:int8, native:f32 (the default pair), candle:f32, candle:f16, "
                         "rust-bert:f32, rust-bert:bf16 (candle and rust-bert need a bench binary built with "
                         "--features candle / rust-bert); repeatable")
    ap.add_argument("--skip-python", action="store_true")
    ap.add_argument("--multilingual", help="model directory for the other languages: benchmark the mixed stream")
    args = ap.parse_args()
    precisions = args.variant or ["native:int8", "native:f32"]

    if args.multilingual:
        texts, langs = read_mixed(os.path.dirname(args.data), args.n)
    else:
        texts = read_texts(args.data, args.n)
    print(f"{len(texts)} texts, batch {args.batch_size}, {args.threads} threads, model {args.model}")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as fh:
        fh.write("\n".join(texts) + "\n")
        fh.flush()
        def run_rust():
            return {p: bench_rust(args.rust_bin, args.model, fh.name, args.batch_size, p, args.threads, args.repeat,
                                  args.multilingual)
                    for p in precisions}

        # Rust runs before and after Python and keeps its better run, so that a change in background
        # load during the benchmark does not favour whichever side happened to run in the quiet part.
        rust = run_rust()
        if args.skip_python:
            py = None
        elif args.multilingual:
            py = bench_python_mixed(args.model, args.multilingual, texts, langs, args.batch_size, args.threads,
                                    args.repeat)
        else:
            py = bench_python(args.model, texts, args.batch_size, args.threads, args.repeat)
        if py:
            for p, again in run_rust().items():
                if again["best_per_s"] > rust[p]["best_per_s"]:
                    rust[p] = again

    if py:
        print(f"python load {py['load_s']:.2f}s")
        for name in ("pipeline", "torch_loop"):
            r = py[name]
            print(f"python {name:<10} fp32: best {r['best_per_s']:7.1f}/s  median {r['median_per_s']:7.1f}/s")
        for name, r in py["reduced"].items():
            print(f"python {name:<15}: best {r['best_per_s']:7.1f}/s  median {r['median_per_s']:7.1f}/s")
    for p, r in rust.items():
        line = f"rust {p:<15}: best {r['best_per_s']:7.1f}/s  median {r['median_per_s']:7.1f}/s  load {r['load_s']:.3f}s  rss {r.get('rss_mb') or 0:.0f} MB"
        if py:
            ratio = r["best_per_s"] / py["pipeline"]["best_per_s"]
            ratio_loop = r["best_per_s"] / py["torch_loop"]["best_per_s"]
            agree = sum(a == b for a, b in zip(r["labels"], py["labels"])) / len(texts)
            line += f"  x{ratio:.2f} vs pipeline, x{ratio_loop:.2f} vs torch loop, labels agree {agree:.4f}"
        print(line)


if __name__ == "__main__":
    main()
