"""Small objects acknowledged from the catalog: a PUT of a new key up to 64 KiB commits its
bytes with its index row (one synced WAL round shared by concurrent PUTs), and a background
writer gives it its file afterwards. While an object is held, every S3 read serves it
whole; deletes, overwrites and key clashes behave as for any object; a crash (kill -9, or
at the writer's kill point) loses nothing and leaves no file that disagrees with the index.

TARN_WRITEBACK_HOLD=1 (test builds) keeps objects held until a reader by path asks, so the
held state can be seen; objects in a plain bucket are read by nobody by path."""
import concurrent.futures
import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from conftest import Server
from s3util import wait_for
from test_durability import tmp_files

HOLD = {"TARN_WRITEBACK_HOLD": "1"}


def body(i, n=4096):
    return hashlib.sha256(b"%d" % i).digest() * (n // 32)


def file_of(s, bucket, key):
    p = os.path.join(s.data, "objects", bucket, key)
    return open(p, "rb").read() if os.path.isfile(p) else None


def held(s):
    import sqlite3
    db = sqlite3.connect(f"file:{s.data}/tarn.db?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM object_pending").fetchone()[0]
    finally:
        db.close()


def written_back(s, bodies):
    """Waits until the writer has caught up, then checks every body reads back and is its
    file's; returns a client."""
    s3 = s.s3()
    wait_for(lambda: held(s) == 0, timeout=30)
    for k, b in bodies.items():
        assert s3.get_object(Bucket="plain", Key=k)["Body"].read() == b
        assert file_of(s, "plain", k) == b
    return s3


@pytest.fixture
def holding(tmp_path):
    s = Server(tmp_path / "data", extra_env=HOLD).start()
    s.s3().create_bucket(Bucket="plain")
    yield s
    if s.proc.poll() is None:
        s.stop()


def test_held_objects_read_whole_through_every_s3_read(holding):
    s3 = holding.s3()
    bodies = {f"k/{i}": body(i, 4096 + i) for i in range(40)}
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda kv: s3.put_object(Bucket="plain", Key=kv[0], Body=kv[1]),
                    bodies.items()))
    assert held(holding) == 40
    assert file_of(holding, "plain", "k/0") is None  # no file yet: the catalog holds it
    for k, b in bodies.items():
        got = s3.get_object(Bucket="plain", Key=k)
        assert got["Body"].read() == b
        assert got["ETag"].strip('"') == hashlib.md5(b).hexdigest()
    rng = s3.get_object(Bucket="plain", Key="k/3", Range="bytes=100-199")["Body"].read()
    assert rng == bodies["k/3"][100:200]
    assert s3.head_object(Bucket="plain", Key="k/5")["ContentLength"] == len(bodies["k/5"])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="plain", Prefix="k/")["Contents"]]
    assert sorted(keys) == sorted(bodies)
    # A copy reads the held bytes; the copy is an object of its own.
    s3.copy_object(Bucket="plain", Key="copy", CopySource={"Bucket": "plain", "Key": "k/7"})
    assert s3.get_object(Bucket="plain", Key="copy")["Body"].read() == bodies["k/7"]


def test_deletes_and_overwrites_of_held_objects(holding):
    s3 = holding.s3()
    s3.put_object(Bucket="plain", Key="gone", Body=body(1))
    s3.put_object(Bucket="plain", Key="big", Body=body(2))
    s3.put_object(Bucket="plain", Key="small", Body=body(3))
    assert held(holding) == 3
    s3.delete_object(Bucket="plain", Key="gone")
    big = os.urandom(200_000)  # past the held size: a file of its own, over the held one
    s3.put_object(Bucket="plain", Key="big", Body=big)
    s3.put_object(Bucket="plain", Key="small", Body=b"second")  # an overwrite takes a file
    assert held(holding) == 0
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket="plain", Key="gone")
    assert ei.value.response["Error"]["Code"] == "NoSuchKey"
    assert s3.get_object(Bucket="plain", Key="big")["Body"].read() == big
    assert s3.get_object(Bucket="plain", Key="small")["Body"].read() == b"second"
    assert file_of(holding, "plain", "big") == big
    assert file_of(holding, "plain", "gone") is None


def test_a_held_key_clashes_as_a_file_would(holding):
    s3 = holding.s3()
    s3.put_object(Bucket="plain", Key="d/x", Body=b"held")
    s3.put_object(Bucket="plain", Key="e/y/z", Body=b"held")
    for key in ("d/x/below", "e/y"):
        with pytest.raises(ClientError) as ei:
            s3.put_object(Bucket="plain", Key=key, Body=b"no")
        assert ei.value.response["Error"]["Code"] == "InvalidArgument", key
        assert "cannot be stored" in ei.value.response["Error"]["Message"]
    # Folder markers hold no bytes and clash with nothing.
    s3.put_object(Bucket="plain", Key="d/x/", Body=b"")
    assert held(holding) == 2


def test_held_objects_survive_kill9_and_get_their_files(holding, tmp_path):
    s3 = holding.s3()
    bodies = {f"p/{i}": body(i) for i in range(50)}
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda kv: s3.put_object(Bucket="plain", Key=kv[0], Body=kv[1]),
                    bodies.items()))
    s3.delete_object(Bucket="plain", Key="p/0")
    del bodies["p/0"]
    holding.kill9()
    again = Server(holding.data).start()  # without the hold: the writer catches up
    try:
        s3 = written_back(again, bodies)
        assert file_of(again, "plain", "p/0") is None
        assert tmp_files(again) == []
    finally:
        again.stop()


def test_a_crash_after_the_writers_fsyncs_writes_the_batch_again(tmp_path):
    s = Server(tmp_path / "data", extra_env={**HOLD, "TARN_KILLPOINT": "writeback-synced"})
    s.start()
    s3 = s.s3()
    s3.create_bucket(Bucket="plain")
    bodies = {f"w/{i}": body(i) for i in range(20)}
    for k, b in bodies.items():
        s3.put_object(Bucket="plain", Key=k, Body=b)
    # A SQL-visible zone object makes the crawler ask for its file: the writer runs its
    # batch and dies after the fsyncs, before forgetting the held bytes.
    s3.put_object(Bucket="raw", Key="sales/t/a.csv", Body=b"id\n1\n")
    s.proc.wait(timeout=30)
    assert s.proc.returncode == 137
    again = Server(s.data).start()
    try:
        s3 = written_back(again, bodies)
        assert s3.get_object(Bucket="raw", Key="sales/t/a.csv")["Body"].read() == b"id\n1\n"
        assert tmp_files(again) == []
    finally:
        again.stop()


def test_zone_objects_held_are_crawled_and_queried(holding):
    """The crawler reads files by path: it waits for a held object's file."""
    s3 = holding.s3()
    s3.put_object(Bucket="raw", Key="shop/orders/a.csv", Body=b"id,total\n1,10\n2,32\n")
    def total():
        r = holding.tarn("sql", "SELECT sum(total) AS s FROM raw.shop.orders", "--format", "csv",
                         check=False)
        return r.returncode == 0 and r.stdout.split()[-1] == "42"
    wait_for(total, timeout=30)
    assert file_of(holding, "raw", "shop/orders/a.csv") == b"id,total\n1,10\n2,32\n"
