"""A database source's snapshot is all or nothing: with tarn killed (-9) while a large
table's snapshot is half read (many batches converted, none landed), nothing of it is in
the lake; after the restart the snapshot is taken again from the start, and every row is
in the change files exactly once, followed by the changes made meanwhile. A restart of
PostgreSQL while the source streams loses and doubles nothing either. Against a real
PostgreSQL 15 and a real MariaDB."""
import json

import pytest

from conftest import Server
from mariadbserver import MariaDbServer
from pgserver import PgServer
from s3util import wait_for
from sourceutil import create, sql, status

PW = "snap-pw-1"
ROWS = 300_000


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("snaplake") / "data",
               extra_env={"SNAP_PW": PW}).start()
    yield s
    if s.proc.poll() is None:
        s.stop()


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    s = PgServer(tmp_path_factory.mktemp("pg"))
    try:
        s.sql("CREATE DATABASE shop")
        s.sql(f"CREATE ROLE repl LOGIN REPLICATION PASSWORD '{PW}'", "shop")
        s.sql("GRANT CREATE ON DATABASE shop TO repl", "shop")
        s.sql("CREATE TABLE big(id bigint PRIMARY KEY, v integer NOT NULL, s text)", "shop")
        s.sql("INSERT INTO big SELECT g, g % 1000, 'row, \"' || g || E'\"\\n'"
              f" FROM generate_series(1, {ROWS}) g", "shop")
        s.sql("ALTER TABLE big OWNER TO repl", "shop")
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
        s.sql(f"CREATE USER 'repl'@'%' IDENTIFIED BY '{PW}'")
        s.sql("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%'")
        s.sql("GRANT SELECT ON shop.* TO 'repl'@'%'")
        s.sql("CREATE TABLE big(id BIGINT PRIMARY KEY, v INT NOT NULL, s VARCHAR(100))", "shop")
        c = s.connect("shop")
        with c.cursor() as cur:
            for lo in range(1, ROWS + 1, 50_000):
                cur.executemany("INSERT INTO big VALUES (%s, %s, %s)",
                                [(i, i % 1000, f'row, "{i}"\n') for i in range(lo, lo + 50_000)])
        c.commit()
        c.close()
    except Exception:
        s.stop()
        raise
    yield s
    s.stop()


def kill_mid_snapshot(lake, name):
    """Kills tarn once the snapshot has read part of the table, and checks it had landed
    nothing of it."""
    wait_for(lambda: any(0 < t["rows"] < ROWS for t in status(lake, name).get("tables", [])),
             timeout=60, interval=0.02)
    lake.kill9()
    lake.start()
    listed = json.loads(lake.tarn("tables", "--json").stdout)["tables"]
    assert not [t for t in listed if t["name"].startswith(f"raw.{name}.")]


def changes_in(lake, t):
    """How many change rows (not snapshot reads) t has; -1 before the crawler lists it."""
    try:
        return sql(lake, f"SELECT count(*) FROM {t} WHERE _op <> 'r'")[0][0]
    except AssertionError:
        return -1


def exactly_once(lake, name, changes, more):
    wait_for(lambda: status(lake, name)["state"] == "streaming", timeout=120)
    more()
    t = f"raw.{name}.big"
    wait_for(lambda: changes_in(lake, t) == changes, timeout=90, interval=0.5)
    r = sql(lake, f"SELECT count(*), count(DISTINCT id), min(id), max(id) FROM {t}"
                  " WHERE _op = 'r'")[0]
    assert r == [ROWS, ROWS, 1, ROWS]
    dup = sql(lake, f"SELECT count(*) FROM (SELECT _source_pos FROM {t} GROUP BY _source_pos"
                    " HAVING count(*) > 1)")[0][0]
    assert dup == 0
    # Quotes, commas and newlines came through the CSV staging intact.
    assert sql(lake, f"SELECT s FROM {t} WHERE id = 7 AND _op = 'r'") == [['row, "7"\n']]


def test_postgres_snapshot_killed_midway(pg, lake, tmp_path):
    cfg = {"type": "postgres",
           "connection": {"host": "127.0.0.1", "port": pg.port, "database": "shop",
                          "user": "repl", "password_env": "SNAP_PW"},
           "tables": ["public.big"], "mode": "cdc",
           "batch": {"max_rows": 3000, "max_time": "300ms"}}
    create(lake, tmp_path, "pgsnap", cfg)
    kill_mid_snapshot(lake, "pgsnap")

    def more():
        pg.sql("UPDATE big SET v = -1 WHERE id <= 10", "shop")
        pg.sql("DELETE FROM big WHERE id = 11", "shop")
    exactly_once(lake, "pgsnap", 11, more)
    # The interrupted snapshot's slot was replaced: one slot streams.
    assert pg.sql("SELECT count(*) FROM pg_replication_slots", "shop")[0][0] == 1


def test_postgres_restarted_while_streaming(pg, lake):
    """After the test above: PostgreSQL stops (fast) and starts again while changes flow;
    the source fails, tries again, resumes from its cursor, and every change is there once."""
    t = "raw.pgsnap.big"
    before = sql(lake, f"SELECT count(*) FROM {t} WHERE _op <> 'r'")[0][0]
    pg.sql("INSERT INTO big SELECT g, 1, 'new' FROM generate_series(1000001, 1000500) g", "shop")
    pg.stop(remove=False)
    pg.start()
    pg.sql("UPDATE big SET v = -2 WHERE id BETWEEN 1000001 AND 1000100", "shop")
    wait_for(lambda: status(lake, "pgsnap")["state"] == "streaming", timeout=120)
    wait_for(lambda: changes_in(lake, t) == before + 600, timeout=120, interval=0.5)
    dup = sql(lake, f"SELECT count(*) FROM (SELECT _source_pos FROM {t} GROUP BY _source_pos"
                    " HAVING count(*) > 1)")[0][0]
    assert dup == 0
    assert sql(lake, f"SELECT count(*) FROM {t} WHERE id > 1000000 AND v = -2") == [[100]]


def test_mariadb_snapshot_killed_midway(maria, lake, tmp_path):
    cfg = {"type": "mysql",
           "connection": {"host": "127.0.0.1", "port": maria.port, "database": "shop",
                          "user": "repl", "password_env": "SNAP_PW", "connect_timeout": "3s"},
           "tables": ["shop.big"], "mode": "cdc",
           "batch": {"max_rows": 3000, "max_time": "300ms"}}
    create(lake, tmp_path, "mysnap", cfg)
    kill_mid_snapshot(lake, "mysnap")

    def more():
        maria.sql("UPDATE big SET v = -1 WHERE id <= 10", "shop")
        maria.sql("DELETE FROM big WHERE id = 11", "shop")
    exactly_once(lake, "mysnap", 11, more)


def test_postgres_resnapshot_replaces_the_image(pg, lake):
    """After the tests above: rows deleted while the source is paused never stream (the
    resnapshot drops the slot); `run --resnapshot` starts the new image with a `t` row, so
    a current-state table built from the change files loses them too."""
    t = "raw.pgsnap.big"
    lake.tarn("source", "pause", "pgsnap")
    pg.sql("DELETE FROM big WHERE id BETWEEN 100 AND 199", "shop")
    # Waiting on a paused source's run says so instead of waiting for ever.
    r = lake.tarn("source", "run", "pgsnap", "--resnapshot", "--wait", check=False)
    assert r.returncode == 1 and "paused" in r.stdout and "resume" in r.stdout, r
    lake.tarn("source", "resume", "pgsnap")
    wait_for(lambda: status(lake, "pgsnap")["state"] == "streaming", timeout=120)
    n = pg.sql("SELECT count(*) FROM big", "shop")[0][0]

    def image():
        try:
            return sql(lake, f"SELECT count(*) FROM {t} WHERE _op = 'r' AND _source_pos > "
                             f"(SELECT max(_source_pos) FROM {t} WHERE _op = 't')")[0][0]
        except AssertionError:
            return -1
    wait_for(lambda: image() == n, timeout=120, interval=0.5)
    assert sql(lake, f"SELECT count(*) FROM {t} WHERE _op = 't'") == [[1]]
    # The rows after the truncate are exactly the source's.
    assert sql(lake, f"SELECT count(*) FROM {t} WHERE _op = 'r' AND id BETWEEN 100 AND 199 AND "
                     f"_source_pos > (SELECT max(_source_pos) FROM {t} WHERE _op = 't')") == [[0]]


def test_leaving_cdc_drops_the_slot(pg, lake, tmp_path):
    """After the tests above: the source moves to mode snapshot; its replication slot, which
    would otherwise keep PostgreSQL's log for ever, is dropped."""
    def slots():
        return pg.sql("SELECT count(*) FROM pg_replication_slots", "shop")[0][0]
    assert slots() == 1
    cfg = {"type": "postgres",
           "connection": {"host": "127.0.0.1", "port": pg.port, "database": "shop",
                          "user": "repl", "password_env": "SNAP_PW"},
           "tables": ["public.big"], "mode": "snapshot"}
    f = tmp_path / "snapshot.yaml"
    f.write_text(json.dumps(cfg))
    lake.tarn("source", "update", "pgsnap", "--config", str(f))
    wait_for(lambda: slots() == 0, timeout=30, interval=0.2)
