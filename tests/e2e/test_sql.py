"""SQL over the lake as users meet it (the first part of the SQL layer): files landed with
boto3 are queried by their catalog names through POST /v1/sql and `tarn sql`, in their
catalog schema with hive partitions; every bypass of the sandbox is refused with the
reason; a user denied a table cannot read it through SQL either; query slots, the queue,
the time limit, cancellation and each user's query history."""
import json
import os
import threading

from conftest import ROOT, Server
from s3util import rest, unique, wait_for

PARQUET = os.path.join(ROOT, "third_party", "vega-datasets", "data", "flights-3m.parquet")


def ready(server, name, files):
    zone, db, t = name.split(".")
    def check():
        st, body = rest(server, "GET", f"/v1/tables/{zone}/{db}/{t}")
        return st == 200 and body["files"] == files
    wait_for(check)


def sql(server, query, keys=None):
    return rest(server, "POST", "/v1/sql", {"sql": query}, keys=keys)


def test_aggregate_through_rest_and_cli(server, s3):
    db = unique("shop")
    s3.put_object(Bucket="raw", Key=f"{db}/orders/dt=2024-01-01/a.csv",
                  Body=b"id,region,amount\n1,eu,10.5\n2,us,20\n3,eu,1.5\n")
    s3.put_object(Bucket="raw", Key=f"{db}/orders/dt=2024-01-02/b.csv",
                  Body=b"id,region,amount,coupon\n4,eu,100,SPRING\n")
    ready(server, f"raw.{db}.orders", 2)
    q = (f"SELECT region, count(*) AS n, sum(amount) AS total, count(coupon) AS coupons "
         f"FROM raw.\"{db}\".orders GROUP BY region ORDER BY region")
    status, body = sql(server, q)
    assert status == 200, body
    assert body["columns"] == [{"name": "region", "type": "VARCHAR"},
                               {"name": "n", "type": "BIGINT"},
                               {"name": "total", "type": "DOUBLE"},
                               {"name": "coupons", "type": "BIGINT"}]
    assert body["rows"] == [["eu", 3, 112.0, 1], ["us", 1, 20.0, 0]]
    assert body["stats"]["rows"] == 2
    # Hive partitions are columns of their catalog type.
    status, body = sql(server, f"SELECT dt, count(*) FROM raw.\"{db}\".orders WHERE dt > DATE "
                               f"'2024-01-01' GROUP BY dt")
    assert body["rows"] == [["2024-01-02", 1]]
    out = server.tarn("sql", q).stdout.splitlines()
    assert out[0].split() == ["region", "n", "total", "coupons"]
    assert out[1].split() == ["eu", "3", "112.0", "1"] and out[-1] == "(2 rows)"
    csv = server.tarn("sql", q, "--format", "csv").stdout.splitlines()
    assert csv == ["region,n,total,coupons", "eu,3,112.0,1", "us,1,20.0,0"]
    # Statements from a pipe, each ended by ';' (possibly over several lines).
    r = server.tarn("sql", "--format", "csv", check=False,
                    input=f"SELECT 1 AS a;\n{q.replace(' FROM', chr(10) + 'FROM')};\n"
                          "SELECT * FROM read_csv('/etc/passwd');\nSELECT 3 AS c\n")
    assert r.returncode == 1 and "read_csv is not allowed" in r.stderr
    assert r.stdout.splitlines() == ["a", "1", "region,n,total,coupons", "eu,3,112.0,1",
                                     "us,1,20.0,0", "c", "3"]
    js = json.loads(server.tarn("sql", q, "--format", "json").stdout)
    assert js["rows"][1] == ["us", 1, 20.0, 0]
    # DESCRIBE and SUMMARIZE of a table or a query go through the same check.
    status, body = sql(server, f"DESCRIBE raw.\"{db}\".orders")
    assert [r[:2] for r in body["rows"]] == [["id", "BIGINT"], ["region", "VARCHAR"],
                                             ["amount", "DOUBLE"], ["coupon", "VARCHAR"],
                                             ["dt", "DATE"]]
    status, body = sql(server, f"SUMMARIZE SELECT amount FROM raw.\"{db}\".orders")
    assert status == 200 and body["rows"][0][0] == "amount"
    status, body = sql(server, "DESCRIBE read_csv('/etc/passwd')")
    assert status == 403 and "read_csv" in body["error"]["message"]
    status, body = sql(server, f"EXPLAIN SELECT count(*) FROM raw.\"{db}\".orders")
    assert status == 200 and body["rows"][0][0] == "physical_plan"
    assert "AGGREGATE" in body["rows"][0][1]
    status, body = sql(server, f"EXPLAIN ANALYZE SELECT count(*) FROM raw.\"{db}\".orders")
    assert status == 200 and body["rows"][0][0] == "analyzed_plan"
    status, body = sql(server, "EXPLAIN SELECT * FROM glob('/*')")
    assert status == 403
    # SHOW TABLES answers from the catalog: the lake's tables the caller may read.
    status, body = sql(server, "show tables;")
    assert status == 200 and [f"raw.{db}.orders", "csv", 2] in [r[:3] for r in body["rows"]]
    status, body = sql(server, "SHOW TABLES FROM main")
    assert status == 403 and "only SHOW TABLES" in body["error"]["message"]
    status, body = sql(server, "EXPLAIN COPY (SELECT 1) TO '/tmp/x.csv'")
    assert status == 400 and body["error"]["code"] == "NotReadOnly"
    # Parameters bind to $1, $2, ... and must all be given.
    status, body = rest(server, "POST", "/v1/sql", {
        "sql": f"SELECT count(*) FROM raw.\"{db}\".orders WHERE region = $1 AND amount > $2",
        "params": ["eu", 5]})
    assert status == 200 and body["rows"] == [[2]]
    status, body = rest(server, "POST", "/v1/sql", {"sql": "SELECT $1 AS p", "params": ["x"]})
    assert body["columns"] == [{"name": "p", "type": "VARCHAR"}] and body["rows"] == [["x"]]
    status, body = rest(server, "POST", "/v1/sql", {"sql": "SELECT $1 + $2", "params": [1]})
    assert status == 400 and "2 parameters" in body["error"]["message"]
    status, body = rest(server, "POST", "/v1/sql", {"sql": "SELECT $1", "params": [[1]]})
    assert status == 400 and "string, number, boolean or null" in body["error"]["message"]
    # CSV (RFC 4180) through REST, streamed the same way.
    status, text, ctype = rest(server, "POST", "/v1/sql",
                               {"sql": "SELECT 'a,b' AS s, NULL AS n, [1, 2] AS l, "
                                       "'say \"hi\"' AS q", "format": "csv"}, text=True)
    assert status == 200 and ctype.startswith("text/csv")
    assert text == 's,n,l,q\r\n"a,b",,"[1,2]","say ""hi"""\r\n'
    # Doubles JSON cannot spell arrive as strings, so strict parsers read every answer.
    status, body = sql(server, "SELECT 1/0, -1/0, 0/0")
    assert body["rows"] == [["Infinity", "-Infinity", "NaN"]]


def test_parquet_and_json_tables_and_default_zone(server, s3):
    db = unique("mix")
    with open(PARQUET, "rb") as f:
        s3.put_object(Bucket="raw", Key=f"{db}/flights/flights.parquet", Body=f)
    s3.put_object(Bucket="curated", Key=f"{db}/events/e.ndjson",
                  Body=b'{"user": "u1", "clicks": 3}\n{"user": "u2", "clicks": 5}\n')
    ready(server, f"raw.{db}.flights", 1)
    ready(server, f"curated.{db}.events", 1)
    status, body = sql(server, f"SELECT count(*) FROM raw.\"{db}\".flights")
    assert status == 200 and body["rows"] == [[3000000]]
    # database.table reads the curated zone.
    status, body = sql(server, f"SELECT sum(clicks) FROM \"{db}\".events")
    assert status == 200 and body["rows"] == [[8]]
    status, body = sql(server, f"WITH e AS (SELECT * FROM \"{db}\".events) "
                               f"SELECT events.user FROM \"{db}\".events JOIN e USING (user) "
                               f"ORDER BY 1")
    assert status == 200 and body["rows"] == [["u1"], ["u2"]]


def test_every_bypass_is_refused(server, s3):
    db = unique("safe")
    s3.put_object(Bucket="raw", Key=f"{db}/t/a.parquet", Body=open(PARQUET, "rb").read(4096))
    s3.put_object(Bucket="raw", Key=f"{db}/ok/a.csv", Body=b"x\n1\n")
    ready(server, f"raw.{db}.ok", 1)
    objects = os.path.join(server.data, "objects", "raw", db)
    attempts = {
        "SELECT * FROM read_csv('/etc/passwd')": (403, "AccessDenied", "read_csv"),
        f"SELECT * FROM '{objects}/ok/a.csv'": (403, "AccessDenied", "a.csv"),
        "SELECT * FROM 'objects/raw/x.parquet'": (403, "AccessDenied", "x.parquet"),
        f"SELECT * FROM read_parquet('{objects}/t/a.parquet')": (403, "AccessDenied", "read_parquet"),
        "SELECT * FROM glob('/*')": (403, "AccessDenied", "glob"),
        f"COPY (SELECT 1) TO '{objects}/out.csv'": (400, "NotReadOnly", "only a SELECT"),
        "ATTACH '/tmp/x.db' AS x": (400, "NotReadOnly", "only a SELECT"),
        "INSTALL httpfs": (400, "NotReadOnly", "only a SELECT"),
        "LOAD httpfs": (400, "NotReadOnly", "only a SELECT"),
        "SET enable_external_access = true": (400, "NotReadOnly", "only a SELECT"),
        "PRAGMA version": (400, "NotReadOnly", "only a SELECT"),
        f"SELECT 1; SELECT * FROM raw.\"{db}\".ok": (400, "NotReadOnly", "exactly one statement"),
        "SELEC 1": (400, "SyntaxError", "syntax error"),
        f"SELECT * FROM raw.\"{db}\".missing": (403, "AccessDenied", f"raw.{db}.missing"),
    }
    for q, (code, err, words) in attempts.items():
        status, body = sql(server, q)
        assert (status, body["error"]["code"]) == (code, err), (q, body)
        assert words in body["error"]["message"], (q, body)
    assert not os.path.exists(os.path.join(objects, "out.csv"))
    status, body = sql(server, f"SELECT count(*) FROM raw.\"{db}\".ok")
    assert status == 200 and body["rows"] == [[1]]
    status, body = rest(server, "POST", "/v1/sql", {"sql": "SELECT 1", "format": "xml"})
    assert status == 400 and "json, csv or parquet" in body["error"]["message"]
    r = server.tarn("sql", "SELECT * FROM read_text('/etc/passwd')", check=False)
    assert r.returncode == 1 and "read_text is not allowed" in r.stderr


def test_denied_table_is_not_readable_through_sql(tmp_path):
    s = Server(tmp_path / "data").start()
    try:
        s3 = s.s3()
        s3.put_object(Bucket="raw", Key="hr/salaries/a.csv", Body=b"who,salary\nx,1\n")
        ready(s, "raw.hr.salaries", 1)
        s.tarn("user", "create", "mallory")
        keys = json.loads(s.tarn("key", "create", "mallory", "--json").stdout)
        mk = (keys["access_key"], keys["secret_key"])
        status, body = sql(s, "SELECT sum(salary) FROM raw.hr.salaries", keys=mk)
        assert status == 403 and "raw.hr.salaries" in body["error"]["message"]
        status, body = sql(s, "SELECT count(*) FROM (SELECT * FROM raw.hr.salaries)", keys=mk)
        assert status == 403
        status, body = sql(s, "SELECT sum(salary) FROM raw.hr.salaries")
        assert status == 200 and body["rows"] == [[1]]
    finally:
        s.stop()


def parquet(server, query, params=None, keys=None):
    """POST /v1/sql for a Parquet answer: (status, body bytes, headers)."""
    body = {"sql": query, "format": "parquet"}
    if params is not None:
        body["params"] = params
    return rest(server, "POST", "/v1/sql", body, keys=keys, binary=True)


def answer_files(server):
    """Parquet answers being made (pipelines stage their runs in a folder of their own)."""
    return [f for f in os.listdir(os.path.join(server.data, "tmp", "sql")) if f != "pipelines"]


def test_parquet_answer_round_trips_through_the_lake(server, s3):
    """A Parquet answer carries the result's types and values: put back into the lake as a
    curated table, it reads as the same rows in the same types."""
    db = unique("pq")
    s3.put_object(Bucket="raw", Key=f"{db}/sales/dt=2024-03-01/a.csv",
                  Body=b"id,region,amount,ts\n1,eu,10.25,2024-03-01 10:00:00\n"
                       b"2,us,20.50,2024-03-01 11:30:00\n3,eu,1.75,2024-03-01 12:00:00\n")
    s3.put_object(Bucket="raw", Key=f"{db}/sales/dt=2024-03-02/b.csv",
                  Body=b"id,region,amount,ts\n4,asia,100.00,2024-03-02 09:15:00\n")
    ready(server, f"raw.{db}.sales", 2)
    q = (f"SELECT id::INTEGER AS id, region, amount::DECIMAL(10,2) AS amount, ts, dt, "
         f"id % 2 = 0 AS even, amount / 3 AS third, [id, id * 10] AS pair, "
         f"{{'r': region, 'n': id}} AS rec, CASE WHEN id > 3 THEN NULL ELSE 'x' END AS maybe, "
         f"sum(id) OVER (ORDER BY id) AS running "
         f"FROM raw.\"{db}\".sales WHERE region <> $1 ORDER BY id")
    want_status, want = rest(server, "POST", "/v1/sql", {"sql": q, "params": ["nowhere"]})
    assert want_status == 200, want
    before = answer_files(server)
    status, data, headers = parquet(server, q, params=["nowhere"])
    assert status == 200, data[:300]
    assert headers["content-type"] == "application/vnd.apache.parquet"
    assert int(headers["content-length"]) == len(data)
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    qid = int(headers["x-tarn-query-id"])
    # The answer's file is gone once the answer is sent.
    assert answer_files(server) == before == []
    # The history counts the rows written and the bytes sent (once the server has seen the
    # answer off, which may be just after the client has it).
    rec = wait_for(lambda: (lambda x: x if x["state"] == "done" else None)(
        rest(server, "GET", f"/v1/queries/{qid}")[1]))
    assert rec["rows"] == 4 and rec["bytes"] == len(data), rec

    s3.put_object(Bucket="curated", Key=f"{db}/answer/answer.parquet", Body=data)
    ready(server, f"curated.{db}.answer", 1)
    status, got = sql(server, f"SELECT * FROM \"{db}\".answer ORDER BY id")
    assert status == 200, got
    # Every type as it was, but the 128-bit sum, which Parquet holds as a DECIMAL(38,0).
    expected = [dict(c) for c in want["columns"]]
    assert expected[-1] == {"name": "running", "type": "HUGEINT"}
    expected[-1]["type"] = "DECIMAL(38,0)"
    assert got["columns"] == expected
    assert [c["type"] for c in got["columns"]][:6] == ["INTEGER", "VARCHAR", "DECIMAL(10,2)",
                                                       "TIMESTAMP", "DATE", "BOOLEAN"]
    assert got["rows"] == want["rows"]
    assert got["rows"][0][:5] == [1, "eu", 10.25, "2024-03-01 10:00:00", "2024-03-01"]

    # Parameters bind as in JSON answers; an empty answer is a file with the columns.
    status, data, _ = parquet(server, f"SELECT id FROM raw.\"{db}\".sales WHERE region = $1",
                              params=["mars"])
    assert status == 200 and data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    status, data, _ = parquet(server, "SELECT $1 + $2", params=[1])
    assert status == 400 and b"2 parameters" in data

    # DESCRIBE, SUMMARIZE, EXPLAIN and SHOW TABLES answer in Parquet too.
    for stmt in [f"DESCRIBE raw.\"{db}\".sales", f"SUMMARIZE raw.\"{db}\".sales",
                 "EXPLAIN SELECT 1", "SHOW TABLES"]:
        status, data, headers = parquet(server, stmt)
        assert status == 200 and data[:4] == b"PAR1", (stmt, data[:300])


def test_parquet_failures_are_json_errors(server, s3):
    """What fails before the answer starts is the usual JSON error; nothing is left in the
    answers' folder either way; the sandbox holds for Parquet answers as for the others."""
    status, data, headers = parquet(server, "SELECT no_such_column FROM range(3)")
    assert status == 400 and headers["content-type"] == "application/json"
    err = json.loads(data)["error"]
    assert err["code"] == "InvalidArgument" and "no_such_column" in err["message"]
    # Failing after rows were written (a division by zero on the last row) leaves no file.
    status, data, _ = parquet(server, "SELECT CASE WHEN range < 2999999 THEN range "
                                      "ELSE error('the last row') END AS x FROM range(3000000)")
    assert status == 400 and "the last row" in json.loads(data)["error"]["message"], data[:300]
    for q, code in [("SELECT * FROM read_parquet('/etc/passwd')", 403),
                    ("COPY (SELECT 1) TO 'x.parquet'", 400),
                    (f"SELECT * FROM '{os.path.join(server.data, 'tmp', 'sql')}/x.parquet'", 403)]:
        status, data, _ = parquet(server, q)
        assert status == code, (q, data)
    assert answer_files(server) == []
    fails = [x for x in queries(server) if x["sql"].startswith("SELECT no_such_column")]
    assert fails[0]["state"] == "failed" and "no_such_column" in fails[0]["error"]


SLOW = "SELECT count(*) FROM range(100000000000) a"


def queries(server, keys=None):
    return rest(server, "GET", "/v1/queries", keys=keys)[1]["queries"]


def test_timeout_queue_cancel_and_history(tmp_path):
    # One slot, a one-second queue and a four-second limit make each rule visible; the
    # limit leaves the cancel below time to happen before it.
    s = Server(tmp_path / "data", extra_args=["--query-slots", "1", "--query-timeout", "4",
                                               "--queue-wait", "1"]).start()
    try:
        s.tarn("user", "create", "bob")
        keys = json.loads(s.tarn("key", "create", "bob", "--json").stdout)
        bob = (keys["access_key"], keys["secret_key"])
        status, body = sql(s, SLOW)
        assert status == 408 and body["error"]["code"] == "QueryTimeout", body
        q = queries(s)[0]
        assert q["state"] == "timeout" and q["sql"] == SLOW and q["duration_ms"] >= 3900
        # A Parquet answer is stopped the same way, before its first byte.
        status, data, _ = parquet(s, SLOW)
        assert status == 408 and json.loads(data)["error"]["code"] == "QueryTimeout"
        assert queries(s)[0]["state"] == "timeout" and answer_files(s) == []

        # While one query holds the only slot, another waits one second, then gets 503.
        got = {}
        t = threading.Thread(target=lambda: got.update(r=sql(s, SLOW)))
        t.start()
        running = wait_for(lambda: [x for x in queries(s) if x["state"] == "running"])
        status, body = sql(s, "SELECT 1")
        assert status == 503 and body["error"]["code"] == "SlowDown"
        # Another user sees none of it and cannot cancel it.
        assert queries(s, keys=bob) == []
        status, body = rest(s, "DELETE", f"/v1/queries/{running[0]['id']}", keys=bob)
        assert status == 404 and body["error"]["code"] == "NoSuchQuery"
        # Its owner cancels it.
        status, _ = rest(s, "DELETE", f"/v1/queries/{running[0]['id']}")
        assert status == 204
        t.join(30)
        status, body = got["r"]
        assert status == 409 and body["error"]["code"] == "QueryCancelled"
        assert rest(s, "GET", f"/v1/queries/{running[0]['id']}")[1]["state"] == "cancelled"
        # The slot is free again; the finished query's rows and bytes are in the history.
        status, body = sql(s, "SELECT 42 AS answer")
        assert status == 200 and body["rows"] == [[42]]
        done = wait_for(lambda: [x for x in queries(s)[:1] if x["state"] == "done"])[0]
        assert done["rows"] == 1 and done["bytes"] > 0
        status, body = sql(s, "SELECT 1", keys=bob)
        assert status == 200
        assert [x["sql"] for x in queries(s, keys=bob)] == ["SELECT 1"]
    finally:
        s.stop()


def test_files_with_their_own_encoding_and_compression(server, s3):
    """One table whose files differ in encoding and compression reads as one."""
    import gzip
    db = unique("enc")
    s3.put_object(Bucket="raw", Key=f"{db}/people/a.csv",
                  Body="name;city\nJosé;Málaga\n".encode("latin-1"))
    s3.put_object(Bucket="raw", Key=f"{db}/people/b.csv", Body=b"name;city\nAnna;Oslo\n")
    # gzip without a .gz name: the catalog knows it by its bytes.
    s3.put_object(Bucket="raw", Key=f"{db}/people/c.csv",
                  Body=gzip.compress(b"name;city\nBo;Bergen\n"))
    ready(server, f"raw.{db}.people", 3)
    status, body = sql(server, f"SELECT name, city FROM raw.\"{db}\".people ORDER BY name")
    assert status == 200, body
    assert body["rows"] == [["Anna", "Oslo"], ["Bo", "Bergen"], ["José", "Málaga"]]


def test_declared_table_reads_in_its_declared_schema(server, s3):
    db = unique("decl")
    server.tarn("table", "create", f"raw.{db}.orders", "--format", "csv", "--schema",
                "id BIGINT NOT NULL, amount DOUBLE, note VARCHAR")
    s3.put_object(Bucket="raw", Key=f"{db}/orders/a.csv", Body=b"id,amount\n1,2\n2,3.5\n")
    s3.put_object(Bucket="raw", Key=f"{db}/orders/bad.csv", Body=b"id,amount\n3,lots\n")
    ready(server, f"raw.{db}.orders", 1)
    status, body = sql(server, f"SELECT * FROM raw.\"{db}\".orders ORDER BY id")
    assert status == 200, body
    # The mismatching file is not in the snapshot; the column no file has reads as NULL.
    assert body["columns"] == [{"name": "id", "type": "BIGINT"},
                               {"name": "amount", "type": "DOUBLE"},
                               {"name": "note", "type": "VARCHAR"}]
    assert body["rows"] == [[1, 2.0, None], [2, 3.5, None]]


def test_interactive_prompt_on_a_terminal(server, tmp_path):
    """`tarn sql` on a terminal: a prompt, statements over lines, history kept, \\q quits."""
    import shutil
    import subprocess
    script = shutil.which("script")
    if not script:
        raise AssertionError("the script tool (util-linux) is needed to give tarn a terminal")
    env = {**server.env(), "HOME": str(tmp_path)}
    from conftest import TARN
    p = subprocess.run([script, "-qc", f"{TARN} sql", "/dev/null"], env=env, text=True,
                       input="SELECT 40 +\n 2 AS answer;\n\\q\n", capture_output=True,
                       timeout=60)
    out = p.stdout.replace("\r", "")
    assert "lake> " in out and "answer" in out and "\n42\n" in out and "(1 row)" in out
    assert "SELECT 40" in (tmp_path / ".tarn_history").read_text().replace("\\040", " ")


def test_query_memory_limit(tmp_path):
    """--query-memory sizes the engine's memory as the slots times each query's share: a
    sort larger than that spills to disk and completes; what cannot spill fails with a
    503 that names the limit and what to do. Files an earlier run left in the folders of
    Parquet answers and spilled data are gone at start."""
    import subprocess
    from conftest import TARN
    r = subprocess.run([TARN, "serve", "--data", str(tmp_path / "x"), "--query-memory", "512"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "512MB or 2GB" in r.stderr
    data = tmp_path / "data"
    for folder in ("sql", "duckdb"):
        (data / "tmp" / folder).mkdir(parents=True)
        (data / "tmp" / folder / "left-over").write_bytes(b"x")
    s = Server(data, extra_args=["--query-memory", "32MB", "--query-slots", "2"]).start()
    try:
        assert answer_files(s) == [] and os.listdir(data / "tmp" / "duckdb") == []
        # One list of 50 million numbers must be whole in memory: it cannot spill.
        big = "SELECT max(len(l)) FROM (SELECT list(range) AS l FROM range(50000000))"
        for fmt in ("json", "csv", "parquet"):
            status, body = rest(s, "POST", "/v1/sql", {"sql": big, "format": fmt})
            assert status == 503, body
            err = body["error"]
            assert err["code"] == "QueryOutOfMemory"
            assert "the 2 query slots share 61.0 MiB (30.5 MiB each" in err["message"], err
            assert "--query-memory" in err["message"] and "LIMIT" in err["message"]
        q = queries(s)[0]
        assert q["state"] == "failed" and "ran out of memory" in q["error"]
        # PostgreSQL clients share the budget; theirs is SQLSTATE 53200.
        import psycopg2
        with psycopg2.connect(**s.pg_params()) as c, c.cursor() as cur:
            try:
                cur.execute(big)
                raise AssertionError("the query should have run out of memory")
            except psycopg2.Error as e:
                assert e.pgcode == "53200" and "Out of Memory" in str(e), e
        # A sort of several times the limit spills to disk and completes.
        status, data_, _ = parquet(s, "SELECT range AS x, random() AS r FROM range(6000000) "
                                      "ORDER BY r")
        assert status == 200 and data_[:4] == b"PAR1" and len(data_) > 30_000_000
        status, body = sql(s, "SELECT count(*) FROM (SELECT range AS x, random() AS r "
                              "FROM range(5000000) ORDER BY r LIMIT 4000000)")
        assert status == 200 and body["rows"] == [[4000000]], body
        assert answer_files(s) == []
    finally:
        s.stop()


def test_cli_parquet_answer_to_a_file(server, tmp_path):
    """`tarn sql ... --format parquet > file` writes the answer's bytes; on a terminal it
    refuses, and a failing query leaves stdout empty and says why."""
    import shutil
    import subprocess
    from conftest import TARN
    q = "SELECT range AS n, range * 1.5 AS x, DATE '2024-01-01' + range::INTEGER AS d " \
        "FROM range(100000) ORDER BY n"
    out = tmp_path / "answer.parquet"
    with open(out, "wb") as f:
        r = subprocess.run([TARN, "sql", q, "--format", "parquet"], env=server.env(), stdout=f,
                           stderr=subprocess.PIPE, text=False, timeout=120)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    status, rest_data, _ = parquet(server, q)
    assert status == 200 and len(rest_data) == len(data)
    with open(out, "wb") as f:
        r = subprocess.run([TARN, "sql", "SELECT nope FROM range(1)", "--format", "parquet"],
                           env=server.env(), stdout=f, stderr=subprocess.PIPE, text=True,
                           timeout=120)
    assert r.returncode == 1 and "nope" in r.stderr and out.read_bytes() == b""
    r = server.tarn("sql", "--format", "parquet", check=False, input="SELECT 1;\n")
    assert r.returncode == 1 and "one query given on the command line" in r.stderr
    script = shutil.which("script")
    p = subprocess.run([script, "-qc", f"{TARN} sql 'SELECT 1' --format parquet", "/dev/null"],
                       env=server.env(), text=True, capture_output=True, timeout=60)
    assert "a Parquet answer is binary" in p.stdout.replace("\r", "")


def test_csv_is_read_with_the_dialect_and_formats_it_was_classified_with(server, s3):
    """Views tell the CSV reader the columns, types and date formats the catalog recorded
    (no sniffing at each query): a file without quoting keeps a lone '"' as data, a
    quoted file keeps its quotes' meaning, and a month-first date reads as a date."""
    db = unique("dialect")
    s3.put_object(Bucket="raw", Key=f"{db}/plain/a.csv",
                  Body=b'a,b,d\n1,5" screen,01/02/2024\n2,plain,12/31/2024\n')
    s3.put_object(Bucket="raw", Key=f"{db}/quoted/a.csv",
                  Body=b'a,b\n1,"x, y"\n2,"he said ""hi"""\n')
    ready(server, f"raw.{db}.plain", 1)
    ready(server, f"raw.{db}.quoted", 1)
    status, out = sql(server, f'SELECT a, b, CAST(d AS VARCHAR) FROM raw."{db}".plain ORDER BY a')
    assert status == 200, out
    rows = out["rows"]
    assert rows == [[1, '5" screen', "2024-01-02"], [2, "plain", "2024-12-31"]], rows
    status, out = sql(server, f'SELECT a, b FROM raw."{db}".quoted ORDER BY a')
    assert status == 200, out
    rows = out["rows"]
    assert rows == [[1, "x, y"], [2, 'he said "hi"']], rows
