#!/usr/bin/env python3
"""Measure hearsay's spike detector on synthetic histories (stdlib only).

Runs a backtest binary (`hearsay backtest` or any program taking `--input FILE.jsonl`
and printing one JSON alert event per line) on every DIR/<brand>.jsonl written by
tools/gen-histories.py, compares `negative_spike` firings with DIR/<brand>.truth.json
and prints:
  * detection rate: crises with a firing within --deadline (default 2 h) of onset;
  * delay from onset to firing: median and 90th percentile;
  * false firings per brand per 30 days: firings not within [onset, end + 1 h] of a crisis;
  * the same by negative base-rate band and noise type, detection also by how many extra negatives a
    crisis actually brought in its first two hours (the generator's --min-extra is an expectation), and
    the replay time per brand.

Example:
  tools/gen-histories.py --out /tmp/h --brands 40 --seed 1
  tools/eval-detector.py --bin 'target/release/hearsay backtest' --dir /tmp/h
"""

import argparse
import concurrent.futures
import datetime as dt
import glob
import json
import os
import shlex
import statistics
import subprocess


def ts(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def band(rate):
    for hi, name in ((1, "0.2-1/h"), (5, "1-5/h"), (20, "5-20/h")):
        if rate < hi:
            return name
    return "20-50/h"


def run_one(cmd, path, extra):
    out = subprocess.run(shlex.split(cmd) + ["--input", path] + extra, capture_output=True, text=True, check=True)
    events = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    timing = {}
    for line in out.stderr.splitlines():
        if line.startswith("timing"):
            timing = dict(kv.split("=") for kv in line.split()[1:])
    return events, timing


def pct(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="backtest command, e.g. 'hearsay backtest'")
    ap.add_argument("--dir", required=True, action="append", help="history directory (repeatable)")
    ap.add_argument("--deadline", type=float, default=2.0, help="hours after onset a firing must come")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--extra", default="", help="extra arguments for the backtest command")
    ap.add_argument("--verbose", action="store_true", help="list missed crises and false firings")
    args = ap.parse_args()

    paths = sorted(p for d in args.dir for p in glob.glob(os.path.join(d, "*.jsonl")))
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda p: run_one(args.bin, p, shlex.split(args.extra)), paths))

    groups = {}

    def add(key, field, value):
        g = groups.setdefault(key, {"crises": 0, "detected": 0, "delays": [], "false": 0, "days": 0.0, "brands": 0})
        if field == "delays":
            g["delays"].append(value)
        else:
            g[field] += value

    replay = []
    for path, (events, timing) in zip(paths, results):
        truth = json.load(open(path[: -len(".jsonl")] + ".truth.json"))
        keys = ["all", "rate " + band(truth["rate_per_hour"]), "noise " + truth["noise"]
                + ("" if truth["noise"] == "poisson" else (" shared" if truth["shared_noise"] else " indep"))]
        if truth["crises"]:
            keys.append("with crises")
        else:
            keys.append("no crises")
        days = truth["weeks"] * 7
        if "replay_s" in timing:
            replay.append(float(timing["replay_s"]))
        firings = [ts(e["at"]) for e in events if e["event"] == "firing" and e["kind"] == "negative_spike"]
        crises = [(ts(c["start"]), ts(c["end"])) for c in truth["crises"]]
        for k in keys:
            add(k, "days", days)
            add(k, "brands", 1)
        for c in truth["crises"]:
            s = ts(c["start"])
            hits = [f - s for f in firings if s <= f <= s + args.deadline * 3600]
            extra = "first 2h extra " + (">= 8" if c["extra_first_2h"] >= 8 else "< 8")
            for k in keys + [extra]:
                add(k, "crises", 1)
                if hits:
                    add(k, "detected", 1)
                    add(k, "delays", min(hits) / 60)
            if not hits and args.verbose:
                print(f"MISS {truth['brand']} rate={truth['rate_per_hour']:.2f} noise={truth['noise']} crisis={s} "
                      f"extra2h={c['extra_first_2h']}")
        for f in firings:
            if not any(s <= f <= e + 3600 for s, e in crises):
                for k in keys:
                    add(k, "false", 1)
                if args.verbose:
                    t = dt.datetime.fromtimestamp(f, dt.timezone.utc).isoformat()
                    print(f"FALSE {truth['brand']} rate={truth['rate_per_hour']:.2f} noise={truth['noise']} at={t}")

    print(f"{'group':<24}{'brands':>7}{'crises':>8}{'detect%':>9}{'med_min':>9}{'p90_min':>9}{'false/30d':>11}")
    for key in sorted(groups, key=lambda k: (k != "all", k)):
        g = groups[key]
        rate = 100 * g["detected"] / g["crises"] if g["crises"] else float("nan")
        med = statistics.median(g["delays"]) if g["delays"] else float("nan")
        fp = g["false"] / g["days"] * 30 if g["days"] else float("nan")
        print(f"{key:<24}{g['brands']:>7}{g['crises']:>8}{rate:>9.1f}{med:>9.1f}{pct(g['delays'], 0.9):>9.1f}{fp:>11.3f}")
    if replay:
        print(f"replay time per brand: median {statistics.median(replay):.3f} s, max {max(replay):.3f} s")


if __name__ == "__main__":
    main()
