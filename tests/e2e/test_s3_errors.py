"""S3 error answers, each with its exact code and HTTP status: authentication failures
(wrong secret, unknown access key, no signature at all, a skewed clock, a payload that does
not match its signed hash), integrity failures (Content-MD5 BadDigest / InvalidDigest),
keys that would escape the bucket's folder (path traversal: nothing may be written
outside <data>/objects/<bucket>/), over-long keys, missing keys, buckets and uploads,
methods and bodies the API does not accept. Real clients where they can produce the bad
input; hand-signed requests (botocore's own SigV4 signer) or urllib where they cannot."""
import base64
import hashlib
import json
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

from s3util import rest, quote_key, raw, s3_error, sign, signed, skewed_clock, unique, wait_for


@pytest.fixture
def key():
    return unique("err") + "/object.txt"


# ---- authentication ----


def test_wrong_secret(server, s3, key):
    s3.put_object(Bucket="raw", Key=key, Body=b"x")
    ak, _ = server.admin_keys()
    bad = server.s3(access_key=ak, secret_key="0" * 40)
    with s3_error("SignatureDoesNotMatch", 403):
        bad.get_object(Bucket="raw", Key=key)
    with s3_error("SignatureDoesNotMatch", 403):
        bad.put_object(Bucket="raw", Key=key, Body=b"overwrite attempt")
    assert s3.get_object(Bucket="raw", Key=key)["Body"].read() == b"x"
    with s3_error("SignatureDoesNotMatch", 403):
        bad.list_buckets()


def test_unknown_access_key(server, key):
    bad = server.s3(access_key="TKNOSUCHKEY000000000", secret_key="0" * 40)
    with s3_error("InvalidAccessKeyId", 403):
        bad.list_objects_v2(Bucket="raw")
    with s3_error("InvalidAccessKeyId", 403):
        bad.put_object(Bucket="raw", Key=key, Body=b"x")
    env = server.env()
    env.update({"AWS_ACCESS_KEY_ID": "TKNOSUCHKEY000000000", "AWS_SECRET_ACCESS_KEY": "0" * 40})
    env.pop("AWS_SHARED_CREDENTIALS_FILE")
    r = subprocess.run(["/usr/bin/aws", "--endpoint-url", server.endpoint, "s3", "ls", "s3://raw/"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "InvalidAccessKeyId" in r.stderr


def test_anonymous_requests_are_denied(server, s3, key):
    s3.put_object(Bucket="raw", Key=key, Body=b"secret data")
    for url in (f"{server.endpoint}/raw/{key}", f"{server.endpoint}/raw", f"{server.endpoint}/",
                f"{server.endpoint}/raw?list-type=2"):
        with pytest.raises(urllib.error.HTTPError) as ei:
            urllib.request.urlopen(url, timeout=10)
        assert ei.value.code == 403, url
        body = ei.value.read()
        assert b"<Code>AccessDenied</Code>" in body, body
        assert b"secret data" not in body
    # An anonymous PUT is refused and writes nothing.
    req = urllib.request.Request(f"{server.endpoint}/raw/{key}.anon", data=b"anon", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(req, timeout=10)
    assert ei.value.code == 403
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key + ".anon")


@pytest.mark.parametrize("skew", [-20 * 60, 20 * 60])
def test_request_time_too_skewed(server, key, skew):
    s3 = server.s3()
    with skewed_clock(skew):
        with s3_error("RequestTimeTooSkewed", 403):
            s3.list_objects_v2(Bucket="raw", MaxKeys=1)
        with s3_error("RequestTimeTooSkewed", 403):
            s3.put_object(Bucket="raw", Key=key, Body=b"late")
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)


def test_small_skew_is_accepted(server, key):
    s3 = server.s3()
    with skewed_clock(-10 * 60):
        s3.put_object(Bucket="raw", Key=key, Body=b"a bit late")
    assert s3.get_object(Bucket="raw", Key=key)["Body"].read() == b"a bit late"


def test_hand_signed_skewed_request(server):
    with skewed_clock(-20 * 60):
        h = sign(server, "GET", "/raw", "list-type=2")
    r = raw(server, "GET", "/raw", "list-type=2", h)
    assert (r.status, r.code) == (403, "RequestTimeTooSkewed")
    h = sign(server, "GET", "/raw", "list-type=2")
    assert raw(server, "GET", "/raw", "list-type=2", h).status == 200


def test_payload_not_matching_signed_hash(server, s3, key):
    path = "/raw/" + quote_key(key)
    h = sign(server, "PUT", path, body=b"the signed body")
    r = raw(server, "PUT", path, headers=h, body=b"a different body")
    assert (r.status, r.code) == (400, "XAmzContentSHA256Mismatch")
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)
    r = raw(server, "PUT", path, headers=h, body=b"the signed body")
    assert r.status == 200
    assert s3.get_object(Bucket="raw", Key=key)["Body"].read() == b"the signed body"


def test_tampered_signature(server):
    h = sign(server, "GET", "/raw", "list-type=2")
    h["Authorization"] = h["Authorization"][:-4] + ("0000" if not h["Authorization"].endswith("0000") else "1111")
    r = raw(server, "GET", "/raw", "list-type=2", h)
    assert (r.status, r.code) == (403, "SignatureDoesNotMatch")
    # A signed request whose query was changed afterwards.
    h = sign(server, "GET", "/raw", "list-type=2&max-keys=1")
    r = raw(server, "GET", "/raw", "list-type=2&max-keys=2", h)
    assert (r.status, r.code) == (403, "SignatureDoesNotMatch")


def test_malformed_authorization_header(server):
    r = raw(server, "GET", "/raw", headers={"Authorization": "AWS4-HMAC-SHA256 garbage",
                                            "X-Amz-Date": "20260101T000000Z"})
    assert (r.status, r.code) == (400, "AuthorizationHeaderMalformed")


# ---- integrity ----


def test_content_md5(s3, key):
    body = b"integrity matters"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket="raw", Key=key, Body=body, ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket="raw", Key=key + ".bad", Body=body, ContentMD5=bad)
    with s3_error("InvalidDigest", 400):
        s3.put_object(Bucket="raw", Key=key + ".bad", Body=body, ContentMD5="not*base64!")
    with s3_error("InvalidDigest", 400):
        s3.put_object(Bucket="raw", Key=key + ".bad", Body=body, ContentMD5="YWJj")  # 3 bytes
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key + ".bad")
    # A failed overwrite leaves the old object in place.
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket="raw", Key=key, Body=b"replacement", ContentMD5=bad)
    assert s3.get_object(Bucket="raw", Key=key)["Body"].read() == body


def test_delete_objects_bad_content_md5(server, s3, key):
    s3.put_object(Bucket="raw", Key=key, Body=b"x")
    body = (f'<Delete><Object><Key>{key}</Key></Object></Delete>').encode()
    h = sign(server, "POST", "/raw", "delete=", {"Content-MD5": base64.b64encode(b"0" * 16).decode()},
             body)
    r = raw(server, "POST", "/raw", "delete=", h, body)
    assert (r.status, r.code) == (400, "BadDigest")
    assert s3.head_object(Bucket="raw", Key=key)["ContentLength"] == 1


def test_delete_objects_malformed_xml(server):
    for body in (b"<Delete><Object><Key>x</Key>", b"<Wrong/>",
                 b"<Delete><Object></Object></Delete>", b""):
        r = signed(server, "POST", "/raw", "delete=", body=body)
        assert (r.status, r.code) == (400, "MalformedXML"), body


# ---- keys that would escape the bucket ----


TRAVERSAL = ["../{u}", "a/../../{u}", "a//{u}", "./{u}", "{u}/..", "{u}/.", "../../../../tmp/{u}",
             "/{u}", "a/./{u}"]


def _files_named(root, name):
    return [os.path.join(d, f) for d, ds, fs in os.walk(root) for f in fs + ds if name in f]


@pytest.mark.parametrize("pattern", TRAVERSAL)
def test_path_traversal_keys_refused_boto3(server, s3, pattern):
    u = unique("escape")
    k = pattern.format(u=u)
    with s3_error("InvalidArgument", 400):
        s3.put_object(Bucket="raw", Key=k, Body=b"pwned")
    with s3_error("InvalidArgument", 400):
        s3.create_multipart_upload(Bucket="raw", Key=k)
    src = unique("src") + "/ok"
    s3.put_object(Bucket="raw", Key=src, Body=b"ok")
    with s3_error("InvalidArgument", 400):
        s3.copy_object(Bucket="raw", Key=k, CopySource={"Bucket": "raw", "Key": src})
    # Nothing anywhere near the lake carries the name.
    assert _files_named(os.path.dirname(server.data), u) == []


@pytest.mark.parametrize("path", ["/raw/%2E%2E/{u}", "/raw/a/%2e%2e/%2e%2e/{u}", "/raw/a%2F%2F{u}",
                                  "/raw/.%2F{u}", "/raw/%2E/{u}"])
def test_path_traversal_percent_encoded(server, path):
    u = unique("escape")
    p = path.format(u=u)
    # S3 canonicalization decodes the path once: sign what the server will decode.
    h = sign(server, "PUT", urllib.parse.unquote(p), body=b"pwned")
    r = raw(server, "PUT", p, headers=h, body=b"pwned")
    assert (r.status, r.code) == (400, "InvalidArgument"), r.body
    assert _files_named(os.path.dirname(server.data), u) == []


def test_traversal_keys_on_read_and_delete_paths(server, s3):
    """Reading or deleting such keys touches nothing outside the bucket either."""
    outside = os.path.join(server.data, "objects", "canary-" + unique("c"))
    with open(outside, "w") as f:
        f.write("must survive")
    name = os.path.basename(outside)
    for k in (f"../{name}", f"a/../../{name}"):
        r = signed(server, "GET", "/raw/" + k)
        assert r.status in (400, 404) and b"must survive" not in r.body
        r = signed(server, "DELETE", "/raw/" + k)
        assert r.status in (204, 400)
        s3.delete_objects(Bucket="raw", Delete={"Objects": [{"Key": k}]})
    assert open(outside).read() == "must survive"
    os.unlink(outside)


def test_objects_live_in_their_bucket_folder(server, s3):
    k = unique("layout") + "/dt=2026-01-01/part-0.csv"
    s3.put_object(Bucket="raw", Key=k, Body=b"a,b\n1,2\n")
    path = os.path.join(server.data, "objects", "raw", *k.split("/"))
    # A small object is acknowledged from the catalog and gets its file just after.
    wait_for(lambda: os.path.isfile(path) and open(path, "rb").read() == b"a,b\n1,2\n")


# ---- key length ----


def _long_key(n):
    base = unique("long")
    k = base
    while len(k) < n:
        k += "/" + "s" * min(200, n - len(k) - 1)
    return k[:n] if len(k) > n else k


def test_key_too_long(s3):
    k = _long_key(1025)
    assert len(k.encode()) == 1025
    with s3_error("KeyTooLongError", 400):
        s3.put_object(Bucket="raw", Key=k, Body=b"x")
    with s3_error("KeyTooLongError", 400):
        s3.create_multipart_upload(Bucket="raw", Key=k)


def test_key_of_1024_bytes_works(s3):
    k = _long_key(1024)
    assert len(k.encode()) == 1024
    s3.put_object(Bucket="raw", Key=k, Body=b"max")
    assert s3.get_object(Bucket="raw", Key=k)["Body"].read() == b"max"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="raw", Prefix=k)["Contents"]] == [k]
    s3.delete_object(Bucket="raw", Key=k)


def test_multibyte_key_length_counts_bytes(s3):
    k = unique("mb") + "/" + "/".join(["é" * 100] * 6)  # 2 bytes each: over 1024 bytes
    assert len(k) < 1024 < len(k.encode())
    with s3_error("KeyTooLongError", 400):
        s3.put_object(Bucket="raw", Key=k, Body=b"x")


def test_segment_too_long(s3):
    with s3_error("KeyTooLongError", 400):
        s3.put_object(Bucket="raw", Key="x" * 300, Body=b"x")


# ---- missing things ----


def test_no_such_key_and_bucket(s3, key):
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket="raw", Key=key)
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key=key)
    nob = unique("nob")
    with s3_error("NoSuchBucket", 404):
        s3.get_object(Bucket=nob, Key=key)
    with s3_error("NoSuchBucket", 404):
        s3.put_object(Bucket=nob, Key=key, Body=b"x")
    with s3_error("NoSuchBucket", 404):
        s3.delete_object(Bucket=nob, Key=key)
    with s3_error("NoSuchBucket", 404):
        s3.create_multipart_upload(Bucket=nob, Key=key)


def test_error_document_shape(server, key):
    r = signed(server, "GET", "/raw/" + quote_key(key))
    assert r.status == 404
    assert r.headers["content-type"] == "application/xml"
    import xml.etree.ElementTree as ET
    doc = ET.fromstring(r.body)
    assert doc.tag == "Error"
    assert doc.findtext("Code") == "NoSuchKey"
    assert doc.findtext("Key") == key
    assert doc.findtext("BucketName") == "raw"
    assert doc.findtext("RequestId") == r.headers["x-amz-request-id"]


def test_no_such_upload(s3, key):
    with s3_error("NoSuchUpload", 404):
        s3.complete_multipart_upload(Bucket="raw", Key=key, UploadId="f" * 48,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]})


# ---- methods and bodies ----


def test_method_not_allowed(server):
    r = signed(server, "PATCH", "/raw/some-key")
    assert (r.status, r.code) == (405, "MethodNotAllowed")
    r = signed(server, "POST", "/raw")
    assert (r.status, r.code) == (405, "MethodNotAllowed")


def test_upload_part_copy_not_implemented(s3, key):
    s3.put_object(Bucket="raw", Key=key, Body=b"x")
    uid = s3.create_multipart_upload(Bucket="raw", Key=key + ".mp")["UploadId"]
    with s3_error("NotImplemented", 501):
        s3.upload_part_copy(Bucket="raw", Key=key + ".mp", UploadId=uid, PartNumber=1,
                            CopySource={"Bucket": "raw", "Key": key})
    s3.abort_multipart_upload(Bucket="raw", Key=key + ".mp", UploadId=uid)


def test_folder_marker_must_be_empty(s3):
    k = unique("folder") + "/"
    with s3_error("InvalidArgument", 400):
        s3.put_object(Bucket="raw", Key=k, Body=b"not empty")
    s3.put_object(Bucket="raw", Key=k, Body=b"")
    assert s3.head_object(Bucket="raw", Key=k)["ContentLength"] == 0


def test_rest_errors_are_json(server):
    r = raw(server, "GET", "/v1/users")
    assert r.status == 403
    assert json.loads(r.body)["error"]["code"] == "AccessDenied"
    r = signed(server, "GET", "/v1/no-such-endpoint", service="tarn")
    assert r.status == 404
    assert json.loads(r.body)["error"]["code"] == "NotFound"
    # A signed body to an unknown route is read and verified like any: 404, not 403.
    status, out = rest(server, "POST", "/v1/no-such-endpoint", {"a": 1})
    assert status == 404 and out["error"]["code"] == "NotFound", out


def test_key_and_prefix_conflict(s3):
    """Objects are files under the bucket folder, so "x" and "x/y" cannot both exist (S3
    allows it): the second write is refused with 400 and the first object is untouched."""
    base = unique("conflict")
    s3.put_object(Bucket="raw", Key=f"{base}/x", Body=b"file x")
    with s3_error("InvalidArgument", 400):
        s3.put_object(Bucket="raw", Key=f"{base}/x/y", Body=b"under x")
    with s3_error("InvalidArgument", 400):
        s3.copy_object(Bucket="raw", Key=f"{base}/x/z", CopySource=f"raw/{base}/x")
    s3.put_object(Bucket="raw", Key=f"{base}/p/q", Body=b"under p")
    with s3_error("InvalidArgument", 400):
        s3.put_object(Bucket="raw", Key=f"{base}/p", Body=b"file p")
    uid = s3.create_multipart_upload(Bucket="raw", Key=f"{base}/p")["UploadId"]
    e = s3.upload_part(Bucket="raw", Key=f"{base}/p", UploadId=uid, PartNumber=1, Body=b"mp")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": e}]}
    with s3_error("InvalidArgument", 400):
        s3.complete_multipart_upload(Bucket="raw", Key=f"{base}/p", UploadId=uid, MultipartUpload=parts)
    # Folder markers live in the index only, so they never conflict.
    s3.put_object(Bucket="raw", Key=f"{base}/x/", Body=b"")
    assert s3.get_object(Bucket="raw", Key=f"{base}/x")["Body"].read() == b"file x"
    # Once the blocking key is gone, the refused write goes through, and so does the upload.
    s3.delete_object(Bucket="raw", Key=f"{base}/p/q")
    s3.complete_multipart_upload(Bucket="raw", Key=f"{base}/p", UploadId=uid, MultipartUpload=parts)
    assert s3.get_object(Bucket="raw", Key=f"{base}/p")["Body"].read() == b"mp"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="raw", Prefix=base + "/")["Contents"]]
    assert keys == [f"{base}/p", f"{base}/x", f"{base}/x/"]


def test_reserved_temp_file_names(fresh_server):
    """Uploads are staged beside their object as .tarn-<pid>-<n>.tmp: no key may name
    such a file, so no user object can collide with one (or be taken by crash recovery)."""
    s3 = fresh_server.s3()
    pid = fresh_server.proc.pid
    for i in range(1, 20):
        with s3_error("InvalidArgument", 400):
            s3.put_object(Bucket="raw", Key=f"col/.tarn-{pid}-{i}.tmp", Body=b"user data")
    with s3_error("InvalidArgument", 400):
        s3.create_multipart_upload(Bucket="raw", Key=".tarn-x/y")
    # Writes next to them keep working, and look-alike names are ordinary keys.
    for i in range(20):
        s3.put_object(Bucket="raw", Key=f"col/file-{i}", Body=b"%d" % i)
    s3.put_object(Bucket="raw", Key="col/.tarnish", Body=b"fine")
    s3.put_object(Bucket="raw", Key="col/x.tarn-1.tmp", Body=b"fine")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="raw", Prefix="col/")["Contents"]]
    assert len(keys) == 22 and not any("/.tarn-" in k for k in keys)
