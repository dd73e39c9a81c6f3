"""The PostgreSQL source against a real PostgreSQL 15 (started here with initdb, logical
WAL and SCRAM passwords): a snapshot of a 20,000-row table and of one with many common
types appears as catalog tables in raw and then cleaned; a mixed workload of inserts,
updates and deletes in transactions of varied size, with tarn killed (-9) while it
streams, is in the change files exactly once (no _source_pos twice, as many changes as
the workload made, the latest change per key equal to the source table); bad inputs are
refused at create with the fix and leave nothing behind; the CLI answers with --json."""
import json
import os
import random
import subprocess
import time

import pytest

from conftest import Server
from pgserver import PgServer
from s3util import rest, wait_for
from sourceutil import create, merged, promoted, sql, status

REPL_PW = "repl-pw-1"


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    s = PgServer(tmp_path_factory.mktemp("pg"))
    try:
        setup_shop(s)
    except Exception:
        s.stop()
        raise
    yield s
    s.stop()


def setup_shop(s):
    s.sql("CREATE DATABASE shop")
    s.sql(f"CREATE ROLE repl LOGIN REPLICATION PASSWORD '{REPL_PW}'", "shop")
    s.sql("CREATE ROLE norepl LOGIN PASSWORD 'norepl-pw'", "shop")
    s.sql("GRANT CREATE ON DATABASE shop TO repl", "shop")
    s.sql("CREATE TABLE big(id bigint PRIMARY KEY, v integer NOT NULL, s text)", "shop")
    s.sql("INSERT INTO big SELECT g, g % 1000, 'row ' || g FROM generate_series(1, 20000) g",
          "shop")
    s.sql("""CREATE TABLE kinds(id int PRIMARY KEY, n numeric(20,4), nu numeric,
             t timestamptz, j json, jb jsonb, arr int[], u uuid, b bytea, f float8, ok bool,
             d date, tx text)""", "shop")
    s.sql("""INSERT INTO kinds VALUES
             (1, 123.4567, 12345678901234567890.5, '2024-01-02 03:04:05.123+02', '{"a": [1, 2]}',
              '{"b": {"c": null}}', '{1,2,3}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
              '\\x00ff10', 1.5, true, '2024-02-29', E'tab\\tquote"back\\\\slash'),
             (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
          "shop")
    s.sql("CREATE TABLE nokey(a int, b text)", "shop")
    for t in ("big", "kinds", "nokey"):
        s.sql(f"ALTER TABLE {t} OWNER TO repl", "shop")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("srclake") / "data", promotion=True,
               extra_env={"SHOP_PW": REPL_PW}).start()
    yield s
    if s.proc.poll() is None:
        s.stop()


def config(pg, **over):
    c = {"type": "postgres",
         "connection": {"host": "127.0.0.1", "port": pg.port, "database": "shop",
                        "user": "repl", "password_env": "SHOP_PW"},
         "tables": ["public.big", "public.kinds"], "mode": "cdc",
         "batch": {"max_time": "300ms"}}
    return merged(c, over)


def caught_up(lake, pg, name):
    """The slot has confirmed everything the server wrote, and the source streams."""
    lsn = pg.sql("SELECT pg_current_wal_lsn() <= confirmed_flush_lsn FROM pg_replication_slots"
                 f" WHERE slot_name = 'tarn_{name}'", "shop")
    st = status(lake, name)
    return lsn and lsn[0][0] and st["state"] == "streaming" and st


def test_snapshot_changes_exactly_once(pg, lake, tmp_path):
    out = json.loads(create(lake, tmp_path, "shop", config(pg)).stdout)
    assert out["name"] == "shop" and out["type"] == "postgres" and out["created"]
    wait_for(lambda: status(lake, "shop")["state"] == "streaming", timeout=60)
    st = status(lake, "shop")
    progress = {t["table"]: t for t in st["tables"]}
    assert progress["big"]["rows"] == 20000 and progress["big"]["done"]
    assert progress["kinds"]["rows"] == 2
    assert st["cursor"] and "password" not in json.dumps(st)
    # The snapshot appears as catalog tables in raw, then promotion moves it to cleaned.
    wait_for(lambda: promoted(lake, "shop", "big", 20000), timeout=90, interval=0.5)

    rnd = random.Random(14)
    conn = pg.connect("shop")
    cur = conn.cursor()
    changes = 0
    next_id = 20001

    def workload(txns):
        nonlocal changes, next_id
        for _ in range(txns):
            cur.execute("BEGIN")
            for _ in range(rnd.choice([1, 1, 2, 5, 20, 100])):
                k = rnd.random()
                if k < 0.4:
                    cur.execute("INSERT INTO big VALUES (%s, %s, %s)",
                                (next_id, rnd.randrange(1000), f"new {next_id}"))
                    next_id += 1
                elif k < 0.8:
                    lo = rnd.randrange(1, next_id)
                    cur.execute("UPDATE big SET v = v + 1, s = s || '+' WHERE id BETWEEN %s AND %s",
                                (lo, lo + rnd.randrange(3)))
                else:
                    lo = rnd.randrange(1, next_id)
                    cur.execute("DELETE FROM big WHERE id BETWEEN %s AND %s",
                                (lo, lo + rnd.randrange(2)))
                changes += cur.rowcount
            cur.execute("COMMIT")

    workload(60)
    # kill -9 while it streams: the workload goes on, and after the restart every change
    # is delivered once.
    wait_for(lambda: status(lake, "shop")["rows"] > 20002, timeout=30)
    lake.kill9()
    workload(60)
    lake.start()
    workload(60)
    cur.execute("UPDATE kinds SET jb = '[1, 2]', b = '\\xdead' WHERE id = 2")
    changes += 1
    wait_for(lambda: caught_up(lake, pg, "shop"), timeout=90, interval=0.5)

    n = pg.sql("SELECT count(*) FROM big", "shop")[0][0]
    wait_for(lambda: sql(lake, "SELECT count(*) FROM cleaned.shop.big WHERE _op <> 'r'")[0][0]
             + sql(lake, "SELECT count(*) FROM cleaned.shop.kinds WHERE _op <> 'r'")[0][0]
             == changes, timeout=90, interval=0.5)
    for t in ("big", "kinds"):
        dup = sql(lake, f"SELECT count(*) FROM (SELECT _source_pos FROM cleaned.shop.{t}"
                        " GROUP BY _source_pos HAVING count(*) > 1)")[0][0]
        assert dup == 0, t
    latest = sql(lake, "SELECT id, v, s FROM (SELECT *, row_number() OVER (PARTITION BY id"
                       " ORDER BY _source_pos DESC) AS rn FROM cleaned.shop.big) WHERE rn = 1"
                       " AND _op <> 'd' ORDER BY id")
    source = pg.sql("SELECT id, v, s FROM big ORDER BY id", "shop")
    assert len(latest) == n
    assert [tuple(r) for r in latest] == [tuple(r) for r in source]
    ops = dict(sql(lake, "SELECT _op, count(*) FROM cleaned.shop.big GROUP BY _op"))
    assert ops["r"] == 20000 and ops["c"] == next_id - 20001
    # The slot keeps nothing the lake holds: its confirmed position follows the log.
    m = lake.tarn("sql", "SELECT 1").returncode
    assert m == 0


def test_types(pg, lake):
    rows = sql(lake, "SELECT id, n::VARCHAR, nu, t::VARCHAR, j::VARCHAR, jb::VARCHAR, arr,"
                     " u::VARCHAR, hex(b), f, ok, d::VARCHAR, tx FROM cleaned.shop.kinds"
                     " WHERE _op = 'r' ORDER BY id")
    assert rows[0] == [1, "123.4567", "12345678901234567890.5", "2024-01-02 01:04:05.123+00",
                       '{"a":[1,2]}', '{"b":{"c":null}}', "{1,2,3}",
                       "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00FF10", 1.5, True,
                       "2024-02-29", 'tab\tquote"back\\slash']
    assert rows[1] == [2] + [None] * 12
    upd = sql(lake, "SELECT jb::VARCHAR, hex(b), _txid IS NOT NULL FROM cleaned.shop.kinds"
                    " WHERE _op = 'u'")
    assert upd == [["[1,2]", "DEAD", True]]


def test_status_metrics_and_cli(lake):
    listed = json.loads(lake.tarn("source", "list", "--json").stdout)["sources"]
    shop = [s for s in listed if s["name"] == "shop"][0]
    assert shop["type"] == "postgres" and shop["mode"] == "cdc" and shop["state"] == "streaming"
    shown = json.loads(lake.tarn("source", "show", "shop", "--json").stdout)
    assert shown["config"]["connection"]["password_env"] == "SHOP_PW"
    assert shown["config"]["target"] == {"zone": "raw"}
    runs = json.loads(lake.tarn("source", "runs", "shop", "--json").stdout)["runs"]
    assert runs[-1]["trigger"] == "create" and runs[-1]["status"] == "succeeded"
    run = json.loads(lake.tarn("source", "run", "shop", "--wait", "--json").stdout)
    assert run["status"] == "succeeded"
    status_, text = rest(lake, "GET", "/metrics", text=True)[:2]
    assert status_ == 200
    assert 'tarn_source_state{source="shop",state="streaming"} 1' in text
    assert 'tarn_source_rows_total{source="shop"}' in text
    assert "tarn_source_lag_seconds" in text
    helped = lake.tarn("help", "source").stdout
    assert "password_env" in helped and "Plugin postgres" in helped
    paused = json.loads(lake.tarn("source", "pause", "shop", "--json").stdout)
    assert paused["state"] == "paused"
    resumed = json.loads(lake.tarn("source", "resume", "shop", "--json").stdout)
    assert resumed["paused"] is False
    wait_for(lambda: status(lake, "shop")["state"] == "streaming", timeout=30)


def test_password_is_sealed(pg, lake, tmp_path):
    cfg = config(pg, tables=["public.kinds"], mode="snapshot", format="jsonl",
                 target={"database": "sealed"})
    cfg["connection"] = {**cfg["connection"], "password": REPL_PW}
    del cfg["connection"]["password_env"]
    create(lake, tmp_path, "sealed", cfg)
    run = json.loads(lake.tarn("source", "run", "sealed", "--wait", "--json").stdout)
    assert run["status"] == "succeeded", run
    shown = lake.tarn("source", "show", "sealed", "--json").stdout
    assert REPL_PW not in shown and "(sealed)" in shown
    with open(lake.log_path) as f:
        assert REPL_PW not in f.read()
    with open(os.path.join(lake.data, "tarn.db"), "rb") as f:
        assert REPL_PW.encode() not in f.read()
    lake.tarn("source", "delete", "sealed")


@pytest.mark.parametrize("case", ["password", "unreachable", "privilege", "nokey", "missing",
                                  "unknown_key", "wrong_type"])
def test_bad_input_refused(pg, lake, tmp_path, case):
    cfg = config(pg)
    want = {
        "password": "refused the password",
        "unreachable": "cannot reach PostgreSQL",
        "privilege": "lacks the REPLICATION privilege",
        "nokey": "REPLICA IDENTITY FULL",
        "missing": "does not exist",
        "unknown_key": "valid keys",
        "wrong_type": "connection.port must be an integer",
    }[case]
    if case == "password":
        cfg["connection"] = {**cfg["connection"], "password": "wrong"}
        del cfg["connection"]["password_env"]
    elif case == "unreachable":
        cfg["connection"] = {**cfg["connection"], "port": 1, "connect_timeout": "2s"}
    elif case == "privilege":
        cfg["connection"] = {**cfg["connection"], "user": "norepl", "password": "norepl-pw"}
        del cfg["connection"]["password_env"]
    elif case == "nokey":
        cfg["tables"] = ["public.nokey"]
    elif case == "missing":
        cfg["tables"] = ["public.nothere"]
    elif case == "unknown_key":
        cfg["tabels"] = ["public.big"]
    elif case == "wrong_type":
        cfg["connection"] = {**cfg["connection"], "port": "five"}
    name = f"bad_{case}"
    p = create(lake, tmp_path, name, cfg, check=False)
    assert p.returncode != 0 and want in p.stderr, p.stderr
    assert name not in lake.tarn("source", "list", "--json").stdout
    slots = pg.sql(f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tarn_{name}'",
                   "shop")
    assert slots[0][0] == 0


def test_wal_level_not_logical(lake, tmp_path_factory, tmp_path):
    other = PgServer(tmp_path_factory.mktemp("pgrep"), wal_level="replica")
    try:
        other.sql(f"CREATE ROLE repl LOGIN REPLICATION PASSWORD '{REPL_PW}'")
        other.sql("CREATE DATABASE shop OWNER repl")
        cfg = config(other)
        p = create(lake, tmp_path, "replica_only", cfg, check=False)
        assert p.returncode != 0 and "wal_level = logical" in p.stderr, p.stderr
    finally:
        other.stop()


def test_delete_drops_the_slot(pg, lake, tmp_path):
    assert pg.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tarn_shop'",
                  "shop")[0][0] == 1
    out = json.loads(lake.tarn("source", "delete", "shop", "--json").stdout)
    assert out["deleted"] and "warning" not in out
    assert pg.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tarn_shop'",
                  "shop")[0][0] == 0
    p = lake.tarn("source", "status", "shop", check=False)
    assert p.returncode != 0 and "no source is named 'shop'" in p.stderr
    # The files stay.
    assert sql(lake, "SELECT count(*) > 0 FROM cleaned.shop.big")[0][0]
