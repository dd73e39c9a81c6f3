"""Crash safety with `kill -9`: a large upload cut off mid-stream leaves no object, no temp
file and no listing entry after a restart on the same data folder, and the key is usable
again; an interrupted overwrite keeps the old object whole; acknowledged PUTs (single and
multipart) survive kill -9 byte for byte; an unfinished multipart upload survives a
restart and can still be completed; the audit trail stays verifiable across the crash."""
import glob
import hashlib
import http.client
import os
import time

import pytest

from s3util import quote_key, s3_error, sign

MiB = 1 << 20


def tmp_files(server):
    """Named temp files left in the data folder (uploads are staged in unnamed O_TMPFILE
    files where the filesystem allows, or in tmp/put-* otherwise)."""
    named = glob.glob(os.path.join(server.data, "tmp", "put-*"))
    hidden = glob.glob(os.path.join(server.data, "objects", "**", ".tarn-*.tmp"), recursive=True)
    return sorted(os.path.basename(p) for p in named + hidden)


def staged_sizes(server):
    """Sizes of the upload temp files the running server holds open."""
    tmp = os.path.join(server.data, "tmp")
    sizes = []
    fd_dir = f"/proc/{server.proc.pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
            if target.startswith(tmp + "/"):
                sizes.append(os.stat(os.path.join(fd_dir, fd)).st_size)
        except OSError:
            pass
    return sizes


def stream_put_then_kill(server, bucket, key, total=200 * MiB, kill_after=48 * MiB):
    """PUTs `total` bytes generated on the fly over a raw connection, and kill -9s the
    server once it has written at least `kill_after` bytes of the temp file."""
    path = f"/{bucket}/{quote_key(key)}"
    headers = sign(server, "PUT", path, headers={"Content-Length": str(total)},
                   unsigned_payload=True)
    assert headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("PUT", path, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    chunk = hashlib.sha256(key.encode()).digest() * (MiB // 32)
    sent = 0
    killed_with = None
    try:
        while sent < total:
            conn.send(chunk)
            sent += len(chunk)
            if sent >= kill_after and killed_with is None:
                deadline = time.time() + 20
                while time.time() < deadline:
                    sizes = staged_sizes(server)
                    if sizes and max(sizes) >= kill_after // 2:
                        break
                    time.sleep(0.01)
                killed_with = staged_sizes(server)
                server.kill9()
    except OSError:
        pass  # the peer is gone: expected
    finally:
        conn.close()
    assert killed_with, "the upload never reached the server's temp folder"
    assert sent < total, "the whole body went through before the kill"
    return killed_with


def test_kill9_during_streamed_upload(fresh_server):
    s3 = fresh_server.s3()
    s3.put_object(Bucket="raw", Key="before/kept.csv", Body=b"a,b\n")
    in_flight = stream_put_then_kill(fresh_server, "raw", "big/upload.bin")
    assert in_flight  # a temp file existed while the body streamed in

    fresh_server.start()
    s3 = fresh_server.s3()
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key="big/upload.bin")
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket="raw", Key="big/upload.bin")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="raw").get("Contents", [])]
    assert listed == ["before/kept.csv"]
    assert s3.list_objects_v2(Bucket="raw", Prefix="big/")["KeyCount"] == 0
    assert tmp_files(fresh_server) == []  # the temp file was swept at start-up
    assert not os.path.exists(os.path.join(fresh_server.data, "objects", "raw", "big", "upload.bin"))

    data = os.urandom(3 * MiB)
    s3.put_object(Bucket="raw", Key="big/upload.bin", Body=data)
    got = s3.get_object(Bucket="raw", Key="big/upload.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert s3.get_object(Bucket="raw", Key="before/kept.csv")["Body"].read() == b"a,b\n"


def test_kill9_during_overwrite_keeps_old_object(fresh_server):
    s3 = fresh_server.s3()
    old = os.urandom(2 * MiB)
    etag = s3.put_object(Bucket="raw", Key="t/obj.bin", Body=old, Metadata={"v": "1"})["ETag"]
    stream_put_then_kill(fresh_server, "raw", "t/obj.bin", total=120 * MiB, kill_after=24 * MiB)
    fresh_server.start()
    s3 = fresh_server.s3()
    got = s3.get_object(Bucket="raw", Key="t/obj.bin")
    assert got["ETag"] == etag
    assert got["Metadata"] == {"v": "1"}
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(old).digest()
    assert tmp_files(fresh_server) == []


def test_acknowledged_puts_survive_kill9(fresh_server, tmp_path):
    s3 = fresh_server.s3()
    written = {}
    for i in range(20):
        d = os.urandom(1000 + i * 4096)
        k = f"acked/file-{i:02d}.bin"
        etag = s3.put_object(Bucket="raw", Key=k, Body=d, ContentType="application/octet-stream",
                             Metadata={"i": str(i)})["ETag"]
        written[k] = (hashlib.sha256(d).hexdigest(), etag)
    # One multipart object, one plain bucket, one object copied, one deleted.
    parts = [os.urandom(5 * MiB), os.urandom(1234)]
    uid = s3.create_multipart_upload(Bucket="raw", Key="acked/mp.bin")["UploadId"]
    etags = [s3.upload_part(Bucket="raw", Key="acked/mp.bin", UploadId=uid, PartNumber=n,
                            Body=p)["ETag"] for n, p in enumerate(parts, 1)]
    mp_etag = s3.complete_multipart_upload(
        Bucket="raw", Key="acked/mp.bin", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})["ETag"]
    written["acked/mp.bin"] = (hashlib.sha256(b"".join(parts)).hexdigest(), mp_etag)
    s3.create_bucket(Bucket="plain-durable")
    s3.put_object(Bucket="plain-durable", Key="x", Body=b"in a plain bucket")
    s3.copy_object(Bucket="cleaned", Key="acked/copied.bin", CopySource="raw/acked/file-00.bin")
    s3.delete_object(Bucket="raw", Key="acked/file-19.bin")
    del written["acked/file-19.bin"]

    fresh_server.kill9()
    fresh_server.start()
    s3 = fresh_server.s3()
    for k, (sha, etag) in written.items():
        got = s3.get_object(Bucket="raw", Key=k)
        assert hashlib.sha256(got["Body"].read()).hexdigest() == sha, k
        assert got["ETag"] == etag, k
    assert s3.head_object(Bucket="raw", Key="acked/file-03.bin")["Metadata"] == {"i": "3"}
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket="raw", Prefix="acked/")["Contents"]) \
        == sorted(written)
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key="acked/file-19.bin")
    assert s3.get_object(Bucket="plain-durable", Key="x")["Body"].read() == b"in a plain bucket"
    assert s3.head_object(Bucket="cleaned", Key="acked/copied.bin")["ETag"] == written["acked/file-00.bin"][1]


def test_multipart_upload_survives_restart(fresh_server):
    s3 = fresh_server.s3()
    p1, p2 = os.urandom(5 * MiB), os.urandom(4321)
    uid = s3.create_multipart_upload(Bucket="raw", Key="mp/resume.bin")["UploadId"]
    e1 = s3.upload_part(Bucket="raw", Key="mp/resume.bin", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    fresh_server.kill9()
    fresh_server.start()
    s3 = fresh_server.s3()
    assert [u["UploadId"] for u in
            s3.list_multipart_uploads(Bucket="raw", Prefix="mp/")["Uploads"]] == [uid]
    assert [p["ETag"] for p in
            s3.list_parts(Bucket="raw", Key="mp/resume.bin", UploadId=uid)["Parts"]] == [e1]
    e2 = s3.upload_part(Bucket="raw", Key="mp/resume.bin", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    s3.complete_multipart_upload(Bucket="raw", Key="mp/resume.bin", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    got = s3.get_object(Bucket="raw", Key="mp/resume.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(p1 + p2).digest()


def test_sigterm_exits_cleanly_and_restarts(fresh_server):
    s3 = fresh_server.s3()
    s3.put_object(Bucket="raw", Key="k", Body=b"v")
    assert fresh_server.stop() == 0
    fresh_server.start()
    assert fresh_server.s3().get_object(Bucket="raw", Key="k")["Body"].read() == b"v"


def test_audit_trail_verifies_after_kill9(fresh_server):
    s3 = fresh_server.s3()
    for i in range(10):
        s3.put_object(Bucket="raw", Key=f"a/{i}", Body=b"x")
    time.sleep(0.2)  # audit records are written as each request completes
    fresh_server.kill9()
    fresh_server.start()
    fresh_server.s3().list_objects_v2(Bucket="raw")
    r = fresh_server.tarn("audit", "verify", "--data", fresh_server.data, check=False)
    assert r.returncode == 0, r.stderr
    assert "intact" in r.stdout
    assert len(glob.glob(os.path.join(fresh_server.data, "audit", "seg-*.jsonl"))) >= 2


@pytest.mark.parametrize("n", [3])
def test_repeated_kill9_restart_cycles(fresh_server, n):
    for i in range(n):
        s3 = fresh_server.s3()
        s3.put_object(Bucket="raw", Key=f"cycle/{i}", Body=str(i).encode())
        fresh_server.kill9()
        fresh_server.start()
    s3 = fresh_server.s3()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="raw", Prefix="cycle/")["Contents"]] == \
        [f"cycle/{i}" for i in range(n)]
    r = fresh_server.tarn("audit", "verify", "--data", fresh_server.data, check=False)
    assert r.returncode == 0, r.stderr
