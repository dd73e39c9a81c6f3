#!/usr/bin/python3
"""Authorization benchmark: what grants cost on the paths that check them.

1. authz_check latency (build/authz_check): 1,000 principals (users in groups of ten)
   holding 10,000 grants; p50/p99 of a user's allowed and denied SELECT checks and an
   allowed S3 read, next to the admin's check (no grant lookup) as the baseline.
   Target: p99 < 50 microseconds.
2. Building a SQL session for a principal granted 1,000 tables: on a running server with
   1,000 declared tables, a user holding one SELECT grant per table connects over the
   PostgreSQL protocol and runs a catalog query (the session's pg_catalog is built from
   the tables it may read). Median of --sessions connections, next to the same for the
   admin. Target: < 50 ms.
3. S3 GET throughput with grants on: GETs of a small object by a user whose access comes
   from a location grant (among the 11,000 grants of this lake), against the admin's GETs
   of the same object, alternating rounds on keep-alive connections. Target: >= 0.95.

--quick: fewer checks, tables and requests (a smoke run). The server and its folder are
removed at the end."""
import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import boto3
import psycopg2
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import tarnbench  # noqa: E402  (the server the benchmarks share)
from s3util import rest  # noqa: E402  (the SigV4-signed REST helper the tests use)


class Lake(tarnbench.Server):
    """The server, with what tests/e2e/s3util.rest and the CLI need of it."""

    def __init__(self, tarn, folder):
        self.tarn_bin = tarn
        os.makedirs(folder, exist_ok=True)
        super().__init__(tarn, os.path.join(folder, "data"), os.path.join(folder, "tarn.log"),
                         ["--promotion", "off"])

    def admin_keys(self):
        return self.ak, self.sk

    def cli(self, *args):
        env = dict(os.environ, TARN_ENDPOINT=self.endpoint,
                   TARN_CREDENTIALS_FILE=os.path.join(self.data, "admin.credentials"))
        return subprocess.run([self.tarn_bin, *args], env=env, capture_output=True, text=True,
                              check=True).stdout


def checks(a):
    out = subprocess.run([a.checker, "1000", "10000", str(a.checks)], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


CATALOG_QUERY = ("SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
                 " ON n.oid = c.relnamespace WHERE n.nspname = 'bench'")


def session_build(lake, user, password, n, query=CATALOG_QUERY):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        c = psycopg2.connect(host="127.0.0.1", port=lake.pg_port, user=user, password=password,
                             dbname="lake")
        cur = c.cursor()
        cur.execute(query)
        count = cur.fetchone()[0]
        times.append((time.perf_counter() - t0) * 1000)
        c.close()
    return statistics.median(times), count


def gets(client, n):
    t0 = time.perf_counter()
    for _ in range(n):
        client.get_object(Bucket="raw", Key="auth/probe/a.txt")["Body"].read()
    return n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tarn", default=os.path.join(ROOT, "build", "tarn"))
    ap.add_argument("--checker", default=os.path.join(ROOT, "build", "authz_check"))
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    a.checks = 20000 if a.quick else 200000
    tables = 100 if a.quick else 1000
    sessions = 3 if a.quick else 9
    rounds, per_round = (2, 200) if a.quick else (5, 1000)

    print("1. authz_check with 1,000 principals and 10,000 grants", flush=True)
    c = checks(a)
    for k in ("select_allowed", "select_denied", "s3_get_allowed", "admin"):
        print(f"   {k:16s} p50 {c[k]['p50']:7.3f} us   p99 {c[k]['p99']:7.3f} us")
    p99 = max(c[k]["p99"] for k in ("select_allowed", "select_denied", "s3_get_allowed"))

    folder = tempfile.mkdtemp(prefix="tarn-authz-bench-")
    lake = None
    try:
        lake = Lake(a.tarn, folder)
        print(f"2. declaring {tables} tables and granting each to one user", flush=True)

        def declare(i):
            status, body = rest(lake, "POST", f"/v1/tables/curated/bench/t{i:04d}",
                                {"format": "parquet",
                                 "schema": "id BIGINT, amount DECIMAL(12,2), note VARCHAR, "
                                           "day DATE, region VARCHAR"})
            if status != 201:
                raise RuntimeError(f"declare t{i:04d}: {status} {body}")
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(declare, range(tables)))
        lake.cli("user", "create", "analyst", "--password", "analyst-pass-123")
        key = json.loads(lake.cli("key", "create", "analyst", "--json"))

        def grant(i):
            status, body = rest(lake, "POST", "/v1/grants",
                                {"principal": "user:analyst", "permission": "SELECT",
                                 "resource": f"table:curated.bench.t{i:04d}"})
            if status != 201:
                raise RuntimeError(f"grant: {status} {body}")
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(grant, range(tables)))
        lake.cli("grant", "READ", "ON", "LOCATION", "raw/auth/", "TO", "user:analyst")
        user_ms, seen = session_build(lake, "analyst", "analyst-pass-123", sessions)
        admin_ms, seen_admin = session_build(lake, "admin", lake.password, sessions)
        if seen != tables or seen_admin != tables:
            raise RuntimeError(f"the sessions saw {seen} and {seen_admin} tables, not {tables}")
        print(f"   user with {tables} grants: {user_ms:.1f} ms; admin: {admin_ms:.1f} ms "
              f"(ratio {user_ms / admin_ms:.2f})")
        plain_ms, _ = session_build(lake, "analyst", "analyst-pass-123", sessions, "SELECT 1")
        rest_times = []
        for _ in range(sessions):
            t0 = time.perf_counter()
            status, body = rest(lake, "POST", "/v1/sql",
                                {"sql": f"SELECT count(*) FROM bench.t{tables // 2:04d}"}, keys=(key["access_key"], key["secret_key"]))
            if status != 200:
                raise RuntimeError(f"REST query: {status} {body}")
            rest_times.append((time.perf_counter() - t0) * 1000)
        rest_ms = statistics.median(rest_times)
        print(f"   the same user: PostgreSQL login + SELECT 1 {plain_ms:.1f} ms; a REST session "
              f"querying one of the tables {rest_ms:.1f} ms")

        print("3. S3 GET with grants", flush=True)
        cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
        admin = boto3.client("s3", endpoint_url=lake.endpoint, region_name="us-east-1",
                             aws_access_key_id=lake.ak, aws_secret_access_key=lake.sk, config=cfg)
        user = boto3.client("s3", endpoint_url=lake.endpoint, region_name="us-east-1",
                            aws_access_key_id=key["access_key"],
                            aws_secret_access_key=key["secret_key"], config=cfg)
        admin.put_object(Bucket="raw", Key="auth/probe/a.txt", Body=b"x" * 1024)
        gets(admin, 50)
        gets(user, 50)
        ratios, ua, aa = [], [], []
        for _ in range(rounds):
            r_admin = gets(admin, per_round)
            r_user = gets(user, per_round)
            ua.append(r_user)
            aa.append(r_admin)
            ratios.append(r_user / r_admin)
        ratio = statistics.median(ratios)
        print(f"   user {statistics.median(ua):,.0f} GET/s, admin {statistics.median(aa):,.0f} "
              f"GET/s (median ratio of {rounds} rounds {ratio:.3f})")
    finally:
        if lake:
            lake.stop()
        shutil.rmtree(folder, ignore_errors=True)

    rows = [("figure", "value", "target", "ok"),
            ("authz_check p99 (worst of the user's cases)", f"{p99:.3f} us", "< 50 us",
             "yes" if p99 < 50 else "NO"),
            ("  ratio to the admin's check (p99)", f"{p99 / max(c['admin']['p99'], 0.001):.1f}",
             "(reference)", ""),
            (f"SQL session for a user granted {tables} tables", f"{user_ms:.1f} ms", "< 50 ms",
             "yes" if user_ms < 50 else "NO"),
            ("  ratio to the admin's session", f"{user_ms / admin_ms:.2f}", "(reference)", ""),
            ("  of which login and a plain query", f"{plain_ms:.1f} ms", "(reference)", ""),
            ("  a REST SQL session reading one of them", f"{rest_ms:.1f} ms", "< 50 ms",
             "yes" if rest_ms < 50 else "NO"),
            ("S3 GET throughput, granted user / admin", f"{ratio:.3f}", ">= 0.95",
             "yes" if ratio >= 0.95 else "NO")]
    w = [max(len(r[i]) for r in rows) + 2 for i in range(4)]
    print()
    for r in rows:
        print("".join(x.ljust(w[i]) for i, x in enumerate(r)).rstrip())


if __name__ == "__main__":
    main()
