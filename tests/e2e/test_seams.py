"""Signatures cover what they govern. A signed request replayed with an x-amz-* header
added (a copy source, user metadata) is refused before any work; the REST and Firehose
APIs refuse UNSIGNED-PAYLOAD bodies and bodies that differ from the hash they declare, on
every operation that takes a body; and a signature scoped to one service is refused by
the others (S3 takes "s3", the REST API "tarn", Firehose "firehose")."""
import hashlib
import json

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3util import raw, rest, s3_error, sign, signed, unique

NOT_SIGNED = b"There were headers present in the request which were not signed"


def sigv4(server, method, path, body=b"", headers=None, service="tarn", unsigned=False):
    """Headers of a request signed as botocore signs JSON APIs (every header given is
    signed); unsigned=True signs x-amz-content-sha256: UNSIGNED-PAYLOAD instead of the
    body's hash."""
    ak, sk = server.admin_keys()
    h = dict(headers or {})
    if unsigned:
        h["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    req = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=h)
    botocore.auth.SigV4Auth(Credentials(ak, sk), service, "us-east-1").add_auth(req)
    return {k: (v.decode() if isinstance(v, bytes) else v)
            for k, v in req.prepare().headers.items() if k.lower() != "content-length"}


def test_unsigned_copy_source_added_to_a_signed_put_is_refused(server):
    s3 = server.s3()
    s3.put_object(Bucket="raw", Key="seams/secret.csv", Body=b"the secret\n")
    path = "/raw/seams/innocent.csv"
    h = sign(server, "PUT", path, body=b"")
    h["x-amz-copy-source"] = "/raw/seams/secret.csv"
    r = raw(server, "PUT", path, headers=h)
    assert r.status == 403 and r.code == "AccessDenied", r.body
    assert NOT_SIGNED in r.body and b"x-amz-copy-source" in r.body
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key="seams/innocent.csv")
    # Signed, the same copy is an ordinary CopyObject.
    h = sign(server, "PUT", path, headers={"x-amz-copy-source": "/raw/seams/secret.csv"})
    assert raw(server, "PUT", path, headers=h).status == 200


def test_unsigned_metadata_and_content_md5_are_refused(server):
    s3 = server.s3()
    path = "/raw/seams/meta.csv"
    body = b"a,b\n"
    h = sign(server, "PUT", path, body=body)
    r = raw(server, "PUT", path, headers={**h, "x-amz-meta-owner": "mallory"}, body=body)
    assert r.status == 403 and NOT_SIGNED in r.body and b"x-amz-meta-owner" in r.body
    r = raw(server, "PUT", path, headers={**h, "Content-MD5": "6Iq0dMlJpQ4MHSLkuRPNYw=="},
            body=body)
    assert r.status == 403 and b"Content-MD5" in r.body
    with s3_error("404", 404):
        s3.head_object(Bucket="raw", Key="seams/meta.csv")
    # boto3 signs the metadata it sends: stored as usual.
    s3.put_object(Bucket="raw", Key="seams/meta.csv", Body=body, Metadata={"owner": "ann"})
    assert s3.head_object(Bucket="raw", Key="seams/meta.csv")["Metadata"] == {"owner": "ann"}


def test_presigned_url_with_an_unsigned_header_is_refused(server):
    s3 = server.s3(signature_version="s3v4")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "raw", "Key": "seams/ps.csv"},
                                    ExpiresIn=300)
    target = url[len(server.endpoint):]
    path, _, query = target.partition("?")
    r = raw(server, "PUT", path, query, headers={"x-amz-meta-x": "1"}, body=b"x\n")
    assert r.status == 403 and NOT_SIGNED in r.body, r.body
    assert raw(server, "PUT", path, query, body=b"x\n").status == 200


def rest_ops(server):
    """(method, path, body) of every REST operation that takes a body, with valid bodies."""
    name = unique("sw").replace("-", "_")
    return [
        ("POST", "/v1/sql", {"sql": "select 42"}),
        ("POST", "/v1/users", {"name": name}),
        ("POST", "/v1/groups", {"name": name}),
        ("POST", "/v1/roles", {"name": name}),
        ("POST", "/v1/grants", {"principal": "user:admin", "permission": "SELECT",
                                "resource": "table:curated.nodb.nothing"}),
        ("POST", "/v1/grants/revoke", {"principal": "user:admin", "permission": "SELECT",
                                       "resource": "table:curated.nodb.nothing"}),
        ("POST", "/v1/filters", {"table": "curated.nodb.nothing", "name": name,
                                 "row_filter": "true"}),
        ("POST", "/v1/crawl", {}),
        ("POST", "/v1/quarantine/release", {"key": "nothing"}),
        ("POST", "/v1/streams", {"name": name}),
        ("POST", f"/v1/streams/{name}/records", None),
        ("POST", "/v1/pipelines", {"spec": f"name: {name}\nsteps: []\n"}),
        ("POST", f"/v1/pipelines/{name}/runs", {"replay": False}),
        ("POST", "/v1/tables/curated/nodb/nothing", {"format": "csv"}),
        ("PATCH", "/v1/tables/curated/nodb/nothing", {"description": "x"}),
        ("POST", "/v1/tables/curated/nodb/nothing/rollback", {"to": 1}),
        ("POST", "/v1/tables/curated/nodb/nothing/compact", {}),
        ("POST", "/v1/users/admin/keys", {}),
        ("POST", "/v1/users/admin/keys/rotate", {}),
        ("PATCH", "/v1/users/admin/keys/AKNOSUCHKEY", {"status": "active"}),
    ]


@pytest.mark.parametrize("i", range(20))
def test_rest_bodies_must_be_signed(server, i):
    method, path, body = rest_ops(server)[i]
    signed_body = json.dumps(body).encode() if body is not None else b'{"n": 1}\n'
    swapped = signed_body.replace(b"42", b"43") if b"42" in signed_body else signed_body + b" "
    ctype = {"Content-Type": "application/json"}
    h = sigv4(server, method, path, signed_body, ctype, unsigned=True)
    r = raw(server, method, path, headers=h, body=swapped)
    assert r.status == 403 and r.code == "AccessDenied", (path, r.status, r.body)
    assert b"UNSIGNED-PAYLOAD" in r.body
    # A declared hash that is not the body's: refused too.
    declared = hashlib.sha256(signed_body).hexdigest()
    h = sigv4(server, method, path, signed_body, {**ctype, "X-Amz-Content-SHA256": declared})
    r = raw(server, method, path, headers=h, body=swapped)
    assert r.status == 400 and r.code == "XAmzContentSHA256Mismatch", (path, r.status, r.body)


def test_sql_body_swap_does_not_run_the_other_query(server):
    body = json.dumps({"sql": "select 42 AS answer"}).encode()
    h = sigv4(server, "POST", "/v1/sql", body, {"Content-Type": "application/json"},
              unsigned=True)
    r = raw(server, "POST", "/v1/sql", headers=h, body=body.replace(b"42", b"43"))
    # Nothing ran: no rows, and no 43 in what the answer says (its random request id may
    # hold those digits).
    out = json.loads(r.body)
    assert r.status == 403 and "rows" not in out and "43" not in out["error"]["message"]
    # Signed as SDKs sign (the body's hash), the query runs.
    status, out = rest(server, "POST", "/v1/sql", {"sql": "select 42 AS answer"})
    assert status == 200 and out["rows"] == [[42]]


FIREHOSE_OPS = ["CreateDeliveryStream", "DeleteDeliveryStream", "DescribeDeliveryStream",
                "ListDeliveryStreams", "PutRecord", "PutRecordBatch"]


@pytest.mark.parametrize("op", FIREHOSE_OPS)
def test_firehose_bodies_must_be_signed(server, op):
    body = json.dumps({"DeliveryStreamName": "nothing", "Record": {"Data": "eA=="},
                       "Records": [{"Data": "eA=="}]}).encode()
    hdrs = {"X-Amz-Target": f"Firehose_20150804.{op}", "Content-Type": "application/x-amz-json-1.1"}
    h = sigv4(server, "POST", "/", body, hdrs, service="firehose", unsigned=True)
    r = raw(server, "POST", "/", headers=h, body=body.replace(b"nothing", b"nothinG"))
    assert r.status == 400, (op, r.status, r.body)  # Firehose answers its errors with 400
    assert json.loads(r.body)["__type"] == "AccessDeniedException" and b"UNSIGNED-PAYLOAD" in r.body
    # The X-Amz-Target header itself must be signed.
    h = sigv4(server, "POST", "/", body, {"Content-Type": "application/x-amz-json-1.1"},
              service="firehose")
    r = raw(server, "POST", "/", headers={**h, "X-Amz-Target": f"Firehose_20150804.{op}"},
            body=body)
    assert json.loads(r.body)["__type"] == "AccessDeniedException", (op, r.status, r.body)
    assert NOT_SIGNED in r.body


def test_each_api_takes_only_its_own_service_scope(server):
    s3 = server.s3()
    s3.put_object(Bucket="raw", Key="seams/scoped.csv", Body=b"a\n")
    # S3 with a signature scoped to tarn or firehose.
    for svc in ("tarn", "firehose"):
        r = signed(server, "GET", "/raw/seams/scoped.csv", service=svc)
        assert r.status == 400 and r.code == "AuthorizationHeaderMalformed", (svc, r.body)
        assert b"scoped to service" in r.body and svc.encode() in r.body
    assert signed(server, "GET", "/raw/seams/scoped.csv").status == 200
    # The REST API with a signature scoped to s3 or firehose.
    for svc in ("s3", "firehose"):
        h = sigv4(server, "GET", "/v1/whoami", service=svc)
        r = raw(server, "GET", "/v1/whoami", headers=h)
        assert r.status == 400 and r.code == "AuthorizationHeaderMalformed", (svc, r.body)
    h = sigv4(server, "GET", "/v1/whoami", service="tarn")
    assert raw(server, "GET", "/v1/whoami", headers=h).status == 200
    # Firehose with a signature scoped to s3 or tarn.
    body = b"{}"
    hdrs = {"X-Amz-Target": "Firehose_20150804.ListDeliveryStreams",
            "Content-Type": "application/x-amz-json-1.1"}
    for svc in ("s3", "tarn"):
        h = sigv4(server, "POST", "/", body, hdrs, service=svc)
        r = raw(server, "POST", "/", headers=h, body=body)
        assert r.status == 400, (svc, r.status, r.body)
        assert json.loads(r.body)["__type"] == "IncompleteSignatureException", r.body
    h = sigv4(server, "POST", "/", body, hdrs, service="firehose")
    assert raw(server, "POST", "/", headers=h, body=body).status == 200
    # Presigned URLs carry their scope too.
    url = server.s3(signature_version="s3v4").generate_presigned_url("get_object",
                                    Params={"Bucket": "raw", "Key": "seams/scoped.csv"})
    path, _, query = url[len(server.endpoint):].partition("?")
    assert raw(server, "GET", path, query).status == 200
    r = raw(server, "GET", path, query.replace("%2Fs3%2F", "%2Ftarn%2F"))
    assert r.status == 400 and r.code == "AuthorizationQueryParametersError", r.body


def test_list_buckets_shows_only_buckets_with_a_grant(server):
    s3 = server.s3()
    mine, other = unique("mine"), unique("other")
    s3.create_bucket(Bucket=mine)
    s3.create_bucket(Bucket=other)
    names = {}
    for who in ("nobody", "located", "tabled", "grouped"):
        n = unique(who).replace("-", "_")
        server.tarn("user", "create", n)
        k = json.loads(server.tarn("key", "create", n, "--json").stdout)
        names[who] = (n, k["access_key"], k["secret_key"])
    server.tarn("grant", "READ", "ON", "LOCATION", f"{mine}/some/prefix/", "TO",
                f"user:{names['located'][0]}")
    server.tarn("grant", "SELECT", "ON", "TABLE", "cleaned.sales.orders", "TO",
                f"user:{names['tabled'][0]}")
    group = unique("g").replace("-", "_")
    server.tarn("group", "create", group)
    server.tarn("group", "add", group, names["grouped"][0])
    server.tarn("grant", "WRITE", "ON", "LOCATION", other, "TO", f"group:{group}")

    def listed(who):
        _, ak, sk = names[who]
        return {b["Name"] for b in server.s3(access_key=ak, secret_key=sk).list_buckets()["Buckets"]}
    everything = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {"raw", "cleaned", "curated", "quarantine", mine, other} <= everything  # the admin
    assert listed("nobody") == set()
    assert listed("located") == {mine}
    assert listed("tabled") == {"cleaned"}
    assert listed("grouped") == {other}
    # The aws CLI, as that user, shows nothing either.
    env = {**server.env(), "AWS_ACCESS_KEY_ID": names["nobody"][1],
           "AWS_SECRET_ACCESS_KEY": names["nobody"][2], "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    import subprocess
    out = subprocess.run(["/usr/bin/aws", "--endpoint-url", server.endpoint, "s3", "ls"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "", out
    # Revoked, the bucket is gone from the list at once.
    server.tarn("revoke", "READ", "ON", "LOCATION", f"{mine}/some/prefix/", "FROM",
                f"user:{names['located'][0]}")
    assert listed("located") == set()
