"""Connections that never authenticate, held against a server: idle TCP sockets and
PostgreSQL startups left at the SASL challenge. Shared by tests/e2e/test_floods.py and
bench/flood.py. Loopback only; the caller closes every socket (held() does)."""
import contextlib
import resource
import socket
import struct
import time


def raise_nofile(want):
    """Raises this process's open-file soft limit to want (at most the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


@contextlib.contextmanager
def held(socks):
    """Closes every socket in the list at the end, whatever happened."""
    try:
        yield socks
    finally:
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()


def open_idle(port, count, source, socks, limit_s=60):
    """Opens up to count TCP connections from source that send nothing."""
    end = time.time() + limit_s
    for _ in range(count):
        if time.time() > end:
            break
        s = socket.socket()
        s.settimeout(5)
        try:
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        socks.append(s)


def startup_packet(user, database="lake"):
    body = (struct.pack("!I", 196608) + b"user\0" + user.encode() + b"\0database\0" +
            database.encode() + b"\0\0")
    return struct.pack("!I", 4 + len(body)) + body


def open_half_logins(port, count, source, socks, user="admin"):
    """Connections that send a startup message, read the SASL challenge and never answer."""
    for _ in range(count):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
            s.sendall(startup_packet(user))
            s.recv(64)  # AuthenticationSASL (or end of file once evicted)
        except OSError:
            s.close()
            continue
        socks.append(s)
