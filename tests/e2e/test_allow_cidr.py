"""Network allow-lists: a server allowing only 127.0.0.2 refuses a client bound to
127.0.0.1 and serves one bound to 127.0.0.2, on HTTP and on the PostgreSQL port, before
any protocol work; a port's own list overrides the common one; each refusal is audited
with the client's address; a malformed range stops the server with the option named."""
import json
import os
import socket
import struct
import subprocess
import time

from conftest import TARN, Server, free_port
from s3util import rest


def exchange(port, source, payload, want):
    """Connects to 127.0.0.1:port from source, sends payload and reads up to want bytes:
    what came back (b"" when the server closed the connection unanswered)."""
    s = socket.socket()
    s.settimeout(5)
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(payload)
        got = b""
        while len(got) < want:
            chunk = s.recv(want - len(got))
            if not chunk:
                break
            got += chunk
        return got
    except (ConnectionResetError, BrokenPipeError):
        return b""
    except ConnectionRefusedError:
        return None  # not listening yet
    finally:
        s.close()


def http_status(port, source):
    r = exchange(port, source, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 12)
    return r[9:12].decode() if r and r.startswith(b"HTTP/1.1") else None


def pg_answer(port, source):
    """The answer to an SSLRequest: b"N" (no TLS: go on in plain text) when served."""
    return exchange(port, source, struct.pack("!ii", 8, 80877103), 1)


def test_only_allowed_addresses_are_served(tmp_path):
    data = tmp_path / "data"
    port, pg_port = free_port(), free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([TARN, "serve", "--data", str(data), "--listen", f"127.0.0.1:{port}",
                             "--pg-listen", f"127.0.0.1:{pg_port}", "--promotion", "off",
                             "--allow-cidr", "127.0.0.2/32"], stdout=log, stderr=log)
    try:
        deadline = time.time() + 30
        while http_status(port, "127.0.0.2") != "200":
            assert proc.poll() is None and time.time() < deadline, open(tmp_path / "serve.log").read()
            time.sleep(0.1)
        assert pg_answer(pg_port, "127.0.0.2") == b"N"
        assert http_status(port, "127.0.0.1") is None
        assert pg_answer(pg_port, "127.0.0.1") == b""
    finally:
        proc.terminate()
        proc.wait(timeout=60)

    # A port's own list wins over the common one: HTTP for all of 127/8, PostgreSQL for .2.
    s = Server(data, extra_args=["--allow-cidr", "127.0.0.2", "--allow-cidr-http", "127.0.0.0/8",
                                 "--allow-cidr-pg", "127.0.0.2"])
    s.port, s.pg_port = port, pg_port
    s.endpoint = f"http://127.0.0.1:{port}"
    s.start()
    try:
        assert http_status(port, "127.0.0.1") == "200"
        assert pg_answer(pg_port, "127.0.0.1") == b""
        assert pg_answer(pg_port, "127.0.0.2") == b"N"
        status, out = rest(s, "GET", "/v1/audit?n=500")
        refused = [(r["resource"], r["source"]) for r in out["records"]
                   if r.get("action") == "net:Connect" and r.get("outcome") == "deny"]
        assert ("http", "127.0.0.1") in refused and ("postgres", "127.0.0.1") in refused
    finally:
        s.stop()


def test_malformed_range_is_refused(tmp_path):
    r = subprocess.run([TARN, "serve", "--data", str(tmp_path / "data"), "--listen",
                        f"127.0.0.1:{free_port()}", "--pg-listen", "off",
                        "--allow-cidr-pg", "10.0.0.0/33"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "--allow-cidr-pg" in r.stderr and "10.0.0.0/33" in r.stderr


def test_access_key_limited_to_addresses(server):
    server.tarn("user", "create", "netkey", "--password", "netkey-pw-1")
    out = json.loads(server.tarn("key", "create", "netkey", "--allow-cidr", "127.0.0.2/32",
                                 "--json").stdout)
    assert out["allow_cidr"] == "127.0.0.2/32"
    keys = (out["access_key"], out["secret_key"])
    # From its address the key signs (whoami needs no grant); from another it is refused.
    status, who = rest(server, "GET", "/v1/whoami", keys=keys, source="127.0.0.2")
    assert status == 200 and who["user"] == "netkey"
    for _ in range(2):  # the second time from the key cache
        status, err = rest(server, "GET", "/v1/whoami", keys=keys, source="127.0.0.1")
        assert status == 403 and "127.0.0.2/32" in err["error"]["message"], err
    listed = json.loads(server.tarn("key", "list", "netkey", "--json").stdout)["keys"]
    assert [k["allow_cidr"] for k in listed] == ["127.0.0.2/32"]
    r = server.tarn("key", "create", "netkey", "--allow-cidr", "10.0.0.0/40", check=False)
    assert r.returncode != 0 and "10.0.0.0/40" in r.stderr
    server.tarn("user", "delete", "netkey")
