"""The PostgreSQL wire protocol with real clients: psql, psycopg2, psycopg 3 and pgJDBC
query the lake (files landed with boto3) and get the same answers as `tarn sql` and
POST /v1/sql; authentication, cancel, timeouts, the queue, COPY, sessions commands,
bypass attempts and malformed protocol input."""
import datetime
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import psycopg
import psycopg2
import pytest

from conftest import Server
from s3util import rest, wait_for

PSQL = shutil.which("psql") or "/usr/bin/psql"
JDBC_JAR = "/usr/share/java/postgresql.jar"


def land_orders(server, db="pgshop"):
    s3 = server.s3()
    rows = ["id,region,amount"] + [f"{i},{'eu' if i % 3 else 'us'},{i * 1.5}" for i in range(1, 301)]
    body = ("\n".join(rows) + "\n").encode()
    s3.put_object(Bucket="raw", Key=f"{db}/orders/part-1.csv", Body=body)
    s3.put_object(Bucket="raw", Key=f"{db}/orders/part-2.csv",
                  Body=b"id,region,amount\n1001,eu,10.25\n1002,apac,20\n")

    def ready():
        status, t = rest(server, "GET", f"/v1/tables/raw/{db}/orders")
        return status == 200 and t.get("files") == 2
    wait_for(ready, timeout=30)
    return f"raw.{db}.orders"


AGG = "SELECT region, count(*) AS n, sum(amount) AS total FROM {t} GROUP BY region ORDER BY region"
EXPECTED = [("apac", 1, 20.0), ("eu", 201, 45010.25), ("us", 100, 22725.0)]


def psql(server, *args, password=None, user="admin", dbname="lake", timeout=60, check=True):
    env = dict(os.environ, PGPASSWORD=server.admin_password() if password is None else password,
               PGCONNECT_TIMEOUT="10")
    return subprocess.run([PSQL, "-X", "-h", "127.0.0.1", "-p", str(server.pg_port), "-U", user,
                           "-d", dbname, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=check)


def test_same_answer_through_every_client(server, tmp_path):
    t = land_orders(server)
    q = AGG.format(t=t)
    # psycopg2 (simple query protocol)
    with psycopg2.connect(**server.pg_params()) as c:
        cur = c.cursor()
        cur.execute(q)
        assert [d.name for d in cur.description] == ["region", "n", "total"]
        assert [d.type_code for d in cur.description] == [25, 20, 701]  # text, int8, float8
        got = [(r, n, float(tot)) for r, n, tot in cur.fetchall()]
        assert got == EXPECTED
    # psycopg 3 with $1 parameters (extended protocol), text and binary results
    with psycopg.connect(**server.pg_params()) as c:
        q3 = f"SELECT region, count(*) AS n, sum(amount) AS total FROM {t} WHERE amount > %s GROUP BY region ORDER BY region"
        rows = c.execute(q3, (0,)).fetchall()
        assert [(r, n, float(tot)) for r, n, tot in rows] == EXPECTED
        rows = c.cursor(binary=True).execute(q3, (20,)).fetchall()
        assert [(r, n) for r, n, _ in rows] == [("eu", 191), ("us", 96)]
    # psql -c, unaligned
    r = psql(server, "-A", "-t", "-F", "|", "-c", q)
    assert r.stdout.split() == ["apac|1|20", "eu|201|45010.25", "us|100|22725"], r.stdout
    # tarn sql and POST /v1/sql
    out = server.tarn("sql", q, "--format", "csv").stdout.split()
    assert out[0] == "region,n,total" and out[1].startswith("apac,1,20")
    status, body = rest(server, "POST", "/v1/sql", {"sql": q})
    assert status == 200 and [(r, n, float(x)) for r, n, x in body["rows"]] == EXPECTED
    # pgJDBC: a prepared statement run past the driver's prepareThreshold, so later runs use
    # a named server-side statement and binary results
    if not (shutil.which("javac") and os.path.exists(JDBC_JAR)):
        pytest.skip("no JDK or pgJDBC")
    src = tmp_path / "Agg.java"
    src.write_text("""
import java.sql.*;
public class Agg {
  public static void main(String[] a) throws Exception {
    try (Connection c = DriverManager.getConnection(a[0], a[1], a[2])) {
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT region, count(*) AS n, sum(amount) AS total FROM " + a[3] +
          " WHERE amount > ? GROUP BY region ORDER BY region")) {
        for (int rep = 0; rep < 7; rep++) {
          ps.setDouble(1, 0);
          StringBuilder sb = new StringBuilder();
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next())
              sb.append(rs.getString(1)).append('|').append(rs.getLong(2)).append('|')
                .append(rs.getBigDecimal(3).stripTrailingZeros().toPlainString()).append(';');
          }
          System.out.println(sb);
        }
      }
      System.out.println(c.getMetaData().getDatabaseProductName());
    }
  }
}
""")
    subprocess.run(["javac", "-d", str(tmp_path), str(src)], check=True, timeout=120)
    r = subprocess.run(["java", "-cp", f"{tmp_path}:{JDBC_JAR}", "Agg",
                        f"jdbc:postgresql://127.0.0.1:{server.pg_port}/lake", "admin",
                        server.admin_password(), t],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[:7] == ["apac|1|20;eu|201|45010.25;us|100|22725;"] * 7, r.stdout
    assert lines[7] == "PostgreSQL"


def test_authentication(server):
    with pytest.raises(psycopg2.OperationalError) as e:
        psycopg2.connect(**server.pg_params(password="wrong"))
    assert "password authentication failed" in str(e.value)
    with pytest.raises(psycopg2.OperationalError) as e:
        psycopg2.connect(**server.pg_params(user="nobody", password="x"))
    assert "password authentication failed for user \"nobody\"" in str(e.value)
    # SCRAM is the only method offered: a client that insists on TLS is told there is none
    r = psql(server, "-c", "SELECT 1", check=False, dbname="sslmode=require dbname=lake")
    assert r.returncode != 0 and "does not support SSL" in r.stderr
    # any database name is the lake
    with psycopg2.connect(**server.pg_params(dbname="anything")) as c:
        cur = c.cursor()
        cur.execute("SELECT 7")
        assert cur.fetchone() == (7,)
    # a user created with a password can log in; its access is the user's own
    server.tarn("user", "create", "pguser", "--password", "s3cret-pass")
    with psycopg2.connect(**server.pg_params(user="pguser", password="s3cret-pass")) as c:
        cur = c.cursor()
        cur.execute("SHOW is_superuser")
        assert cur.fetchone() == ("off",)
    def denied_login_audited():
        out = server.tarn("audit", "tail", "-n", "500", "--json", "--data", server.data).stdout
        return any('"pg:Connect"' in line and '"InvalidPassword"' in line and '"nobody"' in line
                   for line in out.splitlines())
    wait_for(denied_login_audited, timeout=10)


def test_session_commands_and_parameter_status(server):
    c = psycopg2.connect(**server.pg_params())
    assert c.get_parameter_status("client_encoding") == "UTF8"
    assert c.get_parameter_status("DateStyle").startswith("ISO")
    assert c.get_parameter_status("integer_datetimes") == "on"
    assert c.get_parameter_status("standard_conforming_strings") == "on"
    assert c.server_version >= 150000
    cur = c.cursor()
    for stmt in ("SET extra_float_digits = 3", "SET application_name = 'report'",
                 "SET search_path TO \"$user\", public", "SET TIME ZONE 'UTC'",
                 "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", "SET statement_timeout = 0"):
        cur.execute(stmt)
    cur.execute("SHOW application_name")
    assert cur.fetchone() == ("report",)
    cur.execute("SHOW TRANSACTION ISOLATION LEVEL")
    assert cur.fetchone() == ("read committed",)
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("SET client_encoding = 'LATIN1'")
    assert e.value.pgcode == "22023"
    c.rollback()
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("SHOW no_such_setting")
    assert e.value.pgcode == "42704"
    c.rollback()
    # psycopg2 wraps statements in BEGIN ... COMMIT; an error aborts the block until ROLLBACK
    cur.execute("SELECT 1")
    with pytest.raises(psycopg2.Error):
        cur.execute("SELEC 1")
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("SELECT 1")
    assert e.value.pgcode == "25P02"
    c.rollback()
    cur.execute("SELECT 2")
    assert cur.fetchone() == (2,)
    c.commit()
    c.close()
    # empty query, several statements in one simple Query, a comment only
    r = psql(server, "-c", "SELECT 1 AS a; SELECT 2 AS b", "-c", "-- nothing", "-A", "-t")
    assert r.stdout.split() == ["1", "2"]


def test_copy_to_stdout(server, tmp_path):
    t = land_orders(server, db="pgcopy")
    with psycopg2.connect(**server.pg_params()) as c:
        cur = c.cursor()
        out = tmp_path / "out.csv"
        with open(out, "w") as f:
            cur.copy_expert(f"COPY (SELECT id, region, amount FROM {t} WHERE id <= 3 ORDER BY id) "
                            "TO STDOUT WITH (FORMAT csv, HEADER)", f)
        assert out.read_text().splitlines() == ["id,region,amount", "1,eu,1.5", "2,eu,3", "3,us,4.5"]
    r = psql(server, "-c", f"COPY (SELECT id, NULL AS x, 'a\tb' AS y FROM {t} WHERE id = 1) TO STDOUT")
    assert r.stdout == "1\t\\N\ta\\tb\n"
    with psycopg.connect(**server.pg_params()) as c:
        with c.cursor().copy(f"COPY (SELECT id FROM {t} ORDER BY id LIMIT 5) TO STDOUT") as cp:
            assert [bytes(row).strip() for row in cp] == [b"1", b"2", b"3", b"4", b"5"]
    r = psql(server, "-c", f"COPY {t} FROM STDIN", check=False)
    assert r.returncode != 0 and "read-only" in r.stderr
    r = psql(server, "-c", "COPY (SELECT 1) TO '/tmp/x.csv'", check=False)
    assert r.returncode != 0 and "TO STDOUT" in r.stderr
    assert not os.path.exists("/tmp/x.csv")


def test_bypass_attempts_are_refused(server):
    attempts = {
        "SELECT * FROM read_csv('/etc/passwd')": "42501",
        "SELECT * FROM 'objects/raw/x.parquet'": "42501",
        f"SELECT * FROM read_parquet('{server.data}/objects/curated/x/y/z.parquet')": "42501",
        "SELECT * FROM glob('/*')": "42501",
        "ATTACH '/tmp/x.db' AS x": "25006",
        "INSTALL httpfs": "25006",
        "LOAD httpfs": "25006",
        "PRAGMA version": "25006",
        "CREATE TABLE t AS SELECT 1": "25006",
        "SELECT 1; SELECT 2": None,  # two statements are fine in a simple Query, not in Parse
    }
    c = psycopg2.connect(**server.pg_params())
    c.autocommit = True
    if True:
        cur = c.cursor()
        for q, state in attempts.items():
            if state is None:
                continue
            with pytest.raises(psycopg2.Error) as e:
                cur.execute(q)
            assert e.value.pgcode == state, (q, e.value.pgcode, str(e.value))
        # SET reaches session settings only, never the engine
        cur.execute("SET enable_external_access = true")
        cur.execute("SELECT * FROM range(1)")
        with pytest.raises(psycopg2.Error) as e:
            cur.execute("SELECT * FROM read_csv('/etc/passwd')")
        assert e.value.pgcode == "42501"
    c.close()
    with psycopg.connect(**server.pg_params(), autocommit=True) as c:
        with pytest.raises(psycopg.Error) as e:
            c.execute("SELECT 1; SELECT 2", prepare=True)
        assert e.value.sqlstate == "42601"
        with pytest.raises(psycopg.Error) as e:
            c.execute("SELECT * FROM glob(%s)", ("/*",))
        assert e.value.sqlstate == "42501"
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_cancel_from_psql_and_from_drivers(server):
    p = subprocess.Popen([PSQL, "-X", "-h", "127.0.0.1", "-p", str(server.pg_port), "-U", "admin",
                          "-d", "lake", "-c", "SELECT sum(x) FROM range(100000000000) t(x)"],
                         env=dict(os.environ, PGPASSWORD=server.admin_password()),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)  # psql sends a CancelRequest
    _, err = p.communicate(timeout=30)
    assert "canceling statement due to user request" in err
    c = psycopg2.connect(**server.pg_params())
    c.autocommit = True
    cur = c.cursor()
    threading.Timer(1.0, c.cancel).start()
    with pytest.raises(psycopg2.errors.QueryCanceled):
        cur.execute("SELECT sum(x) FROM range(100000000000) t(x)")
    cur.execute("SELECT 1")  # the connection goes on
    assert cur.fetchone() == (1,)
    c.close()


def test_timeout_and_queue(tmp_path):
    s = Server(tmp_path / "data", extra_args=["--query-timeout", "3", "--query-slots", "1",
                                              "--queue-wait", "1"]).start()
    try:
        slow = "SELECT sum(x) FROM range(100000000000) t(x)"
        with psycopg2.connect(**s.pg_params()) as c:
            cur = c.cursor()
            t0 = time.time()
            with pytest.raises(psycopg2.errors.QueryCanceled) as e:
                cur.execute(slow)
            assert "statement timeout" in str(e.value) and time.time() - t0 < 20
        # more clients than slots: one runs, one waits longer than the queue allows
        results = {}

        def run(name, q):
            try:
                with psycopg2.connect(**s.pg_params()) as c:
                    c.cursor().execute(q)
                    results[name] = "ok"
            except psycopg2.Error as e:
                results[name] = e.pgcode
        a = threading.Thread(target=run, args=("a", slow))
        a.start()
        time.sleep(0.3)
        b = threading.Thread(target=run, args=("b", "SELECT 1"))
        b.start()
        a.join(30)
        b.join(30)
        assert results == {"a": "57014", "b": "53000"}, results
        # quick queries from more clients than slots all get through the queue
        threads = [threading.Thread(target=run, args=(f"q{i}", "SELECT count(*) FROM range(1000)"))
                   for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert all(results[f"q{i}"] == "ok" for i in range(6)), results
    finally:
        s.stop()


def raw_connect(server):
    s = socket.create_connection(("127.0.0.1", server.pg_port), timeout=10)
    return s


def read_all(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def test_malformed_protocol_input(server):
    # a startup packet with an impossible length
    s = raw_connect(server)
    s.sendall(struct.pack("!I", 3))
    reply = read_all(s)
    assert reply[:1] == b"E" and b"08P01" in reply and b"invalid startup packet length" in reply
    s.close()
    # an unsupported protocol version
    s = raw_connect(server)
    s.sendall(struct.pack("!II", 8, 2 << 16))
    reply = read_all(s)
    assert b"unsupported frontend protocol" in reply
    s.close()
    # SSLRequest answered 'N'; GSSENCRequest too
    s = raw_connect(server)
    s.sendall(struct.pack("!II", 8, 80877103))
    assert s.recv(1) == b"N"
    s.sendall(struct.pack("!II", 8, 80877104))
    assert s.recv(1) == b"N"
    s.close()
    # after login: a message with a bad length, then an unknown message type
    for bad in (b"Q" + struct.pack("!I", 2), b"\x01" + struct.pack("!I", 4)):
        c = psycopg2.connect(**server.pg_params())
        sock = socket.socket(fileno=os.dup(c.fileno()))
        sock.setblocking(True)
        sock.settimeout(10)
        sock.sendall(bad)
        reply = read_all(sock)
        assert b"08P01" in reply, reply
        sock.close()
        c.close()
    # a client that vanishes in the middle of a large result
    c = psycopg2.connect(**server.pg_params())
    sock = socket.socket(fileno=os.dup(c.fileno()))
    sock.setblocking(True)
    q = b"SELECT x, repeat('y', 100) FROM range(5000000) t(x)\0"
    sock.sendall(b"Q" + struct.pack("!I", 4 + len(q)) + q)
    sock.recv(65536)
    sock.close()
    c.close()
    # everyone else is still served
    with psycopg2.connect(**server.pg_params()) as c2:
        cur = c2.cursor()
        cur.execute("SELECT 42")
        assert cur.fetchone() == (42,)
    status, body = rest(server, "GET", "/v1/queries")
    assert status == 200
    assert not [q for q in body["queries"] if q["state"] == "running" and "repeat" in q["sql"]]


def test_types_round_trip(server):
    q = ("SELECT 1::SMALLINT a, 2::INTEGER b, 3::BIGINT c, 1.5::REAL d, 2.5::DOUBLE e, "
         "12.34::DECIMAL(10,2) f, 'x' g, '\\x01\\xFF'::BLOB h, DATE '2024-02-29' i, "
         "TIME '01:02:03.5' j, TIMESTAMP '2024-02-29 01:02:03.25' k, "
         "TIMESTAMPTZ '2024-02-29 01:02:03+00' l, INTERVAL '3 days 04:00:00' m, "
         "'6f1c0d6e-3f3a-4c1b-9d7e-1a2b3c4d5e6f'::UUID n, true o, NULL::INTEGER p, "
         "'inf'::DOUBLE q")
    oids = [21, 23, 20, 700, 701, 1700, 25, 17, 1082, 1083, 1114, 1184, 1186, 2950, 16, 23, 701]
    with psycopg2.connect(**server.pg_params()) as c:
        cur = c.cursor()
        cur.execute(q)
        assert [d.type_code for d in cur.description] == oids
        text_row = cur.fetchone()
    with psycopg.connect(**server.pg_params()) as c:
        bin_row = c.cursor(binary=True).execute(q).fetchone()
        txt_row = c.cursor().execute(q).fetchone()
    assert bin_row == txt_row
    assert text_row[:7] == (1, 2, 3, 1.5, 2.5, __import__("decimal").Decimal("12.34"), "x")
    assert bytes(text_row[7]) == b"\x01\xff" and bin_row[7] == b"\x01\xff"
    assert str(bin_row[8]) == "2024-02-29" and str(bin_row[10]) == "2024-02-29 01:02:03.250000"
    assert bin_row[11].utcoffset().total_seconds() == 0
    assert bin_row[12].days == 3 and bin_row[12].seconds == 4 * 3600
    assert str(bin_row[13]) == "6f1c0d6e-3f3a-4c1b-9d7e-1a2b3c4d5e6f"
    assert bin_row[14] is True and bin_row[15] is None and bin_row[16] == float("inf")


def test_server_side_cursors_stream_in_batches(server):
    q = "SELECT x AS id, 'r' || (x % 7)::VARCHAR AS region FROM range(25000) t(x) ORDER BY x"
    with psycopg2.connect(**server.pg_params()) as c:
        cur = c.cursor(name="big")  # DECLARE "big" CURSOR WITHOUT HOLD FOR ...; FETCH FORWARD n
        cur.itersize = 1000
        cur.execute(q)
        n = 0
        for row in cur:
            assert row[0] == n
            n += 1
        assert n == 25000
        cur.close()  # CLOSE "big"
    with psycopg.connect(**server.pg_params()) as c:
        with c.cursor(name="pgcur") as cur:  # DECLARE + FETCH over the extended protocol
            cur.execute("SELECT x FROM range(10) t(x) WHERE x > %s ORDER BY x", (4,))
            assert cur.fetchmany(2) == [(5,), (6,)]
            assert cur.fetchall() == [(7,), (8,), (9,)]
    c = psycopg2.connect(**server.pg_params())
    c.autocommit = True  # (a `with` block would open a transaction even so)
    cur = c.cursor()
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("DECLARE c CURSOR FOR SELECT 1")
    assert e.value.pgcode == "25P01"
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("FETCH 1 FROM nosuch")
    assert e.value.pgcode == "34000"
    c.close()


def test_tls_when_a_certificate_is_configured(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    s = Server(tmp_path / "data", extra_args=["--tls-cert", str(cert), "--tls-key", str(key)]).start()
    try:
        params = dict(s.pg_params(), host="localhost", sslmode="verify-full", sslrootcert=str(cert))
        with psycopg2.connect(**params) as c:
            cur = c.cursor()
            cur.execute("SELECT count(*) FROM range(100000)")
            assert cur.fetchone() == (100000,)
            assert c.info.ssl_in_use
        r = psql(s, "-A", "-t", "-c", "SELECT 'over tls'", dbname=f"sslmode=verify-full sslrootcert={cert} dbname=lake")
        assert r.stdout.strip() == "over tls"
        # a certificate the client does not trust is refused by the client
        other = tmp_path / "other.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(tmp_path / "k2.pem"), "-out", str(other), "-days", "2", "-subj", "/CN=x"],
                       check=True, capture_output=True)
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(**dict(params, sslrootcert=str(other)))
    finally:
        s.stop()
    # a key that does not match the certificate stops the server at start, with the reason
    r = subprocess.run([s.proc.args[0], "serve", "--data", str(tmp_path / "data"), "--listen",
                        "127.0.0.1:0", "--pg-listen", "127.0.0.1:0", "--tls-cert", str(other),
                        "--tls-key", str(key)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "does not match the certificate" in r.stderr


# What PostgreSQL 15.18 (Debian 12) answers to each exchange below, message by message
# (type letters; CommandComplete with its tag, errors and notices with their SQLSTATE),
# recorded with tests/e2e/pgraw.py. tarn must answer the same.
POSTGRES_15 = {
    'simple': ['T', 'D', 'C:SELECT 1', 'Z'],
    'empty': ['I', 'Z'],
    'two': ['T', 'D', 'C:SELECT 1', 'T', 'D', 'C:SELECT 1', 'Z'],
    'syntax': ['E:42601', 'Z'],
    'ext': ['1', '2', 'T', 'D', 'C:SELECT 1', 'Z'],
    'ext_limit': ['1', '2', 'T', 'D', 'D', 's', 'D', 'C:SELECT 1', 'Z'],
    'describe_stmt': ['1', 't', 'T', 'Z'],
    'close_stmt': ['3', 'Z'],
    'block': ['C:BEGIN', 'Z', 'E:42601', 'Z', 'E:25P02', 'Z', 'C:ROLLBACK', 'Z'],
    'ext_error': ['E:42601', 'Z'],
    'set': ['C:SET', 'S', 'Z'],
    'show': ['T', 'D', 'C:SHOW', 'Z'],
    'copy': ['H', 'd', 'c', 'C:COPY 1', 'Z'],
    'commit_idle': ['N:25P01', 'C:COMMIT', 'Z'],
    'bad_stmt': ['E:26000', 'Z'],
    'params': ['DateStyle', 'IntervalStyle', 'TimeZone', 'application_name', 'client_encoding', 'default_transaction_read_only', 'in_hot_standby', 'integer_datetimes', 'is_superuser', 'server_encoding', 'server_version', 'session_authorization', 'standard_conforming_strings'],
}


def test_messages_match_postgresql_15(server):
    from pgraw import RawClient, bind, close, describe, execute, fields, parse, query, sync
    c = RawClient(server.pg_port, "admin", server.admin_password())
    got = {}

    def run(name, *messages, until=1):
        c.send(*messages)
        answers = []
        for _ in range(until):
            answers += c.until_ready()
        got[name] = [k.decode() + (":" + fields(b)["C"] if k in (b"E", b"N") else "") +
                     (":" + b.rstrip(b"\0").decode() if k == b"C" else "") for k, b in answers]
    run("simple", query("SELECT 1 AS a"))
    run("empty", query(""))
    run("two", query("SELECT 1 AS a; SELECT 2 AS b"))
    run("syntax", query("SELEC 1"))
    run("ext", parse("SELECT $1::int AS a"), bind([b"5"]), describe(b"P"), execute(), sync())
    run("ext_limit", parse("SELECT * FROM (VALUES (1),(2),(3)) t(x)"), bind(), describe(b"P"),
        execute("", 2), execute("", 2), sync())
    run("describe_stmt", parse("SELECT $1::int AS a, 'x' AS b", "s1"), describe(b"S", "s1"), sync())
    run("close_stmt", close(b"S", "s1"), sync())
    run("block", query("BEGIN"), query("SELEC 1"), query("SELECT 1"), query("ROLLBACK"), until=4)
    run("ext_error", parse("SELEC 1"), bind(), execute(), sync())
    run("set", query("SET application_name = 'x'"))
    run("show", query("SHOW application_name"))
    run("copy", query("COPY (SELECT 1 AS a) TO STDOUT"))
    run("commit_idle", query("COMMIT"))
    run("bad_stmt", bind(stmt="nosuch"), sync())
    got["params"] = sorted(c.params)
    c.close()
    assert got == POSTGRES_15


def test_psql_describes_the_lake(tmp_path):
    s = Server(tmp_path / "data").start()
    try:
        s3 = s.s3()
        s3.put_object(Bucket="raw", Key="pgmeta/orders/a.csv", Body=b"id,region,amount\n1,eu,2.5\n")
        s3.put_object(Bucket="curated", Key="pgmeta/orders/a.csv", Body=b"id,note\n1,x\n")
        s3.put_object(Bucket="raw", Key="pghr/salaries/a.csv", Body=b"name,salary\nann,1\n")
        for t in ("raw/pgmeta/orders", "curated/pgmeta/orders", "raw/pghr/salaries"):
            wait_for(lambda t=t: rest(s, "GET", f"/v1/tables/{t}")[0] == 200, timeout=30)
        s.tarn("table", "set", "curated.pgmeta.orders", "--description", "Orders, cleaned up")
        s.tarn("user", "create", "viewer", "--password", "viewer-pass-1")
        # viewer may read the pgmeta tables, not raw.pghr
        for t in ("raw.pgmeta.*", "curated.pgmeta.*"):
            s.tarn("grant", "SELECT", "ON", "TABLE", t, "TO", "user:viewer")
        r = psql(s, "-c", "\\dt")
        lines = [l.split("|") for l in r.stdout.splitlines() if "|" in l]
        rows = [[c.strip() for c in l] for l in lines[1:]]
        assert ["raw.pghr", "salaries", "table", "admin"] in rows
        assert ["raw.pgmeta", "orders", "table", "admin"] in rows
        assert ["pgmeta", "orders", "table", "admin"] in rows
        r = psql(s, "-c", "\\dn")
        assert "raw.pgmeta" in r.stdout and " pgmeta " in r.stdout
        r = psql(s, "-c", "\\d \"raw.pgmeta\".orders")
        assert 'Table "raw.pgmeta.orders"' in r.stdout
        cols = {l.split("|")[0].strip(): l.split("|")[1].strip() for l in r.stdout.splitlines()
                if l.count("|") >= 4}
        assert cols == {"Column": "Type", "id": "bigint", "region": "text",
                        "amount": "double precision"}
        r = psql(s, "-c", "\\dt+ pgmeta.orders")
        assert "Orders, cleaned up" in r.stdout
        # a user who may not read raw.pghr sees it nowhere
        r = psql(s, "-c", "\\dt", user="viewer", password="viewer-pass-1")
        assert "pgmeta" in r.stdout and "pghr" not in r.stdout and "salaries" not in r.stdout
        r = psql(s, "-A", "-t", "-c",
                 "SELECT count(*) FROM information_schema.tables WHERE table_name = 'salaries'",
                 user="viewer", password="viewer-pass-1")
        assert r.stdout.strip() == "0"
        r = psql(s, "-c", "SELECT * FROM \"raw.pghr\".salaries", user="viewer",
                 password="viewer-pass-1", check=False)
        assert r.returncode != 0 and "raw.pghr.salaries" in r.stderr
        # pgJDBC's DatabaseMetaData, as BI tools use it
        if not (shutil.which("javac") and os.path.exists(JDBC_JAR)):
            return
        src = tmp_path / "Meta.java"
        src.write_text("""
import java.sql.*;
public class Meta {
  public static void main(String[] a) throws Exception {
    try (Connection c = DriverManager.getConnection(a[0], a[1], a[2])) {
      DatabaseMetaData md = c.getMetaData();
      try (ResultSet rs = md.getTables(null, null, "%", new String[]{"TABLE"})) {
        while (rs.next()) System.out.println("T " + rs.getString("TABLE_SCHEM") + " " + rs.getString("TABLE_NAME"));
      }
      try (ResultSet rs = md.getColumns(null, "raw.pgmeta", "orders", "%")) {
        while (rs.next()) System.out.println("C " + rs.getString("COLUMN_NAME") + " " + rs.getString("TYPE_NAME"));
      }
      try (ResultSet rs = md.getSchemas()) {
        while (rs.next()) System.out.println("S " + rs.getString("TABLE_SCHEM"));
      }
    }
  }
}
""")
        subprocess.run(["javac", "-d", str(tmp_path), str(src)], check=True, timeout=120)
        r = subprocess.run(["java", "-cp", f"{tmp_path}:{JDBC_JAR}", "Meta",
                            f"jdbc:postgresql://127.0.0.1:{s.pg_port}/lake", "viewer", "viewer-pass-1"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        out = r.stdout.splitlines()
        assert "T raw.pgmeta orders" in out and "T pgmeta orders" in out
        assert not [l for l in out if "pghr" in l]
        assert [l for l in out if l.startswith("C ")] == ["C id int8", "C region text",
                                                          "C amount float8"]
        assert "S raw.pgmeta" in out
    finally:
        s.stop()


def test_binary_results_equal_text_results_for_every_written_type(server):
    """Binary results are written from the engine's typed values, text from their text:
    over several chunks of rows, with NULLs, edges and every integer width, both read the
    same in psycopg 3."""
    q = ("SELECT i, (i % 256 - 128)::TINYINT a, (i % 256)::UTINYINT b, (i * 7)::USMALLINT c, "
         "(i * 858993)::UINTEGER d, (i::UBIGINT * 3602879701896397)::UBIGINT e, "
         "(i::HUGEINT * 170141183460469231731687303715884) f, "
         "((i - 2500) * 1.01)::DECIMAL(9,2) g, ((i - 2500) * 12345.678901)::DECIMAL(38,6) h, "
         "DATE '1999-12-31' + (i - 2500)::INTEGER j, "
         "TIMESTAMP '2000-01-01' + (i - 2500) * INTERVAL '1 hour 0.5 seconds' k, "
         "CASE WHEN i % 7 = 0 THEN NULL ELSE 'r' || i END l, "
         "(i / 3.0)::DOUBLE m, TIME '00:00:00' + i * INTERVAL '17 seconds' n "
         "FROM range(1, 5001) t(i) UNION ALL SELECT 0, NULL, NULL, NULL, NULL, NULL, NULL, "
         "NULL, NULL, NULL, NULL, NULL, NULL, NULL ORDER BY i")
    with psycopg.connect(**server.pg_params()) as c:
        binary = c.cursor(binary=True).execute(q).fetchall()
        text = c.cursor().execute(q).fetchall()
    assert len(binary) == 5001 and binary == text
    assert binary[0][1:] == (None,) * 13 and binary[1][9] == datetime.date(1993, 2, 26)


def test_interleaved_cursors_keep_every_row(server):
    """Two open results on one session, read in turns (named cursors): each gives every
    row. A result too large to keep aside while another statement runs fails loudly at its
    next fetch instead of ending early. (Each open result holds a query slot: the server
    has two here.)"""
    c = psycopg2.connect(**server.pg_params())
    try:
        a, b = c.cursor("a"), c.cursor("b")
        a.execute("SELECT i FROM range(100000) t(i)")
        got_a = a.fetchmany(1000)
        b.execute("SELECT i * 2 AS j FROM range(50000) t(i)")
        got_b = b.fetchmany(500)
        while True:
            rows_a, rows_b = a.fetchmany(7000), b.fetchmany(3000)
            got_a += rows_a
            got_b += rows_b
            if not rows_a and not rows_b:
                break
        assert [r[0] for r in got_a] == list(range(100000))
        assert [r[0] for r in got_b] == [i * 2 for i in range(50000)]
        a.close()
        b.close()
        big = c.cursor("big")
        big.execute("SELECT i FROM range(40000000) t(i)")
        assert len(big.fetchmany(10)) == 10
        other = c.cursor()
        other.execute("SELECT 1")
        with pytest.raises(psycopg2.Error) as e:
            big.fetchall()
        assert "too many to keep" in str(e.value)
    finally:
        c.close()
