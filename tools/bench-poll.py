#!/usr/bin/env python3
"""Poll-cycle CPU benchmark (issue: sources).

Runs `hearsay run` (the daemon) against a local HTTP server that plays the Hacker News Algolia API for
SOURCES sources x BRANDS brands, and reads the daemon's CPU time from /proc:

- busy: CPU seconds per poll cycle (SOURCES x BRANDS requests, parse, match, store, classify the new ones),
- idle: CPU share of one core while no poll is due (timers, watchdog, the classify tick),
- average: CPU share of one core over the run at the configured interval, and extrapolated to the default 15m.

The baseline printed beside it is the same cycle with one fresh `hearsay poll --once` process per cycle (what a
cron job would cost), so the ratio says what keeping the daemon resident saves.

usage: HEARSAY_BIN=target/release/hearsay tools/bench-poll.py [SOURCES=50] [BRANDS=10] [SECONDS=200]
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SOURCES, BRANDS, SECONDS = 50, 10, 200  # from the command line in main()
INTERVAL = 60
BIN = os.environ.get("HEARSAY_BIN", "target/release/hearsay")
TICKS = os.sysconf("SC_CLK_TCK")
WORDS = "refund outage love slow billing support update crash price great broken fast".split()

requests_served = 0
lock = threading.Lock()


def hn_page(n, brands, id_base=1_000_000):
    """The mock's answer to its n-th request: Algolia's search JSON with 20 hits, one new item per 50 requests and
    the rest already seen (steady state), each naming one of `brands` brands. tools/bench-console-load.py serves it
    too (with another id base, clear of the generated database's ids)."""
    now = int(time.time())
    hits = []
    for i in range(20):
        item = n // 50 - i
        b = item % brands
        hits.append({
            "objectID": str(id_base + item), "created_at_i": now - 60 * i,
            "title": f"brand{b} {WORDS[item % len(WORDS)]} thread {item}", "author": f"user{item % 97}",
            "story_text": f"What do people think about brand{b}? The {WORDS[(item * 7) % len(WORDS)]} is news.",
            "points": item % 13, "num_comments": item % 5, "_tags": ["story"],
        })
    return json.dumps({"hits": hits, "page": 0, "nbPages": 1, "hitsPerPage": 100}).encode()


def send_json(handler, body):
    handler.send_response(200)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        global requests_served
        with lock:
            requests_served += 1
            n = requests_served
        send_json(self, hn_page(n, BRANDS))

    def log_message(self, *args):
        pass


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def config(dir_, port):
    lines = [f'[storage]\ndatabase = "{dir_}/h.db"\noutbox_dir = "{dir_}/outbox"\n',
             f'[polling]\ninterval = "{INTERVAL}s"\nper_host_concurrency = 2\n']
    for b in range(BRANDS):
        lines.append(f'[[brands]]\nname = "Brand{b}"\nquery = "brand{b}"\n')
    for s in range(SOURCES):
        lines.append(f'[[sources]]\ntype = "hackernews"\nname = "hn{s:02}"\nbase_url = "http://127.0.0.1:{port}/s{s}"\n')
    path = os.path.join(dir_, "hearsay.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def main():
    global SOURCES, BRANDS, SECONDS
    args = [int(a) for a in sys.argv[1:4]]
    SOURCES, BRANDS, SECONDS = args + [SOURCES, BRANDS, SECONDS][len(args):]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pairs = SOURCES * BRANDS
    with tempfile.TemporaryDirectory() as d:
        cfg = config(d, server.server_address[1])
        env = dict(os.environ, RUST_LOG="warn")

        # Baseline: one `poll --once` process per cycle.
        base = []
        for _ in range(3):
            r0 = os.times()
            t0 = time.time()
            subprocess.run([BIN, "poll", "--once", "--config", cfg], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            r1 = os.times()
            base.append((r1.children_user - r0.children_user) + (r1.children_system - r0.children_system))
        base_cycle = sorted(base)[1]

        # The daemon.
        p = subprocess.Popen([BIN, "run", "--config", cfg], env=env, stderr=subprocess.DEVNULL)
        samples = []  # (wall, cpu, requests served)
        t_start = time.time()
        while time.time() - t_start < SECONDS:
            samples.append((time.time(), cpu_seconds(p.pid), requests_served))
            time.sleep(1)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
        server.shutdown()

    # Idle: one-second windows in which no request was served.
    idle = [(c1 - c0) / (w1 - w0) for (w0, c0, r0), (w1, c1, r1) in zip(samples, samples[1:]) if r1 == r0]
    # Busy: CPU from the first request of a cycle to the last one plus 3 s (store and classify), per cycle.
    cycles, start = [], None
    for (w0, c0, r0), (w1, c1, r1) in zip(samples, samples[1:]):
        if r1 > r0 and start is None:
            start = (c0, r0)
        if start is not None and r1 - start[1] >= pairs:
            cycles.append(c1 - start[0])
            start = None
    wall = samples[-1][0] - samples[0][0]
    cpu = samples[-1][1] - samples[0][1]
    n_cycles = (samples[-1][2]) / pairs
    busy = sorted(cycles)[len(cycles) // 2] if cycles else float("nan")
    idle_share = sorted(idle)[len(idle) // 2] if idle else float("nan")
    print(f"{SOURCES} sources x {BRANDS} brands = {pairs} polls per cycle, interval {INTERVAL}s, {wall:.0f}s run, "
          f"{n_cycles:.1f} cycles")
    print(f"daemon: {busy:.2f} CPU s per cycle (median of {len(cycles)}); idle between polls "
          f"{100 * idle_share:.2f}% of one core (median of {len(idle)} 1-s windows)")
    print(f"daemon average over the run:           {100 * cpu / wall:.2f}% of one core at a {INTERVAL}s interval")
    print(f"projected at the default 15m interval: {100 * (busy / 900 + idle_share):.2f}% of one core")
    print(f"baseline (a fresh `poll --once` process per cycle): {base_cycle:.2f} CPU s per cycle; "
          f"daemon/baseline {busy / base_cycle:.2f}x")


if __name__ == "__main__":
    main()
