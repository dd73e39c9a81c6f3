"""PostgreSQL drivers that trust the server's descriptions, unmodified: asyncpg (binary
parameters of the types Parse infers, its type introspection, COPY out) and psycopg 3
(prepared statements with binary parameters); bad input gets PostgreSQL's SQLSTATE and
leaves the session usable. Shares the session's `server` fixture (conftest.py)."""
import asyncio
import datetime
import decimal
import json
import struct
import uuid

import psycopg
import pytest

from pgraw import RawClient, bind, describe, execute, msg, cstr, parse, sync

asyncpg = pytest.importorskip("asyncpg")


def run(coro):
    return asyncio.run(coro)


async def connect(server):
    # asyncpg's defaults: client_encoding 'utf-8' (quoted) in the startup packet, binary
    # parameters and results for every type it knows.
    return await asyncpg.connect(host="127.0.0.1", port=server.pg_port, user="admin",
                                 password=server.admin_password(), database="lake")


TS = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc)
VALUES = [
    ("SELECT $1::int", 100),
    ("SELECT $1::bigint", 2 ** 40),
    ("SELECT $1::float8", 100.0),
    ("SELECT $1::numeric(10,2)", decimal.Decimal("12.34")),
    ("SELECT $1::text", "héllo"),
    ("SELECT $1::bool", True),
    ("SELECT $1::date", datetime.date(2024, 2, 29)),
    ("SELECT $1::timestamptz", TS),
    ("SELECT $1::uuid", uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ("SELECT $1::bytea", b"\x00\x01\xfe\xff\\x"),
    ("SELECT $1::time", datetime.time(1, 2, 3, 4000)),
    ("SELECT $1::interval", datetime.timedelta(days=3, seconds=7)),
]


def test_asyncpg_parameters_of_every_type_come_back_typed(server):
    async def main():
        c = await connect(server)
        try:
            for sql, value in VALUES:
                st = await c.prepare(sql)
                assert await st.fetchval(value) == value, sql
            # The parameter types are those PostgreSQL would infer, and the result follows.
            st = await c.prepare("SELECT $1::json AS j, $2::int + 1 AS n, $3 AS t")
            assert [t.name for t in st.get_parameters()] == ["json", "int4", "text"]
            assert [a.type.name for a in st.get_attributes()] == ["json", "int4", "text"]
            row = await st.fetchrow('{"a": [1, 2]}', 41, "x")
            assert json.loads(row["j"]) == {"a": [1, 2]} and row["n"] == 42 and row["t"] == "x"
            # Floats where the query's context needs them (asyncpg refused 100.0 when every
            # parameter was described as text).
            assert await c.fetchval(
                "SELECT count(*) FROM range(10) t(x) WHERE x > $1", 4.5) == 5
        finally:
            await c.close()
    run(main())


def test_asyncpg_array_parameters(server):
    async def main():
        c = await connect(server)
        try:
            assert await c.fetchval("SELECT len($1::int[])", [1, 2, None]) == 3
            assert await c.fetchval("SELECT ($1::int[])[2]", [7, 8, 9]) == 8
            assert await c.fetchval("SELECT ($1::int[][])[2][1]", [[1, 2], [3, 4]]) == 3
            assert await c.fetchval(
                "SELECT list_sum($1::bigint[])", [1, 2 ** 40]) == 2 ** 40 + 1
            texts = ["a b", 'c"d', "e\\f", None, "NULL", "", "{x}"]
            got = await c.fetchval("SELECT to_json($1::text[])::VARCHAR", texts)
            assert json.loads(got) == texts
            assert await c.fetchval("SELECT count(*) FROM range(10) t(x) WHERE x = ANY($1::int8[])",
                                    [1, 3, 5, 99]) == 3
            dates = [datetime.date(2024, 1, 1), None]
            assert await c.fetchval("SELECT ($1::date[])[1]", dates) == dates[0]
        finally:
            await c.close()
    run(main())


def test_asyncpg_copy_from_query(server, tmp_path):
    async def main():
        c = await connect(server)
        try:
            out = tmp_path / "rows.csv"
            n = await c.copy_from_query("SELECT x, x * 2 AS y FROM range(5) t(x)",
                                        output=str(out), format="csv")
            assert n.startswith("COPY") or n == "COPY 5"
            assert out.read_text().splitlines() == [f"{i},{i * 2}" for i in range(5)]
        finally:
            await c.close()
    run(main())


def test_psycopg3_prepared_binary_parameters(server):
    with psycopg.connect(**server.pg_params()) as c:
        cur = c.cursor(binary=True)
        for sql, value in [("SELECT %s::int", 5), ("SELECT %s::float8", 2.5),
                           ("SELECT %s::text", "x y"), ("SELECT %s::bool", False),
                           ("SELECT %s::date", datetime.date(2020, 5, 17)),
                           ("SELECT %s::timestamptz", TS),
                           ("SELECT %s::numeric", decimal.Decimal("3.25")),
                           ("SELECT %s::bytea", b"\x00\xff"),
                           ("SELECT %s::uuid", uuid.UUID(int=7))]:
            for _ in range(3):  # psycopg prepares on the second run with prepare=True
                cur.execute(sql, (value,), prepare=True, binary=True)
                assert cur.fetchone()[0] == value, sql
        cur.execute("SELECT len(%s::int[])", ([1, 2, 3],), prepare=True, binary=True)
        assert cur.fetchone()[0] == 3
        cur.execute("SELECT count(*) FROM range(10) t(x) WHERE x < %s", (4,), prepare=True)
        assert cur.fetchone()[0] == 4


def sqlstate(messages):
    for kind, body in messages:
        if kind == b"E":
            fields = dict((f[:1], f[1:].decode()) for f in body.split(b"\0") if f)
            return fields[b"C"], fields[b"M"]
    return None


def i32(v):
    return struct.pack("!i", v)


def raw_bind(params, formats=(), stmt=""):
    """A Bind of raw values: params are bytes (or None for NULL)."""
    body = cstr("") + cstr(stmt) + struct.pack("!h", len(formats)) + b"".join(
        struct.pack("!h", f) for f in formats)
    body += struct.pack("!h", len(params))
    for p in params:
        body += i32(-1) if p is None else i32(len(p)) + p
    return msg(b"B", body + struct.pack("!h", 0))


def test_bad_input_gets_postgresql_sqlstates_and_the_session_goes_on(server):
    c = RawClient(server.pg_port, "admin", server.admin_password())

    def attempt(*messages):
        c.send(*messages)
        return sqlstate(c.until_ready())

    def still_usable():
        c.send(parse("SELECT 1 + $1::int"), raw_bind([b"1"]), execute(), sync())
        assert any(k == b"D" for k, _ in c.until_ready())

    cases = [
        # malformed array literals
        ([b"{1,2"], (), "22P02", 'malformed array literal: "{1,2"'),
        ([b"{1,,2}"], (), "22P02", None),
        ([b"{{1,2},{3}}"], (), "22P02", None),
        ([b"{1,2}x"], (), "22P02", None),
        ([b"1,2"], (), "22P02", None),
        ([b'{"a}'], (), "22P02", None),
        ([b"{1,abc}"], (), "22P02", None),
    ]
    for params, formats, state, message in cases:
        got = attempt(parse("SELECT $1::int[]"), raw_bind(params, formats), execute(), sync())
        assert got and got[0] == state, (params, got)
        if message:
            assert got[1] == message
        still_usable()
    # a binary array whose element type is not the one described
    arr = i32(1) + i32(0) + i32(25) + i32(1) + i32(1) + i32(1) + b"7"
    assert attempt(parse("SELECT $1::int[]"), raw_bind([arr], (1,)), execute(),
                   sync())[0] == "42804"
    still_usable()
    # a binary array that ends early
    arr = i32(1) + i32(0) + i32(23) + i32(3) + i32(1) + i32(4) + i32(1)
    assert attempt(parse("SELECT $1::int[]"), raw_bind([arr], (1,)), execute(),
                   sync())[0] == "08P01"
    still_usable()
    # binary values of the wrong length
    for sql, value in [("SELECT $1::int", b"\x00\x01"), ("SELECT $1::int8", b"\x00" * 4),
                       ("SELECT $1::float8", b"\x00" * 3), ("SELECT $1::uuid", b"\x00" * 15),
                       ("SELECT $1::date", b"\x00" * 8)]:
        got = attempt(parse(sql), raw_bind([value], (1,)), execute(), sync())
        assert got and got[0] == "22P03", (sql, got)
        assert got[1] == "incorrect binary data format in bind parameter 1"
        still_usable()
    # wrong parameter counts
    got = attempt(parse("SELECT $1::int + $2::int"), raw_bind([b"1"]), execute(), sync())
    assert got[0] == "08P01" and "supplies 1 parameters" in got[1]
    still_usable()
    # unknown and unsupported encodings
    for value, state in [("'klingon'", "22023"), ("LATIN1", "22023")]:
        c.send(msg(b"Q", cstr(f"SET client_encoding = {value}")))
        got = sqlstate(c.until_ready())
        assert got and got[0] == state, (value, got)
        still_usable()
    c.close()


@pytest.mark.parametrize("value", ["'utf-8'", "UTF-8", "utf8", "Unicode", "'UTF_8'"])
def test_client_encoding_names_are_normalised(server, value):
    with psycopg.connect(**server.pg_params()) as c:
        c.execute(f"SET client_encoding = {value}")
        assert c.execute("SHOW client_encoding").fetchone()[0] == "UTF8"
        c.execute("SET DateStyle = 'iso,dmy'")
        assert c.execute("SHOW DateStyle").fetchone()[0] == "ISO, DMY"
        c.execute("SET standard_conforming_strings = true")
        assert c.execute("SHOW standard_conforming_strings").fetchone()[0] == "on"
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            c.execute("SET IntervalStyle = 'klingon'")


def test_unknown_encoding_at_startup_is_refused_with_22023(server):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(**server.pg_params(), client_encoding="klingon").close()
    assert "client_encoding" in str(e.value)


def test_set_returning_functions_in_a_select_list_expand_rows(server):
    with psycopg.connect(**server.pg_params()) as c:
        cur = c.execute("SELECT generate_series(1, 3), 'x' AS y")
        assert [d.name for d in cur.description] == ["generate_series", "y"]
        assert cur.fetchall() == [(1, "x"), (2, "x"), (3, "x")]
        assert c.execute("SELECT generate_subscripts(a, 1) AS s FROM (SELECT [10, 20, 30] AS a) t"
                         ).fetchall() == [(1,), (2,), (3,)]
        assert c.execute("SELECT generate_series(1, NULL::int)").fetchall() == []
        # psqlODBC's SQLForeignKeys: the series of a key's positions, then conkey[i].
        assert c.execute(
            "SELECT a[i] FROM (SELECT a, generate_series(array_lower(a, 1), array_upper(a, 1))"
            " AS i FROM (SELECT [5, 6]::SMALLINT[] AS a) t) u").fetchall() == [(5,), (6,)]
        c.execute(
            "SELECT c.conname, a.attname FROM (SELECT conname, conrelid, conkey, "
            "generate_series(array_lower(conkey, 1), array_upper(conkey, 1)) AS i "
            "FROM pg_catalog.pg_constraint WHERE contype = 'f') c JOIN pg_catalog.pg_attribute a "
            "ON a.attrelid = c.conrelid AND a.attnum = c.conkey[c.i]").fetchall()
        # A table function in FROM is untouched.
        assert c.execute("SELECT * FROM generate_series(1, 2)").fetchall() == [(1,), (2,)]


def land_table(server, db, name):
    from s3util import rest, wait_for
    s3 = server.s3()
    s3.put_object(Bucket="raw", Key=f"{db}/{name}/part-1.csv",
                  Body=b"id,region,amount\n1,eu,1.5\n2,us,2.5\n")

    def ready():
        status, t = rest(server, "GET", f"/v1/tables/raw/{db}/{name}")
        return status == 200 and t.get("files") == 1
    wait_for(ready, timeout=30)


def test_columns_from_lake_tables_carry_their_table_oid_and_attribute_number(server):
    land_table(server, "pgorigin", "orders")
    with psycopg.connect(**server.pg_params()) as c:
        rel, = c.execute("SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                         "ON n.oid = c.relnamespace WHERE n.nspname = 'raw.pgorigin' "
                         "AND c.relname = 'orders'").fetchone()
        atts = dict(c.execute("SELECT attname, attnum FROM pg_catalog.pg_attribute "
                              "WHERE attrelid = %s", (rel,)).fetchall())
        assert set(atts) >= {"id", "region", "amount"}

        def origins(sql, **kw):
            cur = c.execute(sql, **kw)
            r = cur.pgresult
            return [(r.ftable(i), r.ftablecol(i)) for i in range(r.nfields)]

        t = 'raw."pgorigin".orders'
        assert origins(f"SELECT region, id AS n, amount * 2 AS twice, count(*) OVER () AS w "
                       f"FROM {t}") == [(rel, atts["region"]), (rel, atts["id"]), (0, 0), (0, 0)]
        assert origins(f"SELECT * FROM {t} o WHERE o.amount > 0") == \
            [(rel, atts[k]) for k in ("id", "region", "amount")]
        assert origins(f"SELECT o.amount, 1 AS one FROM {t} o") == [(rel, atts["amount"]), (0, 0)]
        # prepared (extended protocol: Describe) too, and a subquery is not traced
        assert origins(f"SELECT id FROM {t} WHERE id = %s", params=(1,), prepare=True) == \
            [(rel, atts["id"])]
        assert origins(f"SELECT id FROM (SELECT id FROM {t}) q") == [(0, 0)]


def test_table_oids_are_stable_across_restarts(fresh_server):
    land_table(fresh_server, "pgstable", "t")

    def oid():
        with psycopg.connect(**fresh_server.pg_params()) as c:
            r = c.execute('SELECT region FROM raw."pgstable".t').pgresult
            return r.ftable(0), r.ftablecol(0)
    before = oid()
    assert before[0] >= 16384 and before[1] == 2
    fresh_server.stop()
    fresh_server.start()
    assert oid() == before


JDBC_JAR = "/usr/share/java/postgresql.jar"


def test_pgjdbc_result_set_metadata_names_the_base_table(server, tmp_path):
    import os
    import shutil
    import subprocess
    if not (shutil.which("javac") and os.path.exists(JDBC_JAR)):
        pytest.skip("javac or pgJDBC missing")
    land_table(server, "pgjdbcmeta", "orders")
    src = tmp_path / "RsMeta.java"
    src.write_text("""
import java.sql.*;
public class RsMeta {
  public static void main(String[] a) throws Exception {
    try (Connection c = DriverManager.getConnection(a[0], a[1], a[2]);
         PreparedStatement ps = c.prepareStatement(
           "SELECT id, region, amount * 2 AS twice FROM \\"raw.pgjdbcmeta\\".orders WHERE id > ?")) {
      ps.setInt(1, 0);
      try (ResultSet rs = ps.executeQuery()) {
        ResultSetMetaData md = rs.getMetaData();
        org.postgresql.PGResultSetMetaData pg = md.unwrap(org.postgresql.PGResultSetMetaData.class);
        for (int i = 1; i <= md.getColumnCount(); i++)
          System.out.println(md.getColumnName(i) + " base=" + pg.getBaseTableName(i) + " schema=" +
                             pg.getBaseSchemaName(i) + " table=" + md.getTableName(i) + " type=" +
                             md.getColumnTypeName(i) + " nullable=" + md.isNullable(i));
      }
    }
  }
}
""")
    subprocess.run(["javac", "-cp", JDBC_JAR, "-d", str(tmp_path), str(src)], check=True, timeout=120)
    r = subprocess.run(["java", "-cp", f"{tmp_path}:{JDBC_JAR}", "RsMeta",
                        f"jdbc:postgresql://127.0.0.1:{server.pg_port}/lake", "admin",
                        server.admin_password()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("id base=orders schema=raw.pgjdbcmeta table=orders type=int8"), out
    assert out[1].startswith("region base=orders schema=raw.pgjdbcmeta table=orders type=text"), out
    assert out[2].startswith("twice base= "), out


def test_asyncpg_type_introspection_and_json_codec(server):
    async def main():
        c = await connect(server)
        try:
            # set_type_codec looks json up in pg_type and wants a scalar kind (typtype is
            # PostgreSQL's one-byte "char", read as bytes).
            await c.set_type_codec("json", encoder=json.dumps, decoder=json.loads,
                                   schema="pg_catalog")
            assert await c.fetchval("SELECT $1::json", {"k": [1, None]}) == {"k": [1, None]}
            assert await c.fetchval("SELECT typtype FROM pg_catalog.pg_type WHERE typname = 'int4'"
                                    ) == b"b"
        finally:
            await c.close()
    run(main())
