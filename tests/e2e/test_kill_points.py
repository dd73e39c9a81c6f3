"""Crashes at named points of a write (TARN_KILLPOINT, compiled into test builds): after
the object's fsync, after its commit is in the WAL, after the WAL sync, before and after
the answer, between promotion's link and unlink, and between a delete's synced commit and
its unlink. After each, a restart on the same data folder finds the catalog and the files
in agreement: an object is either wholly there and listed or absent and unlisted, nothing
is half-visible, no listed key answers 500, and no temp file is left behind."""
import hashlib
import os
import time

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from conftest import Server
from s3util import wait_for
from test_durability import tmp_files

NEW = b"id,v\n" + b"".join(b"%d,new\n" % i for i in range(2000))
OLD = b"id,v\n" + b"".join(b"%d,old\n" % i for i in range(500))


def crash_server(tmp_path, point, promotion=False):
    return Server(tmp_path / "data", promotion=promotion,
                  extra_env={"TARN_KILLPOINT": point}).start()


def restart(s, promotion=False):
    """The same data folder, served again without the kill point."""
    s.proc.wait(timeout=30)
    assert s.proc.returncode == 137, f"the server did not stop at the kill point: {s.proc.returncode}"
    again = Server(s.data, promotion=promotion)
    again.start()
    return again


def put_until_killed(s3, bucket, key, body):
    """PUTs body; returns True when acknowledged, False when the server died first."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        return True
    except (BotoCoreError, ConnectionError):
        return False
    except ClientError as e:  # an answer other than 200 is no acknowledgement either
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] >= 500, e
        return False


def consistent(s, bucket):
    """Every listed key reads back whole (size and MD5 ETag agree); returns {key: bytes}."""
    s3 = s.s3()
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            got = s3.get_object(Bucket=bucket, Key=o["Key"])
            body = got["Body"].read()
            assert len(body) == o["Size"], o["Key"]
            if "-" not in got["ETag"]:
                assert got["ETag"].strip('"') == hashlib.md5(body).hexdigest(), o["Key"]
            out[o["Key"]] = body
    assert tmp_files(s) == []
    return out


def absent(s, bucket, key):
    s3 = s.s3()
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key=key)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize("point", ["object-fsynced", "object-committed", "commit-synced",
                                   "http-before-response", "http-after-response"])
def test_a_put_killed_at_each_point_is_whole_or_absent(tmp_path, point):
    s = crash_server(tmp_path, point)
    acked = put_until_killed(s.s3(), "raw", "t/new.csv", NEW)
    s = restart(s)
    try:
        objects = consistent(s, "raw")
        if acked:
            assert objects["t/new.csv"] == NEW
        if "t/new.csv" in objects:
            assert objects["t/new.csv"] == NEW
        else:
            assert not acked
            absent(s, "raw", "t/new.csv")
        # Past the object's commit (kill -9 keeps the page cache) the object is there.
        if point != "object-fsynced":
            assert objects.get("t/new.csv") == NEW
        # The key is usable again either way.
        s.s3().put_object(Bucket="raw", Key="t/new.csv", Body=b"id\n1\n")
        assert consistent(s, "raw")["t/new.csv"] == b"id\n1\n"
    finally:
        s.stop()


@pytest.mark.parametrize("point", ["object-fsynced:2", "overwrite-intent-synced",
                                   "object-committed:2", "http-before-response:2"])
def test_an_overwrite_killed_keeps_the_old_or_the_new_object_whole(tmp_path, point):
    s = crash_server(tmp_path, point)
    s3 = s.s3()
    s3.put_object(Bucket="raw", Key="t/obj.csv", Body=OLD)
    put_until_killed(s3, "raw", "t/obj.csv", NEW)
    s = restart(s)
    try:
        objects = consistent(s, "raw")
        assert objects["t/obj.csv"] in (OLD, NEW)
    finally:
        s.stop()


def test_a_delete_killed_after_its_commit_is_gone_without_a_500(tmp_path):
    s = crash_server(tmp_path, "delete-synced")
    s3 = s.s3()
    s3.put_object(Bucket="raw", Key="t/doomed.csv", Body=OLD)
    s3.put_object(Bucket="raw", Key="t/kept.csv", Body=NEW)
    try:
        s3.delete_object(Bucket="raw", Key="t/doomed.csv")
    except Exception:
        pass
    s = restart(s)
    try:
        objects = consistent(s, "raw")
        assert objects == {"t/kept.csv": NEW}
        absent(s, "raw", "t/doomed.csv")
        s.s3().put_object(Bucket="raw", Key="t/doomed.csv", Body=b"again\n")
        assert consistent(s, "raw")["t/doomed.csv"] == b"again\n"
    finally:
        s.stop()


def test_promotion_killed_between_link_and_unlink_moves_the_object_once(tmp_path):
    s = crash_server(tmp_path, "promote-linked", promotion=True)
    s.s3().put_object(Bucket="raw", Key="sales/orders/one.csv", Body=NEW)
    s.proc.wait(timeout=60)
    s = restart(s, promotion=True)
    try:
        def moved():
            listed = s.s3().list_objects_v2(Bucket="raw").get("KeyCount", 0)
            return listed == 0
        wait_for(moved, timeout=60)
        cleaned = consistent(s, "cleaned")
        assert cleaned == {"sales/orders/one.csv": NEW}
        assert consistent(s, "raw") == {}
        assert consistent(s, "quarantine") == {}
        assert not os.path.exists(os.path.join(s.data, "objects", "raw", "sales", "orders",
                                               "one.csv"))
    finally:
        s.stop()


def test_a_part_whose_bytes_disagree_with_its_etag_is_refused_at_completion(fresh_server):
    """A part uploaded again replaces its file before its row commits: after a power
    failure in between, the row's ETag describes other bytes. Completion checks each
    part's bytes, so no object is built from bytes its ETag does not describe."""
    s3 = fresh_server.s3()
    uid = s3.create_multipart_upload(Bucket="raw", Key="t/mp.bin")["UploadId"]
    part = os.urandom(1234)
    etag = s3.upload_part(Bucket="raw", Key="t/mp.bin", UploadId=uid, PartNumber=1,
                          Body=part)["ETag"]
    path = os.path.join(fresh_server.data, "tmp", "uploads", uid, "1")
    with open(path, "wb") as f:  # what a re-upload cut short by a power failure leaves
        f.write(os.urandom(1234))
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket="raw", Key="t/mp.bin", UploadId=uid,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert ei.value.response["Error"]["Code"] == "InvalidPart"
    absent(fresh_server, "raw", "t/mp.bin")
    # Uploaded again, the part completes.
    etag = s3.upload_part(Bucket="raw", Key="t/mp.bin", UploadId=uid, PartNumber=1,
                          Body=part)["ETag"]
    s3.complete_multipart_upload(Bucket="raw", Key="t/mp.bin", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket="raw", Key="t/mp.bin")["Body"].read() == part
