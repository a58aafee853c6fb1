#!/usr/bin/env python3
"""Web console benchmark (issue 24): server time of its pages on a large history, and what it adds to the daemon.

usage: tools/bench-console.py DB [--bin target/release/hearsay] [--runs 40] [--brand Brand3]

DB is a database built by `tools/bench-store` or by hand:
    python3 tools/gen-mentions.py 10000000 --seed 2 | target/release/hearsay --db big.db import -
The script starts `hearsay run` on DB (no sources, so nothing is polled) with an [http] section, makes an account,
signs in, and times each page over localhost (time to the last byte, so server time plus a loopback round trip):
    overview of one brand over 30 days, the first feed page with a query filter, the next page (keyset).
Then it compares the daemon's RSS with the console switched off (`console = false`), before and after browsing.
Prints p50 / p95 per page. Python's standard library only.
"""
import argparse
import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def request(port, method, path, cookie=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = urllib.parse.urlencode(body)
    t0 = time.perf_counter()
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    took = time.perf_counter() - t0
    c.close()
    return r.status, r.getheaders(), data.decode("utf-8", "replace"), took


def start(bin_, db, cfg_dir, console):
    port = free_port()
    cfg = os.path.join(cfg_dir, f"hearsay-{console}.toml")
    brands = "".join(f'[[brands]]\nname = "Brand{i}"\nquery = "brand{i}"\n\n' for i in range(10))
    with open(cfg, "w") as f:
        f.write(
            f'[storage]\ndatabase = "{db}"\noutbox_dir = "{cfg_dir}/outbox"\n\n{brands}'
            f'[http]\nlisten = "127.0.0.1:{port}"\nconsole = {"true" if console else "false"}\n'
        )
    log = open(os.path.join(cfg_dir, f"daemon-{console}.log"), "w")
    p = subprocess.Popen([bin_, "run", "-c", cfg], stdout=subprocess.DEVNULL, stderr=log,
                         env={**os.environ, "RUST_LOG": "warn"})
    for _ in range(600):
        try:
            if request(port, "GET", "/healthz")[0] in (200, 503):
                return p, port
        except OSError:
            time.sleep(0.1)
    p.kill()
    sys.exit("hearsay run did not start: " + open(log.name).read())


def login(port, name, password):
    status, headers, body, _ = request(port, "GET", "/login")
    pre_cookie = next(v for k, v in headers if k.lower() == "set-cookie" and v.startswith("hearsay_login="))
    pre = re.search(r'name="pre" value="([0-9a-f]+)"', body).group(1)
    status, headers, body, _ = request(port, "POST", "/login", pre_cookie.split(";")[0],
                                       {"name": name, "password": password, "pre": pre})
    assert status == 303, (status, body[:500])
    return next(v for k, v in headers if k.lower() == "set-cookie" and v.startswith("hearsay_session=")).split(";")[0]


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--bin", default="target/release/hearsay")
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--brand", default="Brand3")
    a = ap.parse_args()
    db = os.path.abspath(a.db)
    password = "bench passphrase 12345"
    subprocess.run([a.bin, "--db", db, "users", "remove", "bench"], capture_output=True)
    subprocess.run([a.bin, "--db", db, "users", "add", "bench", "--role", "editor", "--password-stdin"],
                   input=password + "\n", text=True, check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        # RSS without the console, then with it, each after the same settling time.
        p, port = start(a.bin, db, tmp, console=False)
        time.sleep(3)
        rss_off = rss_kib(p.pid)
        p.terminate(); p.wait()

        p, port = start(a.bin, db, tmp, console=True)
        time.sleep(3)
        rss_on_idle = rss_kib(p.pid)
        cookie = login(port, "bench", password)
        b = urllib.parse.quote(a.brand)
        pages = {
            f"overview {a.brand} 30d": f"/overview?brand={b}&range=30d",
            f"feed {a.brand} 30d q=refund, first page": f"/mentions?brand={b}&range=30d&q=refund",
            "feed all brands, newest 50": "/mentions",
        }
        times = {}
        next_path = None
        for name, path in pages.items():
            v = []
            for _ in range(a.runs):
                status, _, body, took = request(port, "GET", path, cookie)
                assert status == 200, (name, status, body[:300])
                v.append(took * 1000)
            times[name] = v
            if "first page" in name:
                m = re.search(r'href="([^"]*before=[^"]*)">Older', body)
                next_path = m.group(1).replace("&amp;", "&") if m else None
        if next_path:
            v = []
            for _ in range(a.runs):
                status, _, body, took = request(port, "GET", next_path, cookie)
                assert status == 200
                v.append(took * 1000)
            times[f"feed {a.brand} 30d q=refund, next page"] = v
        rss_on_busy = rss_kib(p.pid)
        p.terminate(); p.wait()

    for name, v in times.items():
        print(f"{name}: p50 {pct(v, 0.5):.1f} ms, p95 {pct(v, 0.95):.1f} ms over {len(v)} requests")
    print(f"daemon RSS: console off {rss_off / 1024:.1f} MiB; console on, idle {rss_on_idle / 1024:.1f} MiB, "
          f"after browsing {rss_on_busy / 1024:.1f} MiB (adds {(rss_on_busy - rss_off) / 1024:+.1f} MiB)")


if __name__ == "__main__":
    main()
