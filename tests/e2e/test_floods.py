"""Floods of connections that never authenticate, and password guessing: the admin is
served within a second while thousands of idle HTTP sockets or hundreds of half-open
PostgreSQL logins are held, from the admin's own address and from another; silent
connections are closed after the authentication timeout; non-admins are refused 53300
only when just the admin's reserved slots remain; wrong passwords slow down only their
own (user, address) pair. Loopback only; every socket is closed at the end."""
import contextlib
import re
import socket
import threading
import time

import psycopg2
import pytest

from conftest import Server
from floodutil import held, open_half_logins, open_idle, raise_nofile, startup_packet
from pgraw import RawClient
from s3util import wait_for
from s3util import raw, sign, signed


def metrics(server):
    r = signed(server, "GET", "/metrics", service="tarn")
    assert r.status == 200, r.body
    return r.body.decode()


def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(r"^" + re.escape(name) + r"\{" + re.escape(want) + r"\} (\S+)$", text, re.M)
    assert m, (name, labels)
    return float(m.group(1))


def timed_get(server, bucket, key):
    s3 = server.s3()  # a new client: a new connection, admitted while the flood is held
    t0 = time.monotonic()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return time.monotonic() - t0, body


def timed_pg_login(server, **kw):
    t0 = time.monotonic()
    c = psycopg2.connect(**server.pg_params(**kw), sslmode="disable", connect_timeout=10)
    try:
        cur = c.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
        return time.monotonic() - t0
    finally:
        c.close()


def until_closed(sock, limit_s=15):
    """Seconds until the server closes sock (end of file or reset)."""
    t0 = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - t0 < limit_s:
        try:
            if sock.recv(4096) == b"":
                break
        except socket.timeout:
            continue
        except OSError:
            break
    return time.monotonic() - t0


@pytest.fixture
def flood_server(tmp_path):
    raise_nofile(16000)
    # A long authentication timeout: the flood must be held by eviction, not by the reaper.
    s = Server(tmp_path / "data", extra_args=["--auth-timeout", "120"]).start()
    yield s
    s.stop()


def test_idle_http_flood_does_not_lock_out_the_admin(flood_server):
    s = flood_server
    s3 = s.s3()
    s3.create_bucket(Bucket="flood")
    s3.put_object(Bucket="flood", Key="k", Body=b"still here")
    with held([]) as socks:
        open_idle(s.port, 1200, "127.0.0.1", socks)
        open_idle(s.port, 1200, "127.0.0.2", socks)
        assert len(socks) >= 2000
        for _ in range(5):
            secs, body = timed_get(s, "flood", "k")
            assert body == b"still here"
            assert secs < 1.0, secs
        text = metrics(s)
        assert metric(text, "tarn_connections", door="http", state="unauthenticated") <= 256
        evicted = (metric(text, "tarn_connections_evicted_total", door="http", reason="cap") +
                   metric(text, "tarn_connections_evicted_total", door="http", reason="address"))
        assert evicted >= 1500, evicted


def test_http_flood_while_it_grows(flood_server):
    """An attacker opening connections as fast as it can from another address."""
    s = flood_server
    s3 = s.s3()
    s3.create_bucket(Bucket="grow")
    s3.put_object(Bucket="grow", Key="k", Body=b"x")
    stop = threading.Event()
    with held([]) as socks:
        def attack():
            while not stop.is_set() and len(socks) < 6000:
                open_idle(s.port, 50, "127.0.0.2", socks, limit_s=5)

        t = threading.Thread(target=attack)
        t.start()
        try:
            time.sleep(0.5)
            for _ in range(5):
                secs, _ = timed_get(s, "grow", "k")
                assert secs < 1.0, secs
        finally:
            stop.set()
            t.join(60)
        assert len(socks) > 300


def test_pg_startup_flood_does_not_lock_out_the_admin(flood_server):
    s = flood_server
    with held([]) as socks:
        open_half_logins(s.pg_port, 150, "127.0.0.1", socks)
        open_half_logins(s.pg_port, 150, "127.0.0.2", socks)
        assert len(socks) >= 250
        for _ in range(3):
            secs = timed_pg_login(s)
            assert secs < 1.0, secs
        text = metrics(s)
        assert metric(text, "tarn_connections", door="postgres", state="unauthenticated") <= 256
        # The logins above have closed; the server counts each out once it sees the close
        # (later under a sanitizer), so the count reaches 0 rather than being 0 at once.
        wait_for(lambda: metric(metrics(s), "tarn_connections", door="postgres",
                                state="authenticated") == 0, timeout=10)


class Login(RawClient):
    """A raw login whose ErrorResponse after authentication (53300) is raised, too."""

    def until_ready(self):
        out = []
        while True:
            kind, body = self.read()
            if kind == b"E":
                raise PermissionError(body)
            out.append((kind, body))
            if kind == b"Z":
                return out


def pg_refusal(server, user, password):
    with pytest.raises(PermissionError) as ei:
        Login(server.pg_port, user, password).close()
    return ei.value.args[0]


def test_reserved_slots_refuse_non_admins_only_at_the_end(tmp_path):
    raise_nofile(4000)
    s = Server(tmp_path / "data", extra_args=["--pg-max-connections", "4",
                                              "--reserved-admin-connections", "2",
                                              "--auth-timeout", "120"]).start()
    sessions = []
    try:
        s.tarn("user", "create", "bob", "--password", "bob-password-1")
        with held([]) as socks:
            # Half-open logins take no session: 4 sessions are still to be had.
            open_half_logins(s.pg_port, 200, "127.0.0.1", socks, user="bob")
            assert len(socks) >= 150
            sessions.append(RawClient(s.pg_port, "bob", "bob-password-1"))
            sessions.append(RawClient(s.pg_port, "bob", "bob-password-1"))
            # Only the reserved slots remain: bob is refused, with 53300.
            body = pg_refusal(s, "bob", "bob-password-1")
            assert b"53300" in body and b"reserved for the admin" in body, body
            with pytest.raises(psycopg2.OperationalError) as ei:
                psycopg2.connect(**s.pg_params(user="bob", password="bob-password-1"),
                                 sslmode="disable")
            assert "reserved for the admin" in str(ei.value)
            # The admin takes them, within a second each.
            for _ in range(2):
                t0 = time.monotonic()
                sessions.append(RawClient(s.pg_port, "admin", s.admin_password()))
                assert time.monotonic() - t0 < 1.0
            body = pg_refusal(s, "admin", s.admin_password())
            assert b"53300" in body and b"too many clients" in body, body
            # The admin's sessions end: still only the reserved slots are free for bob.
            for c in sessions[2:]:
                c.close()
            del sessions[2:]
            time.sleep(0.3)
            assert b"53300" in pg_refusal(s, "bob", "bob-password-1")
            # One of bob's ends: he may log in again.
            sessions.pop(0).close()
            time.sleep(0.3)
            sessions.append(RawClient(s.pg_port, "bob", "bob-password-1"))
            text = metrics(s)
            assert metric(text, "tarn_connections_refused_total", door="postgres") >= 4
    finally:
        for c in sessions:
            with contextlib.suppress(OSError):
                c.close()
        s.stop()


def test_auth_timeout_closes_silent_connections(tmp_path):
    s = Server(tmp_path / "data", extra_args=["--auth-timeout", "2"]).start()
    socks = []
    try:
        with held(socks):
            def connect(port):
                c = socket.create_connection(("127.0.0.1", port), timeout=5)
                socks.append(c)
                return c

            # HTTP: silent, and a slowloris that sends a byte of header now and then.
            assert 1.5 < until_closed(connect(s.port)) < 4.5
            slow = connect(s.port)
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            t0 = time.monotonic()
            closed = False
            while time.monotonic() - t0 < 10 and not closed:
                try:
                    slow.sendall(b"X")
                    slow.settimeout(0.4)
                    closed = slow.recv(1) == b""
                except socket.timeout:
                    pass
                except OSError:
                    closed = True
            assert closed and 1.5 < time.monotonic() - t0 < 4.5
            # PostgreSQL: silent, and a login that never answers the challenge.
            assert 1.5 < until_closed(connect(s.pg_port)) < 4.5
            half = connect(s.pg_port)
            half.sendall(startup_packet("admin"))
            assert half.recv(1) == b"R"
            assert 1.5 < until_closed(half) < 4.5
            # Authenticated connections get the normal idle timeout.
            pg = psycopg2.connect(**s.pg_params(), sslmode="disable")
            import http.client
            h = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
            try:
                h.request("GET", "/", headers=sign(s, "GET", "/"))
                assert h.getresponse().read() and True
                time.sleep(3)
                cur = pg.cursor()
                cur.execute("SELECT 2")
                assert cur.fetchone() == (2,)
                h.request("GET", "/", headers=sign(s, "GET", "/"))
                r = h.getresponse()
                r.read()
                assert r.status == 200
            finally:
                h.close()
                pg.close()
            text = metrics(s)
            assert metric(text, "tarn_connections_evicted_total", door="http", reason="timeout") >= 1
            assert metric(text, "tarn_connections_evicted_total", door="postgres",
                          reason="timeout") >= 2
    finally:
        s.stop()


def wrong_login(server, user, password="wrong-password"):
    t0 = time.monotonic()
    with pytest.raises(psycopg2.OperationalError) as ei:
        psycopg2.connect(**server.pg_params(user=user, password=password), sslmode="disable",
                         connect_timeout=30)
    assert "password authentication failed" in str(ei.value), ei.value
    return time.monotonic() - t0


def raw_login(server, user, password, source):
    t0 = time.monotonic()
    RawClient(server.pg_port, user, password, source=source).close()
    return time.monotonic() - t0


def test_password_backoff(tmp_path):
    s = Server(tmp_path / "data").start()
    try:
        s.tarn("user", "create", "carol", "--password", "carol-password-1")
        delays = [wrong_login(s, "carol") for _ in range(7)]
        # Three free failures, then 0.25 s doubling: 0.25, 0.5, 1, 2.
        assert all(d < 0.2 for d in delays[:3]), delays
        for got, want in zip(delays[3:], (0.25, 0.5, 1.0, 2.0)):
            assert want * 0.9 <= got < want + 0.5, delays
        # The same user from another address is not slowed, wrong or right, even while
        # a wrong attempt from the first address is being held back (4 s).
        held_back = threading.Thread(target=wrong_login, args=(s, "carol"))
        held_back.start()
        time.sleep(0.2)
        with pytest.raises(PermissionError):
            RawClient(s.pg_port, "carol", "wrong-password", source="127.0.0.2")
        assert raw_login(s, "carol", "carol-password-1", "127.0.0.2") < 0.5
        held_back.join(30)
        # The right password from the failing address is not delayed either, and resets it.
        assert raw_login(s, "carol", "carol-password-1", "127.0.0.1") < 0.5
        assert all(wrong_login(s, "carol") < 0.2 for _ in range(3))
        text = metrics(s)
        assert metric(text, "tarn_auth_failures_total", door="postgres") >= 12
        assert metric(text, "tarn_auth_backoff_seconds_total", door="postgres") >= 7.0
    finally:
        s.stop()


def test_parallel_guesses_are_spaced(tmp_path):
    """Parallel connections guess no faster than one after another."""
    s = Server(tmp_path / "data").start()
    try:
        s.tarn("user", "create", "dave", "--password", "dave-password-1")
        for _ in range(3):
            wrong_login(s, "dave")
        times = []
        threads = [threading.Thread(target=lambda: times.append(wrong_login(s, "dave")))
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        # The 4th and 5th failures earn 0.25 s and 0.5 s, one after the other.
        assert len(times) == 2 and max(times) >= 0.7, times
    finally:
        s.stop()


def test_metrics_lines(server):
    text = metrics(server)
    for line in ('tarn_auth_failures_total{door="postgres"}',
                 'tarn_auth_backoff_seconds_total{door="postgres"}',
                 'tarn_connections{door="http",state="unauthenticated"}',
                 'tarn_connections{door="http",state="authenticated"}',
                 'tarn_connections{door="postgres",state="unauthenticated"}',
                 'tarn_connections_evicted_total{door="http",reason="cap"}',
                 'tarn_connections_evicted_total{door="postgres",reason="timeout"}',
                 'tarn_connections_refused_total{door="http"}'):
        assert line in text, line
    assert "# TYPE tarn_auth_failures_total counter" in text
    assert "# TYPE tarn_connections gauge" in text
    assert raw(server, "GET", "/healthz").status == 200
