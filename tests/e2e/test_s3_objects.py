"""S3 object and bucket operations through real clients (boto3 1.26 and the aws CLI 2.9):
put/get/head/delete, user metadata (and its size limit), range GETs, conditional GETs
(If-Match / If-None-Match / If-Modified-Since), response header overrides, CopyObject with
metadata COPY vs REPLACE and copy-source conditions, version ids (only "null" exists),
DeleteObjects (quiet and verbose), presigned GET and PUT URLs (valid, expired, tampered,
unknown key, SigV2), plain bucket life cycle and its errors, zone buckets that cannot be
deleted, HeadBucket and GetBucketLocation, `aws s3 sync/mv/rm/cp --recursive`; plus the
habits of newer SDKs: flexible checksums (CRC32, CRC32C, SHA256) in headers and aws-chunked
trailers, unverifiable ones (SHA1) refused, Content-Encoding aws-chunked never stored,
signed aws-chunked bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), Expect: 100-continue, and
conditional PUTs (If-None-Match: *)."""
import hashlib
import io
import os
import time
import urllib.error
import urllib.request

import pytest

from s3util import s3_error, skewed_clock, unique

BODY = b"0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def key():
    return unique("obj") + "/file.bin"


# ---- basic object life cycle ----


def test_put_get_head_delete(s3, key):
    put = s3.put_object(Bucket="raw", Key=key, Body=BODY, ContentType="text/csv",
                        Metadata={"Owner": "alice", "batch": "42"})
    etag = put["ETag"]
    assert etag == '"%s"' % hashlib.md5(BODY).hexdigest()

    got = s3.get_object(Bucket="raw", Key=key)
    assert got["Body"].read() == BODY
    assert got["ETag"] == etag
    assert got["ContentLength"] == len(BODY)
    assert got["ContentType"] == "text/csv"
    assert got["Metadata"] == {"owner": "alice", "batch": "42"}

    head = s3.head_object(Bucket="raw", Key=key)
    assert head["ContentLength"] == len(BODY)
    assert head["ETag"] == etag
    assert head["Metadata"] == {"owner": "alice", "batch": "42"}
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200

    listed = s3.list_objects_v2(Bucket="raw", Prefix=key)
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed["Contents"]] == [(key, len(BODY), etag)]

    assert s3.delete_object(Bucket="raw", Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket="raw", Key=key)
    # Deleting a missing key is not an error in S3.
    assert s3.delete_object(Bucket="raw", Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_overwrite_replaces_content_and_metadata(s3, key):
    s3.put_object(Bucket="raw", Key=key, Body=b"first", Metadata={"v": "1"})
    s3.put_object(Bucket="raw", Key=key, Body=b"second!", Metadata={"w": "2"})
    got = s3.get_object(Bucket="raw", Key=key)
    assert got["Body"].read() == b"second!"
    assert got["Metadata"] == {"w": "2"}


def test_empty_object(s3, key):
    s3.put_object(Bucket="raw", Key=key, Body=b"")
    got = s3.get_object(Bucket="raw", Key=key)
    assert got["Body"].read() == b""
    assert got["ContentLength"] == 0
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


def test_utf8_and_special_character_keys(s3):
    base = unique("chars")
    keys = [f"{base}/ünïcødé/файл.csv", f"{base}/with space/a+b=c&d.txt",
            f"{base}/percent%2Fliteral", f"{base}/tilde~star*(paren)"]
    for i, k in enumerate(keys):
        s3.put_object(Bucket="raw", Key=k, Body=str(i).encode())
    for i, k in enumerate(keys):
        assert s3.get_object(Bucket="raw", Key=k)["Body"].read() == str(i).encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="raw", Prefix=base + "/")["Contents"]]
    assert sorted(listed) == sorted(keys)


def test_aws_cli_put_get_head_list(server, tmp_path):
    base = unique("cli")
    src = tmp_path / "a.json"
    src.write_text('{"a": 1}\n')
    server.aws("s3api", "put-object", "--bucket", "raw", "--key", f"{base}/a.json", "--body",
               str(src), "--content-type", "application/json", "--metadata", "team=data")
    import json
    head = json.loads(server.aws("s3api", "head-object", "--bucket", "raw", "--key",
                                 f"{base}/a.json").stdout)
    assert head["ContentLength"] == src.stat().st_size
    assert head["ContentType"] == "application/json"
    assert head["Metadata"] == {"team": "data"}
    out = tmp_path / "back.json"
    server.aws("s3api", "get-object", "--bucket", "raw", "--key", f"{base}/a.json", str(out))
    assert out.read_bytes() == src.read_bytes()
    listing = json.loads(server.aws("s3api", "list-objects-v2", "--bucket", "raw", "--prefix",
                                    base + "/").stdout)
    assert [o["Key"] for o in listing["Contents"]] == [f"{base}/a.json"]
    server.aws("s3", "rm", f"s3://raw/{base}/a.json")
    r = server.aws("s3api", "head-object", "--bucket", "raw", "--key", f"{base}/a.json",
                   check=False)
    assert r.returncode != 0 and "404" in r.stderr


# ---- ranges ----


@pytest.mark.parametrize("rng,status,body,content_range", [
    ("bytes=0-9", 206, BODY[0:10], f"bytes 0-9/{len(BODY)}"),
    ("bytes=-5", 206, BODY[-5:], f"bytes {len(BODY) - 5}-{len(BODY) - 1}/{len(BODY)}"),
    ("bytes=10-", 206, BODY[10:], f"bytes 10-{len(BODY) - 1}/{len(BODY)}"),
    ("bytes=30-1000", 206, BODY[30:], f"bytes 30-{len(BODY) - 1}/{len(BODY)}"),
    ("bytes=-1000", 206, BODY, f"bytes 0-{len(BODY) - 1}/{len(BODY)}"),
])
def test_range_get(s3, key, rng, status, body, content_range):
    s3.put_object(Bucket="raw", Key=key, Body=BODY)
    got = s3.get_object(Bucket="raw", Key=key, Range=rng)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == status
    assert got["Body"].read() == body
    assert got["ContentRange"] == content_range
    assert got["ContentLength"] == len(body)


@pytest.mark.parametrize("rng", ["bytes=36-", "bytes=100-200", "bytes=-0"])
def test_range_unsatisfiable(s3, key, rng):
    s3.put_object(Bucket="raw", Key=key, Body=BODY)
    with s3_error("InvalidRange", 416) as ei:
        s3.get_object(Bucket="raw", Key=key, Range=rng)
    assert ei.value.response["ResponseMetadata"]["HTTPHeaders"]["content-range"] == f"bytes */{len(BODY)}"


# ---- conditional requests ----


def test_if_match_and_if_none_match(s3, key):
    etag = s3.put_object(Bucket="raw", Key=key, Body=BODY)["ETag"]
    assert s3.get_object(Bucket="raw", Key=key, IfMatch=etag)["Body"].read() == BODY
    assert s3.get_object(Bucket="raw", Key=key, IfNoneMatch='"0000"')["Body"].read() == BODY
    with s3_error("PreconditionFailed", 412):
        s3.get_object(Bucket="raw", Key=key, IfMatch='"0123456789abcdef0123456789abcdef"')
    # botocore turns a 304 into a ClientError whose code is the status.
    with s3_error("304", 304):
        s3.get_object(Bucket="raw", Key=key, IfNoneMatch=etag)
    with s3_error("304", 304):
        s3.head_object(Bucket="raw", Key=key, IfNoneMatch=etag)
    with s3_error("304", 304):
        s3.get_object(Bucket="raw", Key=key, IfNoneMatch="*")
    with s3_error("412", 412):
        s3.head_object(Bucket="raw", Key=key, IfMatch='"nope"')


# ---- copy ----


def test_copy_object_metadata_copy_and_replace(s3, key):
    src = key
    s3.put_object(Bucket="raw", Key=src, Body=BODY, ContentType="text/plain",
                  Metadata={"origin": "sensor-7"}, ContentDisposition="attachment")
    dst1 = src + ".copy"
    r = s3.copy_object(Bucket="raw", Key=dst1, CopySource={"Bucket": "raw", "Key": src})
    assert r["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(BODY).hexdigest()
    h = s3.head_object(Bucket="raw", Key=dst1)
    assert h["ContentType"] == "text/plain"
    assert h["Metadata"] == {"origin": "sensor-7"}
    assert h["ContentDisposition"] == "attachment"
    assert s3.get_object(Bucket="raw", Key=dst1)["Body"].read() == BODY

    dst2 = src + ".replaced"
    s3.copy_object(Bucket="raw", Key=dst2, CopySource={"Bucket": "raw", "Key": src},
                   MetadataDirective="REPLACE", Metadata={"stage": "clean"},
                   ContentType="application/json")
    h = s3.head_object(Bucket="raw", Key=dst2)
    assert h["ContentType"] == "application/json"
    assert h["Metadata"] == {"stage": "clean"}
    assert "ContentDisposition" not in h

    # Across buckets, into a zone.
    dst3 = unique("copied") + "/x.bin"
    s3.copy_object(Bucket="cleaned", Key=dst3, CopySource=f"raw/{src}")
    assert s3.get_object(Bucket="cleaned", Key=dst3)["Body"].read() == BODY
    s3.delete_object(Bucket="cleaned", Key=dst3)


def test_copy_object_errors(s3, key):
    s3.put_object(Bucket="raw", Key=key, Body=BODY)
    with s3_error("InvalidRequest", 400):
        s3.copy_object(Bucket="raw", Key=key, CopySource={"Bucket": "raw", "Key": key})
    # Copying onto itself is fine when the metadata is replaced.
    s3.copy_object(Bucket="raw", Key=key, CopySource={"Bucket": "raw", "Key": key},
                   MetadataDirective="REPLACE", Metadata={"k": "v"})
    assert s3.head_object(Bucket="raw", Key=key)["Metadata"] == {"k": "v"}
    with s3_error("NoSuchKey", 404):
        s3.copy_object(Bucket="raw", Key=key + ".2", CopySource={"Bucket": "raw", "Key": key + ".missing"})
    with s3_error("NoSuchBucket", 404):
        s3.copy_object(Bucket="raw", Key=key + ".2", CopySource={"Bucket": "no-such-bucket-x", "Key": key})
    with s3_error("PreconditionFailed", 412):
        s3.copy_object(Bucket="raw", Key=key + ".2", CopySource={"Bucket": "raw", "Key": key},
                       CopySourceIfMatch='"ffffffffffffffffffffffffffffffff"')


# ---- DeleteObjects ----


def test_delete_objects_verbose_and_quiet(s3):
    base = unique("del")
    keys = [f"{base}/{i}" for i in range(5)]
    for k in keys:
        s3.put_object(Bucket="raw", Key=k, Body=b"x")
    r = s3.delete_objects(Bucket="raw", Delete={"Objects": [{"Key": k} for k in keys[:3]]})
    assert sorted(d["Key"] for d in r["Deleted"]) == sorted(keys[:3])
    assert "Errors" not in r
    r = s3.delete_objects(Bucket="raw", Delete={"Objects": [{"Key": k} for k in keys[3:]] +
                                                [{"Key": f"{base}/never-existed"}], "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    assert s3.list_objects_v2(Bucket="raw", Prefix=base + "/")["KeyCount"] == 0


def test_delete_objects_reports_bad_keys(s3):
    base = unique("delbad")
    s3.put_object(Bucket="raw", Key=f"{base}/ok", Body=b"x")
    r = s3.delete_objects(Bucket="raw", Delete={"Objects": [{"Key": f"{base}/ok"},
                                                            {"Key": "../escape"}]})
    assert [d["Key"] for d in r["Deleted"]] == [f"{base}/ok"]
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("../escape", "InvalidArgument")]
    # Errors are reported even when quiet.
    r = s3.delete_objects(Bucket="raw", Delete={"Objects": [{"Key": "a//b"}], "Quiet": True})
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("a//b", "InvalidArgument")]
    with s3_error("NoSuchBucket", 404):
        s3.delete_objects(Bucket="no-such-bucket-x", Delete={"Objects": [{"Key": "a"}]})


# ---- presigned URLs ----


@pytest.fixture
def s3v4(server):
    """boto3 1.26 presigns with SigV2 unless told; S3-compatible stores are used with s3v4."""
    return server.s3(signature_version="s3v4")


def test_presigned_get(s3v4, key):
    s3 = s3v4
    s3.put_object(Bucket="raw", Key=key, Body=BODY)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "raw", "Key": key},
                                    ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        assert r.read() == BODY


def test_presigned_get_expired(s3v4, key):
    s3 = s3v4
    s3.put_object(Bucket="raw", Key=key, Body=BODY)
    with skewed_clock(-600):  # signed ten minutes ago, valid for one
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "raw", "Key": key},
                                        ExpiresIn=60)
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(url, timeout=10)
    assert ei.value.code == 403
    assert b"<Code>AccessDenied</Code>" in ei.value.read()


def test_presigned_get_tampered(s3v4, key):
    s3 = s3v4
    s3.put_object(Bucket="raw", Key=key, Body=BODY)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "raw", "Key": key},
                                    ExpiresIn=300)
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(url.replace(key, key + "x"), timeout=10)
    assert ei.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in ei.value.read()


def test_presigned_put(s3v4, key):
    url = s3v4.generate_presigned_url("put_object", Params={"Bucket": "raw", "Key": key},
                                      ExpiresIn=300)
    req = urllib.request.Request(url, data=b"uploaded by a browser", method="PUT")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
        assert r.headers["ETag"] == '"%s"' % hashlib.md5(b"uploaded by a browser").hexdigest()
    assert s3v4.get_object(Bucket="raw", Key=key)["Body"].read() == b"uploaded by a browser"
    # The URL signs PUT only: a GET with it does not match.
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(url, timeout=10)
    assert ei.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in ei.value.read()


def test_presigned_errors(server, s3v4, key):
    s3v4.put_object(Bucket="raw", Key=key, Body=BODY)
    unknown = server.s3(access_key="TKNOSUCHKEY000000000", secret_key="0" * 40,
                        signature_version="s3v4")
    url = unknown.generate_presigned_url("get_object", Params={"Bucket": "raw", "Key": key})
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(url, timeout=10)
    assert ei.value.code == 403
    assert b"<Code>InvalidAccessKeyId</Code>" in ei.value.read()
    url = s3v4.generate_presigned_url("get_object", Params={"Bucket": "raw", "Key": key},
                                      ExpiresIn=8 * 24 * 3600)
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(url, timeout=10)
    assert ei.value.code == 400
    assert b"<Code>AuthorizationQueryParametersError</Code>" in ei.value.read()
    with skewed_clock(+20 * 60):  # dated in the future
        url = s3v4.generate_presigned_url("get_object", Params={"Bucket": "raw", "Key": key})
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(url, timeout=10)
    assert ei.value.code == 403
    assert b"<Code>AccessDenied</Code>" in ei.value.read()


def test_presigned_sigv2_is_refused_clearly(s3, key):
    """boto3 1.26's default presigned URL is SigV2, which tarn does not accept."""
    s3.put_object(Bucket="raw", Key=key, Body=BODY)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "raw", "Key": key})
    assert "AWSAccessKeyId=" in url
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(url, timeout=10)
    assert ei.value.code == 400
    assert b"<Code>InvalidRequest</Code>" in ei.value.read()


# ---- buckets ----


def test_plain_bucket_life_cycle(s3):
    b = unique("plain")
    s3.create_bucket(Bucket=b)
    assert b in [x["Name"] for x in s3.list_buckets()["Buckets"]]
    assert s3.head_bucket(Bucket=b)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with s3_error("BucketAlreadyOwnedByYou", 409):
        s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"v")
    with s3_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=b)
    s3.delete_object(Bucket=b, Key="k")
    assert s3.delete_bucket(Bucket=b)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert b not in [x["Name"] for x in s3.list_buckets()["Buckets"]]
    with s3_error("NoSuchBucket", 404):
        s3.delete_bucket(Bucket=b)
    with s3_error("404", 404):
        s3.head_bucket(Bucket=b)
    with s3_error("NoSuchBucket", 404):
        s3.put_object(Bucket=b, Key="k", Body=b"v")
    with s3_error("NoSuchBucket", 404):
        s3.list_objects_v2(Bucket=b)


@pytest.mark.parametrize("name", ["ab", "Upper-Case", "under_score", "-leading", "trailing-",
                                  "two..dots", "192.168.1.1", "a" * 64, "xn--punycode"])
def test_invalid_bucket_names(s3, name):
    with s3_error("InvalidBucketName", 400):
        s3.create_bucket(Bucket=name)


@pytest.mark.parametrize("name", ["console", "metrics", "healthz"])
def test_reserved_bucket_names(s3, name):
    with s3_error("InvalidBucketName", 400):
        s3.create_bucket(Bucket=name)


@pytest.mark.parametrize("zone", ["raw", "cleaned", "curated", "quarantine"])
def test_zone_buckets_exist_and_cannot_be_deleted(s3, zone):
    assert zone in [x["Name"] for x in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=zone)
    with s3_error("AccessDenied", 403):
        s3.delete_bucket(Bucket=zone)
    with s3_error("BucketAlreadyOwnedByYou", 409):
        s3.create_bucket(Bucket=zone)
    s3.head_bucket(Bucket=zone)


def test_bucket_location_and_versioning(s3):
    assert s3.get_bucket_location(Bucket="raw")["LocationConstraint"] is None
    with s3_error("NoSuchBucket", 404):
        s3.get_bucket_location(Bucket=unique("nob"))
    v = s3.get_bucket_versioning(Bucket="raw")
    assert "Status" not in v
    h = s3.head_bucket(Bucket="raw")
    assert h["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"


def test_aws_cli_mb_rb(server):
    b = unique("climb")
    server.aws("s3", "mb", f"s3://{b}")
    assert b in server.aws("s3", "ls").stdout
    r = server.aws("s3", "mb", f"s3://{b}", check=False)
    assert r.returncode != 0 and "BucketAlreadyOwnedByYou" in r.stderr
    server.aws("s3", "rb", f"s3://{b}")
    assert b not in server.aws("s3", "ls").stdout


def test_unsupported_subresource_is_not_implemented(s3, key):
    with s3_error("NotImplemented", 501) as ei:
        s3.get_bucket_policy(Bucket="raw")
    # The message says what is missing (not "internal error": nothing failed).
    assert "policy" in ei.value.response["Error"]["Message"]
    with s3_error("NotImplemented", 501):
        s3.get_bucket_tagging(Bucket="raw")
    s3.put_object(Bucket="raw", Key=key, Body=b"x")
    with s3_error("NotImplemented", 501) as ei:
        s3.get_object_acl(Bucket="raw", Key=key)
    assert "acl" in ei.value.response["Error"]["Message"]


def test_user_metadata_limit(s3, key):
    s3.put_object(Bucket="raw", Key=key, Body=b"x", Metadata={"a": "v" * 2000})
    assert len(s3.head_object(Bucket="raw", Key=key)["Metadata"]["a"]) == 2000
    with s3_error("MetadataTooLarge", 400):
        s3.put_object(Bucket="raw", Key=key + ".big", Body=b"x", Metadata={"a": "v" * 3000})
    with s3_error("MetadataTooLarge", 400):
        s3.create_multipart_upload(Bucket="raw", Key=key + ".big", Metadata={"a": "v" * 3000})


def test_response_header_overrides(s3, key):
    s3.put_object(Bucket="raw", Key=key, Body=b"{}", ContentType="text/plain")
    got = s3.get_object(Bucket="raw", Key=key, ResponseContentType="application/json",
                        ResponseContentDisposition='attachment; filename="x.json"',
                        ResponseCacheControl="no-cache")
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == 'attachment; filename="x.json"'
    assert got["CacheControl"] == "no-cache"
    assert s3.head_object(Bucket="raw", Key=key)["ContentType"] == "text/plain"


def test_if_modified_since(s3, key):
    import datetime
    s3.put_object(Bucket="raw", Key=key, Body=BODY)
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    assert s3.get_object(Bucket="raw", Key=key, IfModifiedSince=past)["Body"].read() == BODY
    with s3_error("304", 304):
        s3.get_object(Bucket="raw", Key=key, IfModifiedSince=future)
    assert s3.get_object(Bucket="raw", Key=key, IfUnmodifiedSince=future)["Body"].read() == BODY
    with s3_error("PreconditionFailed", 412):
        s3.get_object(Bucket="raw", Key=key, IfUnmodifiedSince=past)


def test_copy_source_date_conditions(s3, key):
    import datetime
    s3.put_object(Bucket="raw", Key=key, Body=BODY)
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    src = {"Bucket": "raw", "Key": key}
    s3.copy_object(Bucket="raw", Key=key + ".1", CopySource=src, CopySourceIfModifiedSince=past)
    s3.copy_object(Bucket="raw", Key=key + ".2", CopySource=src, CopySourceIfUnmodifiedSince=future)
    with s3_error("PreconditionFailed", 412):
        s3.copy_object(Bucket="raw", Key=key + ".3", CopySource=src, CopySourceIfModifiedSince=future)
    with s3_error("PreconditionFailed", 412):
        s3.copy_object(Bucket="raw", Key=key + ".4", CopySource=src, CopySourceIfUnmodifiedSince=past)
    with s3_error("PreconditionFailed", 412):
        s3.copy_object(Bucket="raw", Key=key + ".5", CopySource=src, CopySourceIfNoneMatch="*")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="raw", Prefix=key)["Contents"]]
    assert keys == [key, key + ".1", key + ".2"]


def test_version_ids(s3, key):
    """tarn keeps one version per key, listed as VersionId "null"; naming any other version
    must not read, copy or delete the current object."""
    s3.put_object(Bucket="raw", Key=key, Body=BODY)
    assert s3.get_object(Bucket="raw", Key=key, VersionId="null")["Body"].read() == BODY
    with s3_error("InvalidArgument", 400):
        s3.get_object(Bucket="raw", Key=key, VersionId="3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY")
    with s3_error("400", 400):
        s3.head_object(Bucket="raw", Key=key, VersionId="3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY")
    with s3_error("InvalidArgument", 400):
        s3.delete_object(Bucket="raw", Key=key, VersionId="3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY")
    with s3_error("InvalidArgument", 400):
        s3.copy_object(Bucket="raw", Key=key + ".c", CopySource={
            "Bucket": "raw", "Key": key, "VersionId": "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"})
    r = s3.delete_objects(Bucket="raw", Delete={"Objects": [
        {"Key": key, "VersionId": "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"}]})
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [(key, "InvalidArgument")]
    assert s3.get_object(Bucket="raw", Key=key)["Body"].read() == BODY  # still there
    s3.copy_object(Bucket="raw", Key=key + ".c", CopySource={"Bucket": "raw", "Key": key,
                                                            "VersionId": "null"})
    # The clean-up loop SDK users write: list versions, delete each by its id.
    versions = s3.list_object_versions(Bucket="raw", Prefix=key)["Versions"]
    r = s3.delete_objects(Bucket="raw", Delete={"Objects": [
        {"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]})
    assert sorted(d["Key"] for d in r["Deleted"]) == [key, key + ".c"]
    assert s3.list_objects_v2(Bucket="raw", Prefix=key)["KeyCount"] == 0


# ---- newer-SDK habits: flexible checksums, aws-chunked, 100-continue ----


@pytest.mark.parametrize("algo", ["CRC32", "CRC32C", "SHA256"])
def test_flexible_checksum_header(s3, key, algo):
    data = b"checksummed payload " * 100
    r = s3.put_object(Bucket="raw", Key=key, Body=data, ChecksumAlgorithm=algo)
    sent = r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-checksum-" + algo.lower())
    assert sent, r["ResponseMetadata"]["HTTPHeaders"]
    h = s3.head_object(Bucket="raw", Key=key, ChecksumMode="ENABLED")
    assert h["Checksum" + algo] == sent
    assert s3.get_object(Bucket="raw", Key=key)["Body"].read() == data


@pytest.mark.parametrize("param,value", [
    ("ChecksumCRC32", "AAAAAA=="),
    ("ChecksumCRC32C", "AAAAAA=="),
    ("ChecksumSHA256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
])
def test_flexible_checksum_wrong_value(s3, key, param, value):
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket="raw", Key=key, Body=b"not what the checksum says", **{param: value})
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)


def _trailer_checksums(client, content_encoding=None):
    """Makes boto3 send flexible checksums as aws-chunked trailers, as newer SDKs do by
    default (botocore 1.29 only does it over TLS); optionally with a real encoding too."""
    def to_trailer(params, **kw):
        algo = params["context"].get("checksum", {}).get("request_algorithm")
        if isinstance(algo, dict):
            algo["in"] = "trailer"

    def encoding(request, **kw):
        if content_encoding:
            request.headers.replace_header("Content-Encoding", content_encoding)
        seen.append(dict(request.headers))

    seen = []
    client.meta.events.register("before-call.s3.PutObject", to_trailer)
    client.meta.events.register("before-sign.s3.PutObject", encoding)
    return seen


@pytest.mark.parametrize("algo", ["CRC32", "CRC32C", "SHA256"])
def test_aws_chunked_trailer_checksum(server, key, algo):
    s3 = server.s3()
    seen = _trailer_checksums(s3)
    data = b"trailer payload " * 5000
    r = s3.put_object(Bucket="raw", Key=key, Body=data, ChecksumAlgorithm=algo)
    assert seen[-1]["Content-Encoding"] == "aws-chunked"
    assert seen[-1]["X-Amz-Trailer"] == "x-amz-checksum-" + algo.lower()
    assert r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-checksum-" + algo.lower())
    h = s3.head_object(Bucket="raw", Key=key, ChecksumMode="ENABLED")
    assert h["ContentLength"] == len(data)
    assert "ContentEncoding" not in h  # aws-chunked describes the transfer, not the object
    assert h["Checksum" + algo] == r["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-" + algo.lower()]
    assert s3.get_object(Bucket="raw", Key=key)["Body"].read() == data


def test_aws_chunked_keeps_only_the_real_encoding(server, key):
    s3 = server.s3()
    _trailer_checksums(s3, content_encoding="gzip,aws-chunked")
    s3.put_object(Bucket="raw", Key=key, Body=b"\x1f\x8b pretend gzip", ChecksumAlgorithm="CRC32")
    h = s3.head_object(Bucket="raw", Key=key)
    assert h["ContentEncoding"] == "gzip"


def test_aws_chunked_wrong_trailer_checksum(server, key):
    s3 = server.s3()
    _trailer_checksums(s3)

    def corrupt(request, **kw):
        # Change the bytes on the wire after the trailer checksum saw the original ones.
        body = request.body
        make_chunk = body._make_chunk
        body._make_chunk = lambda: make_chunk().replace(b"payload", b"PAYLOAD")

    s3.meta.events.register("before-send.s3.PutObject", corrupt)
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket="raw", Key=key, Body=b"payload " * 100, ChecksumAlgorithm="CRC32")
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)


def test_expect_100_continue_does_not_stall(server, key):
    s3 = server.s3()
    seen = []
    s3.meta.events.register("before-send.s3.PutObject",
                            lambda request, **kw: seen.append(request.headers.get("Expect")))
    data = b"z" * (1 << 20)
    s3.put_object(Bucket="raw", Key=key + ".warm", Body=io.BytesIO(b"warm"))
    times = []
    for _ in range(3):
        t0 = time.monotonic()
        s3.put_object(Bucket="raw", Key=key, Body=io.BytesIO(data))
        times.append(time.monotonic() - t0)
    assert seen[-1] in (b"100-continue", "100-continue")
    # botocore waits 1 s for "100 Continue" before sending the body anyway: a server that
    # does not answer it costs every attempt that second; the best of three shows it.
    assert min(times) < 0.8, f"1 MiB PUTs with Expect: 100-continue took {times}"
    assert s3.get_object(Bucket="raw", Key=key)["Body"].read() == data


def test_signed_aws_chunked_upload(server, s3, key):
    from s3util import quote_key, signed_chunked_put
    data = os.urandom(200 * 1024 + 17)
    r = signed_chunked_put(server, "/raw/" + quote_key(key), data, chunk_size=64 * 1024,
                           extra_headers={"Content-Type": "text/csv"})
    assert r.status == 200, r.body
    assert r.headers["etag"] == '"%s"' % hashlib.md5(data).hexdigest()
    got = s3.get_object(Bucket="raw", Key=key)
    assert got["Body"].read() == data
    assert got["ContentType"] == "text/csv"
    assert "ContentEncoding" not in got


def test_signed_aws_chunked_tampered_chunk(server, s3, key):
    from s3util import quote_key, signed_chunked_put
    data = b"0123456789" * 10000

    def flip(i, c):
        return c[:-1] + b"X" if i == 1 else c
    r = signed_chunked_put(server, "/raw/" + quote_key(key), data, chunk_size=30000, tamper=flip)
    assert (r.status, r.code) == (403, "SignatureDoesNotMatch")
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)


def test_signed_aws_chunked_wrong_decoded_length(server, s3, key):
    from s3util import quote_key, signed_chunked_put
    # More bytes than declared: refused as soon as a chunk goes past the declared length.
    r = signed_chunked_put(server, "/raw/" + quote_key(key), b"x" * 1000,
                           extra_headers={"x-amz-decoded-content-length": "999"})
    assert (r.status, r.code) == (400, "InvalidRequest"), r.body
    # Fewer bytes than declared.
    r = signed_chunked_put(server, "/raw/" + quote_key(key), b"x" * 1000,
                           extra_headers={"x-amz-decoded-content-length": "1001"})
    assert (r.status, r.code) == (400, "IncompleteBody"), r.body
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)


def test_aws_cli_sync_mv_rm(server, tmp_path):
    base = unique("sync")
    src = tmp_path / "src"
    for rel, text in {"a.csv": "1\n", "dir/b.csv": "22\n", "dir/sub/c.csv": "333\n",
                      "sp ace/ü.txt": "uni\n"}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    out = server.aws("s3", "sync", str(src), f"s3://raw/{base}/", "--no-progress").stdout
    assert out.count("upload:") == 4
    # A second sync finds nothing to do.
    assert server.aws("s3", "sync", str(src), f"s3://raw/{base}/", "--no-progress").stdout == ""
    (src / "dir/b.csv").unlink()
    out = server.aws("s3", "sync", str(src), f"s3://raw/{base}/", "--delete", "--no-progress").stdout
    assert out.count("delete:") == 1 and "dir/b.csv" in out

    server.aws("s3", "mv", f"s3://raw/{base}/a.csv", f"s3://raw/{base}/moved/a.csv")
    listing = server.aws("s3", "ls", f"s3://raw/{base}/", "--recursive").stdout
    keys = sorted(line.split(None, 3)[3] for line in listing.splitlines())
    assert keys == [f"{base}/dir/sub/c.csv", f"{base}/moved/a.csv", f"{base}/sp ace/ü.txt"]

    dst = tmp_path / "dst"
    server.aws("s3", "cp", f"s3://raw/{base}/", str(dst), "--recursive", "--no-progress")
    assert (dst / "moved/a.csv").read_text() == "1\n"
    assert (dst / "sp ace/ü.txt").read_text() == "uni\n"

    out = server.aws("s3", "rm", f"s3://raw/{base}/", "--recursive").stdout
    assert out.count("delete:") == 3
    assert server.aws("s3", "ls", f"s3://raw/{base}/", "--recursive", check=False).stdout == ""


def test_unsupported_checksum_algorithms_are_refused(server, s3, key):
    """A checksum tarn cannot verify is refused, never stored unverified."""
    import base64
    wrong_sha1 = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    with s3_error("InvalidRequest", 400):
        s3.put_object(Bucket="raw", Key=key, Body=b"abc", ChecksumSHA1=wrong_sha1)
    with s3_error("InvalidRequest", 400):
        s3.put_object(Bucket="raw", Key=key, Body=b"abc", ChecksumAlgorithm="SHA1")
    trailer = server.s3()
    _trailer_checksums(trailer)
    with s3_error("InvalidRequest", 400):
        trailer.put_object(Bucket="raw", Key=key, Body=b"abc", ChecksumAlgorithm="SHA1")
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)


def test_conditional_put_if_none_match(server, key):
    s3 = server.s3()
    s3.put_object(Bucket="raw", Key=key, Body=b"first writer wins")

    def if_none_match(request, **kw):
        request.headers["If-None-Match"] = "*"  # boto3 >= 1.35 has put_object(IfNoneMatch="*")
    s3.meta.events.register("before-sign.s3.PutObject", if_none_match)
    s3.put_object(Bucket="raw", Key=key + ".new", Body=b"no object yet: written")
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket="raw", Key=key, Body=b"second writer")
    assert server.s3().get_object(Bucket="raw", Key=key)["Body"].read() == b"first writer wins"


def test_conditional_put_if_match(server, key):
    s3 = server.s3()
    etag = s3.put_object(Bucket="raw", Key=key, Body=b"v1")["ETag"]
    wanted = {}

    def if_match(request, **kw):
        request.headers["If-Match"] = wanted["etag"]
    s3.meta.events.register("before-sign.s3.PutObject", if_match)
    wanted["etag"] = '"00000000000000000000000000000000"'
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket="raw", Key=key, Body=b"lost update")
    wanted["etag"] = etag
    s3.put_object(Bucket="raw", Key=key, Body=b"v2")
    assert server.s3().get_object(Bucket="raw", Key=key)["Body"].read() == b"v2"
    with s3_error("NoSuchKey", 404):
        s3.put_object(Bucket="raw", Key=key + ".absent", Body=b"x")


@pytest.mark.parametrize("extra,code", [
    ({"Tagging": "team=data"}, "NotImplemented"),
    ({"ServerSideEncryption": "AES256"}, "NotImplemented"),
    ({"StorageClass": "GLACIER"}, "InvalidStorageClass"),
    ({"ACL": "public-read"}, "NotImplemented"),
])
def test_unoffered_write_features_are_refused(s3, key, extra, code):
    status = 501 if code == "NotImplemented" else 400
    with s3_error(code, status):
        s3.put_object(Bucket="raw", Key=key, Body=b"x", **extra)
    with s3_error(code, status):
        s3.create_multipart_upload(Bucket="raw", Key=key, **extra)
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)
    s3.put_object(Bucket="raw", Key=key, Body=b"x", StorageClass="STANDARD", ACL="private")
