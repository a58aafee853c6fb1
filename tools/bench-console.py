#!/usr/bin/env python3
"""Web console benchmark (issue 24): server time of its pages on a large history, and what it adds to the daemon.

usage: tools/bench-console.py DB [--bin target/release/hearsay] [--runs 40] [--brand Brand3]

DB is a database built by `tools/bench-store` or by hand:
    python3 tools/gen-mentions.py 10000000 --seed 2 | target/release/hearsay --db big.db import -
The script starts `hearsay run` on DB (no sources, so nothing is polled) with an [http] section, makes an account,
signs in, and times each page over localhost (time to the last byte, so server time plus a loopback round trip):
    overview of one brand over 30 days, the first feed page with a query filter, the next page (keyset).
Then every overview and negative feed of every brand and range is opened once, and the daemon's RSS is compared with
that of a second daemon on the same file, started at the same time with the console switched off (`console = false`).
By default both daemons are configured with one brand that nothing mentions, so that their own work (the detector's
reads, which fill the daemon's page caches over minutes and by amounts that differ from run to run by tens of MB)
does not drown what the console adds; `--busy-daemon --settle 240` measures it beside the ten brands' detectors.
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


def start(bin_, db, cfg_dir, console, quiet=True):
    port = free_port()
    cfg = os.path.join(cfg_dir, f"hearsay-{console}.toml")
    if quiet:
        # One configured brand that nothing mentions: the daemon's own cycle reads (almost) nothing, so what the
        # console reads is all that moves its RSS. The console shows every brand in the database either way.
        brands = '[[brands]]\nname = "Quiet"\nquery = "zzzquiet"\n\n'
    else:
        brands = "".join(f'[[brands]]\nname = "Brand{i}"\nquery = "brand{i}"\n\n' for i in range(10))
    with open(cfg, "w") as f:
        f.write(
            f'[storage]\ndatabase = "{db}"\noutbox_dir = "{cfg_dir}/outbox"\n\n{brands}'
            f'[http]\nlisten = "127.0.0.1:{port}"\nconsole = {"true" if console else "false"}\n'
        )
    log = open(os.path.join(cfg_dir, f"daemon-{console}.log"), "w")
    p = subprocess.Popen([bin_, "run", "-c", cfg], stdout=subprocess.DEVNULL, stderr=log,
                         env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")})
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
    ap.add_argument("--busy-daemon", action="store_true",
                    help="configure the ten brands of the generated database, so that both daemons run their "
                         "detector over them (their own page caches then grow for minutes, by different amounts)")
    ap.add_argument("--settle", type=float, default=3,
                    help="seconds both daemons run before the console is browsed: the daemon's own reads fill its "
                         "page caches (4 x 8 MiB and the writer's 64) over the first minutes")
    a = ap.parse_args()
    db = os.path.abspath(a.db)
    password = "bench passphrase 12345"
    subprocess.run([a.bin, "--db", db, "users", "remove", "bench"], capture_output=True)
    subprocess.run([a.bin, "--db", db, "users", "add", "bench", "--role", "editor", "--password-stdin"],
                   input=password + "\n", text=True, check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        # Two daemons on the same file, started together: one without the console, one with it. Both do the
        # daemon's own work (the detector's reads warm its page caches for minutes), so the difference of their
        # RSS after the second has been browsed is what the console adds.
        off, _ = start(a.bin, db, tmp, console=False, quiet=not a.busy_daemon)
        p, port = start(a.bin, db, tmp, console=True, quiet=not a.busy_daemon)
        time.sleep(a.settle)
        rss_on_idle, rss_off_idle = rss_kib(p.pid), rss_kib(off.pid)
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
        # Then every page a brand manager reaches, for every brand and range, once.
        brands = re.findall(r'<option value="([^"]+)"', request(port, "GET", "/overview", cookie)[2])
        for brand in dict.fromkeys(brands):
            q = urllib.parse.quote(brand)
            for r in ("24h", "7d", "30d", "90d"):
                for path in (f"/overview?brand={q}&range={r}", f"/mentions?brand={q}&range={r}&sentiment=negative"):
                    assert request(port, "GET", path, cookie)[0] == 200, path
        for path in ("/alerts", "/sources", "/mentions?q=refund"):
            assert request(port, "GET", path, cookie)[0] == 200, path
        diffs = []
        for _ in range(5):
            time.sleep(2)
            rss_on, rss_off = rss_kib(p.pid), rss_kib(off.pid)
            diffs.append(rss_on - rss_off)
        rss_on_busy = rss_on
        for d in (p, off):
            d.terminate(); d.wait()

    for name, v in times.items():
        print(f"{name}: p50 {pct(v, 0.5):.1f} ms, p95 {pct(v, 0.95):.1f} ms over {len(v)} requests")
    print(f"daemon RSS after {a.settle:.0f} s: console on {rss_on_idle / 1024:.1f} MiB, off {rss_off_idle / 1024:.1f} MiB")
    print(f"daemon RSS, side by side: console on, after browsing "
          f"{rss_on_busy / 1024:.1f} MiB; console off at the same time {rss_off / 1024:.1f} MiB; the console adds "
          f"{pct(diffs, 0.5) / 1024:+.1f} MiB (median of 5 samples, {min(diffs) / 1024:+.1f} to {max(diffs) / 1024:+.1f})")


if __name__ == "__main__":
    main()
