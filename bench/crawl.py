#!/usr/bin/python3
"""Catalog benchmark of tarn: crawl throughput against DuckDB's own schema detection, and
search latency over a large catalog, measured in one run on a fresh server.

1. Lands 10,000 small files (100 tables of 100 files: 80 CSV tables with 5-8 columns of
   ints, floats, strings, dates and booleans, 20 JSON Lines tables) in the raw zone with
   boto3 (8 threads), under raw/bench<d>/t<NN>/dt=2024-01-<dd>/part-<i>.<ext>, and waits
   until the crawler, which follows uploads on its own, has registered them all.
2. Crawl throughput, in alternating pairs (--pairs, default 5):
     tarn      a forced re-crawl of the raw zone (POST /v1/crawl {"zone":"raw",
               "force":true}, polled until done): objects / wall seconds from POST to done
     baseline  build/crawl_baseline on the same files on disk: one DESCRIBE SELECT * FROM
               read_csv/read_json(...) per file, in one in-memory DuckDB connection
   figure: median of the per-pair ratios tarn/baseline; target >= 0.8. Also shown: the
   same baseline on one thread (and connection) per core, as many as the crawler's
   workers.
3. Search latency: declares --search-tables tables (default 100,000: 1,000 databases x 100
   tables) through POST /v1/tables/raw/<db>/<table> (8 threads) with names, descriptions,
   columns and tags drawn from ~500 business words (Zipf-skewed), then times 1,000
   sequential GET /v1/search?q=<one or two words, drawn uniformly> on one keep-alive
   connection (signing is done before the clock starts), after the crawls that creating
   a table queues have finished. Targets: p50 < 5 ms, p99 < 20 ms. The same latencies of
   GET /healthz give the HTTP round trip as the baseline (ratio = search / healthz).
   The files of step 1 stay in the lake, so it holds 100 crawled tables besides.

--quick: 1,000 files over 10 tables, 2 pairs, 2,000 search tables (a smoke run).
The server and its temporary data folder are removed at the end, even on errors."""
import argparse
import concurrent.futures
import csv
import datetime
import http.client
import io
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tarnbench  # noqa: E402  (the server and signing the benchmarks share)
from tarnbench import REGION, ROOT, fail  # noqa: E402,F401

# ~500 business words: table, column and database names, descriptions, tags and queries.
VOCAB = sorted(set("""
account accounts accrual acquisition active activity address adjustment advertiser
affiliate agent agreement allocation amount analytics annual approval archive asset
assignment attribution audit authorization balance bank banner basket batch benefit
billing bonus booking branch brand budget bundle campaign cancellation capacity capital
card carrier cart catalog category center channel charge checkout churn city claim class
clearance click client closing cohort collection commission company compensation
complaint compliance component contact contract contribution conversion cost country
coupon coverage credit currency customer cycle daily dashboard debit debt default
delivery demand department deposit depreciation detail device discount dispatch dispute
distribution distributor dividend document domain donation driver due duration earning
email employee engagement enrollment entry equipment equity estimate event exchange
expense export exposure facility factor failure feedback fee field finance fiscal fleet
flow forecast franchise freight fulfillment fund funnel gateway general goal goods grade
grant gross group growth guarantee headcount health hierarchy hire history holding
holiday household impression incentive income incident index industry inflow inquiry
installment insurance interaction interest inventory investment invoice issue item
journal ledger lead lease legal level liability license limit line listing loan location
logistics loss loyalty maintenance manager manufacturing margin market marketing master
material maturity media member membership merchant metric migration milestone mobile
model monthly mortgage movement net network notification object offer office onboarding
operation opportunity order organization origin outflow outlet overhead owner package
page parcel partner party payable payment payroll pension performance period permit
person pipeline plan platform policy portfolio position premium price pricing principal
priority procurement product production profile profit program project promotion
property prospect provider purchase quality quantity quarter quarterly query quota quote
rate rating rebate receipt receivable recipient reconciliation record recovery referral
refund region registration regulatory reimbursement release renewal rent repayment
report request requisition reservation reserve resource response retail retention return
revenue review reward risk route royalty salary sale sales salesperson sample schedule
score segment seller sentiment service session settlement share shift shipment shipping
shop signup sku snapshot source spend sponsor staff stage statement status stock store
strategy subscriber subscription supplier supply support survey target tariff task tax
team tenant term territory ticket tier timesheet token total trade training transaction
transfer travel treasury trial turnover unit usage user valuation value variance vendor
venue version visit visitor volume voucher wage wallet warehouse warranty web weekly
withdrawal workforce yearly yield zone abandonment acceptance accountant achievement
actual admission advance adviser aging airline alert amortization anomaly applicant
application appointment appraisal arrears article assessment attendance auction
availability backlog backorder bankruptcy bid bill borrower breach broker buyer call
candidate capex cash cashflow certificate chargeback checkin citizen clinic coach code
collateral commodity competitor condition consent consignment consumer consumption
container content contractor conversation copay counterparty courier covenant creditor
criteria customs deal dealer deduction delinquency dependent deployment destination
diagnosis dimension director disbursement dividends downtime draft dunning ebitda
eligibility embargo emission encounter endpoint escalation exception expiry fact fare
fixture forex fraud frequency fuel gain garnishment geography grocery handling hotel
hour identity impairment import inspection installation instrument intake interval
itinerary job kpi label lane language latency leave lender lifetime liquidity load lot
manifest markdown markup meter mileage minute mortality nominal occupancy opex outage
overtime pallet patient payer payee penalty pharmacy pickup placement plant portal
posting prescription prize procedure proposal provision publisher rebooking recall
receiving reference refill reorder repair replenishment reseller residual retailer
revaluation rollup roster safety savings scan scrap seat security sensor shortage site
slot spread staffing standard stockout storage subsidy substitution surcharge tenure
threshold throughput timezone topic tracking traffic trip underwriting upgrade upsell
utilization vacancy variant vehicle vessel waiver wholesale withholding worker writeoff
""".split()))[:500]

TYPES = ["BIGINT", "DOUBLE", "VARCHAR", "DATE", "BOOLEAN", "TIMESTAMP", "DECIMAL(18,2)"]


def log(*a):
    print(*a, flush=True)


class Server(tarnbench.Server):
    def __init__(self, binary, data, log_path, promotion=False):
        # Without promotion raw keeps what lands, which is what a crawl of raw measures.
        super().__init__(binary, data, log_path,
                         ["--promotion", "on" if promotion else "off"])


class Rest(tarnbench.RestBase):
    """A SigV4-signed (service "tarn") JSON client on one keep-alive connection."""

    def __init__(self, srv, timeout=120):
        super().__init__(srv, timeout)

    def send(self, method, path, body, hdrs):
        """Sends a prepared request; returns (status, raw body). Reconnects once."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.srv.host, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, data
            except (OSError, http.client.HTTPException):
                self.close()
                if not self.srv.alive():
                    fail(f"tarn died (exit status {self.srv.proc.returncode}; negative: killed "
                         f"by that signal) during {method} {path.split('?')[0]}")
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def call(self, method, path, obj=None):
        body = json.dumps(obj).encode() if obj is not None else None
        status, data = self.send(method, path, body, self.sign(method, path, body))
        try:
            out = json.loads(data) if data else None
        except ValueError:
            out = {"raw": data.decode(errors="replace")}
        return status, out

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---- step 1: the files ----

def table_spec(t, rng):
    """Database, table name, format and columns [(name, kind)] of table t."""
    db = f"bench{t // 10}"
    name = f"t{t:02d}"
    fmt = "ndjson" if t % 5 == 4 else "csv"
    ncols = rng.randint(5, 8)
    names = rng.sample(VOCAB, ncols - 1)
    kinds = ["int"] + [rng.choice(["int", "float", "float", "str", "str", "date", "bool"])
                       for _ in names]
    cols = [("id", "int")] + [(f"{n}_{k}", k) for n, k in zip(names, kinds[1:])]
    return db, name, fmt, cols


def cell(kind, rng, row):
    if kind == "int":
        return row if rng.random() < 0.5 else rng.randint(-10**6, 10**9)
    if kind == "float":
        cents = rng.randint(-10**7, 10**7)
        return (cents + (cents % 100 == 0)) / 100  # never a whole number: always DOUBLE
    if kind == "str":
        w = " ".join(rng.choices(VOCAB, k=rng.randint(1, 4)))
        return w + (", " + rng.choice(VOCAB) if rng.random() < 0.1 else "")
    if kind == "date":
        return (datetime.date(2023, 1, 1) + datetime.timedelta(days=rng.randint(0, 730))).isoformat()
    return rng.random() < 0.5


def file_body(fmt, cols, rng):
    rows = rng.randint(20, 50)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow([c for c, _ in cols])
        for r in range(rows):
            w.writerow([str(cell(k, rng, r)).lower() if k == "bool" else cell(k, rng, r)
                        for _, k in cols])
        return out.getvalue().encode()
    lines = [json.dumps({c: cell(k, rng, r) for c, k in cols}) for r in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def make_files(ntables, per_table, seed=1):
    """[(key, body)] for ntables tables of per_table files each."""
    rng = random.Random(seed)
    files = []
    for t in range(ntables):
        db, name, fmt, cols = table_spec(t, rng)
        for i in range(per_table):
            key = f"{db}/{name}/dt=2024-01-{1 + i % 20:02d}/part-{i:03d}.{fmt}"
            files.append((key, file_body(fmt, cols, rng)))
    return files


def upload(srv, files, threads=8):
    s3 = boto3.client("s3", endpoint_url=srv.endpoint, region_name=REGION,
                      aws_access_key_id=srv.ak, aws_secret_access_key=srv.sk,
                      config=Config(s3={"addressing_style": "path"},
                                    max_pool_connections=threads,
                                    retries={"max_attempts": 3}))

    def put(kb):
        s3.put_object(Bucket="raw", Key=kb[0], Body=kb[1])

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        for f in [ex.submit(put, kb) for kb in files]:
            f.result()


def registered(rest):
    st, out = rest.call("GET", "/v1/tables?zone=raw")
    if st != 200:
        fail(f"GET /v1/tables: {st} {out}")
    tables = out["tables"]
    return (sum(t["files"] or 0 for t in tables), sum(t["error_files"] or 0 for t in tables),
            len(tables))


def wait_registered(srv, rest, n, timeout):
    t0 = time.monotonic()
    last = None
    while True:
        ok, bad, ntab = registered(rest)
        if ok + bad >= n:
            return ok, bad, ntab, time.monotonic() - t0
        if not srv.alive():
            fail(f"tarn exited while crawling:\n{srv.log_tail()}")
        if time.monotonic() - t0 > timeout:
            fail(f"after {timeout} s the crawler has registered {ok} files ({bad} in error) "
                 f"of {n}")
        if (ok, bad) != last and time.monotonic() - t0 > 5:
            log(f"  ... {ok} registered, {bad} in error")
        last = (ok, bad)
        time.sleep(0.5)


# ---- step 2: crawl throughput ----

def tarn_crawl(srv, rest, timeout):
    body = json.dumps({"zone": "raw", "force": True}).encode()
    hdrs = rest.sign("POST", "/v1/crawl", body)
    t0 = time.monotonic()
    st, data = rest.send("POST", "/v1/crawl", body, hdrs)
    if st != 202:
        fail(f"POST /v1/crawl: {st} {data[:500]!r}")
    job = json.loads(data)["id"]
    while True:
        st, j = rest.call("GET", f"/v1/crawl/{job}")
        if st != 200:
            fail(f"GET /v1/crawl/{job}: {st} {j}")
        if j["state"] == "done":
            secs = time.monotonic() - t0
            break
        if j["state"] == "failed":
            fail(f"crawl {job} failed: {j.get('error')}")
        if time.monotonic() - t0 > timeout:
            fail(f"crawl {job} not done after {timeout} s: {j}")
        time.sleep(0.02)
    return j["objects"] / secs, secs, j


def baseline_crawl(binary, folder, list_path, threads=1):
    p = subprocess.run([binary, folder, list_path, str(threads)], capture_output=True, text=True)
    if p.returncode:
        fail(f"crawl_baseline exited with {p.returncode}: {p.stderr[-2000:]}")
    return json.loads(p.stdout)


# ---- step 3: search ----

def weighted_words(rng, weights, k):
    return rng.choices(VOCAB, weights=weights, k=k)


def declared_table(i, per_db, rng, weights):
    """(db, table, spec) of the i-th declared table: a name from 2-3 words, a sentence of
    description, 4-12 columns and 1-3 tags, words drawn with a mild Zipf skew."""
    d, t = divmod(i, per_db)
    dw = VOCAB[(d * 7919) % len(VOCAB)]
    db = f"{dw}_{d:04d}"
    name = "_".join(weighted_words(rng, weights, rng.randint(2, 3))) + f"_{t:03d}"
    cols, seen = ["id BIGINT"], {"id"}
    for _ in range(rng.randint(3, 11)):
        c = "_".join(weighted_words(rng, weights, rng.randint(1, 2)))
        if c not in seen:
            seen.add(c)
            cols.append(f"{c} {rng.choice(TYPES)}")
    desc = " ".join(weighted_words(rng, weights, rng.randint(8, 16))).capitalize() + "."
    tags = sorted(set(weighted_words(rng, weights, rng.randint(1, 3))))
    return db, name, {"format": rng.choice(["csv", "csv", "jsonl", "parquet"]),
                      "schema": ", ".join(cols), "description": desc, "tags": tags}


def zipf_weights(seed=5):
    """Word weights 1/sqrt(rank), the ranks shuffled so that frequency is not alphabetical:
    the commonest word lands in ~18% of the tables, a median one in ~1%."""
    ranks = random.Random(seed).sample(range(len(VOCAB)), len(VOCAB))
    return [1 / (r + 1) ** 0.5 for r in ranks]


def declare_tables(srv, count, per_db, threads=8, seed=2):
    weights = zipf_weights()
    local = threading.local()
    clients = []
    lock = threading.Lock()
    errors = []
    max_crawl = [0]

    def work(chunk):
        if not hasattr(local, "rest"):
            local.rest = Rest(srv)
            with lock:
                clients.append(local.rest)
        rng = random.Random(seed * 1000003 + chunk[0])
        for i in chunk:
            db, name, spec = declared_table(i, per_db, rng, weights)
            st, out = local.rest.call("POST", f"/v1/tables/raw/{db}/{name}", spec)
            if st != 201:
                with lock:
                    errors.append(f"{db}.{name}: {st} {out}")
                continue
            if isinstance(out, dict) and isinstance(out.get("crawl"), int):
                with lock:
                    max_crawl[0] = max(max_crawl[0], out["crawl"])

    chunks = [range(i, min(i + 500, count)) for i in range(0, count, 500)]
    t0 = time.monotonic()
    done = 0
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        futs = [ex.submit(work, c) for c in chunks]
        for f in concurrent.futures.as_completed(futs):
            f.result()
            done += 1
            if done % max(1, len(chunks) // 10) == 0:
                el = time.monotonic() - t0
                log(f"  ... {min(done * 500, count)} tables in {el:.0f} s "
                    f"({min(done * 500, count) / el:.0f}/s), {len(errors)} errors")
            if len(errors) > max(10, count // 100):
                ex.shutdown(wait=False, cancel_futures=True)
                fail("too many table creations failed:\n" + "\n".join(errors[:10]))
    secs = time.monotonic() - t0
    for c in clients:
        c.close()
    return secs, errors, max_crawl[0]


def wait_crawl_done(srv, rest, job, timeout):
    """Creating a table queues a crawl of its folder; waits for the last one (jobs run in
    order) so that the searches do not compete with the crawler."""
    t0 = time.monotonic()
    while job:
        st, j = rest.call("GET", f"/v1/crawl/{job}")
        if st == 200 and j["state"] in ("done", "failed"):
            break
        if st == 404:  # forgotten: finished long ago
            break
        if not srv.alive():
            fail(f"tarn exited:\n{srv.log_tail()}")
        if time.monotonic() - t0 > timeout:
            log(f"  warning: crawl {job} still {j.get('state') if st == 200 else st} "
                f"after {timeout} s")
            break
        time.sleep(0.2)
    return time.monotonic() - t0


def latencies(rest, paths, signed, check=None):
    """Sequential requests on one keep-alive connection; ms each (signing off the clock)."""
    out = []
    for p in paths:
        hdrs = rest.sign("GET", p, signed=signed)
        t0 = time.perf_counter()
        st, data = rest.send("GET", p, None, hdrs)
        dt = (time.perf_counter() - t0) * 1000
        if st != 200:
            fail(f"GET {p}: {st} {data[:300]!r}")
        if check:
            check(data)
        out.append(dt)
    return out


def pct(v, q):
    """The q-th percentile (nearest rank)."""
    s = sorted(v)
    return s[max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))]


# ---- main ----

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tarn", default=os.path.join(ROOT, "build", "tarn"))
    ap.add_argument("--baseline", default=os.path.join(ROOT, "build", "crawl_baseline"))
    ap.add_argument("--tmp", default=None, help="parent of the temporary data folder")
    ap.add_argument("--tables", type=int, default=100, help="tables of crawled files")
    ap.add_argument("--files-per-table", type=int, default=100)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--search-tables", type=int, default=100000)
    ap.add_argument("--tables-per-db", type=int, default=100)
    ap.add_argument("--searches", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--timeout", type=int, default=1800, help="seconds for any one wait")
    ap.add_argument("--quick", action="store_true",
                    help="1,000 files over 10 tables, 2 pairs, 2,000 search tables")
    ap.add_argument("--keep", action="store_true", help="keep the data folder (debugging)")
    a = ap.parse_args()
    if a.quick:
        a.tables, a.files_per_table, a.pairs, a.search_tables = 10, 100, 2, 2000
    for b in (a.tarn, a.baseline):
        if not os.access(b, os.X_OK):
            fail(f"{b} is missing: build with `ninja -C build`")

    # SIGTERM and SIGHUP unwind like Ctrl-C, so the cleanup below runs.
    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    tmp = tempfile.mkdtemp(prefix="tarn-crawl-bench-", dir=a.tmp)
    data = os.path.join(tmp, "data")
    srv = None
    ok_all = True
    try:
        srv = Server(a.tarn, data, os.path.join(tmp, "tarn.log"))
        rest = Rest(srv)
        nfiles = a.tables * a.files_per_table
        log(f"tarn {srv.endpoint}, data in {data}")

        # 1. files
        files = make_files(a.tables, a.files_per_table)
        nbytes = sum(len(b) for _, b in files)
        t0 = time.monotonic()
        upload(srv, files, a.threads)
        up = time.monotonic() - t0
        log(f"uploaded {nfiles} files ({nbytes / 1e6:.1f} MB) over {a.tables} tables in "
            f"{up:.1f} s ({nfiles / up:.0f} PUT/s)")
        ok, bad, ntab, waited = wait_registered(srv, rest, nfiles, a.timeout)
        log(f"crawler registered {ok} files ({bad} in error) in {ntab} tables, "
            f"{waited:.1f} s after the last upload ({up + waited:.1f} s after the first)")
        if bad:
            log(f"  warning: {bad} files in error; see GET /v1/tables/raw/<db>/<table>/files")
        list_path = os.path.join(tmp, "keys.txt")
        with open(list_path, "w") as f:
            f.writelines(k + "\n" for k, _ in files)
        folder = os.path.join(data, "objects", "raw")
        del files

        # 2. crawl throughput, alternating which goes first
        # The crawler classifies on one worker per core; DuckDB given the same threads (one
        # connection each) is reported beside the single-connection baseline.
        ncpu = os.cpu_count() or 1
        ratios, trates, brates, pratios, prates = [], [], [], [], []
        for p in range(a.pairs):
            res = {}
            for which in (("tarn", "base", "par") if p % 2 == 0 else ("par", "base", "tarn")):
                if which == "tarn":
                    res["tarn"] = tarn_crawl(srv, rest, a.timeout)
                elif which == "base":
                    res["base"] = baseline_crawl(a.baseline, folder, list_path)
                else:
                    res["par"] = baseline_crawl(a.baseline, folder, list_path, ncpu)
            tr, tsecs, job = res["tarn"]
            b = res["base"]
            if job["objects"] != nfiles:
                log(f"  warning: the crawl saw {job['objects']} objects, not {nfiles}")
            if job.get("failed"):
                log(f"  warning: the crawl failed on {job['failed']} files")
            if b["errors"]:
                log(f"  warning: the baseline failed on {b['errors']} files")
            trates.append(tr)
            brates.append(b["files_per_s"])
            ratios.append(tr / b["files_per_s"])
            prates.append(res["par"]["files_per_s"])
            pratios.append(tr / res["par"]["files_per_s"])
            log(f"pair {p + 1}: tarn {tr:8.1f} files/s ({job['objects']} in {tsecs:.2f} s, "
                f"registered {job['registered']})  baseline {b['files_per_s']:8.1f} files/s "
                f"({b['files']} in {b['seconds']:.2f} s)  ratio {ratios[-1]:.3f}; "
                f"baseline x{ncpu} threads {prates[-1]:.1f} files/s, ratio {pratios[-1]:.3f}")
        crawl_ratio = statistics.median(ratios)
        crawl_ok = crawl_ratio >= 0.8
        ok_all &= crawl_ok
        log(f"crawl: median tarn {statistics.median(trates):.1f} files/s, baseline "
            f"{statistics.median(brates):.1f} files/s, median ratio {crawl_ratio:.3f} "
            f"(target >= 0.8: {'ok yes' if crawl_ok else 'ok NO'})")

        # 3. search over many declared tables, through the REST API
        log(f"declaring {a.search_tables} tables "
            f"({-(-a.search_tables // a.tables_per_db)} databases) with {a.threads} threads")
        csecs, errors, last_crawl = declare_tables(srv, a.search_tables, a.tables_per_db,
                                                   a.threads)
        created = a.search_tables - len(errors)
        crate = created / csecs
        log(f"declared {created} tables in {csecs:.1f} s ({crate:.0f} tables/s), "
            f"{len(errors)} errors")
        for e in errors[:5]:
            log(f"  {e}")
        if last_crawl:
            drained = wait_crawl_done(srv, rest, last_crawl, a.timeout)
            log(f"the folder crawls they queued finished {drained:.1f} s later "
                f"(last crawl job {last_crawl})")

        def search_paths(rng, n):
            out = []
            for _ in range(n):
                q = " ".join(rng.sample(VOCAB, rng.choice((1, 2))))
                out.append("/v1/search?q=" + urllib.parse.quote(q, safe=""))
            return out

        queries = search_paths(random.Random(3), a.searches)
        hits = []

        def count_hits(data):
            hits.append(len(json.loads(data)["results"]))

        s = Rest(srv)
        latencies(s, search_paths(random.Random(4), 20), True)  # warm the connection
        slat = latencies(s, queries, True, count_hits)
        hlat = latencies(s, ["/healthz"] * a.searches, False)
        s.close()
        sp50, sp99 = pct(slat, 50), pct(slat, 99)
        hp50, hp99 = pct(hlat, 50), pct(hlat, 99)
        log(f"search: {a.searches} queries, {sum(1 for h in hits if h)} with results "
            f"(mean {statistics.mean(hits):.1f} of at most 20); p50 {sp50:.2f} ms, "
            f"p99 {sp99:.2f} ms, max {max(slat):.2f} ms")
        log(f"healthz: p50 {hp50:.2f} ms, p99 {hp99:.2f} ms")
        p50_ok, p99_ok = sp50 < 5, sp99 < 20
        ok_all &= p50_ok and p99_ok

        yes = lambda b: "yes" if b else "NO"
        rows = [
            ("figure", "tarn", "baseline", "rate", "ratio", "target", "ok"),
            ("crawl files/s", f"{statistics.median(trates):.1f}", "duckdb DESCRIBE",
             f"{statistics.median(brates):.1f}", f"{crawl_ratio:.2f}", ">=0.8", yes(crawl_ok)),
            ("", "", f"same, {ncpu} threads", f"{statistics.median(prates):.1f}",
             f"{statistics.median(pratios):.2f}", "-", "-"),
            ("search p50 ms", f"{sp50:.2f}", "GET /healthz", f"{hp50:.2f}",
             f"{sp50 / hp50:.1f}", "<5", yes(p50_ok)),
            ("search p99 ms", f"{sp99:.2f}", "GET /healthz", f"{hp99:.2f}",
             f"{sp99 / hp99:.1f}", "<20", yes(p99_ok)),
            ("create tables/s", f"{crate:.0f}", "-", "-", "-", "-", "-"),
        ]
        w = [max(len(r[i]) for r in rows) + 2 for i in range(len(rows[0]))]
        log("")
        log(f"files {nfiles} ({a.tables} tables), pairs {a.pairs}, search tables "
            f"{created}, searches {a.searches}")
        for r in rows:
            log("".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())
    except BaseException:
        ok_all = False
        if srv is not None:
            tail = srv.log_tail()
            if tail:
                print("--- last lines of the server log ---\n" + tail, file=sys.stderr)
        raise
    finally:
        if srv is not None:
            srv.stop()
        if a.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
