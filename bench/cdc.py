#!/usr/bin/python3
"""Database ingestion benchmark: the PostgreSQL and MariaDB sources' snapshots and change
capture, against what each database's own client does on the same machine in the same run.

For PostgreSQL 15 and then MariaDB 10.11 (each started here in a temporary folder on a free
loopback port, as the end-to-end tests start them), with one tarn server:
1. Snapshot: a --rows (default 5,000,000) row table (bigint key, integer, text, decimal,
   timestamp). Baseline: `psql -c "\\copy (SELECT * FROM big) TO file"`, and
   `mariadb-dump --single-transaction --quick shop big > file`, rows/s. tarn: a source in
   snapshot mode writing Parquet into raw, timed from `tarn source create` to the table's
   snapshot done. Target: tarn >= 0.8x the baseline's rows/s.
2. Change capture: a source in cdc mode; a client updates rows at a steady rate
   (pgbench-style: transactions of --per-txn updates of distinct keys, each setting the
   row's `seq` to a counter, one statement per transaction; the client remembers when each
   committed) while a poller asks tarn for max(seq) of the table in raw every 100 ms. A
   change's lag is from its commit to the first poll that sees it registered in the
   catalog (its change file written, committed with the source's cursor, and crawled). At
   --rate (default 10,000 changes/s) for --seconds (default 20): p50/p99/max lag, target
   p99 < 2 s. Then the rate doubles while p99 stays under 2 s and the client can still
   make it: the highest rate kept up with is printed (and when the client was the limit).
3. Peak RSS of tarn (VmHWM) over both.

--quick: 500,000 rows, 8 s per rate, at most two doublings (a smoke run). --no-mariadb:
PostgreSQL only. --snapshot-only: no change capture. The servers and their folders are
removed at the end, even on errors."""
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


class PgDb:
    """PostgreSQL 15 as a source; baseline: psql's \\copy of the table to a file."""
    label, baseline_name, table, key = "PostgreSQL", "psql \\copy TO file", "public.big", "pg"

    def __init__(self, folder):
        self.s = PgServer(folder)

    def load(self, rows):
        s = self.s
        s.sql("CREATE DATABASE shop")
        s.sql(f"CREATE ROLE repl LOGIN REPLICATION PASSWORD '{REPL_PW}'", "shop")
        s.sql("GRANT CREATE ON DATABASE shop TO repl", "shop")
        s.sql("CREATE TABLE big(id bigint PRIMARY KEY, v integer NOT NULL, s text, "
              "amount numeric(12,2), ts timestamptz, seq bigint NOT NULL DEFAULT 0)", "shop")
        for lo in range(1, rows + 1, STEP):
            hi = min(rows, lo + STEP - 1)
            s.sql("INSERT INTO big SELECT g, g % 1000, 'row number ' || g, (g % 100000) / 100.0,"
                  " timestamptz '2024-01-01' + g * interval '1 second', 0"
                  f" FROM generate_series({lo}, {hi}) g", "shop")
        s.sql("ALTER TABLE big OWNER TO repl", "shop")
        s.sql("VACUUM ANALYZE big", "shop")

    def baseline(self, out):
        env = dict(os.environ, PGPASSWORD=SUPERPASS)
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.s.port), "-U", "postgres",
                        "-d", "shop", "-q", "-c", f"\\copy (SELECT * FROM big) TO '{out}'"],
                       check=True, env=env, capture_output=True, timeout=3600)

    def config(self):
        return {"type": "postgres",
                "connection": {"host": "127.0.0.1", "port": self.s.port, "database": "shop",
                               "user": "repl", "password_env": "SHOP_PW"}}

    def writer(self):
        c = self.s.connect("shop")

        def update(seqs, keys):
            # One statement in autocommit: one transaction of distinct keys.
            c.cursor().execute("UPDATE big SET seq = u.s, v = big.v + 1 FROM (SELECT "
                               "unnest(%s::bigint[]) AS s, unnest(%s::bigint[]) AS k) AS u "
                               "WHERE big.id = u.k", (seqs, keys))
        return c, update

    def stop(self):
        self.s.stop()


class MariaDb:
    """MariaDB 10.11 as a source; baseline: mariadb-dump of the table to a file."""
    label, baseline_name, table, key = "MariaDB", "mariadb-dump to file", "shop.big", "my"

    def __init__(self, folder):
        from mariadbserver import ROOT_PW, MariaDbServer
        self.root_pw = ROOT_PW
        self.s = MariaDbServer()

    def load(self, rows):
        s = self.s
        s.sql("CREATE DATABASE shop")
        s.sql(f"CREATE USER 'repl'@'%' IDENTIFIED BY '{REPL_PW}'")
        s.sql("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%'")
        s.sql("GRANT SELECT ON shop.* TO 'repl'@'%'")
        s.sql("CREATE TABLE big(id BIGINT PRIMARY KEY, v INT NOT NULL, s VARCHAR(100), "
              "amount DECIMAL(12,2), ts TIMESTAMP(6) NULL, seq BIGINT NOT NULL DEFAULT 0)",
              "shop")
        for lo in range(1, rows + 1, STEP):
            hi = min(rows, lo + STEP - 1)
            s.sql("INSERT INTO big SELECT seq, seq % 1000, CONCAT('row number ', seq), "
                  "(seq % 100000) / 100.0, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND, 0 "
                  f"FROM seq_{lo}_to_{hi}", "shop")

    def baseline(self, out):
        with open(out, "wb") as f:
            subprocess.run(["mariadb-dump", "-h", "127.0.0.1", "-P", str(self.s.port), "-u",
                            "root", f"-p{self.root_pw}", "--single-transaction", "--quick",
                            "shop", "big"], check=True, stdout=f, stderr=subprocess.PIPE,
                           timeout=3600)

    def config(self):
        return {"type": "mysql",
                "connection": {"host": "127.0.0.1", "port": self.s.port, "database": "shop",
                               "user": "repl", "password_env": "SHOP_PW"}}

    def writer(self):
        c = self.s.connect("shop")

        def update(seqs, keys):
            cases = " ".join(f"WHEN {k} THEN {q}" for q, k in zip(seqs, keys))
            ids = ", ".join(str(k) for k in keys)
            with c.cursor() as cur:
                cur.execute(f"UPDATE big SET seq = CASE id {cases} END, v = v + 1 "
                            f"WHERE id IN ({ids})")
        return c, update

    def stop(self):
        self.s.stop()


STEP = 1_000_000


def baseline_copy(db, folder):
    out = os.path.join(folder, "big.out")
    t0 = time.monotonic()
    db.baseline(out)
    dt = time.monotonic() - t0
    size = os.path.getsize(out)
    os.unlink(out)
    return dt, size


def source_config(db, mode, folder):
    cfg = dict(db.config(), tables=[db.table], mode=mode, format="parquet",
               target={"database": f"{db.key}_{mode}"})
    if mode == "cdc":
        cfg["batch"] = {"max_time": "200ms"}
    path = os.path.join(folder, f"{db.key}-{mode}.yaml")
    with open(path, "w") as f:
        json.dump(cfg, f)  # JSON is YAML
    return path


def snapshot_done(rest, name):
    # Through REST on one connection: a CLI process per poll would take CPU from the run.
    status, st = rest.call("GET", f"/v1/sources/{name}/status")
    if status != 200:
        raise SystemExit(f"source {name}: status answered {status}: {st}")
    if st.get("state") == "failed":
        raise SystemExit(f"source {name} failed: {st.get('last_error')}")
    tables = st.get("tables") or []
    return st if tables and all(t.get("done") for t in tables) else None


def run_tarn_snapshot(srv, rest, db, folder, rows):
    name = f"{db.key}-snap"
    t0 = time.monotonic()
    tarn_cli(srv, "source", "create", name, "--config", source_config(db, "snapshot", folder))
    while True:
        st = snapshot_done(rest, name)
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
    """Updates random rows at a steady rate in transactions of per_txn distinct keys, each
    row's seq set to the next counter value; commits: (last seq, commit time)."""

    def __init__(self, db, rows, rate, seconds, per_txn, seq0):
        super().__init__(daemon=True)
        self.conn, self.update = db.writer()
        self.rows, self.rate, self.seconds, self.per_txn = rows, rate, seconds, per_txn
        self.seq = seq0
        self.commits = []
        self.made = 0
        self.elapsed = 0

    def run(self):
        import random
        rnd = random.Random(self.seq)
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
            keys = rnd.sample(range(1, self.rows + 1), self.per_txn)
            seqs = list(range(self.seq + 1, self.seq + 1 + len(keys)))
            self.seq = seqs[-1]
            self.update(seqs, keys)
            self.commits.append((self.seq, time.monotonic()))
            self.made += len(keys)
            nxt += period
        self.elapsed = time.monotonic() - t0
        self.conn.close()


def capture_at(rest, db, rows, rate, seconds, per_txn, seq0):
    """Runs the writer at rate and polls tarn: (lags in seconds, changes/s made, last seq)."""
    w = Writer(db, rows, rate, seconds, per_txn, seq0)
    seen = []  # (time, max seq registered)
    w.start()
    deadline = None
    while True:
        m = rest.scalar(f"SELECT max(seq) FROM raw.{db.key}_cdc.big")
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
    ap.add_argument("--no-mariadb", action="store_true", help="PostgreSQL only")
    ap.add_argument("--snapshot-only", action="store_true", help="no change capture")
    a = ap.parse_args()
    if a.quick:
        a.rows, a.seconds, a.max_doublings = 500_000, 8, 2
    for tool in ["psql"] + ([] if a.no_mariadb else ["mariadb-dump", "mariadbd"]):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (make test installs it)")
    folder = tempfile.mkdtemp(prefix="tarn-cdc-", dir=a.tmp)
    srv, dbs, table = None, [], []
    try:
        os.environ["SHOP_PW"] = REPL_PW  # the sources' password_env, read by the server
        srv = Server(os.path.join(ROOT, "build", "tarn"), os.path.join(folder, "lake"),
                     os.path.join(folder, "tarn.log"), extra_args=["--promotion", "off"])
        rest = Rest(srv, 60)
        kinds = [PgDb] + ([] if a.no_mariadb else [MariaDb])
        for kind in kinds:
            log(f"{kind.label}: {a.rows:,} rows ...")
            db = kind(folder)
            dbs.append(db)
            db.load(a.rows)
            table += measure(srv, rest, db, folder, a)
        rss = peak_rss_mb(srv.proc.pid)
        table.append(("tarn peak RSS", f"{rss:.0f} MB", ""))
        log("")
        log(f"{'figure':<62}{'value':<26}{'target / note':<30}ok")
        for r in table:
            log(f"{r[0]:<62}{r[1]:<26}{r[2]:<30}{r[3] if len(r) > 3 else ''}")
    finally:
        if srv:
            srv.stop()
        for db in dbs:
            db.stop()
        shutil.rmtree(folder, ignore_errors=True)


def measure(srv, rest, db, folder, a):
    """The snapshot against the baseline, then change capture at rising rates: rows of the
    report."""
    log(f"  snapshot: {db.baseline_name}, then tarn ...")
    base_dt, base_bytes = baseline_copy(db, folder)
    tarn_dt = run_tarn_snapshot(srv, rest, db, folder, a.rows)
    base_rate, tarn_rate = a.rows / base_dt, a.rows / tarn_dt
    snapshot = [
        (f"{db.label} snapshot, rows/s (tarn source, Parquet)", f"{tarn_rate:,.0f}", ""),
        (f"  {db.baseline_name}, rows/s (baseline)", f"{base_rate:,.0f}",
         f"{base_bytes / base_dt / 1e6:.0f} MB/s"),
        ("  tarn / baseline", f"{tarn_rate / base_rate:.2f}", ">= 0.8",
         "ok" if tarn_rate / base_rate >= 0.8 else "NO"),
    ]
    if a.snapshot_only:
        return snapshot

    log("  change capture ...")
    tarn_cli(srv, "source", "create", f"{db.key}-cdc", "--config",
             source_config(db, "cdc", folder))
    t0 = time.monotonic()
    while rest.scalar(f"SELECT count(*) FROM raw.{db.key}_cdc.big") != a.rows:
        if time.monotonic() - t0 > 3600:
            raise SystemExit("the cdc source's snapshot did not arrive within an hour")
        time.sleep(0.5)
    steps, seq, rate = [], 0, a.rate
    for _ in range(a.max_doublings + 1):
        # Larger transactions at higher rates, so one client can still make them.
        per_txn = max(a.per_txn, rate // 1000)
        lags, made, seq = capture_at(rest, db, a.rows, rate, a.seconds, per_txn, seq)
        p99 = pct(lags, 0.99)
        steps.append((rate, made, pct(lags, 0.5), p99, max(lags)))
        log(f"    {rate:,} changes/s asked, {made:,.0f} made: lag p50 {pct(lags, 0.5):.2f} s,"
            f" p99 {p99:.2f} s, max {max(lags):.2f} s")
        if p99 >= 2 or made < rate * 0.9:
            break
        rate *= 2
    first = steps[0]
    kept = [s for s in steps if s[3] < 2]
    best = max(kept, key=lambda s: s[1]) if kept else None
    client_limited = steps[-1][1] < steps[-1][0] * 0.9
    return snapshot + [
        (f"{db.label} CDC lag p99 at {first[0]:,}/s asked ({first[1]:,.0f} made)",
         f"{first[3]:.2f} s", "< 2 s", "ok" if first[3] < 2 else "NO"),
        ("  p50 / max", f"{first[2]:.2f} s / {first[4]:.2f} s", ""),
        ("  highest rate kept up with (p99 < 2 s)",
         f"{best[1]:,.0f} changes/s" if best else "none",
         f"client made {steps[-1][1]:,.0f}/s of {steps[-1][0]:,}" if client_limited else ""),
    ]


if __name__ == "__main__":
    main()
