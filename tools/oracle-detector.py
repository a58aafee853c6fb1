#!/usr/bin/env python3
"""An oracle spike detector for the synthetic histories: an upper bound to judge hearsay's detector by.

It knows what no real detector can: each brand's true expected negatives per 5-minute bucket (seasonality,
trend and campaigns; written by `tools/gen-histories.py --intensity`) and the noise model the generator drew
from (Poisson, or the gamma-mixed Poisson's coefficient of variation and redraw period). It does not know the
crises or the noise draws themselves. With that knowledge it runs the scan the issue asks for: every 5 minutes,
windows of 30, 60 and 120 minutes ending now, firing when the count is improbable (one-sided Poisson tail, or
negative-binomial for over-dispersed brands with the window's exact variance), at least --min-count negatives
and at least --min-ratio times the expectation; an open alert resolves after 30 minutes without a firing or
elevated (at least 3 negatives, ratio >= 1.5, p < 0.01) window, as hearsay's lifecycle does.

It takes `--input FILE.jsonl` and prints `firing` / `resolved` events like `hearsay backtest`, so
tools/eval-detector.py scores it exactly as it scores hearsay; sweep --p to draw the oracle's trade-off between
detection and false firings and compare hearsay's point with it:

  tools/gen-histories.py --out /tmp/h --brands 40 --seed 1 --intensity
  tools/eval-detector.py --bin 'tools/oracle-detector.py --p 1e-4' --dir /tmp/h

Needs numpy and scipy (`pip install numpy scipy`); the tool is a measurement aid, not part of hearsay.
"""

import argparse
import datetime as dt
import json

import numpy as np
from scipy import stats

SCALES = (6, 12, 24)
GAMMA_STEP = {"bucket": 1, "hour": 12, "day": 288}


def load(path):
    base = path[: -len(".jsonl")]
    truth = json.load(open(base + ".truth.json"))
    with open(base + ".intensity") as f:
        header = f.readline().split()
        start = dt.datetime.fromisoformat(header[2].replace("Z", "+00:00"))
        bucket = int(header[4])
        lam = np.array([float(x) for x in f if x.strip()])
    counts = np.zeros(len(lam))
    t0 = start.timestamp()
    for line in open(path):
        if not line.strip():
            continue
        m = json.loads(line)
        if m["sentiment"] != "negative":
            continue
        t = dt.datetime.fromisoformat(m["created_at"].replace("Z", "+00:00")).timestamp()
        b = int((t - t0) // bucket)
        if 0 <= b < len(lam):
            counts[b] += 1
    return truth, start, bucket, lam, counts


def window_variance_factor(lam, w, cv, step):
    """alpha of the window sum: var = mu + cv^2 * sum over gamma periods of (period's mu)^2, so alpha = that / mu^2."""
    n = len(lam)
    period = np.arange(n) // step
    alpha = np.zeros(n + 1)
    for end in range(w, n + 1):
        seg = lam[end - w:end]
        p = period[end - w:end]
        sq = 0.0
        for q in np.unique(p):
            sq += seg[p == q].sum() ** 2
        mu = seg.sum()
        alpha[end] = cv * cv * sq / (mu * mu) if mu > 0 else 0.0
    return alpha


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--p", type=float, default=1e-4, help="p-value threshold")
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--min-ratio", type=float, default=2.0)
    ap.add_argument("--from-hours", type=float, default=6.0, help="first evaluation, hours into the history")
    args = ap.parse_args()

    truth, start, bucket, lam, counts = load(args.input)
    n = len(lam)
    csum = np.concatenate([[0.0], np.cumsum(counts)])
    lsum = np.concatenate([[0.0], np.cumsum(lam)])
    nb = truth["noise"] == "nb"
    fire = np.zeros(n + 1, dtype=bool)
    elevated = np.zeros(n + 1, dtype=bool)
    best = [None] * (n + 1)
    for w in SCALES:
        ends = np.arange(w, n + 1)
        x = csum[ends] - csum[ends - w]
        mu = np.maximum(lsum[ends] - lsum[ends - w], 1e-9)
        # Tail probabilities only where a window could fire or count as elevated.
        idx = np.nonzero((x >= 3) & (x >= 1.5 * mu))[0]
        p = np.ones(len(ends))
        if nb:
            # The negatives' own gamma multiplier (shared with the other mentions or not: this oracle reads only
            # the negatives, so the share adds nothing it does not already know).
            alpha = window_variance_factor(lam, w, truth["cv"], GAMMA_STEP[truth["dispersion_scale"]])[ends]
            r = 1.0 / np.maximum(alpha[idx], 1e-9)
            p[idx] = stats.nbinom.sf(x[idx] - 1, r, r / (r + mu[idx]))
        else:
            p[idx] = stats.poisson.sf(x[idx] - 1, mu[idx])
        f = (p < args.p) & (x >= args.min_count) & (x >= args.min_ratio * mu)
        e = (p < 0.01) & (x >= 1.5 * mu)
        fire[ends] |= f
        elevated[ends] |= e
        for i in np.nonzero(f)[0]:
            end = ends[i]
            if best[end] is None or p[i] < best[end][0]:
                best[end] = (p[i], w, x[i], mu[i])

    def iso(b):
        return (start + dt.timedelta(seconds=int(b) * bucket)).strftime("%Y-%m-%dT%H:%M:%SZ")

    first = int(args.from_hours * 3600 // bucket)
    open_since, clear = None, 0
    for end in range(max(first, SCALES[0]), n + 1):
        if open_since is None:
            if fire[end]:
                p, w, x, mu = best[end]
                open_since, clear = end, 0
                print(json.dumps({"event": "firing", "kind": "negative_spike", "brand": truth["brand"],
                                  "at": iso(end), "fired_at": iso(end), "window_start": iso(end - w),
                                  "window_end": iso(end), "observed": int(x), "expected": float(mu),
                                  "p_value": float(p), "ratio": float(x / mu)}))
        elif fire[end] or elevated[end]:
            clear = 0
        else:
            clear += 1
            if clear * bucket >= 1800:
                print(json.dumps({"event": "resolved", "kind": "negative_spike", "brand": truth["brand"],
                                  "at": iso(end), "fired_at": iso(open_since)}))
                open_since = None


if __name__ == "__main__":
    main()
