#!/usr/bin/python3
"""Database ingestion benchmark: a PostgreSQL source's snapshot and its change capture,
against what PostgreSQL's own client does on the same machine in the same run.

1. Snapshot: a --rows (default 5,000,000) row table (bigint key, integer, text, numeric,
   timestamptz) in PostgreSQL 15 (initdb into a temporary folder, logical WAL, a free
   loopback port). Baseline: `psql -c "\\copy (SELECT * FROM t) TO file"` of the same
   table, rows/s. tarn: a source in snapshot mode writing Parquet into raw, timed from
   `tarn source create` to every table's snapshot done. Target: tarn >= 0.8x the
   baseline's rows/s.
2. Change capture: a client updates rows at a steady rate (pgbench-style: transactions
   of --per-txn single-key updates, each setting the row's `seq` to a counter and
   remembering when its transaction committed); a poller asks tarn for max(seq) of the
   table in raw every 100 ms. The lag of a change is from its commit to the first poll
   that sees it registered in the catalog (its change file written, committed with the
   source's cursor, and crawled). At --rate (default 10,000 changes/s) for --seconds
   (default 20): p50/p99/max lag, target p99 < 2 s. Then the rate doubles while tarn
   keeps p99 under 2 s and the client can still produce it: the highest rate kept up
   with is printed (and whether the client was the limit).
3. Peak RSS of tarn (VmHWM).

--quick: 500,000 rows, 8 s per rate, at most two doublings (a smoke run).
The server, PostgreSQL and their folders are removed at the end, even on errors."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))

from pgserver import SUPERPASS, PgServer  # noqa: E402
from tarnbench import ROOT, RestBase, Server  # noqa: E402

REPL_PW = "bench-repl-pw"


def log(*a):
    print(*a, flush=True)


class Rest(RestBase):
    def call(self, method, path, obj=None):
        import http.client
        body = json.dumps(obj).encode() if obj is not None else None
        hdrs = self.sign(method, path, body)
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.srv.host, timeout=self.timeout)
        self.conn.request(method, path, body=body, headers=hdrs)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else None

    def scalar(self, sql):
        status, out = self.call("POST", "/v1/sql", {"sql": sql})
        if status != 200:
            return None
        return out["rows"][0][0] if out.get("rows") else None


def tarn_cli(srv, *args):
    env = dict(os.environ, TARN_ENDPOINT=srv.endpoint,
               TARN_CREDENTIALS_FILE=os.path.join(srv.data, "admin.credentials"))
    p = subprocess.run([os.path.join(ROOT, "build", "tarn"), *args], capture_output=True,
                       text=True, env=env, timeout=600)
    if p.returncode:
        raise SystemExit(f"tarn {' '.join(args)}: {p.stderr or p.stdout}")
    return p.stdout


def load_table(pg, rows):
    pg.sql("CREATE DATABASE shop")
    pg.sql(f"CREATE ROLE repl LOGIN REPLICATION PASSWORD '{REPL_PW}'", "shop")
    pg.sql("GRANT CREATE ON DATABASE shop TO repl", "shop")
    pg.sql("CREATE TABLE big(id bigint PRIMARY KEY, v integer NOT NULL, s text, "
           "amount numeric(12,2), ts timestamptz, seq bigint NOT NULL DEFAULT 0)", "shop")
    step = 1_000_000
    for lo in range(1, rows + 1, step):
        hi = min(rows, lo + step - 1)
        pg.sql("INSERT INTO big SELECT g, g % 1000, 'row number ' || g, (g % 100000) / 100.0,"
               " timestamptz '2024-01-01' + g * interval '1 second', 0"
               f" FROM generate_series({lo}, {hi}) g", "shop")
    pg.sql("ALTER TABLE big OWNER TO repl", "shop")
    pg.sql("VACUUM ANALYZE big", "shop")


def psql_copy(pg, folder):
    out = os.path.join(folder, "big.copy")
    env = dict(os.environ, PGPASSWORD=SUPERPASS)
    t0 = time.monotonic()
    subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-d",
                    "shop", "-q", "-c", f"\\copy (SELECT * FROM big) TO '{out}'"],
                   check=True, env=env, capture_output=True, timeout=1800)
    dt = time.monotonic() - t0
    size = os.path.getsize(out)
    os.unlink(out)
    return dt, size


def source_config(pg, mode, folder):
    cfg = {"type": "postgres",
           "connection": {"host": "127.0.0.1", "port": pg.port, "database": "shop",
                          "user": "repl", "password_env": "SHOP_PW"},
           "tables": ["public.big"], "mode": mode, "format": "parquet",
           "target": {"database": "shop_" + mode}}
    if mode == "cdc":
        cfg["batch"] = {"max_time": "200ms"}
    path = os.path.join(folder, f"{mode}.yaml")
    with open(path, "w") as f:
        json.dump(cfg, f)  # JSON is YAML
    return path


def snapshot_done(srv, name):
    st = json.loads(tarn_cli(srv, "source", "status", name, "--json"))
    if st.get("state") == "failed":
        raise SystemExit(f"source {name} failed: {st.get('last_error')}")
    tables = st.get("tables") or []
    return st if tables and all(t.get("done") for t in tables) else None


def run_tarn_snapshot(srv, pg, folder, rows):
    t0 = time.monotonic()
    tarn_cli(srv, "source", "create", "snap", "--config", source_config(pg, "snapshot", folder))
    while True:
        st = snapshot_done(srv, "snap")
        if st:
            break
        if time.monotonic() - t0 > 3600:
            raise SystemExit("the snapshot did not finish within an hour")
        time.sleep(0.05)
    dt = time.monotonic() - t0
    got = sum(t.get("rows", 0) for t in st["tables"])
    if got != rows:
        raise SystemExit(f"the snapshot read {got} rows, the table has {rows}")
    return dt


class Writer(threading.Thread):
    """Updates random rows at a steady rate in transactions of per_txn updates, each
    setting seq to the next counter value; commits[seq] = commit time."""

    def __init__(self, pg, rows, rate, seconds, per_txn, seq0):
        super().__init__(daemon=True)
        self.conn = pg.connect("shop")
        self.rows, self.rate, self.seconds, self.per_txn = rows, rate, seconds, per_txn
        self.seq = seq0
        self.commits = []  # (last seq of the transaction, commit time)
        self.made = 0
        self.elapsed = 0

    def run(self):
        import random
        rnd = random.Random(self.seq)
        cur = self.conn.cursor()
        t0 = time.monotonic()
        period = self.per_txn / self.rate
        nxt = t0
        while True:
            now = time.monotonic()
            if now - t0 >= self.seconds:
                break
            if now < nxt:
                time.sleep(min(nxt - now, 0.01))
                continue
            # One statement in autocommit: one transaction of per_txn distinct keys.
            keys = rnd.sample(range(1, self.rows + 1), self.per_txn)
            seqs = list(range(self.seq + 1, self.seq + 1 + len(keys)))
            self.seq = seqs[-1]
            cur.execute("UPDATE big SET seq = u.s, v = big.v + 1 FROM (SELECT "
                        "unnest(%s::bigint[]) AS s, unnest(%s::bigint[]) AS k) AS u "
                        "WHERE big.id = u.k", (seqs, keys))
            self.commits.append((self.seq, time.monotonic()))
            self.made += len(keys)
            nxt += period
        self.elapsed = time.monotonic() - t0
        self.conn.close()


def capture_at(srv, rest, pg, rows, rate, seconds, per_txn, seq0):
    """Runs the writer at rate and polls tarn: (lags in seconds, changes/s made)."""
    w = Writer(pg, rows, rate, seconds, per_txn, seq0)
    seen = []  # (time, max seq registered)
    w.start()
    deadline = None
    while True:
        m = rest.scalar("SELECT max(seq) FROM raw.shop_cdc.big")
        seen.append((time.monotonic(), m or 0))
        if not w.is_alive():
            deadline = deadline or time.monotonic() + 30
            if (m or 0) >= w.seq or time.monotonic() > deadline:
                break
        time.sleep(0.1)
    w.join()
    lags, j = [], 0
    for last, committed in w.commits:
        while j < len(seen) and (seen[j][1] < last or seen[j][0] < committed):
            j += 1
        lags.append(seen[j][0] - committed if j < len(seen) else float("inf"))
    return lags, w.made / w.elapsed if w.elapsed else 0, w.seq


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p))] if s else float("nan")


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--rate", type=int, default=10_000, help="changes/s of the first step")
    ap.add_argument("--seconds", type=int, default=20, help="seconds per rate")
    ap.add_argument("--per-txn", type=int, default=10, help="updates per transaction")
    ap.add_argument("--max-doublings", type=int, default=4)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tmp", default=None)
    a = ap.parse_args()
    if a.quick:
        a.rows, a.seconds, a.max_doublings = 500_000, 8, 2
    if shutil.which("psql") is None:
        raise SystemExit("psql is missing (Debian: postgresql-client)")
    folder = tempfile.mkdtemp(prefix="tarn-cdc-", dir=a.tmp)
    pg = srv = None
    try:
        log(f"PostgreSQL 15: {a.rows:,} rows ...")
        pg = PgServer(folder)
        load_table(pg, a.rows)
        os.environ["SHOP_PW"] = REPL_PW  # the sources' password_env, read by the server
        srv = Server(os.path.join(ROOT, "build", "tarn"), os.path.join(folder, "lake"),
                     os.path.join(folder, "tarn.log"), extra_args=["--promotion", "off"])
        rest = Rest(srv, 60)

        log("snapshot: psql \\copy, then tarn ...")
        base_dt, base_bytes = psql_copy(pg, folder)
        tarn_dt = run_tarn_snapshot(srv, pg, folder, a.rows)
        base_rate, tarn_rate = a.rows / base_dt, a.rows / tarn_dt

        log("change capture ...")
        tarn_cli(srv, "source", "create", "cdc", "--config", source_config(pg, "cdc", folder))
        t0 = time.monotonic()
        while rest.scalar("SELECT count(*) FROM raw.shop_cdc.big") != a.rows:
            if time.monotonic() - t0 > 3600:
                raise SystemExit("the cdc source's snapshot did not arrive within an hour")
            time.sleep(0.5)
        steps, seq, rate = [], 0, a.rate
        for k in range(a.max_doublings + 1):
            # Larger transactions at higher rates, so one client can still make them.
            per_txn = max(a.per_txn, rate // 1000)
            lags, made, seq = capture_at(srv, rest, pg, a.rows, rate, a.seconds, per_txn, seq)
            p99 = pct(lags, 0.99)
            steps.append((rate, made, pct(lags, 0.5), p99, max(lags)))
            log(f"  {rate:,} changes/s asked, {made:,.0f} made: lag p50 {pct(lags, 0.5):.2f} s,"
                f" p99 {p99:.2f} s, max {max(lags):.2f} s")
            if p99 >= 2 or made < rate * 0.9:
                break
            rate *= 2
        rss = peak_rss_mb(srv.proc.pid)

        first = steps[0]
        kept = [s for s in steps if s[3] < 2]
        best = max(kept, key=lambda s: s[1]) if kept else None
        client_limited = steps[-1][1] < steps[-1][0] * 0.9
        rows = [
            ("snapshot, rows/s (tarn source, Parquet)", f"{tarn_rate:,.0f}", ""),
            ("  psql \\copy TO file, rows/s (baseline)", f"{base_rate:,.0f}",
             f"{base_bytes / base_dt / 1e6:.0f} MB/s"),
            ("  tarn / psql", f"{tarn_rate / base_rate:.2f}", ">= 0.8",
             "ok" if tarn_rate / base_rate >= 0.8 else "NO"),
            (f"CDC lag p99 at {first[0]:,} changes/s asked ({first[1]:,.0f} made)",
             f"{first[3]:.2f} s", "< 2 s", "ok" if first[3] < 2 else "NO"),
            ("  p50 / max", f"{first[2]:.2f} s / {first[4]:.2f} s", ""),
            ("highest rate kept up with (p99 < 2 s)",
             f"{best[1]:,.0f} changes/s" if best else "none",
             f"client made {steps[-1][1]:,.0f}/s of {steps[-1][0]:,}" if client_limited else ""),
            ("tarn peak RSS", f"{rss:.0f} MB", ""),
        ]
        log("")
        log(f"{'figure':<58}{'value':<26}{'target / note':<22}ok")
        for r in rows:
            log(f"{r[0]:<58}{r[1]:<26}{r[2]:<22}{r[3] if len(r) > 3 else ''}")
    finally:
        if srv:
            srv.stop()
        if pg:
            pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
