"""S3 listings through boto3 and the aws CLI: ListObjectsV2 and ListObjects (V1) with
prefix + delimiter (CommonPrefixes), StartAfter, continuation tokens, Marker, MaxKeys,
pagination over 2,500 keys (boto3 paginators and `aws s3 ls --recursive`), URL-encoded
keys, and ListObjectVersions answering the current objects with VersionId 'null'."""
import concurrent.futures
import json

import pytest

from s3util import s3_error, unique

N_MANY = 2500


@pytest.fixture(scope="module")
def many(server):
    """A plain bucket holding 2,500 keys spread over 5 folders, created with 8 threads."""
    s3 = server.s3(max_pool_connections=16)
    bucket = unique("many")
    s3.create_bucket(Bucket=bucket)
    keys = sorted(f"d{i % 5}/k{i:05d}" for i in range(N_MANY))
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode()), keys))
    return bucket, keys


@pytest.fixture(scope="module")
def tree(server):
    """A small folder tree in its own bucket."""
    s3 = server.s3()
    bucket = unique("tree")
    s3.create_bucket(Bucket=bucket)
    keys = ["a.txt", "b/1.csv", "b/2.csv", "b/c/3.csv", "d/4.csv", "d/e/5.csv", "d/e/6.csv",
            "f/", "z.txt"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"" if k.endswith("/") else k.encode())
    return bucket, keys


def test_paginator_v2_over_2500_keys(s3, many):
    bucket, keys = many
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 1000}))
    assert [p["KeyCount"] for p in pages] == [1000, 1000, 500]
    assert [p["IsTruncated"] for p in pages] == [True, True, False]
    assert all("NextContinuationToken" in p for p in pages[:2])
    assert "NextContinuationToken" not in pages[2]
    got = [o["Key"] for p in pages for o in p["Contents"]]
    assert got == keys
    assert all(o["Size"] == len(o["Key"]) for p in pages for o in p["Contents"])


def test_paginator_v1_marker_over_2500_keys(s3, many):
    bucket, keys = many
    pages = list(s3.get_paginator("list_objects").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 1000}))
    assert [len(p["Contents"]) for p in pages] == [1000, 1000, 500]
    assert [p["IsTruncated"] for p in pages] == [True, True, False]
    assert [p.get("Marker", "") for p in pages] == ["", keys[999], keys[1999]]
    assert [o["Key"] for p in pages for o in p["Contents"]] == keys


def test_v1_marker_by_hand(s3, many):
    bucket, keys = many
    r = s3.list_objects(Bucket=bucket, MaxKeys=7, Marker=keys[100])
    assert [o["Key"] for o in r["Contents"]] == keys[101:108]
    assert r["IsTruncated"] is True
    assert r["Marker"] == keys[100]


def test_continuation_token_by_hand(s3, many):
    bucket, keys = many
    r1 = s3.list_objects_v2(Bucket=bucket, MaxKeys=3)
    assert [o["Key"] for o in r1["Contents"]] == keys[:3]
    assert r1["IsTruncated"] is True and r1["KeyCount"] == 3 and r1["MaxKeys"] == 3
    r2 = s3.list_objects_v2(Bucket=bucket, MaxKeys=3, ContinuationToken=r1["NextContinuationToken"])
    assert [o["Key"] for o in r2["Contents"]] == keys[3:6]
    assert r2["ContinuationToken"] == r1["NextContinuationToken"]
    with s3_error("InvalidArgument", 400):
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="!!not-a-token!!")


def test_start_after(s3, many):
    bucket, keys = many
    r = s3.list_objects_v2(Bucket=bucket, StartAfter=keys[2494])
    assert [o["Key"] for o in r["Contents"]] == keys[2495:]
    assert r["StartAfter"] == keys[2494]
    assert r["IsTruncated"] is False
    # StartAfter between keys and before everything.
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="d4/k02497x", MaxKeys=5)
    assert [o["Key"] for o in r["Contents"]] == [k for k in keys if k > "d4/k02497x"][:5]
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="0", MaxKeys=2)
    assert [o["Key"] for o in r["Contents"]] == keys[:2]
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="zzz")
    assert r["KeyCount"] == 0 and "Contents" not in r


def test_delimiter_over_many_keys(s3, many):
    bucket, keys = many
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == [f"d{i}/" for i in range(5)]
    assert "Contents" not in r
    assert r["KeyCount"] == 5 and r["IsTruncated"] is False
    # Common prefixes count towards MaxKeys and paginate.
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}))
    assert [[p["Prefix"] for p in pg.get("CommonPrefixes", [])] for pg in pages] == \
        [["d0/", "d1/"], ["d2/", "d3/"], ["d4/"]]


def test_prefix_paginated(s3, many):
    bucket, keys = many
    want = [k for k in keys if k.startswith("d3/")]
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="d3/", PaginationConfig={"PageSize": 200}))
    assert [p["KeyCount"] for p in pages] == [200, 200, 100]
    assert [o["Key"] for p in pages for o in p["Contents"]] == want


def test_aws_cli_ls_recursive_count(server, many):
    bucket, keys = many
    out = server.aws("s3", "ls", f"s3://{bucket}", "--recursive").stdout
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == N_MANY
    assert [line.split()[-1] for line in lines] == keys
    out = server.aws("s3", "ls", f"s3://{bucket}/").stdout
    assert [line.split()[-1] for line in out.splitlines()] == [f"d{i}/" for i in range(5)]


def test_aws_cli_list_objects_v2_paginates(server, many):
    bucket, keys = many
    out = json.loads(server.aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "d1/",
                                "--page-size", "300").stdout)
    assert [o["Key"] for o in out["Contents"]] == [k for k in keys if k.startswith("d1/")]


def test_prefix_and_delimiter(s3, tree):
    bucket, _ = tree
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a.txt", "z.txt"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/", "d/", "f/"]
    assert r["KeyCount"] == 5

    r = s3.list_objects_v2(Bucket=bucket, Prefix="d/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["d/4.csv"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["d/e/"]
    assert r["Prefix"] == "d/"

    r = s3.list_objects_v2(Bucket=bucket, Prefix="b/")
    assert [o["Key"] for o in r["Contents"]] == ["b/1.csv", "b/2.csv", "b/c/3.csv"]
    assert "CommonPrefixes" not in r

    # The folder marker is listed as an object of its own.
    r = s3.list_objects_v2(Bucket=bucket, Prefix="f/", Delimiter="/")
    assert [(o["Key"], o["Size"]) for o in r["Contents"]] == [("f/", 0)]

    # A prefix that is not a folder.
    r = s3.list_objects_v2(Bucket=bucket, Prefix="d/e/5")
    assert [o["Key"] for o in r["Contents"]] == ["d/e/5.csv"]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="nothing-here/")
    assert r["KeyCount"] == 0 and "Contents" not in r

    # A delimiter other than '/'.
    r = s3.list_objects_v2(Bucket=bucket, Delimiter=".")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a.", "b/1.", "b/2.", "b/c/3.", "d/4.",
                                                         "d/e/5.", "d/e/6.", "z."]


def test_v1_with_delimiter_gives_next_marker(s3, tree):
    bucket, _ = tree
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert [o["Key"] for o in r.get("Contents", [])] == ["a.txt"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/"]
    assert r["IsTruncated"] is True
    assert r["NextMarker"] == "b/"
    r = s3.list_objects(Bucket=bucket, Delimiter="/", Marker=r["NextMarker"])
    assert [o["Key"] for o in r.get("Contents", [])] == ["z.txt"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["d/", "f/"]
    assert r["IsTruncated"] is False


def test_max_keys_zero_and_invalid(s3, tree):
    bucket, _ = tree
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert r["KeyCount"] == 0 and r["IsTruncated"] is True
    with s3_error("InvalidArgument", 400):
        s3.list_objects_v2(Bucket=bucket, MaxKeys=-1)


def test_list_missing_bucket(s3):
    with s3_error("NoSuchBucket", 404):
        s3.list_objects_v2(Bucket=unique("nob"))
    with s3_error("NoSuchBucket", 404):
        s3.list_objects(Bucket=unique("nob"))


def test_url_encoded_keys(server, s3):
    """boto3 asks for EncodingType=url and decodes; the CLI does the same."""
    bucket = unique("enc")
    s3.create_bucket(Bucket=bucket)
    keys = sorted(["plain.txt", "sp ace/x", "ünï/ç", "amp&eq=plus+", "per%cent"])
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == keys
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == keys
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert sorted(p["Prefix"] for p in r["CommonPrefixes"]) == ["sp ace/", "ünï/"]
    out = server.aws("s3", "ls", f"s3://{bucket}", "--recursive").stdout
    assert sorted(line.split(None, 3)[3] for line in out.splitlines()) == keys


def test_list_object_versions_returns_current_objects(s3, tree):
    bucket, keys = tree
    r = s3.list_object_versions(Bucket=bucket)
    versions = r["Versions"]
    assert [v["Key"] for v in versions] == sorted(keys)
    assert all(v["VersionId"] == "null" and v["IsLatest"] is True for v in versions)
    assert "DeleteMarkers" not in r
    r = s3.list_object_versions(Bucket=bucket, Prefix="d/", Delimiter="/")
    assert [v["Key"] for v in r["Versions"]] == ["d/4.csv"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["d/e/"]
    pages = list(s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 4}))
    assert [v["Key"] for p in pages for v in p["Versions"]] == sorted(keys)
    assert len(pages) == 3


def test_list_sees_writes_and_deletes(s3):
    bucket = unique("rw")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="x/1", Body=b"1")
    s3.put_object(Bucket=bucket, Key="x/2", Body=b"22")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["x/1", "x/2"]
    s3.delete_object(Bucket=bucket, Key="x/1")
    r = s3.list_objects_v2(Bucket=bucket)
    assert [(o["Key"], o["Size"]) for o in r["Contents"]] == [("x/2", 2)]
