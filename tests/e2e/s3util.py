"""Helpers shared by the end-to-end tests: asserting S3 errors raised by boto3, signing
hand-made requests with botocore's own SigV4 signer (for inputs no client produces),
running a real client with a skewed clock, calling the REST API, and waiting for the
catalog to catch up."""
import contextlib
import datetime
import http.client
import json
import time
import types
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError


def unique(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@contextlib.contextmanager
def s3_error(code, status):
    """Expects the block to raise a boto3 ClientError with exactly this code and status."""
    with pytest.raises(ClientError) as ei:
        yield ei
    got = ei.value.response
    assert got["Error"]["Code"] == code, got
    assert got["ResponseMetadata"]["HTTPStatusCode"] == status, got


@contextlib.contextmanager
def skewed_clock(seconds):
    """botocore signs with the wall clock shifted by `seconds` (negative = in the past)."""
    real = datetime.datetime

    class Shifted(real):
        @classmethod
        def utcnow(cls):
            return real.utcnow() + datetime.timedelta(seconds=seconds)

    # With awscrt installed (Debian's python3-awscrt), botocore signs through CRT.
    modules = [botocore.auth]
    try:
        import importlib
        modules.append(importlib.import_module("botocore.crt.auth"))
    except ImportError:
        pass
    saved = [m.datetime for m in modules]
    for m in modules:
        m.datetime = types.SimpleNamespace(datetime=Shifted, timezone=datetime.timezone,
                                           timedelta=datetime.timedelta)
    try:
        yield
    finally:
        for m, d in zip(modules, saved):
            m.datetime = d


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def code(self):
        """The S3 XML <Code> (or REST JSON error code) of an error response."""
        if not self.body:
            return None
        if self.body.lstrip().startswith(b"{"):
            import json
            return json.loads(self.body)["error"]["code"]
        return ET.fromstring(self.body).findtext("Code")


def sign(server, method, path, query="", headers=None, body=b"", access_key=None,
         secret_key=None, unsigned_payload=False, service="s3"):
    """Signs a request with botocore's S3 SigV4 signer; returns the headers to send.
    path is sent as given (not normalized), like the S3 signer does."""
    ak, sk = server.admin_keys()
    url = server.endpoint + path + (("?" + query) if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if unsigned_payload:
        req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    creds = Credentials(access_key or ak, secret_key or sk)
    botocore.auth.S3SigV4Auth(creds, service, "us-east-1").add_auth(req)
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in req.headers.items()}


def raw(server, method, path, query="", headers=None, body=b"", timeout=30):
    """Sends exactly this request (no path normalization) with http.client."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        target = path + (("?" + query) if query else "")
        conn.putrequest(method, target, skip_host="Host" in (headers or {}) or
                        "host" in (headers or {}), skip_accept_encoding=True)
        h = dict(headers or {})
        if body and not any(k.lower() == "content-length" for k in h):
            h["Content-Length"] = str(len(body))
        for k, v in h.items():
            conn.putheader(k, v)
        conn.endheaders(body if body else None)
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def signed(server, method, path, query="", headers=None, body=b"", **kw):
    """A hand-signed request sent as is."""
    h = sign(server, method, path, query, headers, body, **kw)
    return raw(server, method, path, query, h, body)


def quote_key(key):
    return urllib.parse.quote(key, safe="/~")


class _StreamingAuth(botocore.auth.S3SigV4Auth):
    def payload(self, request):
        return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


def signed_chunked_put(server, path, data, chunk_size=65536, tamper=None, extra_headers=None):
    """PUTs data as a signed aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, what the
    Java and Go SDKs send over plain HTTP). The seed signature comes from botocore's signer;
    each chunk is signed after it, as the SigV4 streaming specification says.
    tamper(i, chunk) may return other bytes to send for chunk i (after signing)."""
    import hashlib
    import hmac
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    frames_len = sum(len("%x;chunk-signature=" % len(c)) + 64 + 2 + len(c) + 2 for c in chunks)
    ak, sk = server.admin_keys()
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
               "Content-Length": str(frames_len), **(extra_headers or {})}
    req = AWSRequest(method="PUT", url=server.endpoint + path, data=b"", headers=headers)
    _StreamingAuth(Credentials(ak, sk), "s3", "us-east-1").add_auth(req)
    h = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in req.headers.items()}
    assert h["X-Amz-Content-SHA256"] == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    amz_date = h["X-Amz-Date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    prev = h["Authorization"].rsplit("Signature=", 1)[1]

    def hm(k, m):
        return hmac.new(k, m.encode() if isinstance(m, str) else m, hashlib.sha256).digest()
    key = hm(hm(hm(hm(("AWS4" + sk).encode(), amz_date[:8]), "us-east-1"), "s3"), "aws4_request")
    empty = hashlib.sha256(b"").hexdigest()
    body = b""
    for i, c in enumerate(chunks):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty,
                         hashlib.sha256(c).hexdigest()])
        prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        sent = tamper(i, c) if tamper else c
        body += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(sent), prev.encode(), sent)
    h["Content-Length"] = str(len(body))
    return raw(server, "PUT", path, headers=h, body=body)


def rest(server, method, path, body=None, keys=None, text=False, binary=False, source=None):
    """A REST call signed like any AWS SDK signs a JSON API (service "tarn"); returns
    (status, parsed JSON or None), or with text=True (status, body text, content type),
    or with binary=True (status, body bytes, headers with lowercase names). source: the
    client address to connect from ("127.0.0.2")."""
    ak, sk = keys if keys else server.admin_keys()
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    req = AWSRequest(method=method, url=server.endpoint + path, data=data, headers=headers)
    botocore.auth.SigV4Auth(Credentials(ak, sk), "tarn", "us-east-1").add_auth(req)
    prepared = req.prepare()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60,
                                      source_address=(source, 0) if source else None)
    try:
        target = prepared.url[len(server.endpoint):]
        conn.request(method, target, body=data or None, headers=dict(prepared.headers))
        r = conn.getresponse()
        payload = r.read()
        if binary:
            return r.status, payload, {k.lower(): v for k, v in r.getheaders()}
        if text:
            return r.status, payload.decode(), r.getheader("Content-Type")
        return r.status, (json.loads(payload) if payload.strip() else None)
    finally:
        conn.close()


def wait_for(fn, timeout=30, interval=0.1):
    """Polls fn until it returns a truthy value; returns it, or fails with the last one."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout}s; last value: {last!r}")
