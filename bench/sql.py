#!/usr/bin/python3
"""SQL benchmark of tarn: analytical queries over a lineitem-shaped lake table, through
tarn's REST API and its PostgreSQL protocol, against DuckDB used directly on the same
files and against PostgreSQL 15 holding the same rows.

1. Data: build/sql_baseline writes deterministic TPC-H-shaped tables with DuckDB SQL
   (hash-based pseudo-random values, no RNG state): lineitem (--rows, default 6,000,000,
   four lines per order, in --files Parquet files, zstd), orders (rows / 4), customer
   (rows / 40) and part (rows / 30), each uploaded with boto3 to the curated zone as
   curated/tpch/<table>/part-NN.parquet; the crawler registers them as tpch.<table>.
2. The same SQL text (tables named tpch.<table>) run seven ways:
     direct      build/sql_baseline: the DuckDB C API in-process on the files on disk (the
                 server's objects folder), one view per table over read_parquet([...])
                 with the reader options of tarn's own views (union_by_name = true,
                 hive_partitioning = false), every chunk of the result fetched; as many
                 threads as tarn's engine. The ratios and targets are against it.
     plain       the same with plain read_parquet([...]), as a DuckDB user would first
                 write it; for reference only (without union_by_name, DuckDB binds from
                 the first file alone and has fewer statistics to plan with)
     REST        POST /v1/sql {"sql": ..., "format": "json"} on one keep-alive connection,
                 signed off the clock; the answer is read whole, not parsed (only its
                 stats). The server's own stats.elapsed_ms is shown beside it ("srv").
     REST parsed the same, the answer parsed (json.loads): for reference, as the
                 client's decoding is no work of the server's
     PG          tarn serve --pg-listen: psycopg2, cursor.execute + fetchall (autocommit)
     asyncpg     the same port through asyncpg: each query prepared, then fetched (binary
                 results); target: within 1.10x of psycopg2's total
     PostgreSQL  PostgreSQL 15 from Debian in a throwaway cluster (initdb in a temporary
                 folder, its own port, run as the postgres user when we are root), the
                 same rows loaded with COPY FROM STDIN, primary keys, VACUUM ANALYZE;
                 the client is psycopg2 as for PG. Its settings are printed.
   Ten queries (TPC-H Q1, Q3, Q6, Q12, Q14, a Q15-like top suppliers, a top-k, distinct
   counts, a selective filter, a ~100k-row result). Each query runs once per system to
   warm up, then --runs times (default 3) round robin; the figure is the median. Results
   are compared across systems (row counts, and values for results up to 20,000 rows).
   Targets: the server's own time (srv) / direct <= 1.10 for every query; REST total /
   direct total <= 1.10; PG total / direct total <= 1.15; PostgreSQL total / tarn total
   >= 10.
3. Streaming: a --stream-rows (default 10,000,000) row result read from tpch.lineitem
   (UNION ALL of the table with itself as often as needed, then LIMIT) over the PG
   protocol with psycopg2: a server-side (named) cursor, itersize 10,000, every row
   parsed into Python values; and COPY (SELECT ...) TO STDOUT into a sink that counts
   lines. Target: PG COPY TO STDOUT >= 2,000,000 rows/s, with PostgreSQL 15's own COPY
   printed beside. For reference, the named cursor, REST JSON (the body read whole, rows
   counted, not parsed) and PostgreSQL with the same client.

Until tarn serve accepts --pg-listen (or when psycopg2 cannot connect to it), PG is
reported as "not available" and its targets are skipped; likewise PostgreSQL when its
binaries are missing (--pg-bin) or --no-postgres is given.

--quick: 200,000 rows, 2 runs, a 1,000,000-row stream (a smoke run).
The server, its temporary data folder and the PostgreSQL cluster are removed at the end,
even on errors (--keep keeps the folders)."""
import argparse
import datetime
import decimal
import http.client
import io
import json
import math
import os
import pwd
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import boto3
import psycopg2
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tarnbench  # noqa: E402  (the server and signing the benchmarks share)
from tarnbench import REGION, ROOT, fail, free_port  # noqa: E402,F401

TABLES = ("lineitem", "orders", "customer", "part")




def log(*a):
    print(*a, flush=True)


# ---- the data ----

WORDS = ("furiously carefully blithely quickly slyly express regular final pending ironic "
         "special bold unusual even silent fluffily deposits packages requests accounts "
         "instructions theodolites pinto beans foxes ideas dependencies asymptotes "
         "platelets sleep haggle nag").split()


def words_list(words):
    return "[" + ", ".join(f"'{w}'" for w in words) + "]"


def comment(key, salt, nwords=5):
    """A TPC-H-like comment: 10 to 43 characters of words drawn by hashing key."""
    w = words_list(WORDS)
    parts = ", ".join(f"{w}[CAST(hash({key}, {salt + j}) % {len(WORDS)} AS BIGINT) + 1]"
                      for j in range(nwords))
    return f"left(concat_ws(' ', {parts}), CAST(10 + hash({key}, {salt + 9}) % 34 AS INTEGER))"


def pick(key, salt, values):
    return (f"{words_list(values)}[CAST(hash({key}, {salt}) % {len(values)} AS BIGINT) + 1]")


ORDER_DATE = "(DATE '1992-01-01' + CAST(hash({k}, 11) % 2406 AS INTEGER))"
# TPC-H's part price: (90000 + (partkey / 10) mod 20001 + 100 * (partkey mod 1000)) / 100
PART_PRICE = "((90000 + ({p} // 10) % 20001 + 100 * ({p} % 1000)) / 100.0)"


def lineitem_sql(lo, hi, nparts):
    """Rows lo..hi-1 of lineitem: four lines per order, dates following the order's."""
    odate = ORDER_DATE.format(k="ok")
    inner = (f"SELECT i, i // 4 + 1 AS ok, i % 4 + 1 AS ln, "
             f"CAST(hash(i, 2) % {nparts} + 1 AS BIGINT) AS pk, "
             f"CAST(hash(i, 4) % 50 + 1 AS INTEGER) AS qty, "
             f"{odate} + CAST(hash(i, 7) % 121 + 1 AS INTEGER) AS sdate, "
             f"{odate} + CAST(hash(i, 8) % 61 + 30 AS INTEGER) AS cdate "
             f"FROM range({lo}, {hi}) AS t(i)")
    mid = f"SELECT *, sdate + CAST(hash(i, 9) % 30 + 1 AS INTEGER) AS rdate FROM ({inner}) AS a"
    return (
        "SELECT CAST(ok AS BIGINT) AS l_orderkey, pk AS l_partkey, "
        "CAST((pk + (hash(i, 3) % 4) * 2501) % 10000 + 1 AS BIGINT) AS l_suppkey, "
        "CAST(ln AS INTEGER) AS l_linenumber, "
        "CAST(qty AS DECIMAL(15,2)) AS l_quantity, "
        f"CAST(qty * {PART_PRICE.format(p='pk')} AS DECIMAL(15,2)) AS l_extendedprice, "
        "CAST((hash(i, 5) % 11) / 100.0 AS DECIMAL(15,2)) AS l_discount, "
        "CAST((hash(i, 6) % 9) / 100.0 AS DECIMAL(15,2)) AS l_tax, "
        "CASE WHEN rdate <= DATE '1995-06-17' THEN (CASE WHEN hash(i, 10) % 2 = 0 THEN 'R' "
        "ELSE 'A' END) ELSE 'N' END AS l_returnflag, "
        "CASE WHEN sdate > DATE '1995-06-17' THEN 'O' ELSE 'F' END AS l_linestatus, "
        "CAST(sdate AS DATE) AS l_shipdate, CAST(cdate AS DATE) AS l_commitdate, "
        "CAST(rdate AS DATE) AS l_receiptdate, "
        f"{pick('i', 12, ['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'])} "
        "AS l_shipinstruct, "
        f"{pick('i', 13, ['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'])} "
        f"AS l_shipmode, {comment('i', 20)} AS l_comment FROM ({mid}) AS b")


def orders_sql(lo, hi, ncust):
    odate = ORDER_DATE.format(k="k")
    return (
        f"SELECT CAST(k AS BIGINT) AS o_orderkey, "
        f"CAST(hash(k, 21) % {ncust} + 1 AS BIGINT) AS o_custkey, "
        f"CASE WHEN {odate} + 121 <= DATE '1995-06-17' THEN 'F' "
        f"WHEN {odate} + 1 > DATE '1995-06-17' THEN 'O' ELSE 'P' END AS o_orderstatus, "
        f"CAST((hash(k, 22) % 45000000) / 100.0 + 900 AS DECIMAL(15,2)) AS o_totalprice, "
        f"CAST({odate} AS DATE) AS o_orderdate, "
        f"{pick('k', 23, ['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW'])} "
        f"AS o_orderpriority, CAST(0 AS INTEGER) AS o_shippriority, "
        f"{comment('k', 40)} AS o_comment FROM range({lo}, {hi}) AS t(k)")


def customer_sql(lo, hi):
    return (
        "SELECT CAST(k AS BIGINT) AS c_custkey, 'Customer#' || lpad(CAST(k AS VARCHAR), 9, '0') "
        "AS c_name, CAST(hash(k, 31) % 25 AS INTEGER) AS c_nationkey, "
        "CAST((hash(k, 32) % 1099999) / 100.0 - 999.99 AS DECIMAL(15,2)) AS c_acctbal, "
        f"{pick('k', 33, ['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'HOUSEHOLD', 'MACHINERY'])} "
        f"AS c_mktsegment, {comment('k', 60)} AS c_comment FROM range({lo}, {hi}) AS t(k)")


def part_sql(lo, hi):
    types = (f"{pick('k', 51, ['STANDARD', 'SMALL', 'MEDIUM', 'LARGE', 'ECONOMY', 'PROMO'])} "
             f"|| ' ' || {pick('k', 52, ['ANODIZED', 'BURNISHED', 'PLATED', 'POLISHED', 'BRUSHED'])} "
             f"|| ' ' || {pick('k', 53, ['TIN', 'NICKEL', 'BRASS', 'STEEL', 'COPPER'])}")
    return (
        "SELECT CAST(k AS BIGINT) AS p_partkey, "
        f"{pick('k', 54, WORDS)} || ' ' || {pick('k', 55, WORDS)} AS p_name, "
        "'Brand#' || CAST(hash(k, 56) % 5 + 1 AS VARCHAR) || CAST(hash(k, 57) % 5 + 1 AS VARCHAR) "
        f"AS p_brand, {types} AS p_type, CAST(hash(k, 58) % 50 + 1 AS INTEGER) AS p_size, "
        f"{pick('k', 59, ['SM CASE', 'SM BOX', 'MED BAG', 'MED BOX', 'LG CASE', 'LG PACK', 'JUMBO JAR', 'WRAP DRUM'])} "
        f"AS p_container, CAST({PART_PRICE.format(p='k')} AS DECIMAL(15,2)) AS p_retailprice "
        f"FROM range({lo}, {hi}) AS t(k)")


# PostgreSQL's definitions of the same tables (the Parquet files carry the same types).
PG_DDL = {
    "lineitem": "l_orderkey BIGINT, l_partkey BIGINT, l_suppkey BIGINT, l_linenumber INTEGER, "
                "l_quantity NUMERIC(15,2), l_extendedprice NUMERIC(15,2), "
                "l_discount NUMERIC(15,2), l_tax NUMERIC(15,2), l_returnflag VARCHAR, "
                "l_linestatus VARCHAR, l_shipdate DATE, l_commitdate DATE, l_receiptdate DATE, "
                "l_shipinstruct VARCHAR, l_shipmode VARCHAR, l_comment VARCHAR, "
                "PRIMARY KEY (l_orderkey, l_linenumber)",
    "orders": "o_orderkey BIGINT PRIMARY KEY, o_custkey BIGINT, o_orderstatus VARCHAR, "
              "o_totalprice NUMERIC(15,2), o_orderdate DATE, o_orderpriority VARCHAR, "
              "o_shippriority INTEGER, o_comment VARCHAR",
    "customer": "c_custkey BIGINT PRIMARY KEY, c_name VARCHAR, c_nationkey INTEGER, "
                "c_acctbal NUMERIC(15,2), c_mktsegment VARCHAR, c_comment VARCHAR",
    "part": "p_partkey BIGINT PRIMARY KEY, p_name VARCHAR, p_brand VARCHAR, p_type VARCHAR, "
            "p_size INTEGER, p_container VARCHAR, p_retailprice NUMERIC(15,2)",
}


def sizes(rows):
    return {"lineitem": rows, "orders": -(-rows // 4), "customer": max(100, rows // 40),
            "part": max(100, rows // 30)}


def generate(base, folder, rows, nfiles):
    """Writes folder/<table>/part-NN.parquet; returns {table: [paths]}."""
    n = sizes(rows)
    counts = {"lineitem": nfiles, "orders": max(1, nfiles // 2), "customer": 1, "part": 1}
    out = {}
    for t in TABLES:
        os.makedirs(os.path.join(folder, t))
        out[t] = []
        k = counts[t]
        first = 0 if t == "lineitem" else 1  # lineitem counts rows from 0, keys from 1
        total = n[t]
        for j in range(k):
            lo, hi = first + total * j // k, first + total * (j + 1) // k
            sql = {"lineitem": lambda: lineitem_sql(lo, hi, n["part"]),
                   "orders": lambda: orders_sql(lo, hi, n["customer"]),
                   "customer": lambda: customer_sql(lo, hi),
                   "part": lambda: part_sql(lo, hi)}[t]()
            path = os.path.join(folder, t, f"part-{j:02d}.parquet")
            base.exec(f"COPY ({sql}) TO {lit(path)} (FORMAT parquet, COMPRESSION zstd)")
            out[t].append(path)
    return out


def lit(s):
    return "'" + s.replace("'", "''") + "'"


# ---- the queries ----

QUERIES = [
    ("Q1 pricing summary", True,
     "SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, "
     "sum(l_extendedprice) AS sum_base_price, "
     "sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price, "
     "sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge, "
     "avg(l_quantity) AS avg_qty, avg(l_extendedprice) AS avg_price, "
     "avg(l_discount) AS avg_disc, count(*) AS count_order FROM tpch.lineitem "
     "WHERE l_shipdate <= DATE '1998-09-02' GROUP BY l_returnflag, l_linestatus "
     "ORDER BY l_returnflag, l_linestatus"),
    ("Q3 shipping priority", True,
     "SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, "
     "o_shippriority FROM tpch.customer, tpch.orders, tpch.lineitem "
     "WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey "
     "AND o_orderdate < DATE '1995-03-15' AND l_shipdate > DATE '1995-03-15' "
     "GROUP BY l_orderkey, o_orderdate, o_shippriority "
     "ORDER BY revenue DESC, o_orderdate, l_orderkey LIMIT 10"),
    ("Q6 revenue change", True,
     "SELECT sum(l_extendedprice * l_discount) AS revenue FROM tpch.lineitem "
     "WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' "
     "AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24"),
    ("Q12 ship modes", True,
     "SELECT l_shipmode, sum(CASE WHEN o_orderpriority = '1-URGENT' OR "
     "o_orderpriority = '2-HIGH' THEN 1 ELSE 0 END) AS high_line_count, "
     "sum(CASE WHEN o_orderpriority <> '1-URGENT' AND o_orderpriority <> '2-HIGH' "
     "THEN 1 ELSE 0 END) AS low_line_count FROM tpch.orders, tpch.lineitem "
     "WHERE o_orderkey = l_orderkey AND l_shipmode IN ('MAIL', 'SHIP') "
     "AND l_commitdate < l_receiptdate AND l_shipdate < l_commitdate "
     "AND l_receiptdate >= DATE '1994-01-01' AND l_receiptdate < DATE '1995-01-01' "
     "GROUP BY l_shipmode ORDER BY l_shipmode"),
    ("Q14 promotion effect", True,
     "SELECT 100.00 * sum(CASE WHEN p_type LIKE 'PROMO%' THEN l_extendedprice * "
     "(1 - l_discount) ELSE 0 END) / sum(l_extendedprice * (1 - l_discount)) "
     "AS promo_revenue FROM tpch.lineitem, tpch.part WHERE l_partkey = p_partkey "
     "AND l_shipdate >= DATE '1995-09-01' AND l_shipdate < DATE '1995-10-01'"),
    ("Q15 top suppliers", True,
     "SELECT l_suppkey, sum(l_extendedprice * (1 - l_discount)) AS total_revenue "
     "FROM tpch.lineitem WHERE l_shipdate >= DATE '1996-01-01' "
     "AND l_shipdate < DATE '1996-04-01' GROUP BY l_suppkey "
     "ORDER BY total_revenue DESC, l_suppkey LIMIT 20"),
    ("top-100 by price", True,
     "SELECT l_orderkey, l_linenumber, l_extendedprice, l_shipdate, l_comment "
     "FROM tpch.lineitem ORDER BY l_extendedprice DESC, l_orderkey, l_linenumber LIMIT 100"),
    ("distinct counts", True,
     "SELECT count(DISTINCT l_partkey) AS parts, count(DISTINCT l_suppkey) AS suppliers "
     "FROM tpch.lineitem"),
    ("selective filter", False,
     "SELECT l_orderkey, l_linenumber, l_quantity, l_extendedprice, l_shipdate "
     "FROM tpch.lineitem WHERE l_partkey = 4242 AND l_shipmode = 'AIR'"),
    ("~100k-row result", False,
     "SELECT l_orderkey, l_linenumber, l_partkey, l_quantity, l_extendedprice, l_discount, "
     "l_shipdate, l_shipmode FROM tpch.lineitem "
     "WHERE l_shipdate >= DATE '1996-01-01' AND l_shipdate < DATE '1996-02-10'"),
]

STREAM_COLS = ("l_orderkey, l_partkey, l_suppkey, l_linenumber, l_quantity, l_extendedprice, "
               "l_shipdate")


def stream_sql(rows, table_rows):
    k = max(1, -(-rows // table_rows))
    one = f"SELECT {STREAM_COLS} FROM tpch.lineitem"
    return " UNION ALL ".join([one] * k) + f" LIMIT {rows}"


# ---- the systems ----

class Baseline:
    """build/sql_baseline as a coprocess: one command line in, one JSON line out."""

    def __init__(self, binary, threads=None):
        args = [binary] + ([str(threads)] if threads else [])
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        hello = self._read()
        self.version, self.threads = hello["version"], hello["threads"]

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            fail(f"sql_baseline exited (status {self.proc.wait()})")
        return json.loads(line)

    def _call(self, verb, sql):
        assert "\n" not in sql
        self.proc.stdin.write(f"{verb} {sql}\n")
        self.proc.stdin.flush()
        return self._read()

    def exec(self, sql):
        r = self._call("EXEC", sql)
        if not r["ok"]:
            fail(f"direct DuckDB: {r['error']}\n  in: {sql[:300]}")

    def query(self, sql):
        """(ms, row count, None: the rows stay in DuckDB); RuntimeError on a failure."""
        r = self._call("QUERY", sql)
        if not r["ok"]:
            raise RuntimeError(r["error"].split("\n")[0])
        return r["ms"], r["rows"], None

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


RAW_STATS = re.compile(rb'"stats":\{"rows":(\d+),"elapsed_ms":([0-9.]+)\}')


class Rest(tarnbench.RestBase):
    """SigV4-signed (service "tarn") requests on one keep-alive connection."""

    def __init__(self, srv, timeout=900):
        super().__init__(srv, timeout)

    def open(self, method, path, body, hdrs):
        """Sends a prepared request; returns the response, its body unread."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.srv.host, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=hdrs)
            return self.conn.getresponse()
        except (OSError, http.client.HTTPException):
            self.close()
            if not self.srv.alive():
                fail(f"tarn died (exit status {self.srv.proc.returncode}) during {method} {path}")
            raise

    def call(self, method, path, obj=None):
        body = json.dumps(obj).encode() if obj is not None else None
        r = self.open(method, path, body, self.sign(method, path, body))
        data = r.read()
        return r.status, (json.loads(data) if data else None)

    def sql_request(self, sql):
        body = json.dumps({"sql": sql, "format": "json"}).encode()
        return body, self.sign("POST", "/v1/sql", body)

    def query(self, sql):
        """(ms, row count, rows): the answer read whole and parsed, on the clock. The
        server's own time (stats.elapsed_ms) is kept in server_ms."""
        body, hdrs = self.sql_request(sql)
        t0 = time.perf_counter()
        r = self.open("POST", "/v1/sql", body, hdrs)
        data = r.read()
        out = json.loads(data)
        ms = (time.perf_counter() - t0) * 1000
        if r.status != 200 or "error" in out:
            raise RuntimeError(f"{r.status} {json.dumps(out.get('error'))[:300]}")
        self.server_ms = out["stats"]["elapsed_ms"]
        return ms, len(out["rows"]), out["rows"]

    def query_raw(self, sql):
        """(ms, row count, None): the answer read whole on the clock but not parsed; the
        row count and server_ms come from its closing stats."""
        body, hdrs = self.sql_request(sql)
        t0 = time.perf_counter()
        r = self.open("POST", "/v1/sql", body, hdrs)
        data = r.read()
        ms = (time.perf_counter() - t0) * 1000
        m = RAW_STATS.search(data[-200:])
        if r.status != 200 or not m:
            raise RuntimeError(f"{r.status} {data[-300:]!r}")
        self.server_ms = float(m.group(2))
        return ms, int(m.group(1)), None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class PgClient:
    """psycopg2 on one connection (tarn's PostgreSQL protocol or PostgreSQL itself)."""

    def __init__(self, **kw):
        self.kw = kw
        self.conn = psycopg2.connect(connect_timeout=10, **kw)
        self.conn.autocommit = True

    def query(self, sql):
        """(ms, rows, fetched rows)."""
        t0 = time.perf_counter()
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
                rows = cur.fetchall()
        except psycopg2.Error as e:
            self.reconnect()
            raise RuntimeError(first_line(e))
        return (time.perf_counter() - t0) * 1000, len(rows), rows

    def reconnect(self):
        try:
            self.conn.close()
        except psycopg2.Error:
            pass
        try:
            self.conn = psycopg2.connect(connect_timeout=10, **self.kw)
            self.conn.autocommit = True
        except psycopg2.Error:
            pass

    def stream_cursor(self, sql, itersize=10000):
        """rows/s through a named (server-side) cursor, every row parsed; (rows, secs)."""
        conn = psycopg2.connect(connect_timeout=10, **self.kw)
        try:
            t0 = time.perf_counter()
            n = 0
            with conn.cursor(name="bench_stream") as cur:
                cur.itersize = itersize
                cur.execute(sql)
                for _ in cur:
                    n += 1
            conn.commit()
            return n, time.perf_counter() - t0
        finally:
            conn.close()

    def stream_copy(self, sql):
        """COPY (sql) TO STDOUT into a sink that counts lines; (rows, secs, bytes)."""
        sink = LineCounter()
        t0 = time.perf_counter()
        try:
            with self.conn.cursor() as cur:
                cur.copy_expert(f"COPY ({sql}) TO STDOUT", sink)
        except psycopg2.Error:
            self.reconnect()
            raise
        return sink.lines, time.perf_counter() - t0, sink.bytes

    def close(self):
        try:
            self.conn.close()
        except psycopg2.Error:
            pass


class AsyncpgClient:
    """asyncpg on one connection to tarn's PostgreSQL protocol: each query prepared (as
    asyncpg's fetch does: Parse with ParameterDescription, then Bind/Execute in binary)."""

    def __init__(self, **kw):
        import asyncio
        import asyncpg
        self.asyncpg = asyncpg
        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(asyncpg.connect(timeout=10, **kw))

    def query(self, sql):
        """(ms, rows, fetched rows)."""
        t0 = time.perf_counter()
        try:
            rows = self.loop.run_until_complete(self._fetch(sql))
        except self.asyncpg.PostgresError as e:
            raise RuntimeError(first_line(e))
        return (time.perf_counter() - t0) * 1000, len(rows), [tuple(r) for r in rows]

    async def _fetch(self, sql):
        stmt = await self.conn.prepare(sql)
        return await stmt.fetch()

    def close(self):
        try:
            self.loop.run_until_complete(self.conn.close())
        except Exception:
            pass
        self.loop.close()


def connect_asyncpg(srv):
    """(client, None) on tarn's PostgreSQL port through asyncpg, or (None, why not)."""
    try:
        return AsyncpgClient(host="127.0.0.1", port=srv.pg_port, user="admin",
                             password=srv.password, database="lake"), None
    except ImportError:
        return None, "asyncpg is missing (make test installs python3-asyncpg)"
    except Exception as e:  # the driver's own errors, refused connections
        return None, f"cannot connect: {first_line(e)}"


class LineCounter(io.RawIOBase):
    def __init__(self):
        self.lines = 0
        self.bytes = 0

    def writable(self):
        return True

    def write(self, b):
        if isinstance(b, str):
            b = b.encode()
        self.lines += b.count(b"\n")
        self.bytes += len(b)
        return len(b)


# ---- PostgreSQL 15 in a throwaway cluster ----

# "debian": the settings a Debian postgresql-15 install starts with (what a user picking
# PostgreSQL instead would run first); "tuned": memory and planner settings for analytics
# on this machine. Both add only the settings that speed the load (queries write
# nothing): no flushes of a throwaway cluster.
PG_LOAD_SETTINGS = [("fsync", "off"), ("synchronous_commit", "off"),
                    ("full_page_writes", "off"), ("max_wal_size", "8GB"),
                    ("checkpoint_timeout", "30min"), ("maintenance_work_mem", "1GB")]
PG_TUNED_SETTINGS = [
    ("shared_buffers", "512MB"), ("work_mem", "256MB"), ("effective_cache_size", "8GB"),
    ("max_parallel_workers_per_gather", "2"), ("random_page_cost", "1.1"),
]
PG_SETTINGS = PG_LOAD_SETTINGS + PG_TUNED_SETTINGS


class Postgres:
    def __init__(self, bindir, folder):
        self.bindir = bindir
        self.folder = folder
        self.data = os.path.join(folder, "data")
        self.port = free_port()
        self.started = False
        self.user = None
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no postgres user to run it")
            os.chown(folder, pw.pw_uid, pw.pw_gid)
            self.user = "postgres"
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# bench/sql.py\n" + "".join(f"{k} = {v}\n" for k, v in PG_SETTINGS))
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.folder, "postgres.log"),
                  "-w", "-t", "120", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")
        self.started = True

    def _run(self, tool, *args):
        cmd = [os.path.join(self.bindir, tool), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if p.returncode:
            raise RuntimeError(f"{tool} exited with {p.returncode}: {(p.stderr or p.stdout)[-800:]}")
        return p.stdout

    def connect_args(self):
        return {"host": "127.0.0.1", "port": self.port, "user": "postgres", "dbname": "postgres"}

    def stop(self):
        if self.started:
            try:
                self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log(f"warning: stopping PostgreSQL: {e}")
            self.started = False


def connect_tarn_pg(srv, wait=10):
    """(client, None) on tarn's PostgreSQL port, or (None, why not); retries while the
    port refuses connections (it may open after the HTTP port)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            c = PgClient(host="127.0.0.1", port=srv.pg_port, user="admin",
                         password=srv.password, dbname="lake")
        except psycopg2.OperationalError as e:
            if "refused" in str(e) and time.monotonic() < deadline and srv.alive():
                time.sleep(0.2)
                continue
            return None, f"cannot connect: {first_line(e)}"
        try:
            c.query("SELECT 1")
            return c, None
        except RuntimeError as e:
            c.close()
            return None, f"SELECT 1 failed: {e}"


def first_line(e):
    t = str(e).strip()
    return t.splitlines()[0] if t else type(e).__name__


def direct_views(base, lake, like_tarn):
    """Views tpch.<table> over the lake's files ({table: [paths]}): with like_tarn, with the
    reader options of tarn's own views (union_by_name reads every file's footer when the
    query is bound, which gives the planner each column's statistics); else plain
    read_parquet([...]), as a DuckDB user would first write it."""
    base.exec("CREATE SCHEMA tpch")
    opts = ", union_by_name = true, hive_partitioning = false" if like_tarn else ""
    for t, paths in lake.items():
        base.exec(f"CREATE VIEW tpch.{t} AS SELECT * FROM read_parquet("
                  f"[{', '.join(lit(p) for p in paths)}]{opts})")


def load_postgres(pg, base, csv_dir):
    """Creates tpch.<table> in PostgreSQL and loads the lake's rows through CSV."""
    conn = psycopg2.connect(**pg.connect_args())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE SCHEMA tpch")
            for t in TABLES:
                cur.execute(f"CREATE TABLE tpch.{t} ({PG_DDL[t]})")
                path = os.path.join(csv_dir, f"{t}.csv")
                base.exec(f"COPY (SELECT * FROM tpch.{t}) TO {lit(path)} (FORMAT csv, HEADER false)")
                t0 = time.monotonic()
                with open(path, "rb") as f:
                    cur.copy_expert(f"COPY tpch.{t} FROM STDIN WITH (FORMAT csv)", f)
                os.unlink(path)
                log(f"  PostgreSQL: loaded tpch.{t} in {time.monotonic() - t0:.1f} s")
            t0 = time.monotonic()
            cur.execute("VACUUM ANALYZE")
            log(f"  PostgreSQL: VACUUM ANALYZE in {time.monotonic() - t0:.1f} s")
            cur.execute("SELECT name, setting, unit FROM pg_settings WHERE name IN "
                        "('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', "
                        "'jit', 'effective_cache_size', 'server_version') ORDER BY name")
            shown = []
            for name, setting, unit in cur.fetchall():
                if unit == "8kB":
                    setting = f"{int(setting) * 8 // 1024}MB"
                elif unit == "kB":
                    setting = f"{int(setting) // 1024}MB"
                shown.append(f"{name}={setting}")
            return shown
    finally:
        conn.close()


# ---- comparing answers ----

def norm_value(v):
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float, decimal.Decimal)):
        return float(v)
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    return str(v)


def same_values(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return a == b


def compare(rows_a, rows_b, ordered):
    """None when the two results hold the same values, else a short reason."""
    if len(rows_a) != len(rows_b):
        return f"{len(rows_a)} rows vs {len(rows_b)}"
    a = [[norm_value(v) for v in r] for r in rows_a]
    b = [[norm_value(v) for v in r] for r in rows_b]
    if not ordered:
        key = lambda r: [(x is None, str(x)) for x in r]
        a.sort(key=key)
        b.sort(key=key)
    for i, (ra, rb) in enumerate(zip(a, b)):
        if len(ra) != len(rb) or not all(same_values(x, y) for x, y in zip(ra, rb)):
            return f"row {i}: {ra} vs {rb}"
    return None


# ---- main ----

def fmt_ms(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def fmt_ratio(a, b):
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or b <= 0:
        return "-"
    return f"{a / b:.2f}"


def print_table(rows):
    w = [max(len(r[i]) for r in rows) + 2 for i in range(len(rows[0]))]
    for r in rows:
        log("".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r)).rstrip())


def upload(srv, files):
    s3 = boto3.client("s3", endpoint_url=srv.endpoint, region_name=REGION,
                      aws_access_key_id=srv.ak, aws_secret_access_key=srv.sk,
                      config=Config(s3={"addressing_style": "path"},
                                    retries={"max_attempts": 3}))
    for t, paths in files.items():
        for p in paths:
            with open(p, "rb") as f:
                s3.put_object(Bucket="curated", Key=f"tpch/{t}/{os.path.basename(p)}", Body=f)


def wait_tables(srv, rest, files, timeout):
    t0 = time.monotonic()
    for t, paths in files.items():
        while True:
            st, out = rest.call("GET", f"/v1/tables/curated/tpch/{t}")
            if st == 200 and out.get("files") == len(paths):
                break
            if not srv.alive():
                fail(f"tarn exited while crawling:\n{srv.log_tail()}")
            if time.monotonic() - t0 > timeout:
                fail(f"after {timeout} s tpch.{t} is {st} {out}")
            time.sleep(0.2)
    return time.monotonic() - t0


def run_queries(systems, runs, rest):
    """Each query once per system (the answers compared), then `runs` times round robin.
    Returns ({(query, system): median ms or "error"}, {query: REST server median ms},
    [failures], [mismatches])."""
    med, srv_ms, failures, mismatches = {}, {}, [], []
    for qi, (name, ordered, sql) in enumerate(QUERIES):
        times = {s: [] for s in systems}
        errors, counts, answers, srv_times = {}, {}, {}, []
        for s, fn in systems.items():
            try:
                _, counts[s], answers[s] = fn(sql)
            except RuntimeError as e:
                errors[s] = str(e)
        names = list(systems)
        for r in range(runs):
            for s in names[r % len(names):] + names[:r % len(names)]:
                if s in errors:
                    continue
                try:
                    times[s].append(systems[s](sql)[0])
                    if s == "REST":
                        srv_times.append(rest.server_ms)
                except RuntimeError as e:
                    errors[s] = str(e)
        for s in systems:
            med[(qi, s)] = "error" if s in errors else statistics.median(times[s])
        if srv_times:
            srv_ms[qi] = statistics.median(srv_times)
        for s, e in errors.items():
            failures.append(f"{name}: {s} failed: {e}")
            log(f"  {failures[-1]}")
        if len(set(counts.values())) > 1:
            mismatches.append(f"{name}: row counts differ: {counts}")
        ref = answers.get("REST parsed")
        for s in ("PG", "PostgreSQL"):
            if ref is not None and answers.get(s) is not None and len(ref) <= 20000:
                why = compare(ref, answers[s], ordered)
                if why:
                    mismatches.append(f"{name}: REST parsed and {s} differ: {why}")
        log(f"  {name}: {next(iter(counts.values()), 0)} rows; " +
            ", ".join(f"{s} {fmt_ms(med[(qi, s)])} ms" for s in systems))
    for m in mismatches:
        log(f"  warning: {m}")
    return med, srv_ms, failures, mismatches


def run_streams(rest, tpg, ppg, sql, want):
    """{label: (rows, seconds, bytes or None)} of each way to stream sql's rows."""
    out = {}
    log(f"streaming {want:,} rows ({STREAM_COLS})")
    body, hdrs = rest.sql_request(sql)
    t0 = time.perf_counter()
    resp = rest.open("POST", "/v1/sql", body, hdrs)
    nbytes, tail = 0, b""
    while True:
        chunk = resp.read(1 << 20)
        if not chunk:
            break
        nbytes += len(chunk)
        tail = (tail + chunk)[-4096:]
    secs = time.perf_counter() - t0
    m = re.search(rb'"stats":\{"rows":(\d+)', tail)
    if resp.status != 200 or not m:
        log(f"  REST JSON: failed ({resp.status}: {tail[-300:]!r})")
    else:
        out["REST JSON (read whole, not parsed)"] = (int(m.group(1)), secs, nbytes)
    for label, client in (("PG", tpg), ("PostgreSQL", ppg)):
        if not client:
            continue
        try:
            cnt, secs = client.stream_cursor(sql)
            out[f"{label} named cursor (rows parsed)"] = (cnt, secs, None)
        except psycopg2.Error as e:
            log(f"  {label} named cursor: failed ({first_line(e)})")
        try:
            out[f"{label} COPY TO STDOUT"] = client.stream_copy(sql)
        except psycopg2.Error as e:
            log(f"  {label} COPY TO STDOUT: failed ({first_line(e)})")
    for label, (cnt, secs, nb) in out.items():
        log(f"  {label}: {cnt:,} rows in {secs:.2f} s")
        if cnt != want:
            log(f"  warning: {label} returned {cnt} rows, not {want}")
    return out


def report(a, base, systems, med, srv_ms, stream, failures, mismatches):
    """Prints the table of times and the targets; whether every target available is met."""
    ok = not failures and not mismatches
    yes = lambda b: "yes" if b else "NO"
    names = list(systems)
    tarn_ref = "PG" if "PG" in names else "REST"
    others = [s for s in names if s in ("REST", "REST parsed", "PG", "asyncpg")]
    head = ["query"] + [f"{s} ms" for s in names] + ["srv ms", "srv/direct"]
    head += [f"{s}/direct" for s in others]
    if "PostgreSQL" in names:
        head += [f"PostgreSQL/{tarn_ref}"]

    def line(label, vals, srv_v):
        row = [label] + [fmt_ms(vals[s]) for s in names] + [fmt_ms(srv_v)]
        row += [fmt_ratio(srv_v, vals["direct"])]
        row += [fmt_ratio(vals[s], vals["direct"]) for s in others]
        if "PostgreSQL" in names:
            row += [fmt_ratio(vals["PostgreSQL"], vals[tarn_ref])]
        return row

    totals = {}
    for s in names:
        v = [med[(qi, s)] for qi in range(len(QUERIES))]
        totals[s] = sum(v) if all(isinstance(x, float) for x in v) else "incomplete"
    table = [head] + [line(name, {s: med[(qi, s)] for s in names}, srv_ms.get(qi))
                      for qi, (name, _, _) in enumerate(QUERIES)]
    table.append(line("total", totals, sum(srv_ms.values()) if srv_ms else None))
    log("")
    log(f"lineitem {a.rows:,} rows in {a.files} Parquet files; median of {a.runs} runs; "
        f"direct: DuckDB {base.version} C API, {base.threads} threads; "
        f"'srv' is the server's own elapsed_ms of the REST answer")
    print_table(table)
    log("")

    checks = [("figure", "value", "target", "ok")]
    # The server's own time (its elapsed_ms): what tarn adds to the engine's work,
    # without the client's reading of the answer, which direct does not pay.
    srv_ratios = [(srv_ms[qi] / med[(qi, "direct")], name)
                  for qi, (name, _, _) in enumerate(QUERIES)
                  if qi in srv_ms and isinstance(med[(qi, "direct")], float)]
    if len(srv_ratios) == len(QUERIES):
        worst, which = max(srv_ratios)
        good = worst <= 1.10
        ok &= good
        checks.append((f"srv / direct, every query (worst: {which})", f"{worst:.2f}",
                       "<= 1.10", yes(good)))
    else:
        checks.append(("srv / direct, every query", "not available", "<= 1.10", "-"))
    for s, target in (("REST", 1.10), ("PG", 1.15)):
        if s not in names:
            checks.append((f"{s} total / direct total", "not available", f"<= {target:.2f}", "-"))
            continue
        r = fmt_ratio(totals[s], totals["direct"])
        good = r != "-" and float(r) <= target
        ok &= good
        checks.append((f"{s} total / direct total", r, f"<= {target:.2f}", yes(good)))
    if "REST parsed" in names:
        checks.append(("  REST parsed total / direct total",
                       fmt_ratio(totals["REST parsed"], totals["direct"]), "(reference)", ""))
    if "asyncpg" in names and "PG" in names:
        r = fmt_ratio(totals["asyncpg"], totals["PG"])
        good = r != "-" and float(r) <= 1.10
        ok &= good
        checks.append(("asyncpg total / PG (psycopg2) total", r, "<= 1.10", yes(good)))
    else:
        checks.append(("asyncpg total / PG (psycopg2) total", "not available", "<= 1.10", "-"))
    for s in ("PG", "REST"):
        if "PostgreSQL" not in names or s not in names:
            checks.append((f"PostgreSQL total / {s} total", "not available", ">= 10", "-"))
            continue
        r = fmt_ratio(totals["PostgreSQL"], totals[s])
        good = r != "-" and float(r) >= 10
        ok &= good
        checks.append((f"PostgreSQL total / {s} total", r, ">= 10", yes(good)))
    copy = stream.get("PG COPY TO STDOUT")
    if not copy or copy[0] != a.stream_rows:
        checks.append(("PG COPY TO STDOUT, rows/s", "not available", ">= 2,000,000", "-"))
        ok = False if "PG" in names else ok
    else:
        rate = copy[0] / copy[1]
        ok &= rate >= 2e6
        checks.append(("PG COPY TO STDOUT, rows/s", f"{rate:,.0f}", ">= 2,000,000",
                       yes(rate >= 2e6)))
    for label, (cnt, secs, nb) in stream.items():
        mb = f", {nb / secs / 1e6:.0f} MB/s" if nb else ""
        checks.append((f"  {label}", f"{cnt / secs:,.0f} ({secs:.1f} s{mb})",
                       "" if label == "PG COPY TO STDOUT" else "(reference)", ""))
    w = [max(len(r[i]) for r in checks) + 2 for i in range(4)]
    for r in checks:
        log("".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())
    if "PG" not in names:
        log("pg: not available")
    if failures:
        log(f"{len(failures)} queries failed (see above)")
    if mismatches:
        log(f"{len(mismatches)} answers differ between systems (see the warnings above)")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tarn", default=os.path.join(ROOT, "build", "tarn"))
    ap.add_argument("--baseline", default=os.path.join(ROOT, "build", "sql_baseline"))
    ap.add_argument("--pg-bin", default="/usr/lib/postgresql/15/bin",
                    help="PostgreSQL's programs (initdb, pg_ctl)")
    ap.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL 15")
    ap.add_argument("--postgres-settings", choices=("tuned", "debian"), default="tuned",
                    help="PostgreSQL's memory and planner settings: tuned for analytics on "
                         "this machine (default), or Debian's defaults")
    ap.add_argument("--tmp", default=None, help="parent of the temporary folders")
    ap.add_argument("--rows", type=int, default=6_000_000, help="lineitem rows")
    ap.add_argument("--files", type=int, default=8, help="lineitem Parquet files")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per query and system")
    ap.add_argument("--stream-rows", type=int, default=10_000_000)
    ap.add_argument("--timeout", type=int, default=600, help="seconds for any one wait")
    ap.add_argument("--quick", action="store_true",
                    help="200,000 rows, 2 runs, a 1,000,000-row stream")
    ap.add_argument("--keep", action="store_true", help="keep the folders (debugging)")
    a = ap.parse_args()
    global PG_SETTINGS
    if a.postgres_settings == "debian":
        PG_SETTINGS = PG_LOAD_SETTINGS
    if a.quick:
        a.rows, a.runs, a.stream_rows = 200_000, 2, 1_000_000
    for b in (a.tarn, a.baseline):
        if not os.access(b, os.X_OK):
            fail(f"{b} is missing: build with `ninja -C build`")

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    tmp = tempfile.mkdtemp(prefix="tarn-sql-bench-", dir=a.tmp)
    data = os.path.join(tmp, "data")
    srv = base = direct = plain = pg = tpg = apg = ppg = rest = None
    pg_dir = None
    ok_all = True
    try:
        # 1. data
        base = Baseline(a.baseline)
        gen = os.path.join(tmp, "gen")
        t0 = time.monotonic()
        files = generate(base, gen, a.rows, a.files)
        nbytes = sum(os.path.getsize(p) for ps in files.values() for p in ps)
        n = sizes(a.rows)
        log(f"generated {', '.join(f'{t} {n[t]:,}' for t in TABLES)} rows in "
            f"{sum(len(p) for p in files.values())} Parquet files ({nbytes / 1e6:.0f} MB) in "
            f"{time.monotonic() - t0:.1f} s")

        srv = tarnbench.Server(a.tarn, data, os.path.join(tmp, "tarn.log"))
        rest = Rest(srv)
        log(f"tarn {srv.endpoint}, PostgreSQL protocol on port {srv.pg_port}")
        t0 = time.monotonic()
        upload(srv, files)
        up = time.monotonic() - t0
        waited = wait_tables(srv, rest, files, a.timeout)
        log(f"uploaded in {up:.1f} s; the crawler registered the 4 tables {waited:.1f} s later")
        shutil.rmtree(gen)
        curated = os.path.join(os.path.realpath(data), "objects", "curated")
        lake = {t: [os.path.join(curated, "tpch", t, os.path.basename(p)) for p in paths]
                for t, paths in files.items()}
        direct_views(base, lake, True)
        _, _, out = rest.query("SELECT count(*) FROM tpch.lineitem")
        if out[0][0] != a.rows:
            fail(f"tarn counts {out[0][0]} lineitem rows, not {a.rows}")

        # the other systems
        tpg, pg_why = connect_tarn_pg(srv)
        log("pg: available" if tpg else f"pg: not available ({pg_why})")
        apg, apg_why = connect_asyncpg(srv) if tpg else (None, "no PG")
        log("asyncpg: available" if apg else f"asyncpg: not available ({apg_why})")

        pg_settings = []
        if a.no_postgres:
            log("PostgreSQL: skipped (--no-postgres)")
        elif not os.access(os.path.join(a.pg_bin, "initdb"), os.X_OK):
            log(f"PostgreSQL: not available (no initdb in {a.pg_bin})")
        else:
            pg_dir = tempfile.mkdtemp(prefix="tarn-sql-bench-pg-", dir=a.tmp)
            try:
                t0 = time.monotonic()
                pg = Postgres(a.pg_bin, pg_dir)
                csv_dir = os.path.join(tmp, "csv")
                os.makedirs(csv_dir)
                pg_settings = load_postgres(pg, base, csv_dir)
                ppg = PgClient(**pg.connect_args())
                with ppg.conn.cursor() as cur:
                    cur.execute("SET statement_timeout = '900s'")
                log(f"PostgreSQL: ready in {time.monotonic() - t0:.1f} s "
                    f"({a.postgres_settings} settings: {', '.join(pg_settings)}; fsync off, primary keys, no other indexes)")
            except (RuntimeError, psycopg2.Error, subprocess.TimeoutExpired) as e:
                log(f"PostgreSQL: not available ({e})")
                ppg = None
        # The queries run in fresh processes, apart from the one that wrote the data.
        base.close()
        base = None
        direct = Baseline(a.baseline)
        direct_views(direct, lake, True)
        plain = Baseline(a.baseline)
        direct_views(plain, lake, False)

        systems = {"direct": direct.query, "plain": plain.query, "REST": rest.query_raw,
                   "REST parsed": rest.query}
        if tpg:
            systems["PG"] = tpg.query
        if apg:
            systems["asyncpg"] = apg.query
        if ppg:
            systems["PostgreSQL"] = ppg.query
        log(f"direct DuckDB {direct.version}, {direct.threads} threads (tarn's engine: one per "
            f"core, {os.cpu_count()} here); {a.runs} runs per query and system after a warm-up")

        # 2. queries, 3. streaming, 4. the report
        med, srv_ms, errors, mismatches = run_queries(systems, a.runs, rest)
        stream = run_streams(rest, tpg, ppg, stream_sql(a.stream_rows, a.rows), a.stream_rows)
        ok_all = report(a, direct, systems, med, srv_ms, stream, errors, mismatches)
    except BaseException:
        ok_all = False
        if srv is not None:
            tail = srv.log_tail()
            if tail:
                print("--- last lines of the server log ---\n" + tail, file=sys.stderr)
        raise
    finally:
        for c in (tpg, apg, ppg, rest):
            if c is not None:
                c.close()
        for b in (base, direct, plain):
            if b is not None:
                b.close()
        if srv is not None:
            srv.stop()
        if pg is not None:
            pg.stop()
        if a.keep:
            log(f"kept {tmp}" + (f" and {pg_dir}" if pg_dir else ""))
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if pg_dir:
                shutil.rmtree(pg_dir, ignore_errors=True)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
