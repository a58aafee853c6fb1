#!/usr/bin/env python3
"""Generates synthetic mention records (hearsay's JSONL import format) for storage benchmarks.

Deterministic (seeded). Spreads N mentions over the last DAYS days, across BRANDS brands and 6 platforms, with a
realistic sentiment mix (~20% negative) and short texts drawn from a small vocabulary, ~2% of which contain
"refund".

usage: gen-mentions.py N [--days 365] [--brands 10] [--seed 1] > mentions.jsonl
"""
import argparse
import json
import random
import sys
import time

WORDS = ("app update login checkout support order delivery price team feature bug crash slow fast great love hate "
         "broken works thanks why when today again still account billing payment screen phone email reply help "
         "issue new version release store review star friend recommend awful amazing fine okay").split()
PLATFORMS = ["reddit", "hackernews", "mastodon", "bluesky", "appstore", "feed"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--brands", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    now = int(time.time())
    span = a.days * 86400
    out = sys.stdout
    for i in range(a.n):
        # Mostly chronological, as a daemon fills it.
        t = now - span + int(span * i / a.n) + rng.randint(0, 600)
        brand = f"Brand{rng.randrange(a.brands)}"
        words = rng.choices(WORDS, k=rng.randint(6, 18))
        if rng.random() < 0.02:
            words.insert(rng.randrange(len(words)), "refund")
        r = rng.random()
        sentiment = "negative" if r < 0.2 else ("neutral" if r < 0.6 else "positive")
        rec = {
            "platform": PLATFORMS[i % len(PLATFORMS)],
            "external_id": str(i),
            "brand": brand,
            "sentiment": sentiment,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
            "kind": "post",
            "author": f"user{rng.randrange(100000)}",
            "text": f"{brand.lower()} " + " ".join(words),
            "url": f"https://example.com/{i}",
        }
        out.write(json.dumps(rec, separators=(",", ":")))
        out.write("\n")


if __name__ == "__main__":
    main()
