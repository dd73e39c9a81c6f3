#!/usr/bin/python3
"""Pipeline benchmark of tarn: CSV extracts landed in raw, promoted to cleaned and turned
into curated partitioned Parquet by a one-step pipeline, end to end, against DuckDB's own
COPY (SELECT ...) TO ... (FORMAT parquet, PARTITION_BY ...) of the same files and query
through its C API, in the same run.

1. Data: build/pipeline_baseline gen writes --rows order lines (default 10,000,000, about
   1 GB) as --files daily extracts (default 12) orders-2024-03-DD.csv, deterministically
   (hash-based values): order_id, ordered_at, customer, email, region, product, qty,
   price, status; about 3% of a day's lines are late orders of the week before, 0.1% have
   no order id, 0.5% a quantity of 0 or less; e-mails and statuses come in mixed case.
2. The query (QUERY below) keeps real orders (an id, a positive quantity, not
   cancelled), normalises e-mails and statuses, derives order_date and amount, and is
   written partitioned by order_date.
     baseline  build/pipeline_baseline copy: COPY (QUERY over read_csv([files])) TO dir
               (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (order_date)) in an
               in-memory DuckDB with its default configuration (one thread per core, as
               tarn's engine); seconds of the statement. --baseline-runs times (default
               2), the fastest counts.
     tarn      a fresh `tarn serve` with promotion on; the files are uploaded with boto3
               (upload_file, multipart) one after another to raw/shop/orders/; the
               promoter checks each and moves it to cleaned (cleaned.shop.orders). Once
               every file is there (tarn_promotions_total in /metrics, and the table's
               file count), a pipeline whose one SQL step is QUERY over
               cleaned.shop.orders, written to curated.shop.orders_clean (mode overwrite,
               partition_by [order_date]), is applied (POST /v1/pipelines) and started
               (POST /v1/pipelines/<name>/runs), and its run polled until it ends.
   Figure: CSV bytes / (promotion seconds, counted from the last upload's acknowledgement,
   + pipeline run seconds, from the start request to the end of the run), in MB/s (10^6
   bytes) and input rows/s, and its ratio to the baseline's; target >= 0.7. Shown beside
   it: the same counted from the first upload's start (upload included, for reference)
   and the split (upload, promotion, the run: queueing, the SQL step, the commit with its
   partitioned write) from the run record's times.
   Check: row count, sum(qty), sum(amount) and the number of order dates of the curated
   table (POST /v1/sql) equal those of the baseline's output read back by
   build/pipeline_baseline check; a mismatch fails the benchmark.
3. Promotions per second for --promote-files small files (default 10,000), measured by
   bench/promote.py's own code (its figure and its ratio to the crawler).

Until tarn serves /v1/pipelines, the pipeline part is reported as "not available" and
only the promotion of the CSV files is timed.

--quick: 1,000,000 rows in 4 files, 1,000 small files (a smoke run). The server and its
temporary data folder (under TMPDIR, default /tmp) are removed at the end, even on
errors (--keep keeps the folder)."""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crawl  # noqa: E402  (the server with promotion on/off and its REST client)
import promote  # noqa: E402  (promotions per second)
from tarnbench import REGION, ROOT, fail  # noqa: E402

DB, SRC_TABLE, OUT_TABLE, PIPELINE = "shop", "orders", "orders_clean", "bench_orders"

# {src} is read_csv([...]) for the baseline and cleaned.shop.orders for tarn. The casts
# keep the output's types independent of how the CSV reader infers price.
QUERY = """SELECT order_id, ordered_at, CAST(ordered_at AS DATE) AS order_date, customer,
       lower(trim(email)) AS email, region, product, qty,
       CAST(price AS DECIMAL(10,2)) AS price,
       CAST(qty * CAST(price AS DECIMAL(10,2)) AS DECIMAL(18,2)) AS amount,
       lower(status) AS status
FROM {src}
WHERE order_id IS NOT NULL AND qty > 0 AND lower(status) <> 'cancelled'"""

CHECK_SQL = (f"SELECT count(*), sum(qty), CAST(sum(amount) AS VARCHAR), "
             f"count(DISTINCT order_date) FROM curated.{DB}.{OUT_TABLE}")


def log(*a):
    print(*a, flush=True)


def run_json(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        fail(f"{os.path.basename(cmd[0])} {cmd[1]} exited with {p.returncode}: "
             f"{p.stderr[-3000:]}")
    return json.loads(p.stdout)


def spec_yaml():
    sql = QUERY.format(src=f"cleaned.{DB}.{SRC_TABLE}")
    body = "\n".join("      " + line for line in sql.splitlines())
    return (f"name: {PIPELINE}\n"
            f"description: CSV extracts of orders cleaned into Parquet by order date.\n"
            f"steps:\n"
            f"  - name: clean_orders\n"
            f"    sql: |\n{body}\n"
            f"    target: {{table: curated.{DB}.{OUT_TABLE}, mode: overwrite,\n"
            f"             partition_by: [order_date]}}\n")


def iso_s(t):
    """Seconds since the epoch of an ISO time such as 2026-01-02T03:04:05.678Z."""
    if not t:
        return None
    return datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()


# ---- the baseline ----

def baseline(binary, csv_dir, names, out_root, runs):
    best = None
    for k in range(runs):
        out = os.path.join(out_root, f"baseline-{k}")
        r = run_json([binary, "copy", out, QUERY,
                      *[os.path.join(csv_dir, n) for n in names]])
        log(f"  baseline run {k + 1}: {r['seconds']:.2f} s, {r['rows']} rows out, "
            f"{r['files']} Parquet files, {r['bytes'] / 1e6:.1f} MB "
            f"(DuckDB {r['version']}, {r['threads']} threads)")
        if best is None or r["seconds"] < best["seconds"]:
            if best is not None:
                shutil.rmtree(best["dir"], ignore_errors=True)
            best = dict(r, dir=out)
        else:
            shutil.rmtree(out, ignore_errors=True)
    best["check"] = run_json([binary, "check", best["dir"]])
    return best


# ---- tarn ----

def upload(srv, csv_dir, names):
    """Uploads the files one after another; (first start, last acknowledgement, per-file
    seconds) on the monotonic clock."""
    s3 = boto3.client("s3", endpoint_url=srv.endpoint, region_name=REGION,
                      aws_access_key_id=srv.ak, aws_secret_access_key=srv.sk,
                      config=Config(s3={"addressing_style": "path"}, max_pool_connections=10,
                                    retries={"max_attempts": 3}))
    tc = TransferConfig(multipart_threshold=16 << 20, multipart_chunksize=16 << 20,
                        max_concurrency=4)
    t0 = time.monotonic()
    for n in names:
        s3.upload_file(os.path.join(csv_dir, n), "raw", f"{DB}/{SRC_TABLE}/{n}", Config=tc)
    return t0, time.monotonic()


def wait_promoted(srv, rest, n, timeout):
    t0 = time.monotonic()
    last = None
    while True:
        c = promote.promoted(rest)
        done = sum(c.values())
        if done >= n:
            break
        if not srv.alive():
            fail(f"tarn exited while promoting:\n{srv.log_tail()}")
        if time.monotonic() - t0 > timeout:
            fail(f"after {timeout} s {done} of {n} files are promoted")
        if done != last and time.monotonic() - t0 > 5:
            log(f"  ... {done} promoted")
        last = done
        time.sleep(0.05)
    if c.get("quarantined"):
        st, q = rest.call("GET", "/v1/quarantine")
        fail(f"{c['quarantined']} files were quarantined: {json.dumps(q)[:2000]}")
    while True:  # the promoter registers the file in cleaned as it moves it
        st, t = rest.call("GET", f"/v1/tables/cleaned/{DB}/{SRC_TABLE}")
        if st == 200 and t.get("files") == n:
            return time.monotonic()
        if time.monotonic() - t0 > timeout:
            fail(f"cleaned.{DB}.{SRC_TABLE} lists {t.get('files') if st == 200 else st} "
                 f"files, not {n}")
        time.sleep(0.05)


def run_pipeline(srv, rest, timeout):
    """Applies the spec and runs it once; (apply s, run s, the run's record), or None when
    this tarn has no pipeline API."""
    st, out = rest.call("GET", "/v1/pipelines")
    if st == 404:
        return None
    t0 = time.monotonic()
    st, out = rest.call("POST", "/v1/pipelines", {"spec": spec_yaml()})
    if st not in (200, 201):
        fail(f"POST /v1/pipelines: {st} {out}")
    apply_s = time.monotonic() - t0
    body = json.dumps({}).encode()
    path = f"/v1/pipelines/{PIPELINE}/runs"
    hdrs = rest.sign("POST", path, body)
    t0 = time.monotonic()
    st, data = rest.send("POST", path, body, hdrs)
    if st != 202:
        fail(f"POST {path}: {st} {data[:1000]!r}")
    run_id = json.loads(data)["id"]
    while True:
        st, run = rest.call("GET", f"{path}/{run_id}")
        if st != 200:
            fail(f"GET {path}/{run_id}: {st} {run}")
        if run["status"] in ("succeeded", "failed", "cancelled"):
            run_s = time.monotonic() - t0
            break
        if not srv.alive():
            fail(f"tarn exited while running the pipeline:\n{srv.log_tail()}")
        if time.monotonic() - t0 > timeout:
            fail(f"run {run_id} not finished after {timeout} s: {run}")
        time.sleep(0.05)
    st, logs = rest.call("GET", f"{path}/{run_id}/logs")
    run["_logs"] = logs.get("logs", []) if st == 200 and isinstance(logs, dict) else []
    if run["status"] != "succeeded":
        for line in run["_logs"]:
            log(f"    {line}")
        fail(f"run {run_id} {run['status']}: {run.get('error')}")
    return apply_s, run_s, run


def tarn_check(rest):
    st, out = rest.call("POST", "/v1/sql", {"sql": CHECK_SQL})
    if st != 200 or "rows" not in out or out.get("error"):
        fail(f"POST /v1/sql {CHECK_SQL!r}: {st} {out}")
    rows, sum_qty, sum_amount, parts = out["rows"][0]
    return {"rows": int(rows), "sum_qty": int(sum_qty), "sum_amount": str(sum_amount),
            "partitions": int(parts)}


def tarn_end_to_end(args, csv_dir, names, tmp):
    data = os.path.join(tmp, "data")
    srv = crawl.Server(args.tarn, data, os.path.join(tmp, "tarn.log"), promotion=True)
    rest = crawl.Rest(srv, timeout=args.timeout)
    try:
        t_first, t_acked = upload(srv, csv_dir, names)
        log(f"  uploaded in {t_acked - t_first:.2f} s")
        t_promoted = wait_promoted(srv, rest, len(names), args.timeout)
        log(f"  promoted {t_promoted - t_acked:.2f} s after the last upload's acknowledgement")
        r = run_pipeline(srv, rest, args.timeout)
        res = {"upload_s": t_acked - t_first, "promote_s": t_promoted - t_acked,
               "promote_from_first_s": t_promoted - t_first}
        if r is None:
            return res
        res["apply_s"], res["run_s"], res["run"] = r
        log(f"  pipeline run: {res['run_s']:.2f} s (applied in {res['apply_s']:.2f} s)")
        res["check"] = tarn_check(rest)
        return res
    finally:
        rest.close()
        srv.stop()


def run_split(run):
    """Seconds of the run's phases from its record: queued, each step, commit."""
    out = {}
    q, s, f = iso_s(run.get("queued")), iso_s(run.get("started")), iso_s(run.get("finished"))
    if q and s:
        out["queued"] = s - q
    last = s
    for st in run.get("steps", []):
        a, b = iso_s(st.get("started")), iso_s(st.get("finished"))
        if a and b:
            out[f"step {st['name']}"] = b - a
            last = max(last or b, b)
    if last and f:
        out["commit"] = f - last
    return out


# ---- the report ----

def row(label, secs, nbytes, nrows, base_secs):
    """A line of the table; the ratio is throughput over the baseline's (same input)."""
    mbs, rps = nbytes / 1e6 / secs, nrows / secs
    ratio = base_secs / secs
    return f"  {label:<44} {secs:8.2f} {mbs:9.1f} {rps:12,.0f} {ratio:7.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tarn", default=os.path.join(ROOT, "build", "tarn"))
    ap.add_argument("--baseline", default=os.path.join(ROOT, "build", "pipeline_baseline"))
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--files", type=int, default=12, help="CSV files (1-31)")
    ap.add_argument("--baseline-runs", type=int, default=2)
    ap.add_argument("--promote-files", type=int, default=10000)
    ap.add_argument("--no-promote-bench", action="store_true",
                    help="skip the promotions-per-second part")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    if args.quick:
        args.rows, args.files, args.promote_files = 1_000_000, 4, 1000
    if not 1 <= args.files <= 31:
        fail("--files must be 1 to 31 (days of March)")
    for b in (args.tarn, args.baseline):
        if not os.access(b, os.X_OK):
            fail(f"{b} is not an executable; build with `make` (or ninja -C build)")
    tmp = tempfile.mkdtemp(prefix="tarn-bench-pipeline-")
    try:
        csv_dir = os.path.join(tmp, "csv")
        g = run_json([args.baseline, "gen", csv_dir, str(args.files), str(args.rows)])
        names, nbytes, nrows = g["files"], g["bytes"], g["rows"]
        log(f"pipeline: {nrows:,} rows in {len(names)} CSV files, {nbytes / 1e6:.1f} MB "
            f"(written in {g['seconds']:.1f} s)")
        base = baseline(args.baseline, csv_dir, names, tmp, args.baseline_runs)
        bc = base["check"]
        log(f"  baseline output: {bc['rows']:,} rows in {bc['partitions']} partitions")

        log("tarn: land, promote, run the pipeline")
        t = tarn_end_to_end(args, csv_dir, names, tmp)

        prom = None
        if not args.no_promote_bench:
            prom = promote.measure(args.tarn, args.promote_files, args.timeout)

        log("")
        log(f"pipeline benchmark: {nrows:,} rows, {len(names)} CSV files, {nbytes / 1e6:.1f} MB "
            f"(MB = 10^6 bytes); ratio = MB/s over the baseline's")
        log(f"  {'':<44} {'seconds':>8} {'MB/s':>9} {'rows/s':>12} {'ratio':>7}")
        log(row("baseline: DuckDB COPY ... PARTITION_BY", base["seconds"], nbytes, nrows,
                base["seconds"]))
        ok = True
        if "run" in t:
            e2e = t["promote_s"] + t["run_s"]
            log(row("tarn: promotion + pipeline run", e2e, nbytes, nrows, base["seconds"]))
            log(row("tarn: from the first upload (upload incl.)",
                    t["promote_from_first_s"] + t["apply_s"] + t["run_s"], nbytes, nrows,
                    base["seconds"]))
            ratio = base["seconds"] / e2e
            log(f"  target: tarn / baseline >= 0.70: {'met' if ratio >= 0.7 else 'NOT met'} "
                f"({ratio:.2f})")
            run = t["run"]
            split = run_split(run)
            log(f"  split: upload {t['upload_s']:.2f} s (not counted); promotion "
                f"{t['promote_s']:.2f} s after the last upload ({t['promote_from_first_s']:.2f} s "
                f"after the first began); pipeline run {t['run_s']:.2f} s "
                f"(applied before in {t['apply_s']:.2f} s)")
            if split:
                log("  the run (from its record): " +
                    ", ".join(f"{k} {v:.2f} s" for k, v in split.items()))
            for s in run.get("steps", []):
                rin = (f"{s['rows_in']:,} rows in" if s["rows_in"] is not None and s["rows_in"] >= 0
                       else f"rows in unknown (the run says {s['rows_in']})")
                log(f"  step {s['name']}: {rin}, {s['rows_out']:,} rows out, "
                    f"{s['bytes'] / 1e6:.1f} MB staged")
            for o in run.get("outputs", []):
                log(f"  output {o.get('table')}: snapshot {o.get('snapshot')}, "
                    f"{o.get('files')} files, {o.get('rows')} rows")
            tc = t["check"]
            same = all(tc[k] == bc[k] for k in ("rows", "sum_qty", "sum_amount", "partitions"))
            log(f"  check: rows {tc['rows']:,}, sum(qty) {tc['sum_qty']:,}, "
                f"sum(amount) {tc['sum_amount']}, {tc['partitions']} order dates: "
                f"{'same as the baseline' if same else 'DIFFERENT from the baseline: ' + json.dumps(bc)}")
            ok = same
        else:
            log("  tarn end to end: not available (this tarn serves no /v1/pipelines); "
                f"promotion of the CSV files took {t['promote_s']:.2f} s after the last upload "
                f"({t['promote_from_first_s']:.2f} s from the first), upload {t['upload_s']:.2f} s")
        if prom:
            log(f"  promotions/s ({prom['files']:,} small files): {prom['promotions_per_s']:.0f} "
                f"(crawled objects/s {prom['crawl_per_s']:.0f}, ratio "
                f"{prom['promotions_per_s'] / prom['crawl_per_s']:.2f})")
        if not ok:
            fail("the curated table differs from the baseline's output")
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
