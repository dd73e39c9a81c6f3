"""The durability order, read from a system-call trace of a real server (strace; no
special file system needed). For a PUT, a multipart completion, a DeleteObject, a
PutRecordBatch, a promotion and a compaction: the last write of the request's commit to
tarn.db-wal is followed by a completed fsync/fdatasync of tarn.db-wal before the answer
is sent, and before any unlink that depends on the commit. A power failure keeps only
what was synced, so this order is what makes an acknowledgement mean durable."""
import hashlib
import http.client
import json
import os
import re
import shutil
import time
import xml.etree.ElementTree as ET

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import Server
from s3util import sign, unique, wait_for

pytestmark = pytest.mark.skipif(not shutil.which("strace"), reason="needs strace")

TRACED = ("fsync,fdatasync,pwrite64,write,writev,sendto,sendmsg,unlink,unlinkat,rename,"
          "renameat,renameat2,link,linkat")
SENDS = ("sendto", "sendmsg", "writev", "write")
WRITES = ("pwrite64", "write", "writev")
SYNCS = ("fsync", "fdatasync")
LINE = re.compile(r"^(\d+)\s+(.*)$")
FD = re.compile(r"-?\d+<(TCP:\[[^\]]*\]|[^>]*)>")
AT = re.compile(r"(?:AT_FDCWD|\d+)<([^>]*)>, \"([^\"]*)\"")


def parse(text):
    """The trace as events {tid, call, args, start, end, ret}: start and end are line
    numbers, so a call cut in two by another thread's (<unfinished ...> / resumed) spans
    both."""
    events, open_ = [], {}
    for i, line in enumerate(text.splitlines()):
        m = LINE.match(line)
        if not m:
            continue
        tid, rest = int(m.group(1)), m.group(2)
        if rest.startswith("<... "):
            e = open_.pop(tid, None)
            if e:
                e["end"], e["ret"] = i, rest.rsplit("=", 1)[-1].strip()
            continue
        call = re.match(r"(\w+)\((.*)", rest)
        if not call:
            continue
        e = {"tid": tid, "call": call.group(1), "args": call.group(2), "start": i, "end": i,
             "ret": None}
        if rest.endswith("<unfinished ...>"):
            open_[tid] = e
        else:
            e["ret"] = rest.rsplit("=", 1)[-1].strip()
        events.append(e)
    return events


def fd_path(e):
    m = FD.match(e["args"])
    return m.group(1) if m else ""


def removed_path(e):
    """The path an unlink, unlinkat or rename(at) removes or replaces."""
    if e["call"] == "unlink":
        m = re.match(r"\"([^\"]*)\"", e["args"])
        return m.group(1) if m else ""
    if e["call"] == "unlinkat":
        m = AT.match(e["args"])
        return os.path.join(m.group(1), m.group(2)) if m else ""
    return ""


class Trace:
    def __init__(self, path):
        self.path = path

    def mark(self):
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def events(self, since):
        with open(self.path, "rb") as f:
            f.seek(since)
            return parse(f.read().decode("utf-8", "replace"))

    def wait(self, since, pred, what, timeout=60):
        """Waits until an event matching pred is in the trace; returns (events, event)."""
        def found():
            evs = self.events(since)
            hit = next((e for e in evs if pred(e) and e["ret"] is not None), None)
            return (evs, hit) if hit else None
        got = wait_for(found, timeout=timeout, interval=0.1)
        assert got, what
        return got


def wal_synced_before(events, tid, before, what):
    """Asserts that thread tid's last write to tarn.db-wal that ended before line `before`
    is followed by a successful sync of tarn.db-wal that began after that write ended and
    ended before line `before`."""
    writes = [e for e in events if e["tid"] == tid and e["call"] in WRITES and
              fd_path(e).endswith("/tarn.db-wal") and e["end"] < before]
    assert writes, f"{what}: no commit of this thread in the catalog's WAL"
    last = writes[-1]
    syncs = [e for e in events if e["call"] in SYNCS and fd_path(e).endswith("/tarn.db-wal")
             and e["start"] > last["end"] and e["end"] < before and e["ret"] == "0"]
    assert syncs, (f"{what}: the WAL write at trace line {last['end']} is not followed by an "
                   f"fsync of tarn.db-wal before line {before}")


def file_synced_before(events, tid, before, suffix, what):
    """The same rule for another file thread tid wrote (the stream log)."""
    writes = [e for e in events if e["tid"] == tid and e["call"] in WRITES and
              suffix(fd_path(e)) and e["end"] < before]
    assert writes, f"{what}: nothing written"
    last = writes[-1]
    path = fd_path(last)
    assert any(e["call"] in SYNCS and fd_path(e) == path and e["start"] > last["end"] and
               e["end"] < before and e["ret"] == "0" for e in events), \
        f"{what}: {path} is not synced after its last write and before line {before}"


class Client:
    """A signed request over a connection whose local port is known, so that the server's
    answer is found in the trace by its socket."""

    def __init__(self, server):
        self.server = server

    def send(self, method, path, query="", body=b"", headers=None, service="s3"):
        srv = self.server
        if service == "s3":
            h = sign(srv, method, path, query, headers, body)
        else:
            ak, sk = srv.admin_keys()
            url = srv.endpoint + path + (("?" + query) if query else "")
            req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
            botocore.auth.SigV4Auth(Credentials(ak, sk), service, "us-east-1").add_auth(req)
            h = {k: (v.decode() if isinstance(v, bytes) else v)
                 for k, v in req.prepare().headers.items()}
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
        conn.connect()
        port = conn.sock.getsockname()[1]
        conn.putrequest(method, path + (("?" + query) if query else ""),
                        skip_accept_encoding=True)
        if body and not any(k.lower() == "content-length" for k in h):
            h["Content-Length"] = str(len(body))
        for k, v in h.items():
            conn.putheader(k, v)
        conn.endheaders(body or None)
        r = conn.getresponse()
        out = r.status, r.read()
        conn.close()
        return out[0], out[1], port


def answered(trace, since, port, what):
    """The events so far and the line where the answer to the connection from port began
    to go out, and the thread that sent it (the one that ran the request)."""
    tcp = f"127.0.0.1:{port}]"
    evs, e = trace.wait(since, lambda e: e["call"] in SENDS and fd_path(e).startswith("TCP:")
                        and fd_path(e).endswith(tcp), f"{what}: no answer in the trace")
    return evs, e["start"], e["tid"]


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    base = tmp_path_factory.mktemp("traced")
    log = str(base / "trace.log")
    wrapper = ["strace", "-f", "-qq", "-yy", "-s", "48", "--seccomp-bpf", "-e",
               f"trace={TRACED}", "-o", log]
    s = Server(base / "data", promotion=True, wrapper=wrapper).start()
    s.trace = Trace(log)
    yield s
    s.stop()


def test_put_answers_after_the_wal_sync(traced):
    c, t = Client(traced), traced.trace
    since = t.mark()
    status, _, port = c.send("PUT", f"/raw/{unique('db')}/t/a.csv", body=b"a,b\n1,2\n")
    assert status == 200
    evs, at, tid = answered(t, since, port, "PUT")
    wal_synced_before(evs, tid, at, "PUT")


def test_multipart_completion_answers_after_the_wal_sync_and_removes_parts_after(traced):
    c, t = Client(traced), traced.trace
    key = f"/raw/{unique('mp')}/t/big.csv"
    status, body, _ = c.send("POST", key, "uploads=")
    assert status == 200, body
    upload = ET.fromstring(body).findtext("{*}UploadId")
    part = b"x,y\n" + b"1,2\n" * (5 << 18)
    status, _, _ = c.send("PUT", key, f"partNumber=1&uploadId={upload}", body=part)
    assert status == 200
    etag = '"' + hashlib.md5(part).hexdigest() + '"'
    done = (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag>"
            f"</Part></CompleteMultipartUpload>").encode()
    since = t.mark()
    status, body, port = c.send("POST", key, f"uploadId={upload}", body=done)
    assert status == 200, body
    evs, at, tid = answered(t, since, port, "CompleteMultipartUpload")
    wal_synced_before(evs, tid, at, "CompleteMultipartUpload")
    parts = [e for e in evs if e["call"] in ("unlink", "unlinkat") and
             f"/tmp/uploads/{upload}" in removed_path(e)]
    assert parts, "the upload's parts were not removed"
    for e in parts:
        wal_synced_before(evs, e["tid"], e["start"], "removing a completed upload's part")


def test_delete_unlinks_and_answers_after_the_wal_sync(traced):
    c, t = Client(traced), traced.trace
    key = f"/{unique('plain')}"
    assert c.send("PUT", key)[0] == 200
    assert c.send("PUT", key + "/gone.bin", body=b"bytes")[0] == 200
    since = t.mark()
    status, _, port = c.send("DELETE", key + "/gone.bin")
    assert status == 204
    evs, at, tid = answered(t, since, port, "DeleteObject")
    wal_synced_before(evs, tid, at, "DeleteObject")
    unlinks = [e for e in evs if e["call"] in ("unlink", "unlinkat") and
               removed_path(e).endswith(key + "/gone.bin")]
    assert unlinks and unlinks[0]["start"] < at, "the object's file was not removed first"
    wal_synced_before(evs, unlinks[0]["tid"], unlinks[0]["start"], "unlinking a deleted object")


def test_put_record_batch_answers_after_the_log_sync(traced):
    c, t = Client(traced), traced.trace
    name = unique("fh")
    target = {"X-Amz-Target": "Firehose_20150804.CreateDeliveryStream",
              "Content-Type": "application/x-amz-json-1.1"}
    dest = {"RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": "arn:aws:s3:::raw", "Prefix": f"{name}/events/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}}
    status, body, _ = c.send("POST", "/", body=json.dumps(
        {"DeliveryStreamName": name, "ExtendedS3DestinationConfiguration": dest}).encode(),
        headers=target, service="firehose")
    assert status == 200, body
    import base64
    records = [{"Data": base64.b64encode(json.dumps({"n": i}).encode() + b"\n").decode()}
               for i in range(50)]
    since = t.mark()
    status, body, port = c.send("POST", "/", body=json.dumps(
        {"DeliveryStreamName": name, "Records": records}).encode(),
        headers={**target, "X-Amz-Target": "Firehose_20150804.PutRecordBatch"},
        service="firehose")
    assert status == 200 and json.loads(body)["FailedPutCount"] == 0, body
    evs, at, tid = answered(t, since, port, "PutRecordBatch")
    file_synced_before(evs, tid, at, lambda p: f"/wal/{name}/" in p or "/wal/" in p,
                       "PutRecordBatch")
    # Its delivery commits the file and the position, then trims the log: the log's
    # segments go only after that commit is synced.
    since2 = since
    evs, obj = t.wait(since2, lambda e: e["call"] in ("linkat", "renameat", "rename", "renameat2")
                      and f"/objects/raw/{name}/" in e["args"], "the batch was not delivered",
                      timeout=60)
    for e in evs:
        if e["call"] in ("unlink", "unlinkat") and "/wal/" in removed_path(e):
            wal_synced_before(evs, e["tid"], e["start"], "trimming the stream log")


def test_promotion_unlinks_raw_only_after_the_move_is_synced(traced):
    c, t = Client(traced), traced.trace
    db = unique("pr").replace("-", "_")
    since = t.mark()
    assert c.send("PUT", f"/raw/{db}/t/one.csv", body=b"id,v\n1,2\n")[0] == 200
    evs, gone = t.wait(since, lambda e: e["call"] in ("unlink", "unlinkat") and
                       removed_path(e).endswith(f"/objects/raw/{db}/t/one.csv"),
                       "promotion did not remove the raw object")
    linked = [e for e in evs if e["call"] == "linkat" and f"/objects/cleaned/{db}/t/one.csv"
              in e["args"]]
    assert linked and linked[0]["end"] < gone["start"], "not linked into cleaned first"
    wal_synced_before(evs, gone["tid"], gone["start"], "promotion's removal from raw")


def test_compaction_answers_after_the_wal_sync(traced):
    c, t = Client(traced), traced.trace
    db = unique("cp").replace("-", "_")
    name = unique("cpp").replace("-", "_")
    spec = (f"name: {name}\nsteps:\n  - name: load\n    sql: SELECT id, v FROM cleaned.{db}.ev\n"
            f"    target: {{table: curated.{db}.ev, mode: append}}\n")
    assert c.send("PUT", f"/raw/{db}/ev/0.csv", body=b"id,v\n0,1\n")[0] == 200

    def rest(method, path, body=None):
        st, out, _ = c.send(method, path, body=json.dumps(body).encode() if body else b"",
                            headers={"Content-Type": "application/json"} if body else None,
                            service="tarn")
        return st, json.loads(out) if out.strip() else None

    wait_for(lambda: rest("GET", f"/v1/tables/cleaned/{db}/ev")[1].get("files") == 1,
             timeout=60)
    assert rest("POST", "/v1/pipelines", {"spec": spec})[0] in (200, 201)
    for _ in range(2):  # two appends: two files to compact into one
        st, run = rest("POST", f"/v1/pipelines/{name}/runs", {"replay": False})
        assert st == 202, run

        def ended():
            out = rest("GET", f"/v1/pipelines/{name}/runs/{run['id']}")[1]
            return out if out["status"] in ("succeeded", "failed") else None
        assert wait_for(ended, timeout=120)["status"] == "succeeded"
    since = t.mark()
    st, body, port = c.send("POST", f"/v1/tables/curated/{db}/ev/compact", body=b"{}",
                            headers={"Content-Type": "application/json"}, service="tarn")
    assert st == 200, body
    out = json.loads(body)
    assert out["files_after"] < out["files_before"], out
    evs, at, tid = answered(t, since, port, "CompactTable")
    wal_synced_before(evs, tid, at, "CompactTable")
