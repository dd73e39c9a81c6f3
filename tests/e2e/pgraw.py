"""A minimal PostgreSQL protocol v3 client for tests: it logs in with SCRAM-SHA-256 (RFC
5802, computed here with hashlib/hmac) and sends exactly the messages a test names, so the
server's answers can be compared message by message with what PostgreSQL 15 answers."""
import base64
import hashlib
import hmac
import os
import socket
import struct


def msg(kind, body=b""):
    return kind + struct.pack("!I", 4 + len(body)) + body


def cstr(s):
    return s.encode() + b"\0"


class RawClient:
    def __init__(self, port, user, password, database="lake", host="127.0.0.1", source=None):
        # source: the local address to connect from (another loopback address, say).
        self.sock = socket.create_connection((host, port), timeout=30,
                                             source_address=(source, 0) if source else None)
        self.buf = b""
        self.params = {}
        params = cstr("user") + cstr(user) + cstr("database") + cstr(database) + b"\0"
        body = struct.pack("!I", 196608) + params
        self.sock.sendall(struct.pack("!I", 4 + len(body)) + body)
        self._scram(user, password)
        self.startup_messages = self.until_ready()
        for kind, body in self.startup_messages:
            if kind == b"S":
                k, v = body[:-1].split(b"\0")
                self.params[k.decode()] = v.decode()

    def read(self):
        while True:
            if len(self.buf) >= 5:
                n = struct.unpack("!I", self.buf[1:5])[0]
                if len(self.buf) >= 1 + n:
                    kind, body = self.buf[:1], self.buf[5:1 + n]
                    self.buf = self.buf[1 + n:]
                    return kind, body
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk

    def until_ready(self):
        out = []
        while True:
            kind, body = self.read()
            out.append((kind, body))
            if kind == b"Z":
                return out

    def _scram(self, user, password):
        kind, body = self.read()
        if kind == b"E":
            raise PermissionError(body)
        assert kind == b"R" and struct.unpack("!I", body[:4])[0] == 10, (kind, body)
        assert b"SCRAM-SHA-256\0" in body[4:]
        cnonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n=,r={cnonce}"
        first = ("n,," + first_bare).encode()
        self.sock.sendall(msg(b"p", cstr("SCRAM-SHA-256") + struct.pack("!I", len(first)) + first))
        kind, body = self.read()
        if kind == b"E":
            raise PermissionError(body)
        assert kind == b"R" and struct.unpack("!I", body[:4])[0] == 11
        server_first = body[4:].decode()
        attrs = dict(a.split("=", 1) for a in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = hashlib.sha256(client_key).digest()
        final_wo_proof = f"c=biws,r={attrs['r']}"
        auth = f"{first_bare},{server_first},{final_wo_proof}".encode()
        sig = hmac.new(stored, auth, hashlib.sha256).digest()
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig))).decode()
        self.sock.sendall(msg(b"p", f"{final_wo_proof},p={proof}".encode()))
        kind, body = self.read()
        if kind == b"E":
            raise PermissionError(body)
        assert kind == b"R" and struct.unpack("!I", body[:4])[0] == 12
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        want = base64.b64encode(hmac.new(server_key, auth, hashlib.sha256).digest()).decode()
        assert body[4:].decode() == f"v={want}", "the server's SCRAM signature is wrong"

    def send(self, *messages):
        self.sock.sendall(b"".join(messages))

    def close(self):
        try:
            self.sock.sendall(msg(b"X"))
        finally:
            self.sock.close()


def query(sql):
    return msg(b"Q", cstr(sql))


def parse(sql, name="", types=()):
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack("!H", len(types)) +
               b"".join(struct.pack("!I", t) for t in types))


def bind(params=(), portal="", stmt="", result_formats=()):
    body = cstr(portal) + cstr(stmt) + struct.pack("!H", 0) + struct.pack("!H", len(params))
    for p in params:
        if p is None:
            body += struct.pack("!i", -1)
        else:
            body += struct.pack("!I", len(p)) + p
    body += struct.pack("!H", len(result_formats)) + b"".join(struct.pack("!H", f) for f in result_formats)
    return msg(b"B", body)


def describe(kind, name=""):
    return msg(b"D", kind + cstr(name))


def execute(portal="", max_rows=0):
    return msg(b"E", cstr(portal) + struct.pack("!I", max_rows))


def sync():
    return msg(b"S")


def close(kind, name=""):
    return msg(b"C", kind + cstr(name))


def fields(body):
    """An ErrorResponse's or NoticeResponse's fields, as {code letter: text}."""
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[part[:1].decode()] = part[1:].decode()
    return out
