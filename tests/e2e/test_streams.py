"""Delivery streams: the Firehose API through the aws CLI and boto3, delivery into raw with
partitioning, compression and Parquet conversion, the error output in quarantine, and
exactly-once delivery of acknowledged records across kill -9."""
import base64
import gzip
import json
import multiprocessing
import os
import subprocess
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from s3util import rest, unique, wait_for


def firehose(server, validate=False):
    """boto3's Firehose client. The service model refuses IntervalInSeconds under 60 on the
    client side; tarn accepts 0 to 900, so tests that wait for delivery skip that check."""
    ak, sk = server.admin_keys()
    return boto3.client("firehose", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id=ak, aws_secret_access_key=sk,
                        config=Config(parameter_validation=validate,
                                      retries={"max_attempts": 1}))


def dest(prefix, **kw):
    d = {"RoleARN": "arn:aws:iam::123456789012:role/firehose", "BucketARN": "arn:aws:s3:::raw",
         "Prefix": prefix, "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
         "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}}
    d.update(kw)
    return d


def partitioning(query):
    return {"DynamicPartitioningConfiguration": {"Enabled": True},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [{
                "Type": "MetadataExtraction", "Parameters": [
                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": query},
                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]}}


def keys(s3, bucket, prefix):
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def sql(server, q):
    st, body = rest(server, "POST", "/v1/sql", {"sql": q})
    assert st == 200, body
    return body["rows"]


def test_aws_cli_create_put_describe(server):
    name = unique("cli")
    cfg = json.dumps(dest(f"{name}/events/", BufferingHints={"SizeInMBs": 1,
                                                             "IntervalInSeconds": 60}))
    out = server.aws("firehose", "create-delivery-stream", "--delivery-stream-name", name,
                     "--delivery-stream-type", "DirectPut",
                     "--extended-s3-destination-configuration", cfg)
    assert json.loads(out.stdout)["DeliveryStreamARN"].endswith(f":deliverystream/{name}")
    recs = [f"Data={base64.b64encode(json.dumps({'i': i}).encode()).decode()}" for i in range(3)]
    out = server.aws("firehose", "put-record-batch", "--delivery-stream-name", name,
                     "--cli-binary-format", "base64", "--records", *recs)
    body = json.loads(out.stdout)
    assert body["FailedPutCount"] == 0 and len(body["RequestResponses"]) == 3
    assert all(r["RecordId"] for r in body["RequestResponses"])
    d = json.loads(server.aws("firehose", "describe-delivery-stream", "--delivery-stream-name",
                              name).stdout)["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "ACTIVE"
    ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert ext["BucketARN"] == "arn:aws:s3:::raw" and ext["CompressionFormat"] == "UNCOMPRESSED"
    assert name in json.loads(server.aws("firehose", "list-delivery-streams").stdout)[
        "DeliveryStreamNames"]
    out = server.aws("firehose", "describe-delivery-stream", "--delivery-stream-name",
                     "no-such-stream", check=False)
    assert out.returncode != 0 and "ResourceNotFoundException" in out.stderr
    out = server.aws("firehose", "create-delivery-stream", "--delivery-stream-name", name,
                     "--extended-s3-destination-configuration", cfg, check=False)
    assert "ResourceInUseException" in out.stderr
    server.aws("firehose", "delete-delivery-stream", "--delivery-stream-name", name)
    assert name not in json.loads(server.aws("firehose", "list-delivery-streams").stdout)[
        "DeliveryStreamNames"]


def test_unsupported_configuration_is_refused_naming_the_field(server):
    fh = firehose(server)
    bad = [
        (dest("x/", S3BackupMode="Enabled"), "S3BackupMode"),
        (dest("x/", CompressionFormat="Snappy"), "CompressionFormat"),
        (dest("x/", BufferingHints={"SizeInMBs": 500, "IntervalInSeconds": 1}), "SizeInMBs"),
        (dest("x/", EncryptionConfiguration={"KMSEncryptionConfig": {"AWSKMSKeyARN": "k"}}),
         "KMSEncryptionConfig"),
        (dest("x/dt=!{timestamp:yyyy-QQ}/"), "'Q'"),
        (dest("x/r=!{partitionKeyFromQuery:region}/"), "DynamicPartitioningConfiguration"),
        (dest("x/r=!{partitionKeyFromQuery:zone}/", **partitioning("{region: .region}")),
         "'zone'"),
        (dest("x/r=!{partitionKeyFromQuery:region}/",
              **partitioning("{region: .region | recurse}")), "MetadataExtractionQuery"),
        (dest("x/r=!{partitionKeyFromQuery:region}/",
              **partitioning("{region: (.region | until(. == 1; . + 1))}")), "until/2"),
        (dest("x/", BucketARN="arn:aws:s3:::nosuchbucket"), "nosuchbucket"),
        (dest("x/", DataFormatConversionConfiguration={
            "SchemaConfiguration": {"DatabaseName": "d", "TableName": "t"},
            "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "ZLIB"}}}}),
         "ZLIB"),
    ]
    for cfg, word in bad:
        with pytest.raises(ClientError) as e:
            fh.create_delivery_stream(DeliveryStreamName=unique("bad"),
                                      ExtendedS3DestinationConfiguration=cfg)
        assert e.value.response["Error"]["Code"] == "InvalidArgumentException", cfg
        assert word in e.value.response["Error"]["Message"], (word, e.value.response)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_partial_failure_partitioning_and_compression(server, s3):
    fh = firehose(server)
    db = unique("clicks")
    for comp, ext, opener in (("GZIP", ".gz", gzip.decompress),
                              ("ZSTD", ".zst", lambda b: subprocess.run(
                                  ["zstd", "-dc"], input=b, capture_output=True,
                                  check=True).stdout)):
        name = unique("pf")
        fh.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration=dest(
                f"{db}/events_{comp.lower()}/dt=!{{timestamp:yyyy-MM-dd}}/"
                "region=!{partitionKeyFromQuery:region}/",
                ErrorOutputPrefix=f"{db}/errors/!{{firehose:error-output-type}}/",
                CompressionFormat=comp, **partitioning("{region: .region, ts: .meta.ts}")))
        recs = [{"Data": json.dumps({"region": ["eu", "us"][i % 2], "n": i,
                                     "meta": {"ts": i}}).encode()} for i in range(100)]
        recs.insert(10, {"Data": b"x" * (1000 * 1024 + 1)})  # over the 1,000 KiB limit
        recs.append({"Data": b'{"n": 1}'})                   # no region: partitioning fails
        r = fh.put_record_batch(DeliveryStreamName=name, Records=recs)
        assert r["FailedPutCount"] == 1
        assert r["RequestResponses"][10]["ErrorCode"] == "InvalidArgumentException"
        assert "RecordId" not in r["RequestResponses"][10]
        assert all("RecordId" in x for i, x in enumerate(r["RequestResponses"]) if i != 10)
        got = wait_for(lambda: len(keys(s3, "raw", f"{db}/events_{comp.lower()}/")) == 2
                       and keys(s3, "raw", f"{db}/events_{comp.lower()}/"), timeout=20)
        day = time.strftime("%Y-%m-%d", time.gmtime())
        rows = []
        for k in got:
            assert k.startswith(f"{db}/events_{comp.lower()}/dt={day}/region=")
            assert k.endswith(ext) and f"/{name}-1-" in k
            body = opener(s3.get_object(Bucket="raw", Key=k)["Body"].read())
            rows += [json.loads(line) for line in body.decode().splitlines()]
            region = k.split("region=")[1].split("/")[0]
            assert all(x["region"] == region for x in rows[-50:])
        assert sorted(x["n"] for x in rows) == list(range(100))
        errs = wait_for(lambda: keys(s3, "quarantine", f"{db}/errors/partitioning-failed/"))
        err = json.loads(s3.get_object(Bucket="quarantine", Key=errs[-1])["Body"].read()
                         .decode().splitlines()[0])
        assert err["errorCode"] == "partitioning-failed" and "region" in err["errorMessage"]
        assert base64.b64decode(err["rawData"]) == b'{"n": 1}'


def test_aws_cli_metadata_extraction_with_jq(server, s3, tmp_path):
    """MetadataExtractionQuery runs on jq 1.6 as Firehose's does: `// "default"`, `|
    tostring` and functions such as ascii_downcase give the keys; a record the query fails on
    goes to the error output with jq's message; a query that could loop is refused."""
    name, db = unique("jq"), unique("jqdb")
    query = '{kind: (.kind // "default" | ascii_downcase), n: (.meta.n | tostring)}'
    # The CLI's service model wants IntervalInSeconds of 60 or more: delivery is by size here.
    cfg = dest(f"{db}/events/kind=!{{partitionKeyFromQuery:kind}}/n=!{{partitionKeyFromQuery:n}}/",
               ErrorOutputPrefix=f"{db}/errors/!{{firehose:error-output-type}}/",
               BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60}, **partitioning(query))
    out = server.aws("firehose", "create-delivery-stream", "--delivery-stream-name", name,
                     "--delivery-stream-type", "DirectPut",
                     "--extended-s3-destination-configuration", json.dumps(cfg))
    assert json.loads(out.stdout)["DeliveryStreamARN"].endswith(f":deliverystream/{name}")
    # The failing record first, so the first batch (1 MiB of the 1.2 MiB sent) holds it.
    recs = [{"i": -1, "meta": "flat"}]
    recs += [dict({"i": i, "pad": "x" * 1000, "meta": {"n": i % 2}},
                  **({"kind": "Click"} if i % 3 == 0 else {})) for i in range(1200)]
    for k in range(0, len(recs), 450):
        path = tmp_path / f"recs-{k}.json"
        path.write_text(json.dumps([{"Data": base64.b64encode(json.dumps(r).encode()).decode()}
                                    for r in recs[k:k + 450]]))
        out = server.aws("firehose", "put-record-batch", "--delivery-stream-name", name,
                         "--records", f"file://{path}")
        assert json.loads(out.stdout)["FailedPutCount"] == 0
    errs = wait_for(lambda: keys(s3, "quarantine", f"{db}/errors/partitioning-failed/"),
                    timeout=30)
    err = json.loads(s3.get_object(Bucket="quarantine", Key=errs[0])["Body"].read()
                     .decode().splitlines()[0])
    assert err["errorCode"] == "partitioning-failed", err
    assert "Cannot index string" in err["errorMessage"], err
    assert json.loads(base64.b64decode(err["rawData"])) == {"i": -1, "meta": "flat"}
    # Records 0 to about 990 cover the four partitions; each lands in its own file.
    got = wait_for(lambda: len(keys(s3, "raw", f"{db}/events/")) == 4
                   and keys(s3, "raw", f"{db}/events/"), timeout=30)
    seen = set()
    for k in got:
        kind, n = k[len(f"{db}/events/"):].split("/")[:2]
        assert kind in ("kind=click", "kind=default") and n in ("n=0", "n=1"), k
        for line in s3.get_object(Bucket="raw", Key=k)["Body"].read().decode().splitlines():
            r = json.loads(line)
            assert kind == ("kind=click" if r["i"] % 3 == 0 else "kind=default"), (k, r["i"])
            assert n == f"n={r['i'] % 2}", (k, r["i"])
            seen.add(r["i"])
    assert len(seen) > 600 and min(seen) == 0, len(seen)
    # Refused at creation: a query that could run without end, and one that reads the
    # environment.
    for q, word in (('{k: ([range(1e9)] | length)}', "range/1"), ('{k: $ENV.HOME}', "$ENV")):
        bad = dest("x/k=!{partitionKeyFromQuery:k}/", **partitioning(q),
                   BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
        out = server.aws("firehose", "create-delivery-stream", "--delivery-stream-name",
                         unique("jqbad"), "--extended-s3-destination-configuration",
                         json.dumps(bad), check=False)
        assert out.returncode != 0, q
        assert "InvalidArgumentException" in out.stderr and word in out.stderr, out.stderr


def test_parquet_conversion_queryable_and_bad_json_quarantined(server, s3):
    fh = firehose(server)
    db = unique("iot")
    server.tarn("table", "create", f"raw.{db}.readings", "--format", "parquet", "--schema",
                "device VARCHAR, temp DOUBLE, n BIGINT")
    name = unique("pq")
    fh.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration=dest(
            f"{db}/readings/", ErrorOutputPrefix=f"{db}/bad/!{{firehose:error-output-type}}/",
            DataFormatConversionConfiguration={
                "Enabled": True,
                "SchemaConfiguration": {"DatabaseName": db, "TableName": "readings",
                                        "RoleARN": "arn:aws:iam::1:role/x"},
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}}))
    good = [{"Data": json.dumps({"device": f"d{i % 3}", "temp": 20.5 + i, "n": i}).encode()}
            for i in range(250)]
    bad = [{"Data": b"{not json"}, {"Data": json.dumps({"device": "d1", "temp": "hot"}).encode()}]
    r = fh.put_record_batch(DeliveryStreamName=name, Records=good[:100] + bad + good[100:])
    assert r["FailedPutCount"] == 0
    got = wait_for(lambda: keys(s3, "raw", f"{db}/readings/"), timeout=20)
    assert got[0].endswith(".parquet")
    n = wait_for(lambda: sql(server, f'SELECT count(*), sum(n) FROM raw."{db}".readings'
                             )[0][0] == 250 and sql(server, f'SELECT count(*), sum(n) FROM '
                                                    f'raw."{db}".readings'), timeout=20)
    assert n[0] == [250, sum(range(250))]
    errs = wait_for(lambda: keys(s3, "quarantine", f"{db}/bad/format-conversion-failed/"))
    lines = [json.loads(x) for k in errs for x in
             s3.get_object(Bucket="quarantine", Key=k)["Body"].read().decode().splitlines()]
    assert len(lines) == 2
    reasons = " | ".join(x["errorMessage"] for x in lines)
    assert "not a JSON object" in reasons and "'temp'" in reasons
    d = rest(server, "GET", f"/v1/streams/{name}")[1]
    assert d["Tarn"]["RecordsDelivered"] == 250 and d["Tarn"]["RecordsFailed"] == 2


def transform(query, *more):
    return {"ProcessingConfiguration": {"Enabled": True, "Processors": [
        {"Type": "SQL", "Parameters": [{"ParameterName": "Query", "ParameterValue": query}]},
        *more]}}


CLICKS = [{"user_id": i, "page": None if i % 4 == 0 else f"/Home/{i}",
           "ts": f"2024-05-0{1 + i % 3} 10:00:0{i % 10}", "junk": "x" * i} for i in range(40)]
CLICK_QUERY = ("SELECT user_id, lower(page) AS page, ts::TIMESTAMP AS ts FROM records "
               "WHERE page IS NOT NULL")


def expected_clicks():
    return sorted([c["user_id"], c["page"].lower(), c["ts"]] for c in CLICKS if c["page"])


def test_sql_transform_projects_filters_and_casts(server, s3):
    fh = firehose(server)
    db = unique("tf")
    name = unique("tf")
    fh.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration=dest(f"{db}/clicks/", **transform(CLICK_QUERY)))
    recs = [{"Data": json.dumps(c).encode() + b"\n"} for c in CLICKS]
    recs.insert(5, {"Data": b"[1, 2]"})  # not an object: cannot be a row of records
    assert fh.put_record_batch(DeliveryStreamName=name, Records=recs)["FailedPutCount"] == 0
    got = wait_for(lambda: keys(s3, "raw", f"{db}/clicks/"), timeout=20)
    rows = [json.loads(x) for k in got for x in
            s3.get_object(Bucket="raw", Key=k)["Body"].read().decode().splitlines()]
    assert all(list(r) == ["user_id", "page", "ts"] for r in rows)
    assert sorted([r["user_id"], r["page"], r["ts"]] for r in rows) == expected_clicks()
    errs = wait_for(lambda: keys(s3, "quarantine", "errors/processing-failed/") and [
        json.loads(x) for k in keys(s3, "quarantine", "errors/processing-failed/") for x in
        s3.get_object(Bucket="quarantine", Key=k)["Body"].read().decode().splitlines()
        if json.loads(x)["deliveryStreamName"] == name])
    assert [base64.b64decode(e["rawData"]) for e in errs] == [b"[1, 2]"]
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    procs = d["Destinations"][0]["ExtendedS3DestinationDescription"][
        "ProcessingConfiguration"]["Processors"]
    assert procs[0]["Type"] == "SQL"


def test_sql_transform_then_parquet_conversion(server, s3):
    fh = firehose(server)
    db = unique("tfpq")
    server.tarn("table", "create", f"raw.{db}.clicks", "--format", "parquet", "--schema",
                "user_id BIGINT, page VARCHAR, ts TIMESTAMP")
    name = unique("tfpq")
    r = server.tarn("stream", "create", name, "--prefix", f"{db}/clicks/", "--buffer-seconds",
                    "1", "--parquet-table", f"{db}.clicks", "--transform", CLICK_QUERY)
    assert "Created stream" in r.stdout, r.stdout + r.stderr
    ndjson = "".join(json.dumps(c) + "\n" for c in CLICKS)
    assert "40 records acknowledged" in server.tarn("stream", "put", name, input=ndjson).stdout
    got = wait_for(lambda: keys(s3, "raw", f"{db}/clicks/"), timeout=20)
    assert got[0].endswith(".parquet")
    q = (f"SELECT user_id, page, strftime(ts, '%Y-%m-%d %H:%M:%S') FROM raw.\"{db}\".clicks "
         "ORDER BY user_id")
    rows = wait_for(lambda: _table_ready(server, db, "clicks") and sql(server, q), timeout=20)
    assert sorted(rows) == expected_clicks()


def test_sql_transform_cast_failure_quarantines_the_batch(server, s3):
    fh = firehose(server)
    db = unique("tfbad")
    name = unique("tfbad")
    fh.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration=dest(
            f"{db}/clicks/", ErrorOutputPrefix=f"{db}/errors/!{{firehose:error-output-type}}/",
            **transform("SELECT user_id, ts::TIMESTAMP AS ts FROM records")))
    recs = [{"Data": json.dumps({"user_id": i, "ts": "2024-05-01 10:00:00"}).encode()}
            for i in range(9)]
    recs.append({"Data": json.dumps({"user_id": 9, "ts": "not a time"}).encode()})
    assert fh.put_record_batch(DeliveryStreamName=name, Records=recs)["FailedPutCount"] == 0
    errs = wait_for(lambda: keys(s3, "quarantine", f"{db}/errors/processing-failed/"),
                    timeout=20)
    lines = [json.loads(x) for k in errs for x in
             s3.get_object(Bucket="quarantine", Key=k)["Body"].read().decode().splitlines()]
    assert sorted(json.loads(base64.b64decode(e["rawData"]))["user_id"] for e in lines) == \
        list(range(10))
    assert all(e["errorCode"] == "processing-failed" for e in lines)
    assert "SQL transform failed" in lines[0]["errorMessage"]
    assert "not a time" in lines[0]["errorMessage"], lines[0]["errorMessage"]
    assert keys(s3, "raw", f"{db}/clicks/") == []
    d = rest(server, "GET", f"/v1/streams/{name}")[1]
    assert d["Tarn"]["RecordsFailed"] == 10 and d["Tarn"]["RecordsDelivered"] == 0


def test_sql_transform_bad_query_refused_at_create(server):
    fh = firehose(server)
    bad = [
        ("SELEC user_id FROM records", "does not parse"),
        ("SELECT * FROM records; SELECT 1", "exactly one"),
        ("DELETE FROM records", "SELECT"),
        ("SELECT * FROM curated.sales.orders", "orders"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        ("SELECT * FROM '/etc/passwd'", "/etc/passwd"),
        ("SELECT * FROM records WHERE user_id IN (SELECT id FROM other)", "other"),
        ("SELECT * FROM records;", "semicolon"),
    ]
    for query, word in bad:
        with pytest.raises(ClientError) as e:
            fh.create_delivery_stream(DeliveryStreamName=unique("tfx"),
                                      ExtendedS3DestinationConfiguration=dest(
                                          "x/", **transform(query)))
        assert e.value.response["Error"]["Code"] == "InvalidArgumentException", query
        msg = e.value.response["Error"]["Message"]
        assert "Processors[SQL].Parameters.Query" in msg and word in msg, (query, msg)
    # WITH names of its own are fine, and so are value-only table functions.
    fh.create_delivery_stream(DeliveryStreamName=unique("tfok"),
                              ExtendedS3DestinationConfiguration=dest("x/", **transform(
                                  "WITH r AS (SELECT * FROM records) SELECT r.*, g FROM r, "
                                  "range(2) t(g)")))
    r = server.tarn("stream", "create", unique("tfx"), "--prefix", "x/", "--transform",
                    "SELECT * FROM secrets", check=False)
    assert r.returncode != 0 and "secrets" in r.stderr


def test_rest_ndjson_cli_and_metrics(server, s3):
    name = unique("rs")
    db = unique("logs")
    st, body = rest(server, "POST", "/v1/streams", {
        "DeliveryStreamName": name, "ExtendedS3DestinationConfiguration": dest(f"{db}/app/")})
    assert st == 201, body
    ndjson = "".join(json.dumps({"line": i}) + "\n" for i in range(20))
    r = server.tarn("stream", "put", name, input=ndjson)
    assert "20 records acknowledged" in r.stdout, r.stdout + r.stderr
    got = wait_for(lambda: keys(s3, "raw", f"{db}/app/"), timeout=20)
    body = s3.get_object(Bucket="raw", Key=got[0])["Body"].read().decode().splitlines()
    assert [json.loads(x)["line"] for x in body] == list(range(20))
    assert name in server.tarn("stream", "list").stdout
    assert '"RecordsIn": 20' in server.tarn("stream", "describe", name).stdout
    st, text, _ = rest(server, "GET", "/metrics", text=True)
    assert f'tarn_stream_records_delivered_total{{stream="{name}"}} 20' in text
    assert f'tarn_stream_wal_bytes{{stream="{name}"}}' in text
    server.tarn("stream", "delete", name)
    assert rest(server, "GET", f"/v1/streams/{name}")[0] == 404


def test_backpressure(tmp_path):
    from conftest import Server
    srv = Server(tmp_path / "data", extra_env={"TARN_STREAM_WAL_LIMIT": str(256 << 10)}).start()
    try:
        fh = firehose(srv)
        name = unique("bp")
        fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=dest(
            "bp/x/", BufferingHints={"SizeInMBs": 128, "IntervalInSeconds": 900}))
        recs = [{"Data": b"y" * 1000}] * 100
        with pytest.raises(ClientError) as e:
            for _ in range(10):
                fh.put_record_batch(DeliveryStreamName=name, Records=recs)
        assert e.value.response["Error"]["Code"] == "ServiceUnavailableException"
    finally:
        srv.stop()


def _producer(endpoint, ak, sk, name, seconds, acked, worker):
    """Puts batches of 50 until the server dies; acked[worker] counts the records of answered
    calls (records i < acked[worker]). The call in flight at the kill is in doubt: its
    records may or may not have been made durable, as with any service."""
    fh = boto3.client("firehose", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=ak, aws_secret_access_key=sk,
                      config=Config(retries={"max_attempts": 1}, connect_timeout=2,
                                    read_timeout=10))
    end = time.time() + seconds
    i = 0
    while time.time() < end:
        recs = [{"Data": json.dumps({"w": worker, "i": i + k}).encode() + b"\n"}
                for k in range(50)]
        try:
            r = fh.put_record_batch(DeliveryStreamName=name, Records=recs)
        except Exception:
            return
        assert r["FailedPutCount"] == 0
        i += 50
        acked[worker] = i


def test_kill9_under_load_delivers_each_acknowledged_record_once(fresh_server):
    srv = fresh_server
    fh = firehose(srv)
    name = unique("k9")
    db = unique("k9db")
    fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=dest(
        f"{db}/events/worker=!{{partitionKeyFromQuery:worker}}/",
        ErrorOutputPrefix=f"{db}/errors/", **partitioning("{worker: .w}")))
    ak, sk = srv.admin_keys()
    nw = 4
    acked = multiprocessing.Array("q", nw)
    procs = [multiprocessing.Process(target=_producer, args=(srv.endpoint, ak, sk, name, 30,
                                                             acked, w)) for w in range(nw)]
    for p in procs:
        p.start()
    time.sleep(3)
    srv.kill9()
    for p in procs:
        p.join(timeout=60)
    acknowledged = sum(acked)
    assert acknowledged > 0
    srv.start()
    t = f'raw."{db}".events'
    # Every acknowledged record, and nothing past the calls in doubt, once each.
    cond = " OR ".join(f"(w = {w} AND i < {acked[w]})" for w in range(nw))

    def delivered():
        if not _table_ready(srv, db):
            return False
        n = sql(srv, f"SELECT count(*) FROM {t} WHERE {cond}")[0][0]
        return n == acknowledged and n
    assert wait_for(delivered, timeout=60, interval=0.5) == acknowledged
    total, distinct = sql(srv, f"SELECT count(*), count(DISTINCT (w, i)) FROM {t}")[0]
    assert total == distinct, "a record was delivered twice"
    beyond = " OR ".join(f"(w = {w} AND i >= {acked[w] + 50})" for w in range(nw))
    assert sql(srv, f"SELECT count(*) FROM {t} WHERE {beyond}")[0][0] == 0
    assert total - acknowledged <= 50 * nw  # at most the calls in doubt
    # Delivered once more after a clean restart: nothing is delivered again.
    srv.stop()
    srv.start()
    time.sleep(2)
    assert sql(srv, f"SELECT count(*) FROM {t}")[0][0] == total


def _table_ready(srv, db, table="events"):
    st, body = rest(srv, "POST", "/v1/sql", {"sql": f'SELECT 1 FROM raw."{db}".{table} LIMIT 1'})
    return st == 200 and "rows" in body and not body.get("error")
