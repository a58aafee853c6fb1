#!/usr/bin/env python3
"""Generate synthetic brand-mention histories for hearsay's backtest (stdlib only).

Each brand gets WEEKS weeks of mentions as `hearsay backtest` JSON lines
({"brand","platform","created_at","sentiment","external_id"}), plus a ground-truth
file listing its parameters, campaigns and injected crises.

Model, per brand, drawn at random so that no single shape is favoured:
  * negative base rate: log-uniform in [--rate-min, --rate-max] per hour (default 0.2-50),
    negative share 5-50 % (raised where needed so totals stay under --max-total per hour);
  * daily seasonality: one of harmonic (1-2 random harmonics), business-hours plateau,
    evening peak or flat; weekly: random per-weekday factors (weekend dip or peak);
    optionally a weekend-specific daily shape (hour-of-week interaction) and a slow trend;
  * noise: "poisson", or over-dispersed "nb" = gamma-mixed Poisson with coefficient of
    variation 0.15-0.6, the gamma multiplier redrawn per 5-minute bucket, per hour or per
    day, and either shared by all mentions (share stays binomial) or drawn separately for
    negatives and the rest (share is over-dispersed too). --noise mixed picks per brand;
  * campaigns (0-3 per brand): every mention x3-5 at the usual negative share for 2-24 h;
  * crises (unless --no-crises; --crises N per brand): negatives x3-10 for 2-6 h, with at
    least --min-extra (default 8) extra negatives in the first 2 hours, optionally ramping up
    over the first 0-45 minutes; placed after --crisis-from-day.

Writes DIR/<brand>.jsonl and DIR/<brand>.truth.json (times in RFC 3339 UTC); with --intensity also
DIR/<brand>.intensity: a "# start <time> bucket_seconds 300" line, then per 5-minute bucket the expected
negatives without noise or crisis (seasonality, trend and campaigns), for tools/oracle-detector.py. The flag
draws no random numbers, so the histories stay the same.

Example:
  tools/gen-histories.py --out /tmp/h --brands 40 --seed 1 --noise mixed
  tools/gen-histories.py --out /tmp/h0 --brands 40 --seed 2 --no-crises
"""

import argparse
import datetime as dt
import json
import math
import os
import random

BUCKET = 300
PLATFORMS = ["reddit", "hackernews", "mastodon", "feed", "appstore"]


def poisson(rng, lam):
    """Exact Poisson sample: Knuth's method on chunks of at most 30."""
    n = 0
    while lam > 0:
        chunk = min(lam, 30.0)
        lam -= chunk
        limit, p, k = math.exp(-chunk), 1.0, 0
        while True:
            p *= rng.random()
            if p <= limit:
                break
            k += 1
        n += k
    return n


def daily_shape(rng):
    kind = rng.choice(["harmonic", "business", "evening", "flat"])
    if kind == "flat":
        return kind, lambda h: 1.0
    if kind == "harmonic":
        a1, p1 = rng.uniform(0.2, 0.8), rng.uniform(0, 24)
        a2, p2 = rng.uniform(0.0, 0.3), rng.uniform(0, 12)
        return kind, lambda h: max(0.05, 1 + a1 * math.cos(2 * math.pi * (h - p1) / 24)
                                   + a2 * math.cos(4 * math.pi * (h - p2) / 24))
    if kind == "business":
        lo = rng.uniform(0.1, 0.5)
        start, end = rng.uniform(7, 10), rng.uniform(16, 20)
        return kind, lambda h: 1.0 if start <= h < end else lo
    peak, width, lo = rng.uniform(18, 23), rng.uniform(2, 5), rng.uniform(0.2, 0.6)
    return kind, lambda h: lo + (1 - lo) * math.exp(-(((h - peak + 12) % 24 - 12) / width) ** 2)


def make_brand(rng, idx, args, noise_mode):
    rate = math.exp(rng.uniform(math.log(args.rate_min), math.log(args.rate_max)))
    share = rng.uniform(0.05, 0.5)
    share = max(share, min(0.9, rate / args.max_total))
    dkind, dshape = daily_shape(rng)
    weekend = rng.choice(["dip", "peak", "none"])
    wk = [rng.uniform(0.85, 1.15) for _ in range(7)]
    if weekend == "dip":
        f = rng.uniform(0.4, 0.8)
        wk[5] *= f
        wk[6] *= f
    elif weekend == "peak":
        f = rng.uniform(1.2, 1.6)
        wk[5] *= f
        wk[6] *= f
    interaction = rng.random() < 0.3
    shift = rng.uniform(-3, 3)
    trend = rng.uniform(-0.3, 0.3) if rng.random() < 0.4 else 0.0
    noise = noise_mode if noise_mode != "mixed" else rng.choice(["poisson", "nb"])
    cv = rng.uniform(0.15, 0.6)
    scale = rng.choice(["bucket", "hour", "day"])
    shared = rng.random() < 0.5
    # Normalise the seasonal shape so that `rate` is the mean negative rate per hour.
    mean_shape = sum(dshape(h + 0.5) for h in range(24)) / 24 * sum(wk) / 7

    def intensity(t_hours):
        day = int(t_hours // 24) % 7
        h = t_hours % 24
        if interaction and day >= 5:
            h = (h + shift) % 24
        return dshape(h) * wk[day] / mean_shape

    return {
        "brand": f"brand{idx:03d}",
        "rate_per_hour": rate,
        "share": share,
        "daily": dkind,
        "weekend": weekend,
        "interaction": interaction,
        "trend": trend,
        "noise": noise,
        "cv": cv if noise == "nb" else 0.0,
        "dispersion_scale": scale if noise == "nb" else None,
        "shared_noise": shared,
    }, intensity


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--brands", type=int, default=20)
    ap.add_argument("--weeks", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--noise", choices=["poisson", "nb", "mixed"], default="mixed")
    ap.add_argument("--rate-min", type=float, default=0.2, help="min negative base rate per hour")
    ap.add_argument("--rate-max", type=float, default=50.0, help="max negative base rate per hour")
    ap.add_argument("--max-total", type=float, default=150.0, help="cap on mean mentions per hour")
    ap.add_argument("--no-crises", action="store_true", help="histories without crises (false-alarm runs)")
    ap.add_argument("--crises", type=int, default=3, help="crises per brand")
    ap.add_argument("--campaigns", type=int, default=-1, help="campaigns per brand (-1: random 0-3)")
    ap.add_argument("--min-extra", type=float, default=8.0, help="min extra negatives in a crisis' first 2 h")
    ap.add_argument("--crisis-from-day", type=float, default=7.0)
    ap.add_argument("--start", default="2025-01-06T00:00:00Z")
    ap.add_argument("--intensity", action="store_true", help="also write DIR/<brand>.intensity (see above)")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    t0 = dt.datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    n_buckets = args.weeks * 7 * 288
    span_h = n_buckets / 12

    for idx in range(args.brands):
        meta, intensity = make_brand(rng, idx, args, args.noise)
        rate, share = meta["rate_per_hour"], meta["share"]

        def overlaps(a, b, spans):
            return any(a < y + 12 and x < b + 12 for x, y in spans)

        campaigns = []
        for _ in range(rng.randint(0, 3) if args.campaigns < 0 else args.campaigns):
            dur = rng.uniform(2, 24)
            start = rng.uniform(24, span_h - dur)
            campaigns.append((start, start + dur, rng.uniform(3, 5), rng.uniform(0, 2)))
        crises = []
        if not args.no_crises:
            tries = 0
            while len(crises) < args.crises and tries < 1000:
                tries += 1
                dur = rng.uniform(2, 6)
                start = rng.uniform(args.crisis_from_day * 24, span_h - dur - 1)
                if overlaps(start, start + dur, [(c[0], c[1]) for c in crises + campaigns]):
                    continue
                crises.append((start, start + dur, rng.uniform(3, 10), rng.uniform(0, 0.75)))

        # Gamma multipliers: redrawn per bucket, hour or day; separate ones for negatives if unshared.
        def gamma_series(cv, scale):
            k = 1.0 / (cv * cv)
            step = {"bucket": 1, "hour": 12, "day": 288}[scale]
            out, cur = [], 1.0
            for b in range(n_buckets):
                if b % step == 0:
                    cur = rng.gammavariate(k, 1.0 / k)
                out.append(cur)
            return out

        if meta["noise"] == "nb":
            g_other = gamma_series(meta["cv"], meta["dispersion_scale"])
            g_neg = g_other if meta["shared_noise"] else gamma_series(meta["cv"], meta["dispersion_scale"])
        else:
            g_other = g_neg = None

        lines = []
        intensity_lines = []
        extra_first2h = [0.0] * len(crises)
        seq = 0
        for b in range(n_buckets):
            th = b / 12
            base = intensity(th + 1 / 24) * (1 + meta["trend"] * th / span_h)
            mult = 1.0
            for s, e, m, ramp in campaigns:
                if s <= th < e:
                    mult *= m if th - s >= ramp else 1 + (m - 1) * (th - s) / max(ramp, 1e-9)
            lam_neg = rate * base * mult / 12
            lam_other = rate * (1 - share) / share * base * mult / 12
            intensity_lines.append("%.6g" % lam_neg)
            extra = 0.0
            for ci, (s, e, m, ramp) in enumerate(crises):
                if s <= th < e:
                    f = 1.0 if th - s >= ramp else (th - s) / ramp
                    # At least min_extra over the first two hours (about min_extra/2 per hour).
                    per_hour = max((m - 1) * rate * base, args.min_extra / 2 / max(0.5, 1 - ramp / 4))
                    extra += f * per_hour / 12
            if g_neg is not None:
                lam_neg *= g_neg[b]
                lam_other *= g_other[b]
            n_neg = poisson(rng, lam_neg)
            n_extra = poisson(rng, extra)
            for ci, (s, e, m, ramp) in enumerate(crises):
                if s <= th < min(e, s + 2):
                    extra_first2h[ci] += n_extra
            n_other = poisson(rng, lam_other)
            for count, negative in ((n_neg + n_extra, True), (n_other, False)):
                for _ in range(count):
                    seq += 1
                    t = t0 + dt.timedelta(seconds=b * BUCKET + rng.randrange(BUCKET))
                    sentiment = "negative" if negative else rng.choice(["neutral", "positive"])
                    plat = PLATFORMS[min(int(rng.expovariate(1.0)), len(PLATFORMS) - 1)]
                    lines.append('{"brand":"%s","platform":"%s","created_at":"%s","sentiment":"%s","external_id":"%s-%d"}'
                                 % (meta["brand"], plat, t.strftime("%Y-%m-%dT%H:%M:%SZ"), sentiment, meta["brand"], seq))

        def iso(hours):
            return (t0 + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")

        meta["campaigns"] = [{"start": iso(s), "end": iso(e), "multiplier": m} for s, e, m, _ in campaigns]
        meta["crises"] = [{"start": iso(s), "end": iso(e), "multiplier": m, "ramp_hours": r,
                           "extra_first_2h": extra_first2h[i]} for i, (s, e, m, r) in enumerate(crises)]
        meta["weeks"] = args.weeks
        with open(os.path.join(args.out, meta["brand"] + ".jsonl"), "w") as f:
            f.write("\n".join(lines))
            f.write("\n")
        with open(os.path.join(args.out, meta["brand"] + ".truth.json"), "w") as f:
            json.dump(meta, f, indent=1)
        if args.intensity:
            with open(os.path.join(args.out, meta["brand"] + ".intensity"), "w") as f:
                f.write("# start %s bucket_seconds %d\n" % (iso(0), BUCKET))
                f.write("\n".join(intensity_lines))
                f.write("\n")


if __name__ == "__main__":
    main()
