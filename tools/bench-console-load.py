#!/usr/bin/env python3
"""Does browsing the console delay polling? (issue 24)

usage: tools/bench-console-load.py DB [--bin target/release/hearsay] [--clients 50] [--seconds 180]

Runs `hearsay run` on DB (a copy is made; e.g. the 10M-mention database of `tools/bench-console.py`) with 10
Hacker News sources x 10 brands served by a local mock (one new item per 50 requests, as `tools/bench-poll.py`) and
a 30 s poll interval, twice: alone, then with CLIENTS people browsing the console (each signed in, opening the
overview of a brand, the negative feed, a filtered search and the next page, with 2-8 s between pages, as a person
reads). It reads each run's polls from the database's `poll_log` (one row per (source, brand) poll: its duration from
request to stored mentions) and prints, side by side, how many polls ran and their median and p95 duration, with the
page latencies the clients saw.
Python's standard library only.
"""
import argparse
import importlib.util
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SOURCES, BRANDS, INTERVAL = 10, 10, 30
# The HTTP helpers of tools/bench-console.py (its file name is not a module name).
_spec = importlib.util.spec_from_file_location("bench_console", os.path.join(os.path.dirname(__file__), "bench-console.py"))
bench_console = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_console)
free_port, request, login = bench_console.free_port, bench_console.request, bench_console.login
# The Hacker News mock's payload, as tools/bench-poll.py serves it.
_spec = importlib.util.spec_from_file_location("bench_poll", os.path.join(os.path.dirname(__file__), "bench-poll.py"))
bench_poll = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_poll)

lock = threading.Lock()
served = []  # request times of the mock


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        with lock:
            served.append(time.time())
            n = len(served)
        bench_poll.send_json(self, bench_poll.hn_page(n, BRANDS, id_base=50_000_000))

    def log_message(self, *args):
        pass


def polls(db, since, until):
    """Durations (ms) of the polls that started in [since, until), from the daemon's own poll log."""
    import sqlite3
    c = sqlite3.connect(db)
    rows = c.execute("SELECT latency_ms FROM poll_log WHERE started_at >= ? AND started_at < ?",
                     (int(since), int(until))).fetchall()
    c.close()
    return [r[0] for r in rows]


def run(bin_, db, port_mock, clients, seconds, tmp):
    port = free_port()
    cfg = os.path.join(tmp, f"hearsay-{clients}.toml")
    lines = [f'[storage]\ndatabase = "{db}"\noutbox_dir = "{tmp}/outbox"\n',
             f'[polling]\ninterval = "{INTERVAL}s"\nper_host_concurrency = 2\n',
             f'[http]\nlisten = "127.0.0.1:{port}"\n']
    lines += [f'[[brands]]\nname = "Brand{b}"\nquery = "brand{b}"\n' for b in range(BRANDS)]
    lines += [f'[[sources]]\ntype = "hackernews"\nname = "hn{s:02}"\nbase_url = "http://127.0.0.1:{port_mock}/s{s}"\n'
              for s in range(SOURCES)]
    with open(cfg, "w") as f:
        f.write("\n".join(lines))
    started = time.time()
    p = subprocess.Popen([bin_, "run", "-c", cfg], stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(tmp, f"daemon-{clients}.log"), "w"),
                         env={**os.environ, "RUST_LOG": "warn"})
    for _ in range(600):
        try:
            request(port, "GET", "/healthz")
            break
        except OSError:
            time.sleep(0.1)
    latencies, stop = [], time.time() + seconds

    def person(i):
        rng = random.Random(i)
        cookie = login(port, "bench", "bench passphrase 12345")
        brand = f"Brand{i % BRANDS}"
        pages = [f"/overview?brand={brand}&range=7d", f"/mentions?brand={brand}&sentiment=negative&range=7d",
                 f"/mentions?brand={brand}&range=30d&q=refund"]
        while time.time() < stop:
            for path in pages:
                if time.time() >= stop:
                    return
                status, _, body, took = request(port, "GET", path, cookie)
                with lock:
                    latencies.append(took)
                m = re.search(r'href="([^"]*before=[^"]*)">Older', body)
                if m and rng.random() < 0.5:
                    _, _, _, took = request(port, "GET", m.group(1).replace("&amp;", "&"), cookie)
                    with lock:
                        latencies.append(took)
                time.sleep(rng.uniform(2, 8))

    threads = [threading.Thread(target=person, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    while time.time() < stop:
        time.sleep(1)
    for t in threads:
        t.join()
    p.terminate()
    p.wait(timeout=120)
    return polls(db, started, time.time()), latencies


def med(v):
    v = sorted(v)
    return v[len(v) // 2] if v else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--bin", default="target/release/hearsay")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=180)
    a = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(a.db))) as tmp:
        db = os.path.join(tmp, "copy.db")
        shutil.copyfile(a.db, db)
        subprocess.run([a.bin, "--db", db, "users", "remove", "bench"], capture_output=True)
        subprocess.run([a.bin, "--db", db, "users", "add", "bench", "--role", "viewer", "--password-stdin"],
                       input="bench passphrase 12345\n", text=True, check=True, capture_output=True)
        alone, _ = run(a.bin, db, server.server_address[1], 0, a.seconds, tmp)
        busy, lat = run(a.bin, db, server.server_address[1], a.clients, a.seconds, tmp)
    server.shutdown()
    def p95(v):
        v = sorted(v)
        return v[int(0.95 * (len(v) - 1))] if v else float("nan")

    print(f"polls ({SOURCES} sources x {BRANDS} brands, every {INTERVAL}s, {a.seconds}s each run): "
          f"alone {len(alone)} polls, median {med(alone):.0f} ms, p95 {p95(alone):.0f} ms; "
          f"with {a.clients} people browsing {len(busy)} polls, median {med(busy):.0f} ms, p95 {p95(busy):.0f} ms "
          f"(ratio of medians {med(busy) / med(alone):.2f}x)")
    lat = sorted(lat)
    if lat:
        print(f"pages those people saw: {len(lat)} requests, p50 {med(lat) * 1000:.0f} ms, "
              f"p95 {lat[int(0.95 * (len(lat) - 1))] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
