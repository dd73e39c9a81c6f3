#!/usr/bin/python3
"""The admin's service while an attacker holds connections that never authenticate.

While 5,000 idle TCP connections to the HTTP port and 500 PostgreSQL startups that never
answer the SASL challenge are held (half from 127.0.0.1, the admin's address, half from
127.0.0.2), measures, beside the same figures without the flood and the targets:
  admin S3 GET p99 (each GET on a new connection)   < 100 ms
  admin PostgreSQL login + SELECT 1, p99 (psycopg2)  < 200 ms
  small PUT rate (8 clients, 4 KiB, as s3_throughput) >= 0.9 x without the flood
Measured in rounds, each with and without the flood back to back (in alternating order):
the latencies are pooled over the rounds, the PUT ratio is the median of the rounds'
ratios, since a virtual machine's disk drifts by more than the difference sought.
Loopback only; the flood is held, not renewed, and every socket is closed at the end."""
import argparse
import hashlib
import http.client
import os
import shutil
import statistics
import sys
import tempfile
import time

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s3_throughput import run_small_tarn, sign  # noqa: E402
from tarnbench import ROOT, Server, fail  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from floodutil import open_half_logins, open_idle, raise_nofile  # noqa: E402


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]


def get_times(srv, n):
    """Seconds of n GETs of raw/flood/k, each on a new connection, signed by the admin."""
    out = []
    path = "/raw/flood/k"
    for _ in range(n):
        h = sign("GET", path, srv.host, srv.ak, srv.sk, hashlib.sha256(b"").hexdigest())
        t0 = time.perf_counter()
        c = http.client.HTTPConnection(srv.host, timeout=30)
        c.request("GET", path, headers=h)
        r = c.getresponse()
        r.read()
        out.append(time.perf_counter() - t0)
        c.close()
        if r.status != 200:
            fail(f"GET {path}: {r.status}")
    return out


def login_times(srv, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        c = psycopg2.connect(host="127.0.0.1", port=srv.pg_port, user="admin",
                             password=srv.password, dbname="lake", sslmode="disable",
                             connect_timeout=30)
        cur = c.cursor()
        cur.execute("SELECT 1")
        cur.fetchone()
        out.append(time.perf_counter() - t0)
        c.close()
    return out


def measure(srv, a, tag, into):
    into["get"] += get_times(srv, a.gets)
    into["login"] += login_times(srv, a.logins)
    rate = run_small_tarn(srv, f"bench/flood/{tag}", a.small_count, 4096, 8)
    into["put"].append(rate)
    return rate


def hold_flood(srv, a):
    socks = []
    for source in ("127.0.0.1", "127.0.0.2"):
        open_idle(srv.port, a.idle // 2, source, socks)
        open_half_logins(srv.pg_port, a.startups // 2, source, socks)
    return socks


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tarn", default=os.path.join(ROOT, "build", "tarn"))
    ap.add_argument("--tmp", default=None, help="parent of the temporary folder")
    ap.add_argument("--idle", type=int, default=5000, help="idle HTTP connections held")
    ap.add_argument("--startups", type=int, default=500,
                    help="PostgreSQL startups held without answering SASL")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--gets", type=int, default=100, help="GETs per measurement")
    ap.add_argument("--logins", type=int, default=10, help="logins per measurement")
    ap.add_argument("--small-count", type=int, default=1000, help="small PUTs per measurement")
    a = ap.parse_args()

    raise_nofile(a.idle + a.startups + 1000)
    tmp = tempfile.mkdtemp(prefix="tarn-flood-bench-", dir=a.tmp)
    # The flood is held by admission (eviction), not ended by the authentication
    # timeout: the worst case for the admin.
    srv = Server(a.tarn, os.path.join(tmp, "data"), os.path.join(tmp, "tarn.log"),
                 ["--promotion", "off", "--auth-timeout", "3600"])
    socks = []
    try:
        h = sign("PUT", "/raw/flood/k", srv.host, srv.ak, srv.sk, hashlib.sha256(b"x").hexdigest())
        h["Content-Length"] = "1"
        c = http.client.HTTPConnection(srv.host, timeout=30)
        c.request("PUT", "/raw/flood/k", body=b"x", headers=h)
        if c.getresponse().status != 200:
            fail("cannot PUT the object the GETs read")
        c.close()

        flood = {"get": [], "login": [], "put": []}
        base = {"get": [], "login": [], "put": []}
        ratios, held = [], []
        for i in range(a.rounds):
            order = ("base", "flood") if i % 2 == 0 else ("flood", "base")
            rates = {}
            for what in order:
                if what == "base":
                    rates[what] = measure(srv, a, f"r{i}-base", base)
                    continue
                socks = hold_flood(srv, a)
                held.append(len(socks))
                rates[what] = measure(srv, a, f"r{i}-flood", flood)
                for s in socks:
                    s.close()
                socks = []
                time.sleep(1)  # the server closes its ends before the next measurement
            ratios.append(rates["flood"] / rates["base"])
        if not srv.alive():
            fail("tarn died during the run:\n" + srv.log_tail())
    finally:
        for s in socks:
            s.close()
        srv.stop()

    print(f"flood: {min(held)}-{max(held)} connections held ({a.idle} idle HTTP and "
          f"{a.startups} PostgreSQL startups asked, from 127.0.0.1 and 127.0.0.2), "
          f"{a.rounds} rounds with and without")
    print(f"{'figure':<36}{'flood':>12}{'baseline':>12}  target")
    gp, bgp = p99(flood["get"]), p99(base["get"])
    print(f"{'admin S3 GET p99 (new connection)':<36}{gp * 1e3:>9.1f} ms{bgp * 1e3:>9.1f} ms"
          f"  < 100 ms   {'ok' if gp < 0.1 else 'MISSED'}")
    print(f"{'admin S3 GET median':<36}{statistics.median(flood['get']) * 1e3:>9.1f} ms"
          f"{statistics.median(base['get']) * 1e3:>9.1f} ms")
    lp, blp = p99(flood["login"]), p99(base["login"])
    print(f"{'admin PostgreSQL login p99':<36}{lp * 1e3:>9.1f} ms{blp * 1e3:>9.1f} ms"
          f"  < 200 ms   {'ok' if lp < 0.2 else 'MISSED'}")
    print(f"{'admin PostgreSQL login median':<36}"
          f"{statistics.median(flood['login']) * 1e3:>9.1f} ms"
          f"{statistics.median(base['login']) * 1e3:>9.1f} ms")
    ratio = statistics.median(ratios)
    print(f"{'small PUT rate (8 clients, 4 KiB)':<36}"
          f"{statistics.median(flood['put']):>6.0f} obj/s"
          f"{statistics.median(base['put']):>6.0f} obj/s  >= 0.9 x   {ratio:.2f} x "
          f"{'ok' if ratio >= 0.9 else 'MISSED'}")
    print("(PUT ratio: the median of the rounds' ratios "
          + ", ".join(f"{r:.2f}" for r in ratios) + ")")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
