"""Multipart uploads with real clients: `aws s3 cp` of a 50 MiB file (ETag with a "-N"
suffix, content round-trips by SHA-256), boto3 by hand (create, upload_part, list_parts,
list_multipart_uploads, complete, abort), GetObject with PartNumber, and every error the
protocol defines: MalformedXML, InvalidPartOrder, InvalidPart, EntityTooSmall,
NoSuchUpload."""
import hashlib
import json
import os

import pytest

from s3util import s3_error, unique

MiB = 1 << 20


def md5(b):
    return hashlib.md5(b).hexdigest()


def multipart_etag(parts):
    return '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest(),
                        len(parts))


@pytest.fixture
def key():
    return unique("mp") + "/object.bin"


def test_aws_cli_cp_50mib_multipart(server, tmp_path):
    src = tmp_path / "big.bin"
    data = os.urandom(50 * MiB)
    src.write_bytes(data)
    key = unique("cli-mp") + "/big.bin"
    server.aws("s3", "cp", str(src), f"s3://raw/{key}", "--no-progress")
    head = json.loads(server.aws("s3api", "head-object", "--bucket", "raw", "--key", key).stdout)
    assert head["ContentLength"] == len(data)
    # The CLI's default part size is 8 MiB: 50 MiB is 7 parts.
    parts = [data[i:i + 8 * MiB] for i in range(0, len(data), 8 * MiB)]
    assert head["ETag"] == multipart_etag(parts)
    assert head["ETag"].endswith('-7"')
    back = tmp_path / "back.bin"
    server.aws("s3", "cp", f"s3://raw/{key}", str(back), "--no-progress")
    assert hashlib.sha256(back.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    # Nothing of the upload is left behind.
    out = json.loads(server.aws("s3api", "list-multipart-uploads", "--bucket", "raw", "--prefix",
                                key).stdout or "{}")
    assert not out.get("Uploads")


def test_boto3_multipart_by_hand(s3, key):
    parts_data = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"tail of the object"]
    up = s3.create_multipart_upload(Bucket="raw", Key=key, ContentType="application/x-parquet",
                                    Metadata={"source": "spark"})
    uid = up["UploadId"]
    assert up["Bucket"] == "raw" and up["Key"] == key

    uploads = s3.list_multipart_uploads(Bucket="raw", Prefix=key)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [(key, uid)]

    etags = []
    for n, d in enumerate(parts_data, 1):
        r = s3.upload_part(Bucket="raw", Key=key, UploadId=uid, PartNumber=n, Body=d)
        assert r["ETag"] == '"%s"' % md5(d)
        etags.append(r["ETag"])

    lp = s3.list_parts(Bucket="raw", Key=key, UploadId=uid)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in lp["Parts"]] == \
        [(n, e, len(d)) for n, (e, d) in enumerate(zip(etags, parts_data), 1)]
    assert lp["IsTruncated"] is False
    lp = s3.list_parts(Bucket="raw", Key=key, UploadId=uid, MaxParts=2)
    assert [p["PartNumber"] for p in lp["Parts"]] == [1, 2]
    assert lp["IsTruncated"] is True and lp["NextPartNumberMarker"] == 2
    lp = s3.list_parts(Bucket="raw", Key=key, UploadId=uid, PartNumberMarker=2)
    assert [p["PartNumber"] for p in lp["Parts"]] == [3]

    # Not visible before completion.
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)

    done = s3.complete_multipart_upload(
        Bucket="raw", Key=key, UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    assert done["ETag"] == multipart_etag(parts_data)
    assert done["Key"] == key and done["Bucket"] == "raw"

    got = s3.get_object(Bucket="raw", Key=key)
    body = got["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(b"".join(parts_data)).digest()
    assert got["ETag"] == done["ETag"]
    assert got["ContentType"] == "application/x-parquet"
    assert got["Metadata"] == {"source": "spark"}

    assert not s3.list_multipart_uploads(Bucket="raw", Prefix=key).get("Uploads")
    with s3_error("NoSuchUpload", 404):
        s3.list_parts(Bucket="raw", Key=key, UploadId=uid)


def test_get_object_part_number(s3, key):
    parts_data = [b"A" * (5 * MiB), b"B" * (5 * MiB), b"C" * 1000]
    uid = s3.create_multipart_upload(Bucket="raw", Key=key)["UploadId"]
    etags = [s3.upload_part(Bucket="raw", Key=key, UploadId=uid, PartNumber=n, Body=d)["ETag"]
             for n, d in enumerate(parts_data, 1)]
    s3.complete_multipart_upload(
        Bucket="raw", Key=key, UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})

    p1 = s3.get_object(Bucket="raw", Key=key, PartNumber=1)
    assert p1["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert p1["PartsCount"] == 3
    assert p1["ContentLength"] == 5 * MiB
    assert p1["ContentRange"] == f"bytes 0-{5 * MiB - 1}/{10 * MiB + 1000}"
    assert p1["Body"].read() == parts_data[0]

    p3 = s3.get_object(Bucket="raw", Key=key, PartNumber=3)
    assert p3["Body"].read() == parts_data[2]
    assert p3["ContentRange"] == f"bytes {10 * MiB}-{10 * MiB + 999}/{10 * MiB + 1000}"

    h = s3.head_object(Bucket="raw", Key=key, PartNumber=2)
    assert h["ContentLength"] == 5 * MiB and h["PartsCount"] == 3

    with s3_error("InvalidPartNumber", 416):
        s3.get_object(Bucket="raw", Key=key, PartNumber=4)


def test_get_object_part_number_single_put(s3, key):
    s3.put_object(Bucket="raw", Key=key, Body=b"single")
    r = s3.get_object(Bucket="raw", Key=key, PartNumber=1)
    assert r["Body"].read() == b"single"
    assert r["ContentLength"] == 6
    with s3_error("InvalidPartNumber", 416):
        s3.get_object(Bucket="raw", Key=key, PartNumber=2)


def test_abort(s3, key):
    uid = s3.create_multipart_upload(Bucket="raw", Key=key)["UploadId"]
    s3.upload_part(Bucket="raw", Key=key, UploadId=uid, PartNumber=1, Body=b"x" * 1000)
    r = s3.abort_multipart_upload(Bucket="raw", Key=key, UploadId=uid)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not s3.list_multipart_uploads(Bucket="raw", Prefix=key).get("Uploads")
    with s3_error("NoSuchUpload", 404):
        s3.upload_part(Bucket="raw", Key=key, UploadId=uid, PartNumber=2, Body=b"y")
    with s3_error("NoSuchUpload", 404):
        s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]})
    with s3_error("NoSuchUpload", 404):
        s3.abort_multipart_upload(Bucket="raw", Key=key, UploadId=uid)
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)


def test_no_such_upload(s3, key):
    bogus = "0" * 48
    with s3_error("NoSuchUpload", 404):
        s3.upload_part(Bucket="raw", Key=key, UploadId=bogus, PartNumber=1, Body=b"x")
    with s3_error("NoSuchUpload", 404):
        s3.list_parts(Bucket="raw", Key=key, UploadId=bogus)
    with s3_error("NoSuchUpload", 404):
        s3.abort_multipart_upload(Bucket="raw", Key=key, UploadId=bogus)
    # An upload id used with another key is no upload of that key.
    uid = s3.create_multipart_upload(Bucket="raw", Key=key)["UploadId"]
    with s3_error("NoSuchUpload", 404):
        s3.upload_part(Bucket="raw", Key=key + ".other", UploadId=uid, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket="raw", Key=key, UploadId=uid)


def _two_parts(s3, key, first=5 * MiB, second=100):
    uid = s3.create_multipart_upload(Bucket="raw", Key=key)["UploadId"]
    e1 = s3.upload_part(Bucket="raw", Key=key, UploadId=uid, PartNumber=1, Body=b"1" * first)["ETag"]
    e2 = s3.upload_part(Bucket="raw", Key=key, UploadId=uid, PartNumber=2, Body=b"2" * second)["ETag"]
    return uid, e1, e2


def test_invalid_part_order(s3, key):
    uid, e1, e2 = _two_parts(s3, key)
    with s3_error("InvalidPartOrder", 400):
        s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    with s3_error("InvalidPartOrder", 400):
        s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 1, "ETag": e1}]})
    # The upload survives a refused completion.
    s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert s3.head_object(Bucket="raw", Key=key)["ContentLength"] == 5 * MiB + 100


def test_invalid_part(s3, key):
    uid, e1, e2 = _two_parts(s3, key)
    with s3_error("InvalidPart", 400):
        s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1},
                      {"PartNumber": 2, "ETag": '"0123456789abcdef0123456789abcdef"'}]})
    with s3_error("InvalidPart", 400):
        s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 3, "ETag": e2}]})
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)
    s3.abort_multipart_upload(Bucket="raw", Key=key, UploadId=uid)


def test_entity_too_small(s3, key):
    uid, e1, e2 = _two_parts(s3, key, first=1000, second=1000)
    with s3_error("EntityTooSmall", 400):
        s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    # A small part is fine when it is the only (last) one.
    r = s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 2, "ETag": e2}]})
    assert r["ETag"] == multipart_etag([b"2" * 1000])
    assert s3.get_object(Bucket="raw", Key=key)["Body"].read() == b"2" * 1000


def _raw_complete_body(client, body):
    """Replaces the XML boto3 would send for CompleteMultipartUpload (before signing)."""
    def swap(request, **kw):
        request.data = body
        if "Content-MD5" in request.headers:
            del request.headers["Content-MD5"]
    client.meta.events.register("before-sign.s3.CompleteMultipartUpload", swap)


@pytest.mark.parametrize("body", [
    b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",   # truncated
    b"this is not xml",
    b"<Wrong><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></Wrong>",
    b"<CompleteMultipartUpload><Part><ETag>\"x\"</ETag></Part></CompleteMultipartUpload>",
    b"<CompleteMultipartUpload><Part><PartNumber>abc</PartNumber><ETag>x</ETag></Part>"
    b"</CompleteMultipartUpload>",
    b"<CompleteMultipartUpload></CompleteMultipartUpload>",
])
def test_malformed_complete_xml(server, key, body):
    s3 = server.s3()
    uid, e1, e2 = _two_parts(s3, key)
    _raw_complete_body(s3, body)
    with s3_error("MalformedXML", 400):
        s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)
    server.s3().abort_multipart_upload(Bucket="raw", Key=key, UploadId=uid)


def test_upload_part_number_out_of_range(s3, key):
    uid = s3.create_multipart_upload(Bucket="raw", Key=key)["UploadId"]
    for n in (0, 10001):
        with s3_error("InvalidArgument", 400):
            s3.upload_part(Bucket="raw", Key=key, UploadId=uid, PartNumber=n, Body=b"x")
    s3.abort_multipart_upload(Bucket="raw", Key=key, UploadId=uid)


def test_upload_part_replaces_same_number(s3, key):
    uid = s3.create_multipart_upload(Bucket="raw", Key=key)["UploadId"]
    s3.upload_part(Bucket="raw", Key=key, UploadId=uid, PartNumber=1, Body=b"old")
    e = s3.upload_part(Bucket="raw", Key=key, UploadId=uid, PartNumber=1, Body=b"new!")["ETag"]
    assert [(p["PartNumber"], p["Size"]) for p in
            s3.list_parts(Bucket="raw", Key=key, UploadId=uid)["Parts"]] == [(1, 4)]
    s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert s3.get_object(Bucket="raw", Key=key)["Body"].read() == b"new!"


def test_upload_part_bad_content_md5(s3, key):
    import base64
    uid = s3.create_multipart_upload(Bucket="raw", Key=key)["UploadId"]
    with s3_error("BadDigest", 400):
        s3.upload_part(Bucket="raw", Key=key, UploadId=uid, PartNumber=1, Body=b"part",
                       ContentMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
    assert not s3.list_parts(Bucket="raw", Key=key, UploadId=uid).get("Parts")
    s3.abort_multipart_upload(Bucket="raw", Key=key, UploadId=uid)


def test_list_multipart_uploads_several(s3):
    base = unique("mpl")
    ids = {}
    for k in (f"{base}/b", f"{base}/a", f"{base}/c"):
        ids[k] = s3.create_multipart_upload(Bucket="raw", Key=k)["UploadId"]
    r = s3.list_multipart_uploads(Bucket="raw", Prefix=base + "/")
    assert [u["Key"] for u in r["Uploads"]] == sorted(ids)
    assert {u["Key"]: u["UploadId"] for u in r["Uploads"]} == ids
    r = s3.list_multipart_uploads(Bucket="raw", Prefix=base + "/", MaxUploads=2)
    assert len(r["Uploads"]) == 2 and r["IsTruncated"] is True
    r2 = s3.list_multipart_uploads(Bucket="raw", Prefix=base + "/", KeyMarker=r["NextKeyMarker"],
                                   UploadIdMarker=r["NextUploadIdMarker"])
    assert [u["Key"] for u in r2["Uploads"]] == [f"{base}/c"]
    for k, uid in ids.items():
        s3.abort_multipart_upload(Bucket="raw", Key=k, UploadId=uid)
    with s3_error("NoSuchBucket", 404):
        s3.list_multipart_uploads(Bucket=unique("nob"))


def test_deleting_a_bucket_drops_its_uploads_and_their_parts(server, s3):
    bucket = unique("mpdel")
    s3.create_bucket(Bucket=bucket)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"z" * 1000)
    staged = os.path.join(server.data, "tmp", "uploads", uid)
    assert os.listdir(staged) == ["1"]
    # Uploads in progress do not keep a bucket from being deleted (as in S3).
    assert s3.delete_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not os.path.exists(staged), "the parts of the dropped upload are left on disk"
    s3.create_bucket(Bucket=bucket)
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    with s3_error("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2, Body=b"z")
    s3.delete_bucket(Bucket=bucket)


def test_list_multipart_uploads_key_marker_is_exclusive(s3):
    base = unique("mpkm")
    ids = {k: s3.create_multipart_upload(Bucket="raw", Key=k)["UploadId"]
           for k in (f"{base}/a", f"{base}/b", f"{base}/b", f"{base}/c")}
    r = s3.list_multipart_uploads(Bucket="raw", Prefix=base + "/", KeyMarker=f"{base}/b")
    assert [u["Key"] for u in r["Uploads"]] == [f"{base}/c"]
    # With an upload-id marker, the rest of that key's uploads follow.
    both = s3.list_multipart_uploads(Bucket="raw", Prefix=f"{base}/b")["Uploads"]
    assert len(both) == 2
    r = s3.list_multipart_uploads(Bucket="raw", Prefix=base + "/", KeyMarker=f"{base}/b",
                                  UploadIdMarker=both[0]["UploadId"])
    assert [(u["Key"], u["UploadId"]) for u in r["Uploads"]] == \
        [(f"{base}/b", both[1]["UploadId"]), (f"{base}/c", ids[f"{base}/c"])]
    for u in s3.list_multipart_uploads(Bucket="raw", Prefix=base + "/")["Uploads"]:
        s3.abort_multipart_upload(Bucket="raw", Key=u["Key"], UploadId=u["UploadId"])


def test_range_and_part_number_together(s3, key):
    s3.put_object(Bucket="raw", Key=key, Body=b"0123456789")
    with s3_error("InvalidRequest", 400):
        s3.get_object(Bucket="raw", Key=key, PartNumber=1, Range="bytes=0-1")


def test_retried_completion_answers_the_same_success(s3, key):
    """A client that lost the answer to CompleteMultipartUpload retries it: S3 answers the
    same success while the object is still the one the upload made."""
    uid = s3.create_multipart_upload(Bucket="raw", Key=key)["UploadId"]
    etag = s3.upload_part(Bucket="raw", Key=key, UploadId=uid, PartNumber=1, Body=b"only")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    first = s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid, MultipartUpload=parts)
    again = s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid, MultipartUpload=parts)
    assert again["ETag"] == first["ETag"]
    s3.put_object(Bucket="raw", Key=key, Body=b"replaced")
    with s3_error("NoSuchUpload", 404):
        s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId=uid, MultipartUpload=parts)
