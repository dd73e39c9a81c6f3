"""The scheduled modes of the database sources against a real PostgreSQL 15 and a real
MariaDB 10.11 (the servers the other source tests start): mode incremental reads only the
rows whose watermark column grew, a run with no changes adds nothing, and kill -9 of tarn
between runs loses or doubles nothing (the watermark commits with the files); a schedule
fires runs by itself (a six-field cron with seconds, so the test takes seconds, not
minutes); mode snapshot with a blueprint keeps the curated table equal to the source
after deletes; a schedule on a cdc source, an unknown watermark column and one of a type
with no order are refused at create."""
import json

import psycopg2
import pytest

from conftest import Server
from mariadbserver import MariaDbServer
from pgserver import PgServer
from s3util import rest, wait_for
from sourceutil import create, merged, sql, status

PG_PW = "sched-pg-pw"
MY_PW = "sched-my-pw"


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    s = PgServer(tmp_path_factory.mktemp("schedpg"))
    try:
        s.sql("CREATE DATABASE shop")
        s.sql(f"CREATE ROLE repl LOGIN PASSWORD '{PG_PW}'", "shop")
        s.sql("""CREATE TABLE orders(id bigint PRIMARY KEY, v int NOT NULL,
                 updated_at timestamptz NOT NULL, doc jsonb)""", "shop")
        s.sql("""INSERT INTO orders SELECT g, g, TIMESTAMPTZ '2024-01-01 00:00:00+00'
                 + g * INTERVAL '1 second', '{}' FROM generate_series(1, 1000) g""", "shop")
        s.sql("""CREATE TABLE customers(id int PRIMARY KEY, name text, score numeric(8,2))""",
              "shop")
        s.sql("""INSERT INTO customers SELECT g, 'c' || g, g / 4.0
                 FROM generate_series(1, 300) g""", "shop")
        s.sql("GRANT SELECT ON orders, customers TO repl", "shop")
    except Exception:
        s.stop()
        raise
    yield s
    s.stop()


@pytest.fixture(scope="module")
def maria():
    s = MariaDbServer()
    try:
        s.sql("CREATE DATABASE shop")
        s.sql(f"CREATE USER 'repl'@'%' IDENTIFIED BY '{MY_PW}'")
        s.sql("GRANT SELECT ON shop.* TO 'repl'@'%'")
        s.sql("""CREATE TABLE orders(id BIGINT PRIMARY KEY, v INT NOT NULL,
                 updated_at DATETIME(6) NOT NULL, doc JSON)""", "shop")
        c = s.connect("shop")
        with c.cursor() as cur:
            cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, '{}')",
                            [(i, i, f"2024-01-01 00:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d}")
                             for i in range(1, 1001)])
        c.close()
        s.sql("CREATE TABLE customers(id INT PRIMARY KEY, name VARCHAR(40), score DECIMAL(8,2))",
              "shop")
        s.sql("INSERT INTO customers SELECT seq, CONCAT('c', seq), seq / 4 FROM seq_1_to_300",
              "shop")
    except Exception:
        s.stop()
        raise
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("schedlake") / "data", promotion=True,
               extra_env={"PG_PW": PG_PW, "MY_PW": MY_PW}).start()
    yield s
    if s.proc.poll() is None:
        s.stop()


def pg_config(pg, **over):
    c = {"type": "postgres",
         "connection": {"host": "127.0.0.1", "port": pg.port, "database": "shop",
                        "user": "repl", "password_env": "PG_PW"},
         "tables": ["public.orders"], "mode": "incremental", "watermark": "updated_at",
         "batch": {"max_rows": 300}}
    return {k: v for k, v in merged(c, over).items() if v is not None}


def my_config(maria, **over):
    c = {"type": "mysql",
         "connection": {"host": "127.0.0.1", "port": maria.port, "database": "shop",
                        "user": "repl", "password_env": "MY_PW"},
         "tables": ["shop.orders"], "mode": "incremental", "watermark": "updated_at",
         "batch": {"max_rows": 300}}
    return {k: v for k, v in merged(c, over).items() if v is not None}


def runs(lake, name):
    return json.loads(lake.tarn("source", "runs", name, "--json").stdout)["runs"]


def run_now(lake, name):
    p = lake.tarn("source", "run", name, "--wait", "--json")
    r = json.loads(p.stdout)
    assert r["status"] == "succeeded", r
    return r


def count(lake, table):
    try:
        return sql(lake, f"SELECT count(*) FROM {table}")[0][0]
    except AssertionError:
        return None


def all_rows(lake, db):
    """Every change row of the orders table, raw and cleaned together (promotion moves
    them on at its own pace)."""
    q = "SELECT id, v, _source_pos FROM {}.{}.orders"
    rows = []
    for zone in ("raw", "cleaned"):
        try:
            rows += sql(lake, q.format(zone, db))
        except AssertionError:
            pass
    return rows


def incremental_flow(lake, tmp_path, name, cfg, change):
    """The incremental life of source name over a 1,000-row orders table: change(k) makes
    k new and changed rows at the source."""
    out = json.loads(create(lake, tmp_path, name, cfg).stdout)
    assert out["created"]
    wait_for(lambda: runs(lake, name)[0]["status"] == "succeeded", timeout=60, interval=0.3)
    first = runs(lake, name)[0]
    assert first["rows"] == 1000 and first["tables"] == {"orders": 1000}, first
    # Batches of at most 300 rows: several files, each committed with its watermark.
    assert first["files"] >= 4, first
    shown = json.loads(lake.tarn("source", "show", name, "--json").stdout)
    assert shown["mode"] == "incremental" and shown["watermarks"], shown
    wait_for(lambda: len(all_rows(lake, name)) == 1000, timeout=60, interval=0.5)

    # New and changed rows only.
    change(10)
    r = run_now(lake, name)
    assert r["rows"] == 20 and r["trigger"] == "manual", r
    # Nothing changed: nothing read.
    r = run_now(lake, name)
    assert r["rows"] == 0, r
    wait_for(lambda: len(all_rows(lake, name)) == 1020, timeout=60, interval=0.5)

    # kill -9 between runs: nothing lost, nothing read twice.
    change(5)
    lake.kill9()
    lake.start()
    r = run_now(lake, name)
    assert r["rows"] == 10, r
    rows = wait_for(lambda: (lambda x: len(x) == 1030 and x)(all_rows(lake, name)), timeout=60,
                    interval=0.5)
    assert len({p for _, _, p in rows}) == 1030  # no _source_pos twice
    st = json.loads(lake.tarn("source", "status", name, "--json").stdout)
    assert st["state"] == "idle" and st["mode"] == "incremental", st
    assert st["watermarks"] and st["schedule"] is None
    lake.tarn("source", "delete", name)
    return rows


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_postgres_incremental(pg, lake, tmp_path, fmt):
    # Parquet stages PostgreSQL's CSV, JSON Lines COPY's text: the watermark is read from
    # either.
    pg.sql("DELETE FROM orders WHERE id > 1000", "shop")
    state = {"next": 1001}

    def change(k):
        # k updates (the watermark moves on) and k inserts.
        pg.sql(f"""UPDATE orders SET v = v + 1000, updated_at = now()
                   WHERE id IN (SELECT id FROM orders ORDER BY id LIMIT {k})""", "shop")
        pg.sql(f"""INSERT INTO orders SELECT g, g, now(), NULL
                   FROM generate_series({state['next']}, {state['next'] + k - 1}) g""", "shop")
        state["next"] += k

    rows = incremental_flow(lake, tmp_path, f"pginc_{fmt}", pg_config(pg, format=fmt), change)
    # The latest row per key equals the table.
    latest = {}
    for i, v, p in sorted(rows, key=lambda r: r[2]):
        latest[i] = v
    assert sorted(latest.items()) == sorted(pg.sql("SELECT id, v FROM orders", "shop"))


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_incremental_killed_mid_run(pg, maria, tmp_path, kind):
    """tarn dies (as by kill -9) right after the third batch of a run is committed; the
    run is taken up again at restart from the watermark committed with that batch: every
    row once."""
    s = Server(tmp_path / "data", promotion=True,
               extra_env={"PG_PW": PG_PW, "MY_PW": MY_PW,
                          "TARN_KILLPOINT": "source-batch-committed:3"}).start()
    try:
        if kind == "postgres":
            cfg = pg_config(pg, tables=["public.customers"], watermark="id",
                            batch={"max_rows": 50})
        else:
            cfg = my_config(maria, tables=["shop.customers"], watermark="id",
                            batch={"max_rows": 50})
        create(s, tmp_path, "killed", cfg)
        s.proc.wait(timeout=60)
        assert s.proc.returncode == 137
        s.extra_env.pop("TARN_KILLPOINT")
        s.start()
        wait_for(lambda: runs(s, "killed")[-1]["status"] == "succeeded", timeout=60,
                 interval=0.3)
        n = (pg.sql("SELECT count(*) FROM customers", "shop") if kind == "postgres"
             else maria.sql("SELECT count(*) FROM customers", "shop"))[0][0]

        def ids():
            got = []
            for zone in ("raw", "cleaned"):
                try:
                    got += [r[0] for r in sql(s, f"SELECT id FROM {zone}.killed.customers")]
                except AssertionError:
                    pass
            return got
        got = wait_for(lambda: (lambda x: len(x) >= n and x)(ids()), timeout=60, interval=0.5)
        assert len(got) == n and len(set(got)) == n
    finally:
        if s.proc.poll() is None:
            s.stop()


def test_mysql_incremental(maria, lake, tmp_path):
    state = {"next": 1001}

    def change(k):
        maria.sql(f"UPDATE orders SET v = v + 1000, updated_at = NOW(6) ORDER BY id LIMIT {k}",
                  "shop")
        for i in range(k):
            maria.sql("INSERT INTO orders VALUES (%s, %s, NOW(6), NULL)", "shop",
                      (state["next"], state["next"]))
            state["next"] += 1

    rows = incremental_flow(lake, tmp_path, "myinc", my_config(maria), change)
    latest = {}
    for i, v, p in sorted(rows, key=lambda r: r[2]):
        latest[i] = v
    assert sorted(latest.items()) == sorted(maria.sql("SELECT id, v FROM orders", "shop"))


def test_schedule_fires(pg, maria, lake, tmp_path):
    """A six-field cron (every 2 seconds) runs snapshot sources by itself."""
    create(lake, tmp_path, "pgsched",
           pg_config(pg, tables=["public.customers"], mode="snapshot", schedule="*/2 * * * * *",
                     watermark=None))
    create(lake, tmp_path, "mysched",
           my_config(maria, tables=["shop.customers"], mode="snapshot", schedule="*/2 * * * * *",
                     watermark=None))
    for name in ("pgsched", "mysched"):
        wait_for(lambda: sum(r["trigger"] == "schedule" and r["status"] == "succeeded"
                             for r in runs(lake, name)) >= 2, timeout=30, interval=0.5)
        shown = json.loads(lake.tarn("source", "show", name, "--json").stdout)
        assert shown["schedule"] == "*/2 * * * * *" and shown["next_run"], shown
        last = [r for r in runs(lake, name) if r["status"] == "succeeded"][0]
        # 300 rows read, delivered after the `t` row that starts the table's image.
        assert last["rows"] == 301 and last["tables"] == {"customers": 300}, last
        text = lake.tarn("source", "status", name).stdout
        assert "schedule" in text and "next run" in text
        # Paused: no more scheduled runs.
        lake.tarn("source", "pause", name)
    n = {name: len(runs(lake, name)) for name in ("pgsched", "mysched")}
    import time
    time.sleep(4.5)
    for name in ("pgsched", "mysched"):
        assert len(runs(lake, name)) <= n[name] + 1  # one may have been queued as we paused
        lake.tarn("source", "delete", name)


def lake_rows(lake, q):
    with psycopg2.connect(**lake.pg_params()) as c:
        cur = c.cursor()
        cur.execute(q)
        return cur.fetchall()


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_snapshot_blueprint_follows_deletes(pg, maria, lake, tmp_path, kind):
    """Each snapshot run is a full image: keys gone from the source go from curated."""
    db = f"snap_{kind[:2]}"
    if kind == "postgres":
        src = {k: v for k, v in pg_config(pg, tables=["public.customers"]).items()
               if k not in ("mode", "watermark", "batch")}
        source, run_sql = pg, (lambda q: pg.sql(q, "shop"))
    else:
        src = {k: v for k, v in my_config(maria, tables=["shop.customers"]).items()
               if k not in ("mode", "watermark", "batch")}
        source, run_sql = maria, (lambda q: maria.sql(q, "shop"))
    del source
    bp = {"blueprint": db, "source": src, "mode": "snapshot",
          # Far away: this test runs the source itself.
          "schedule": "0 0 1 1 *", "target": {"database": db}, "batch_window_seconds": 1}
    f = tmp_path / f"{db}.yaml"
    f.write_text(json.dumps(bp))
    out = json.loads(lake.tarn("blueprint", "apply", str(f), "--json").stdout)
    assert out["source"]["name"] == db

    def source_rows():
        return sorted((int(i), n, float(s)) for i, n, s in
                      run_sql("SELECT id, name, score FROM customers"))

    def curated_equal():
        try:
            got = sorted((int(i), n, float(s)) for i, n, s in
                         lake_rows(lake, f"SELECT id, name, score FROM {db}.customers"))
        except psycopg2.Error:
            return False
        return got == source_rows()

    wait_for(curated_equal, timeout=120, interval=1)
    for rnd in range(2):
        run_sql(f"DELETE FROM customers WHERE id % 7 = {rnd}")
        run_sql(f"UPDATE customers SET name = CONCAT(name, '+') WHERE id % 5 = {rnd}")
        run_sql(f"INSERT INTO customers VALUES ({1000 + rnd}, 'new', 1.5)")
        run_now(lake, db)
        wait_for(curated_equal, timeout=120, interval=1)
    # Every table deleted at the source: the next image is empty.
    run_sql("DELETE FROM customers")
    run_now(lake, db)
    wait_for(lambda: count(lake, f"curated.{db}.customers") == 0, timeout=120, interval=1)
    lake.tarn("blueprint", "delete", db)


def test_incremental_blueprint_upserts(pg, lake, tmp_path):
    """Mode incremental in a blueprint: each run's rows are upserts into curated."""
    src = {k: v for k, v in pg_config(pg).items() if k not in ("mode", "batch")}
    bp = {"blueprint": "inc_pg", "source": src, "mode": "incremental",
          "schedule": "0 0 1 1 *", "target": {"database": "inc_pg"}, "batch_window_seconds": 1}
    f = tmp_path / "inc_pg.yaml"
    f.write_text(json.dumps(bp))
    lake.tarn("blueprint", "apply", str(f), "--json")

    def curated_equal():
        try:
            got = sorted(lake_rows(lake, "SELECT id, v FROM inc_pg.orders"))
        except psycopg2.Error:
            return False
        return got == sorted(pg.sql("SELECT id, v FROM orders", "shop"))

    wait_for(curated_equal, timeout=120, interval=1)
    n = pg.sql("SELECT count(*) FROM orders WHERE id % 100 = 3", "shop")[0][0]
    pg.sql("UPDATE orders SET v = v + 7, updated_at = now() WHERE id % 100 = 3", "shop")
    pg.sql("INSERT INTO orders VALUES (5000, 5000, now(), NULL)", "shop")
    r = run_now(lake, "inc_pg")
    assert r["rows"] == n + 1, r
    wait_for(curated_equal, timeout=120, interval=1)
    lake.tarn("blueprint", "delete", "inc_pg")


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
@pytest.mark.parametrize("case", ["cdc_schedule", "unknown_column", "unsortable",
                                  "no_watermark", "bad_cron"])
def test_bad_config_refused(pg, maria, lake, tmp_path, kind, case):
    cfg = pg_config(pg) if kind == "postgres" else my_config(maria)
    want = {
        "cdc_schedule": "takes no schedule",
        "unknown_column": "has no column nope",
        "unsortable": "of type json" if kind == "postgres" else "of type longtext",
        "no_watermark": "give watermark",
        "bad_cron": "schedule: cron hour field",
    }[case]
    if case == "cdc_schedule":
        cfg.update(mode="cdc", schedule="0 2 * * *")
        del cfg["watermark"]
    elif case == "unknown_column":
        cfg["watermark"] = "nope"
    elif case == "unsortable":
        cfg["watermark"] = "doc"
    elif case == "no_watermark":
        del cfg["watermark"]
    else:
        cfg["schedule"] = "0 25 * * *"
    name = f"bad_{kind[:2]}_{case}"
    p = create(lake, tmp_path, name, cfg, check=False)
    assert p.returncode != 0 and want in p.stderr, p.stderr
    assert name not in lake.tarn("source", "list", "--json").stdout
    # A blueprint is refused the same way.
    if case == "cdc_schedule":
        bp = {"blueprint": "bad_bp", "source": {k: v for k, v in cfg.items()
                                               if k not in ("mode", "schedule", "batch")},
              "mode": "cdc", "schedule": "0 2 * * *"}
        status_, out = rest(lake, "POST", "/v1/blueprints", {"spec": json.dumps(bp)})
        assert status_ == 400 and "schedule" in out["error"]["message"], out
