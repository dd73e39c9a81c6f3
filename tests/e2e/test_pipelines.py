"""Pipelines as a data engineer meets them: CSV files landed with boto3 are promoted (a
broken one is quarantined with its reason), a pipeline with SQL and quality steps builds a
partitioned curated table whose results are exact through REST SQL and psycopg2, rows
failing a rule sit in quarantine with the rule's name; incremental runs add nothing the
second time; replay rebuilds the same results; compaction cuts the file count without
changing results; rollback restores earlier results; new data and cron schedules start
runs by themselves; kill -9 during a run neither loses nor duplicates rows; a pipeline
runs as its owner, checked at every run."""
import json
import time

import psycopg2
import pytest

from conftest import Server
from s3util import rest, unique, wait_for


def uid(prefix):
    """A unique name usable as a SQL identifier and a pipeline name."""
    return unique(prefix).replace("-", "_")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("pipes") / "data", promotion=True).start()
    yield s
    s.stop()


def sql(server, query, keys=None):
    status, out = rest(server, "POST", "/v1/sql", {"sql": query}, keys=keys)
    assert status == 200, out
    return out["rows"]


def apply(server, yaml, keys=None):
    status, out = rest(server, "POST", "/v1/pipelines", {"spec": yaml}, keys=keys)
    assert status in (200, 201), out
    return out


def start(server, name, replay=False, keys=None):
    status, out = rest(server, "POST", f"/v1/pipelines/{name}/runs", {"replay": replay}, keys=keys)
    assert status == 202, out
    return out["id"]


def wait_run(server, name, run_id, timeout=120):
    def ended():
        status, out = rest(server, "GET", f"/v1/pipelines/{name}/runs/{run_id}")
        assert status == 200, out
        return out if out["status"] in ("succeeded", "failed", "cancelled") else None
    return wait_for(ended, timeout=timeout, interval=0.2)


def run_ok(server, name, replay=False):
    run = wait_run(server, name, start(server, name, replay))
    assert run["status"] == "succeeded", run
    return run


def land(s3, key, data):
    s3.put_object(Bucket="raw", Key=key, Body=data)


def wait_cleaned(server, db, table, files):
    """Waits until cleaned.db.table has `files` registered files."""
    def done():
        status, out = rest(server, "GET", f"/v1/tables/cleaned/{db}/{table}")
        return status == 200 and out.get("files") == files
    wait_for(done, timeout=60)


def snapshots(server, table):
    z, d, t = table.split(".")
    status, out = rest(server, "GET", f"/v1/tables/{z}/{d}/{t}/snapshots")
    assert status == 200, out
    return out


def live_files(server, table):
    z, d, t = table.split(".")
    status, out = rest(server, "GET", f"/v1/tables/{z}/{d}/{t}/snapshots/{snapshots(server, table)['current']}")
    assert status == 200, out
    return [f["key"] for f in out["files"]]


ORDERS = (b"order_id,email,status,amount,discount,ordered_at\n"
          b"1,Ann@Example.com,open,10.50,0.5,2024-01-01 10:00:00\n"
          b"2,bob@example.com,shipped,20.00,0,2024-01-01 11:00:00\n"
          b"3,cid@example.com,lost,5.00,0,2024-01-02 09:00:00\n"
          b"4,dee@example.com,open,-3.00,-5,2024-01-02 12:00:00\n"
          b"5,not-an-email,shipped,7.25,1,2024-01-03 08:30:00\n"
          b"6,fay@example.com,open,1.00,0,2024-01-03 09:45:00\n")


def spec_orders(db, name):
    return f"""
name: {name}
description: Orders by day, checked.
steps:
  - name: clean
    sql: |
      SELECT order_id, lower(email) AS email, status, amount, discount,
             CAST(ordered_at AS DATE) AS order_date
      FROM cleaned.{db}.orders
    target: {{table: curated.{db}.orders, mode: append, partition_by: [order_date],
             sort_by: [order_id]}}
  - name: check
    quality:
      input: clean
      rules:
        - {{accepted_values: {{column: status, values: [open, shipped]}}, on_error: quarantine}}
        - {{range: {{column: amount, min: 0}}, on_error: quarantine, name: amount_not_negative}}
        - {{not_null: [order_id]}}
        - {{unique: [order_id]}}
        - {{row_count: {{min: 1, max: 1000}}}}
        - {{regex: {{column: email, pattern: '^[^@]+@[^@]+$'}}, severity: warn}}
        - {{sql: "amount >= discount", name: amount_covers_discount}}
"""


def test_quality_and_sql_steps_build_a_partitioned_curated_table(lake):
    s3 = lake.s3()
    db = uid("shop")
    land(s3, f"{db}/orders/2024-01.csv", ORDERS)
    wait_cleaned(lake, db, "orders", 1)
    # A broken file: its third row has more fields than the header.
    good = b"".join(b"%d,x@y.z,open,1,0,2024-01-01 00:00:00\n" % i for i in range(7, 12))
    land(s3, f"{db}/orders/broken.csv", b"order_id,email,status,amount,discount,ordered_at\n" +
         good + b"12,x@y.z,open,1,0,2024-01-01 00:00:00,extra\n")
    wait_for(lambda: any(o["Key"] == f"{db}/orders/broken.csv.reason.json" for o in
                         s3.list_objects_v2(Bucket="quarantine", Prefix=db).get("Contents", [])),
             timeout=60)
    reason = json.loads(s3.get_object(Bucket="quarantine",
                                      Key=f"{db}/orders/broken.csv.reason.json")["Body"].read())
    assert reason["check"] in ("parse", "schema") and reason["detail"], reason

    name = uid("orders")
    applied = apply(lake, spec_orders(db, name))
    assert applied["version"] == 1 and applied["created"], applied
    run = run_ok(lake, name)
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["clean"]["rows_out"] == 4 and steps["check"]["quarantined"] == 2, steps
    rules = {r["name"]: r for r in steps["check"]["rules"]}
    assert rules["accepted_values_status"]["outcome"] == "quarantined"
    assert rules["amount_not_negative"]["failed_rows"] == 1
    assert rules["regex_email"]["outcome"] == "warned"
    assert rules["amount_covers_discount"]["outcome"] == "passed"
    assert run["outputs"][0]["table"] == f"curated.{db}.orders"

    # Exact results through REST SQL and the PostgreSQL protocol.
    expect = [["2024-01-01", 2, "30.50"], ["2024-01-03", 2, "8.25"]]
    rows = sql(lake, f"SELECT CAST(order_date AS VARCHAR), count(*), CAST(sum(amount) AS VARCHAR)"
                     f" FROM {db}.orders GROUP BY 1 ORDER BY 1")
    assert [[r[0], r[1], r[2]] for r in rows] == [[e[0], e[1], e[2]] for e in expect] or \
        [[r[0], r[1], float(r[2])] for r in rows] == [[e[0], e[1], float(e[2])] for e in expect]
    with psycopg2.connect(**lake.pg_params()) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT order_id, email FROM {db}.orders ORDER BY order_id")
        assert cur.fetchall() == [(1, "ann@example.com"), (2, "bob@example.com"),
                                  (5, "not-an-email"), (6, "fay@example.com")]
    # Hive partitions in the curated zone, zstd Parquet.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="curated", Prefix=f"{db}/orders/")["Contents"]]
    assert sorted({k.split("/")[2] for k in keys}) == ["order_date=2024-01-01", "order_date=2024-01-03"]
    assert all(k.endswith(".parquet") for k in keys)

    # The failing rows sit in quarantine with the rules' names.
    qkey = f"_pipelines/{name}/run-{run['id']}/check.jsonl"
    lines = [json.loads(l) for l in s3.get_object(Bucket="quarantine", Key=qkey)["Body"].read().splitlines()]
    assert sorted((r["order_id"], r["_rule"]) for r in lines) == [
        (3, "accepted_values_status"), (4, "amount_not_negative")]

    # The snapshot's lineage names the pipeline, its version and the input files.
    snap = snapshots(lake, f"curated.{db}.orders")["snapshots"][-1]
    assert snap["operation"] == "append"
    lin = snap["summary"]
    assert lin["pipeline"] == name and lin["version"] == 1 and lin["run"] == run["id"]
    assert lin["inputs"] == [{"table": f"cleaned.{db}.orders", "snapshot": lin["inputs"][0]["snapshot"],
                              "files": [f"{db}/orders/2024-01.csv"]}]

    # The CLI shows the pipeline and its runs.
    out = lake.tarn("pipeline", "runs", name).stdout
    assert "succeeded" in out and str(run["id"]) in out
    logs = lake.tarn("pipeline", "logs", name).stdout
    assert "committed" in logs


def test_a_failing_error_rule_fails_the_run_and_commits_nothing(lake):
    s3 = lake.s3()
    db = uid("fail")
    # Other bytes than the first test's file, which promotion would refuse as a duplicate.
    land(s3, f"{db}/orders/a.csv", ORDERS.replace(b"fay", db.encode()))
    wait_cleaned(lake, db, "orders", 1)
    name = uid("strict")
    apply(lake, f"""
name: {name}
retries: {{max_attempts: 2, backoff_seconds: 1}}
steps:
  - name: clean
    sql: SELECT order_id, status FROM cleaned.{db}.orders
    target: {{table: curated.{db}.strict, mode: overwrite}}
  - name: check
    quality:
      input: clean
      rules:
        - {{accepted_values: {{column: status, values: [open]}}}}
""")
    run = wait_run(lake, name, start(lake, name))
    assert run["status"] == "failed" and run["attempt"] == 2, run  # retried once, then failed
    assert "accepted_values_status" in run["error"], run
    logs = rest(lake, "GET", f"/v1/pipelines/{name}/runs/{run['id']}/logs")[1]["logs"]
    assert any("retrying" in l["message"] for l in logs), logs
    status, out = rest(lake, "GET", f"/v1/tables/curated/{db}/strict")
    assert status == 404, out


def events_spec(db, name, extra=""):
    return f"""
name: {name}
incremental: true
{extra}
steps:
  - name: load
    sql: SELECT id, kind, CAST(value AS DOUBLE) AS value FROM cleaned.{db}.events
    target: {{table: curated.{db}.events, mode: append, partition_by: [kind]}}
"""


def test_incremental_runs_add_nothing_twice_and_replay_rebuilds_the_same(lake):
    s3 = lake.s3()
    db = uid("inc")
    land(s3, f"{db}/events/1.csv", b"id,kind,value\n1,a,1.5\n2,b,2.5\n")
    wait_cleaned(lake, db, "events", 1)
    name = uid("events")
    apply(lake, events_spec(db, name))
    q = f"SELECT kind, count(*), sum(value) FROM {db}.events GROUP BY kind ORDER BY kind"
    run_ok(lake, name)
    first = sql(lake, q)
    assert first == [["a", 1, 1.5], ["b", 1, 2.5]]
    again = run_ok(lake, name)
    assert again["steps"][0]["rows_out"] == 0
    assert sql(lake, q) == first
    land(s3, f"{db}/events/2.csv", b"id,kind,value\n3,a,4\n")
    wait_cleaned(lake, db, "events", 2)
    third = run_ok(lake, name)
    assert third["steps"][0]["rows_out"] == 1
    built = sql(lake, q)
    assert built == [["a", 2, 5.5], ["b", 1, 2.5]]
    show = rest(lake, "GET", f"/v1/pipelines/{name}")[1]
    assert show["bookmarks"] == [{"table": f"cleaned.{db}.events", "files": 2}]

    replay = run_ok(lake, name, replay=True)
    assert replay["replay"] and replay["outputs"][0]["operation"] == "replay"
    assert sql(lake, q) == built
    assert snapshots(lake, f"curated.{db}.events")["snapshots"][-1]["operation"] == "replay"
    # After the replay, the bookmarks hold everything: the next run adds nothing.
    assert run_ok(lake, name)["steps"][0]["rows_out"] == 0
    assert sql(lake, q) == built


def test_compaction_reduces_files_and_rollback_restores_results(lake):
    s3 = lake.s3()
    db = uid("cmp")
    name = uid("small")
    apply(lake, events_spec(db, name))
    q = f"SELECT kind, count(*), sum(value), min(id), max(id) FROM {db}.events GROUP BY kind ORDER BY kind"
    results = []
    for i in range(4):
        land(s3, f"{db}/events/{i}.csv", f"id,kind,value\n{i},a,{i}.5\n{i + 10},b,1\n".encode())
        wait_cleaned(lake, db, "events", i + 1)
        run_ok(lake, name)
        results.append(sql(lake, q))
    before = live_files(lake, f"curated.{db}.events")
    assert len(before) == 8  # two partitions, one file each per run
    out = json.loads(lake.tarn("table", "compact", f"curated.{db}.events", "--json").stdout)
    assert out["files_before"] == 8 and out["files_after"] == 2, out
    assert len(live_files(lake, f"curated.{db}.events")) == 2
    assert sql(lake, q) == results[-1]
    assert snapshots(lake, f"curated.{db}.events")["snapshots"][-1]["operation"] == "compact"

    # Roll back to the snapshot of the second run: its results come back.
    snaps = snapshots(lake, f"curated.{db}.events")["snapshots"]
    second = [s for s in snaps if s["operation"] == "append"][1]["snapshot"]
    lake.tarn("table", "rollback", f"curated.{db}.events", "--to", str(second))
    assert sql(lake, q) == results[1]
    assert snapshots(lake, f"curated.{db}.events")["snapshots"][-1]["operation"] == "rollback"


def test_new_data_and_cron_start_runs_by_themselves(lake):
    s3 = lake.s3()
    db = uid("trg")
    land(s3, f"{db}/events/0.csv", b"id,kind,value\n0,a,1\n")
    wait_cleaned(lake, db, "events", 1)
    ev = uid("on_data")
    apply(lake, events_spec(db, ev, f"trigger: {{on_new_data: [cleaned.{db}.events], batch_window_seconds: 2}}"))
    # Existing data counts as new once the pipeline exists.
    wait_for(lambda: rest(lake, "GET", f"/v1/pipelines/{ev}/runs")[1]["runs"], timeout=30)
    runs = rest(lake, "GET", f"/v1/pipelines/{ev}/runs")[1]["runs"]
    wait_run(lake, ev, runs[0]["id"])
    # Three files landing together make one run.
    for i in range(1, 4):
        land(s3, f"{db}/events/{i}.csv", f"id,kind,value\n{i},b,{i}\n".encode())
    wait_cleaned(lake, db, "events", 4)

    def two_runs_done():
        rs = rest(lake, "GET", f"/v1/pipelines/{ev}/runs")[1]["runs"]
        return rs if len(rs) >= 2 and rs[0]["status"] == "succeeded" else None
    rs = wait_for(two_runs_done, timeout=60)
    time.sleep(3)
    rs = rest(lake, "GET", f"/v1/pipelines/{ev}/runs")[1]["runs"]
    assert [r["trigger"] for r in rs] == ["new_data", "new_data"], rs
    assert sql(lake, f"SELECT count(*) FROM {db}.events") == [[4]]

    cron = uid("every_minute")
    apply(lake, f"""
name: {cron}
trigger: {{schedule: "* * * * *"}}
steps:
  - name: snap
    sql: SELECT count(*) AS n FROM cleaned.{db}.events
    target: {{table: curated.{db}.counts, mode: overwrite}}
""")
    run = wait_for(lambda: rest(lake, "GET", f"/v1/pipelines/{cron}/runs")[1]["runs"], timeout=75)[0]
    assert run["trigger"] == "schedule"
    assert wait_run(lake, cron, run["id"])["status"] == "succeeded"
    assert sql(lake, f"SELECT n FROM {db}.counts") == [[4]]


def test_kill9_during_a_run_completes_once_without_duplicates(tmp_path):
    s = Server(tmp_path / "data", promotion=True).start()
    try:
        s3 = s.s3()
        db = uid("k9")
        rows = "\n".join(f"{i},{'k%d' % (i % 400)},{i}" for i in range(200000))
        land(s3, f"{db}/big/all.csv", ("id,kind,value\n" + rows + "\n").encode())
        wait_cleaned(s, db, "big", 1)
        name = uid("heavy")
        apply(s, f"""
name: {name}
steps:
  - name: spread
    sql: SELECT a.id, a.kind, a.value + b.value AS value FROM cleaned.{db}.big a JOIN cleaned.{db}.big b ON a.id = b.id
    target: {{table: curated.{db}.big, mode: append, partition_by: [kind]}}
""")
        run_id = start(s, name)
        wait_for(lambda: rest(s, "GET", f"/v1/pipelines/{name}/runs/{run_id}")[1]["status"] == "running",
                 timeout=30, interval=0.05)
        time.sleep(0.3)
        s.kill9()
        s.start()
        run = wait_run(s, name, run_id, timeout=180)
        assert run["status"] == "succeeded", run
        assert sql(s, f"SELECT count(*), count(DISTINCT id) FROM {db}.big") == [[200000, 200000]]
        # Nothing staged by the killed attempt is left in the table's folder.
        listed = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="curated", Prefix=f"{db}/big/"):
            listed += [o["Key"] for o in page.get("Contents", [])]
        assert sorted(listed) == sorted(live_files(s, f"curated.{db}.big"))
    finally:
        s.stop()


def test_pipelines_run_as_their_owner_checked_at_every_run(lake):
    s3 = lake.s3()
    db = uid("own")
    land(s3, f"{db}/events/0.csv", f"id,kind,value\n0,{db},1\n".encode())
    wait_cleaned(lake, db, "events", 1)
    user = uid("alice")
    lake.tarn("user", "create", user, "--password", "Pw-" + user + "-123456")
    k = json.loads(lake.tarn("key", "create", user, "--json").stdout)
    alice = (k["access_key"], k["secret_key"])
    other = uid("bob")
    lake.tarn("user", "create", other, "--password", "Pw-" + other + "-123456")
    k = json.loads(lake.tarn("key", "create", other, "--json").stdout)
    bob = (k["access_key"], k["secret_key"])
    lake.tarn("grant", "SELECT", "ON", "TABLE", f"cleaned.{db}.events", "TO", f"user:{user}")
    name = uid("owned")
    spec = f"""
name: {name}
owner: {user}
steps:
  - name: load
    sql: SELECT id, kind FROM cleaned.{db}.events
    target: {{table: curated.{db}.owned, mode: overwrite}}
"""
    apply(lake, spec)
    denied = wait_run(lake, name, start(lake, name))
    assert denied["status"] == "failed"
    assert f"may not write curated.{db}.owned" in denied["error"], denied
    lake.tarn("grant", "CREATE_TABLE", "ON", "DATABASE", f"curated.{db}", "TO", f"user:{user}")
    lake.tarn("grant", "INSERT", "ON", "TABLE", f"curated.{db}.owned", "TO", f"user:{user}")
    # The owner starts a run; bob, who holds nothing, is refused, and sees no pipeline.
    status, out = rest(lake, "POST", f"/v1/pipelines/{name}/runs", {}, keys=bob)
    assert status == 403 and out["error"]["code"] == "AccessDenied", out
    assert rest(lake, "GET", "/v1/pipelines", keys=bob)[1]["pipelines"] == []
    assert [p["name"] for p in rest(lake, "GET", "/v1/pipelines", keys=alice)[1]["pipelines"]] == [name]
    status, out = rest(lake, "POST", f"/v1/pipelines/{name}/runs", {}, keys=alice)
    assert status == 202, out
    assert wait_run(lake, name, out["id"])["status"] == "succeeded"
    assert sql(lake, f"SELECT count(*) FROM {db}.owned") == [[1]]
    # Revoking the owner's read grant makes the next run fail, naming the table.
    lake.tarn("revoke", "SELECT", "ON", "TABLE", f"cleaned.{db}.events", "FROM", f"user:{user}")
    failed = wait_run(lake, name, start(lake, name))
    assert failed["status"] == "failed"
    assert f"cleaned.{db}.events" in failed["error"], failed
    assert sql(lake, f"SELECT count(*) FROM {db}.owned") == [[1]]


def test_cli_applies_shows_and_runs_pipelines(lake, tmp_path):
    """The example spec applies as written; the CLI lists, shows and runs pipelines."""
    import os
    from conftest import ROOT
    users = lake.tarn("user", "list", "--json").stdout
    if '"alice"' not in users:
        lake.tarn("user", "create", "alice", "--password", "Pw-alice-123456789")
    example = os.path.join(ROOT, "examples", "pipelines", "daily_sales.yaml")
    out = lake.tarn("pipeline", "apply", example).stdout
    assert "Applied pipeline daily_sales version 1" in out, out
    assert "unchanged" in lake.tarn("pipeline", "apply", example).stdout
    shown = lake.tarn("pipeline", "show", "daily_sales").stdout
    assert "clean_orders" in shown and "check_orders" in shown and "alice" in shown, shown
    listed = json.loads(lake.tarn("pipeline", "list", "--json").stdout)["pipelines"]
    daily = [p for p in listed if p["name"] == "daily_sales"][0]
    assert daily["triggers"]["schedule"] == "0 3 * * *" and daily["next_run"].endswith("03:00:00.000Z")

    s3 = lake.s3()
    db = uid("cli")
    land(s3, f"{db}/t/a.csv", f"id,name\n1,{db}\n2,x\n".encode())
    wait_cleaned(lake, db, "t", 1)
    spec = tmp_path / "copy.yaml"
    spec.write_text(f"name: {db}\nsteps:\n  - name: copy\n    sql: SELECT * FROM cleaned.{db}.t\n"
                    f"    target: {{table: curated.{db}.t, mode: overwrite}}\n")
    lake.tarn("pipeline", "apply", str(spec))
    done = lake.tarn("pipeline", "run", db, "--wait")
    assert done.returncode == 0 and "succeeded" in done.stdout, done.stdout + done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps:\n  - name: a\n    sql: SELECT 1\n    target: {table: cleaned.d.t}\n")
    r = lake.tarn("pipeline", "apply", str(bad), check=False)
    assert r.returncode != 0 and "steps[0].target.table: must be in the curated zone" in r.stderr, r.stderr
    snaps = lake.tarn("table", "snapshots", f"curated.{db}.t").stdout
    assert f"{db}@1" in snaps, snaps


def test_a_run_past_its_timeout_is_stopped(lake):
    s3 = lake.s3()
    db = uid("slow")
    land(s3, f"{db}/n/a.csv", ("n\n" + "\n".join(str(i) for i in range(60000)) + "\n").encode())
    wait_cleaned(lake, db, "n", 1)
    name = uid("slow")
    apply(lake, f"""
name: {name}
timeout_seconds: 1
steps:
  - name: pairs
    sql: SELECT count(*) AS c FROM cleaned.{db}.n a, cleaned.{db}.n b, cleaned.{db}.n c WHERE a.n + b.n + c.n = -1
    target: {{table: curated.{db}.pairs, mode: overwrite}}
""")
    started = time.time()
    run = wait_run(lake, name, start(lake, name), timeout=60)
    assert run["status"] == "failed" and "timed out after 1 seconds" in run["error"], run
    assert time.time() - started < 30


def test_automatic_compaction_after_a_commit(tmp_path):
    s = Server(tmp_path / "data", promotion=True, extra_args=["--compact-min-files", "3"]).start()
    try:
        s3 = s.s3()
        db = uid("auto")
        name = uid("auto")
        apply(s, f"""
name: {name}
incremental: true
steps:
  - name: load
    sql: SELECT id, value FROM cleaned.{db}.events
    target: {{table: curated.{db}.events, mode: append}}
""")
        for i in range(4):
            land(s3, f"{db}/events/{i}.csv", f"id,value\n{i},{i * 10}\n".encode())
            wait_cleaned(s, db, "events", i + 1)
            run_ok(s, name)
        # The fourth small file went over the threshold: one compacted file remains.
        assert len(live_files(s, f"curated.{db}.events")) == 1
        ops = [x["operation"] for x in snapshots(s, f"curated.{db}.events")["snapshots"]]
        assert ops == ["append", "append", "append", "append", "compact"], ops
        assert sql(s, f"SELECT count(*), sum(value) FROM {db}.events") == [[4, 60]]
    finally:
        s.stop()


def test_data_a_run_has_read_does_not_trigger_another(lake):
    s3 = lake.s3()
    db = uid("seen")
    land(s3, f"{db}/events/0.csv", f"id,kind,value\n0,{db},1\n".encode())
    wait_cleaned(lake, db, "events", 1)
    name = uid("seen")
    apply(lake, events_spec(db, name, f"trigger: {{on_new_data: [cleaned.{db}.events], batch_window_seconds: 3}}"))
    run_ok(lake, name)
    time.sleep(5)
    runs = rest(lake, "GET", f"/v1/pipelines/{name}/runs")[1]["runs"]
    assert [r["trigger"] for r in runs] == ["manual"], runs
    land(s3, f"{db}/events/1.csv", f"id,kind,value\n1,{db},2\n".encode())
    rs = wait_for(lambda: (lambda rs: rs if len(rs) == 2 and rs[0]["status"] == "succeeded" else None)(
        rest(lake, "GET", f"/v1/pipelines/{name}/runs")[1]["runs"]), timeout=30)
    assert rs[0]["trigger"] == "new_data"
    assert sql(lake, f"SELECT count(*) FROM {db}.events") == [[2]]


def test_partitioned_output_is_cut_to_the_target_file_size(lake):
    db = uid("sized")
    name = uid("sized")
    apply(lake, f"""
name: {name}
steps:
  - name: hashes
    sql: SELECT i % 2 AS half, i, md5(CAST(i AS VARCHAR)) AS h FROM range(1200000) AS t(i)
    target: {{table: curated.{db}.hashes, mode: overwrite, partition_by: [half], file_size_mb: 1}}
""")
    run = run_ok(lake, name)
    keys = live_files(lake, f"curated.{db}.hashes")
    assert len(keys) > 4 and {k.split("/")[2] for k in keys} == {"half=0", "half=1"}, keys
    sizes = [o["Size"] for o in lake.s3().list_objects_v2(Bucket="curated", Prefix=f"{db}/hashes/")["Contents"]]
    assert max(sizes) < 8 * 1024 * 1024, sizes  # a row group (122,880 rows) at most
    assert run["outputs"][0]["rows"] == 1200000
    assert sql(lake, f"SELECT count(*), count(DISTINCT h), sum(half) FROM {db}.hashes") == [[1200000, 1200000, 600000]]


def test_merge_upserts_on_keys_and_overwrite_partitions_replaces_only_its_own(lake):
    s3 = lake.s3()
    db = uid("upsert")
    land(s3, f"{db}/events/1.csv", f"id,kind,value\n1,a,10\n2,b,20\n9,{db},0\n".encode())
    wait_cleaned(lake, db, "events", 1)
    merge, parts = uid("merge"), uid("parts")
    apply(lake, f"""
name: {merge}
incremental: true
steps:
  - name: m
    sql: SELECT id, kind, CAST(value AS BIGINT) AS value FROM cleaned.{db}.events
    target: {{table: curated.{db}.merged, mode: merge, keys: [id], partition_by: [kind]}}
""")
    apply(lake, f"""
name: {parts}
incremental: true
steps:
  - name: p
    sql: SELECT id, kind, CAST(value AS BIGINT) AS value FROM cleaned.{db}.events
    target: {{table: curated.{db}.parts, mode: overwrite_partitions, partition_by: [kind]}}
""")
    run_ok(lake, merge)
    run_ok(lake, parts)
    land(s3, f"{db}/events/2.csv", b"id,kind,value\n2,b,21\n3,b,30\n")
    wait_cleaned(lake, db, "events", 2)
    assert run_ok(lake, merge)["outputs"][0]["operation"] == "merge"
    assert sql(lake, f"SELECT id, kind, value FROM {db}.merged ORDER BY id") == [
        [1, "a", 10], [2, "b", 21], [3, "b", 30], [9, db, 0]]
    run_ok(lake, parts)
    # Partition b holds only the second run's rows; a and the third kind are untouched.
    assert sql(lake, f"SELECT id, kind, value FROM {db}.parts ORDER BY id") == [
        [1, "a", 10], [2, "b", 21], [3, "b", 30], [9, db, 0]]
