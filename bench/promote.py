#!/usr/bin/python3
"""Promotion benchmark of tarn: objects promoted raw -> cleaned per second, against the
crawler's throughput on the same files in the same run.

1. Starts a fresh server with promotion off and lands --files small files (default
   10,000: 100 tables of 100 CSV and JSON Lines files of 20-50 rows, the files of
   bench/crawl.py) in raw with boto3 (8 threads), and waits until the crawler has
   registered them all.
2. Baseline: a forced re-crawl of the raw zone (POST /v1/crawl {"zone":"raw","force":
   true}): objects / wall seconds, as bench/crawl.py measures it. Each object is
   classified and its schema inferred; nothing is read whole and nothing is written.
3. Restarts the server on the same data with promotion on: the promoter takes in every
   landing from the event queue and checks, copies to cleaned, registers and removes from
   raw each object. Figure: promotions / wall seconds from the restart's readiness until
   the promoter's counters (tarn_promotions_total in /metrics) reach the file count,
   and the ratio promotions/s over crawled objects/s. Every object must end in cleaned
   (none quarantined: the files are well-formed and distinct).

--quick: 1,000 files over 10 tables. The server and its temporary data folder are removed
at the end, even on errors."""
import argparse
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crawl  # noqa: E402  (the same files, server and REST client)

log = crawl.log


def promoted(rest):
    st, out = rest.send("GET", "/metrics", None, rest.sign("GET", "/metrics"))
    if st != 200:
        crawl.fail(f"GET /metrics: {st}")
    counts = dict(re.findall(rb'tarn_promotions_total\{outcome="(\w+)"\} (\d+)', out))
    return {k.decode(): int(v) for k, v in counts.items()}


def measure(tarn, nfiles, timeout):
    """Steps 1-3 on a fresh server and data folder (removed at the end, even on errors):
    {"files", "promotions_per_s", "promote_s", "crawl_per_s", "crawl_s"}."""
    ntables = max(1, nfiles // 100)
    tmp = tempfile.mkdtemp(prefix="tarn-bench-promote-")
    data = os.path.join(tmp, "data")
    srv = None
    try:
        files = crawl.make_files(ntables, nfiles // ntables)
        n = len(files)
        log(f"promote: {n} files in {ntables} tables, {sum(len(b) for _, b in files) / 1e6:.1f} MB")
        srv = crawl.Server(tarn, data, os.path.join(tmp, "tarn.log"))
        rest = crawl.Rest(srv)
        t0 = time.monotonic()
        crawl.upload(srv, files)
        log(f"  landed in {time.monotonic() - t0:.1f} s")
        crawl.wait_registered(srv, rest, n, timeout)
        crawl_rate, crawl_secs, _ = crawl.tarn_crawl(srv, rest, timeout)
        log(f"  baseline: forced crawl of raw, {n} objects in {crawl_secs:.2f} s = "
            f"{crawl_rate:.0f} objects/s")
        rest.close()
        srv.stop()

        srv = crawl.Server(tarn, data, os.path.join(tmp, "tarn.log"), promotion=True)
        t0 = time.monotonic()
        rest = crawl.Rest(srv)
        last = None
        while True:
            c = promoted(rest)
            done = sum(c.values())
            if done >= n:
                secs = time.monotonic() - t0
                break
            if not srv.alive():
                crawl.fail(f"tarn exited while promoting:\n{srv.log_tail()}")
            if time.monotonic() - t0 > timeout:
                crawl.fail(f"after {timeout} s {done} of {n} objects are promoted")
            if done != last and time.monotonic() - t0 > 5:
                log(f"  ... {done} promoted")
            last = done
            time.sleep(0.2)
        if c.get("quarantined"):
            crawl.fail(f"{c['quarantined']} objects were quarantined; see {srv.log_path}")
        rate = n / secs
        log(f"  promotion: {n} objects in {secs:.2f} s = {rate:.0f} promotions/s")
        return {"files": n, "promotions_per_s": rate, "promote_s": secs,
                "crawl_per_s": crawl_rate, "crawl_s": crawl_secs}
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tarn", default=os.path.join(crawl.ROOT, "build", "tarn"))
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=int, default=3600)
    args = ap.parse_args()
    m = measure(args.tarn, 1000 if args.quick else args.files, args.timeout)
    log(f"promotions/s {m['promotions_per_s']:.0f}  crawled objects/s {m['crawl_per_s']:.0f}  "
        f"ratio {m['promotions_per_s'] / m['crawl_per_s']:.2f}")


if __name__ == "__main__":
    main()
