"""The MySQL/MariaDB source against a real MariaDB 10.11 (started here with the binlog in
ROW format and full row metadata): a snapshot of a 5,000-row table and of one with every
column type appears as catalog tables in raw and then cleaned; a mixed workload of
inserts, updates and deletes in transactions of varied size, with tarn killed (-9) and
MariaDB restarted while it streams, is in the change files exactly once (no _source_pos
twice, as many changes as the workload made, the latest change per key equal to what
pymysql reads from MariaDB); every type's values streamed equal the snapshot's and the
server's; ALTER TABLE ADD COLUMN while streaming makes a new catalog version and
quarantines nothing; bad inputs (a wrong password, an unreachable host, a table without a
key, binlog_format not ROW) are refused at create with the fix and leave nothing behind."""
import json
import random

import pytest

from conftest import Server
from mariadbserver import MariaDbServer
from s3util import rest, wait_for
from sourceutil import create, merged, promoted, sql, status

REPL_PW = "repl-pw-1"
ROWS = 5000


@pytest.fixture(scope="session")
def maria(tmp_path_factory):
    s = MariaDbServer()
    try:
        setup_shop(s)
    except Exception:
        s.stop()
        raise
    yield s
    s.stop()


KINDS = """CREATE TABLE kinds(
    id INT PRIMARY KEY, c CHAR(10), vc VARCHAR(300), e ENUM('a', 'b\u00e9', 'c'),
    st SET('x', 'y', 'z'), ts TIMESTAMP(6) NULL, dt DATETIME, d DATE, t TIME, t3 TIME(3),
    dec1 DECIMAL(10, 2), dec2 DECIMAL(30, 10), f FLOAT, db DOUBLE,
    ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT,
    miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
    bt BIT(10), y YEAR, j JSON, bl BLOB, tx TEXT, lt VARCHAR(20) CHARACTER SET latin1,
    bn BINARY(3))"""

KIND_ROWS = [
    (1, "h\u00e9llo", "tab\tquote\"back\\slash", "b\u00e9", "x,z",
     "2024-01-02 03:04:05.123456", "2024-02-29 13:14:15", "2024-02-29", "-838:59:59",
     "12:34:56.789", "-1234.56", "12345678901234567890.0123456789", 1.5, -2.25,
     -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
     -9223372036854775808, 18446744073709551615, 683, 2024, '{"a": [1, 2]}',
     b"\x00\xff\x10", "long text \u2603", "caf\u00e9", b"ab\x00"),
    (2,) + (None,) * 30,
]


def setup_shop(s):
    s.sql("CREATE DATABASE shop")
    s.sql(f"CREATE USER 'repl'@'%' IDENTIFIED BY '{REPL_PW}'")
    s.sql("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%'")
    s.sql("GRANT SELECT ON shop.* TO 'repl'@'%'")
    s.sql("CREATE TABLE big(id BIGINT PRIMARY KEY, v INT NOT NULL, s VARCHAR(100))", "shop")
    c = s.connect("shop")
    with c.cursor() as cur:
        cur.executemany("INSERT INTO big VALUES (%s, %s, %s)",
                        [(i, i % 1000, f"row {i}") for i in range(1, ROWS + 1)])
        cur.execute(KINDS)
        cur.executemany("INSERT INTO kinds VALUES (" + ", ".join(["%s"] * 31) + ")", KIND_ROWS)
    c.close()
    s.sql("CREATE TABLE nokey(a INT, b TEXT)", "shop")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("mylake") / "data", promotion=True,
               extra_env={"SHOP_PW": REPL_PW}).start()
    yield s
    if s.proc.poll() is None:
        s.stop()


def config(maria, **over):
    c = {"type": "mysql",
         "connection": {"host": "127.0.0.1", "port": maria.port, "database": "shop",
                        "user": "repl", "password_env": "SHOP_PW", "connect_timeout": "3s"},
         "tables": ["shop.big", "shop.kinds"], "mode": "cdc",
         "batch": {"max_time": "300ms"}}
    return merged(c, over)


def test_snapshot_changes_exactly_once(maria, lake, tmp_path):
    out = json.loads(create(lake, tmp_path, "shop", config(maria)).stdout)
    assert out["name"] == "shop" and out["type"] == "mysql" and out["created"]
    wait_for(lambda: status(lake, "shop")["state"] == "streaming", timeout=60)
    st = status(lake, "shop")
    progress = {t["table"]: t for t in st["tables"]}
    assert progress["big"]["rows"] == ROWS and progress["big"]["done"]
    assert progress["kinds"]["rows"] == 2
    assert st["cursor"].startswith("mysql-bin.") and "password" not in json.dumps(st)
    # The snapshot appears as catalog tables in raw, then promotion moves it to cleaned.
    wait_for(lambda: promoted(lake, "shop", "big", ROWS), timeout=90, interval=0.5)

    rnd = random.Random(14)
    conn = maria.connect("shop")
    cur = conn.cursor()
    changes = 0
    next_id = ROWS + 1

    def workload(txns):
        nonlocal changes, next_id, conn, cur
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
                    changes += cur.execute(
                        "UPDATE big SET v = v + 1, s = CONCAT(s, '+') WHERE id BETWEEN %s AND %s",
                        (lo, lo + rnd.randrange(3)))
                    continue
                else:
                    lo = rnd.randrange(1, next_id)
                    changes += cur.execute("DELETE FROM big WHERE id BETWEEN %s AND %s",
                                           (lo, lo + rnd.randrange(2)))
                    continue
                changes += 1
            cur.execute("COMMIT")

    workload(60)
    # kill -9 of tarn while it streams: the workload goes on, and after the restart every
    # change is delivered once.
    wait_for(lambda: status(lake, "shop")["rows"] > ROWS + 2, timeout=30)
    lake.kill9()
    workload(60)
    lake.start()
    wait_for(lambda: status(lake, "shop")["state"] == "streaming", timeout=60)
    workload(30)
    # A restart of MariaDB while tarn streams: the source fails, tries again, and goes on
    # from its cursor.
    conn.close()
    maria.restart()
    conn = maria.connect("shop")
    cur = conn.cursor()
    workload(30)
    cur.execute("UPDATE kinds SET vc = 'changed', bl = x'dead' WHERE id = 2")
    changes += 1
    n = maria.sql("SELECT count(*) FROM big", "shop")[0][0]
    wait_for(lambda: sql(lake, "SELECT count(*) FROM cleaned.shop.big WHERE _op <> 'r'")[0][0]
             + sql(lake, "SELECT count(*) FROM cleaned.shop.kinds WHERE _op <> 'r'")[0][0]
             == changes, timeout=150, interval=0.5)
    assert status(lake, "shop")["state"] == "streaming"
    for t in ("big", "kinds"):
        dup = sql(lake, f"SELECT count(*) FROM (SELECT _source_pos FROM cleaned.shop.{t}"
                        " GROUP BY _source_pos HAVING count(*) > 1)")[0][0]
        assert dup == 0, t
    latest = sql(lake, "SELECT id, v, s FROM (SELECT *, row_number() OVER (PARTITION BY id"
                       " ORDER BY _source_pos DESC) AS rn FROM cleaned.shop.big) WHERE rn = 1"
                       " AND _op <> 'd' ORDER BY id")
    source = maria.sql("SELECT id, v, s FROM big ORDER BY id", "shop")
    assert len(latest) == n
    assert [tuple(r) for r in latest] == [tuple(r) for r in source]
    ops = dict(sql(lake, "SELECT _op, count(*) FROM cleaned.shop.big GROUP BY _op"))
    assert ops["r"] == ROWS and ops["c"] == next_id - ROWS - 1
    conn.close()


COLS = ("id, c, vc, e, st, ts::VARCHAR, dt::VARCHAR, d::VARCHAR, t::VARCHAR, t3::VARCHAR,"
        " dec1::VARCHAR, dec2::VARCHAR, f, db, ti, tiu, si, siu, mi, miu, i, iu, bi,"
        " biu::VARCHAR, bt, y, j, hex(bl), tx, lt, hex(bn)")


def test_types(maria, lake):
    """Every type: the snapshot's rows, the same values streamed (inserted again under
    another key), and what the server holds, agree."""
    c = maria.connect("shop")
    with c.cursor() as cur:
        cur.execute("INSERT INTO kinds SELECT id + 100, c, vc, e, st, ts, dt, d, t, t3, dec1, dec2,"
                    " f, db, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, bt, y, j, bl, tx, lt, bn"
                    " FROM kinds WHERE id = 1")
        cur.execute("INSERT INTO kinds (id) VALUES (102)")
    c.close()
    wait_for(lambda: sql(lake, "SELECT count(*) FROM cleaned.shop.kinds WHERE id > 100")[0][0]
             == 2, timeout=60, interval=0.5)
    snap = sql(lake, f"SELECT {COLS} FROM cleaned.shop.kinds WHERE _op = 'r' ORDER BY id")
    streamed = sql(lake, f"SELECT {COLS} FROM cleaned.shop.kinds WHERE id > 100 ORDER BY id")
    assert snap[0] == [1, "h\u00e9llo", "tab\tquote\"back\\slash", "b\u00e9", "x,z",
                       "2024-01-02 03:04:05.123456+00", "2024-02-29 13:14:15",
                       "2024-02-29", "-838:59:59.000000", "12:34:56.789000", "-1234.56",
                       "12345678901234567890.0123456789", 1.5, -2.25, -128, 255, -32768,
                       65535, -8388608, 16777215, -2147483648, 4294967295,
                       -9223372036854775808, "18446744073709551615", 683, 2024,
                       '{"a": [1, 2]}', "00FF10", "long text \u2603", "caf\u00e9", "616200"]
    assert snap[1] == [2] + [None] * 30
    assert [r[1:] for r in streamed] == [r[1:] for r in snap]
    # And as the server has them (pymysql's Python values, as text).
    server = maria.sql("SELECT c, e, st, dec2, biu, j, lt FROM kinds WHERE id = 101", "shop")[0]
    assert server[0] == snap[0][1] and server[1] == snap[0][3]
    assert server[2] in ({"x", "z"}, "x,z")
    assert str(server[3]) == snap[0][11] and str(server[4]) == snap[0][23]
    assert server[5] == snap[0][26] and server[6] == snap[0][29]
    upd = sql(lake, "SELECT vc, hex(bl), _txid IS NOT NULL FROM cleaned.shop.kinds"
                    " WHERE _op = 'u' AND id = 2")
    assert upd == [["changed", "DEAD", True]]


def test_alter_table_makes_a_new_version(maria, lake):
    before = sql(lake, "SELECT count(*) FROM cleaned.shop.big")[0][0]
    maria.sql("ALTER TABLE big ADD COLUMN note VARCHAR(20)", "shop")
    maria.sql("INSERT INTO big VALUES (900001, 1, 'after', 'a note')", "shop")
    maria.sql("TRUNCATE TABLE nokey", "shop")  # not a source table: ignored
    wait_for(lambda: sql(lake, "SELECT count(*) FROM cleaned.shop.big")[0][0] == before + 1,
             timeout=60, interval=0.5)
    versions = json.loads(lake.tarn("table", "versions", "cleaned.shop.big", "--json").stdout)
    added = [v for v in versions["versions"] if v.get("changes")]
    assert added and {"name": "note", "type": "VARCHAR"} in added[-1]["changes"]["added"]
    row = sql(lake, "SELECT note, _op FROM cleaned.shop.big WHERE id = 900001")
    assert row == [["a note", "c"]]
    q = json.loads(lake.tarn("quarantine", "list", "--json").stdout)
    assert not q.get("objects"), q
    st = status(lake, "shop")
    assert st["state"] == "streaming", st


def test_truncate(maria, lake):
    rows = sql(lake, "SELECT count(*) FROM cleaned.shop.kinds WHERE _op = 't'")[0][0]
    maria.sql("TRUNCATE TABLE kinds", "shop")
    wait_for(lambda: sql(lake, "SELECT count(*) FROM cleaned.shop.kinds WHERE _op = 't'")[0][0]
             == rows + 1, timeout=60, interval=0.5)


def test_status_metrics_and_cli(lake):
    listed = json.loads(lake.tarn("source", "list", "--json").stdout)["sources"]
    shop = [s for s in listed if s["name"] == "shop"][0]
    assert shop["type"] == "mysql" and shop["mode"] == "cdc" and shop["state"] == "streaming"
    shown = json.loads(lake.tarn("source", "show", "shop", "--json").stdout)
    assert shown["config"]["connection"]["password_env"] == "SHOP_PW"
    helped = lake.tarn("help", "source").stdout
    assert "Plugin mysql" in helped and "server_id" in helped
    status_, text = rest(lake, "GET", "/metrics", text=True)[:2]
    assert 'tarn_source_state{source="shop",state="streaming"} 1' in text


def test_password_is_sealed(maria, lake, tmp_path):
    cfg = config(maria, tables=["shop.kinds"], mode="snapshot", format="jsonl",
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
    lake.tarn("source", "delete", "sealed")


@pytest.mark.parametrize("case", ["password", "unreachable", "nokey", "missing", "privilege",
                                  "unknown_key"])
def test_bad_input_refused(maria, lake, tmp_path, case):
    cfg = config(maria)
    want = {
        "password": "refused the password",
        "unreachable": "cannot reach MySQL/MariaDB",
        "nokey": "ADD PRIMARY KEY",
        "missing": "does not exist",
        "privilege": "GRANT REPLICATION SLAVE",
        "unknown_key": "valid keys",
    }[case]
    if case == "password":
        cfg["connection"] = {**cfg["connection"], "password": "wrong"}
        del cfg["connection"]["password_env"]
    elif case == "unreachable":
        cfg["connection"] = {**cfg["connection"], "port": 1}
    elif case == "nokey":
        cfg["tables"] = ["shop.nokey"]
    elif case == "missing":
        cfg["tables"] = ["shop.nothere"]
    elif case == "privilege":
        maria.sql("CREATE USER IF NOT EXISTS 'norepl'@'%' IDENTIFIED BY 'norepl-pw'")
        maria.sql("GRANT SELECT, REPLICATION CLIENT ON *.* TO 'norepl'@'%'")
        cfg["connection"] = {**cfg["connection"], "user": "norepl", "password": "norepl-pw"}
        del cfg["connection"]["password_env"]
    elif case == "unknown_key":
        cfg["tabels"] = ["shop.big"]
    name = f"bad_{case}"
    p = create(lake, tmp_path, name, cfg, check=False)
    assert p.returncode != 0 and want in p.stderr, p.stderr
    assert name not in lake.tarn("source", "list", "--json").stdout


def test_binlog_format_not_row(lake, tmp_path_factory, tmp_path):
    other = MariaDbServer(binlog_format="STATEMENT")
    try:
        other.sql("CREATE DATABASE shop")
        other.sql(f"CREATE USER 'repl'@'%' IDENTIFIED BY '{REPL_PW}'")
        other.sql("GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'repl'@'%'")
        other.sql("CREATE TABLE big(id INT PRIMARY KEY)", "shop")
        other.sql("SET GLOBAL binlog_row_image = 'MINIMAL'")
        p = create(lake, tmp_path, "statement", config(other, tables=["shop.big"]), check=False)
        assert p.returncode != 0, p.stderr
        assert "SET GLOBAL binlog_format = 'ROW'" in p.stderr, p.stderr
        assert "SET GLOBAL binlog_row_image = 'FULL'" in p.stderr, p.stderr
        assert "statement" not in lake.tarn("source", "list", "--json").stdout
    finally:
        other.stop()


def test_delete(lake):
    out = json.loads(lake.tarn("source", "delete", "shop", "--json").stdout)
    assert out["deleted"]
    assert sql(lake, "SELECT count(*) > 0 FROM cleaned.shop.big")[0][0]
