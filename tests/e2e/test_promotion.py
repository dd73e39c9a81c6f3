"""Promotion raw -> cleaned as users meet it: good CSV, JSON Lines and Parquet files landed
with boto3 move to cleaned under the same key with the same bytes and are queryable;
broken, empty, duplicate and incompatible files move to quarantine with a reason document
naming the check (and the line); a policy change and `tarn quarantine release` promote a
quarantined file; kill -9 during a burst of uploads loses and duplicates nothing."""
import concurrent.futures
import hashlib
import json
import os
import threading

import pytest

from conftest import ROOT, Server
from s3util import rest, unique, wait_for

PARQUET = os.path.join(ROOT, "third_party", "vega-datasets", "data", "flights-3m.parquet")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("promo") / "data", promotion=True).start()
    yield s
    s.stop()


def keys(s3, bucket, prefix):
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def body(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def wait_moved(s3, key, where, timeout=60):
    """Waits until key has left raw and sits in `where` (cleaned or quarantine)."""
    def done():
        return key not in keys(s3, "raw", key) and key in keys(s3, where, key)
    wait_for(done, timeout=timeout)


def reason(s3, key):
    return json.loads(body(s3, "quarantine", key + ".reason.json"))


def sql(server, query):
    status, out = rest(server, "POST", "/v1/sql", {"sql": query})
    assert status == 200, out
    return out["rows"]


def test_good_files_move_to_cleaned_unchanged_and_are_queryable(lake):
    s3 = lake.s3()
    db = unique("good")
    csv = b"id,name,amount\n1,anna,10.5\n2,bob,7.25\n3,cid,1\n"
    jsonl = b'{"user": "u1", "clicks": 3}\n{"user": "u2", "clicks": 5}\n'
    with open(PARQUET, "rb") as f:
        parquet = f.read()
    files = {f"{db}/orders/dt=2024-01-01/part-0.csv": csv,
             f"{db}/clicks/events.ndjson": jsonl,
             f"{db}/flights/flights.parquet": parquet}
    for k, b in files.items():
        s3.put_object(Bucket="raw", Key=k, Body=b)
    for k, b in files.items():
        wait_moved(s3, k, "cleaned")
        assert hashlib.sha256(body(s3, "cleaned", k)).hexdigest() == hashlib.sha256(b).hexdigest()
        assert not keys(s3, "quarantine", k)
    assert sql(lake, f'SELECT sum(amount) FROM cleaned."{db}".orders') == [[18.75]]
    assert sql(lake, f'SELECT sum(clicks) FROM cleaned."{db}".clicks') == [[8]]
    assert sql(lake, f'SELECT count(*) FROM cleaned."{db}".flights') == [[3000000]]
    # Registered once: one file each, one snapshot adding it.
    status, t = rest(lake, "GET", f"/v1/tables/cleaned/{db}/orders")
    assert status == 200 and t["files"] == 1 and t["promotion"]["mode"] == "additive"
    status, snaps = rest(lake, "GET", f"/v1/tables/cleaned/{db}/orders/snapshots")
    assert [s["added_files"] for s in snaps["snapshots"]] == [1]
    metrics = rest(lake, "GET", "/metrics", text=True)[1]
    assert 'tarn_promotions_total{outcome="cleaned"}' in metrics
    assert "tarn_promoter_lag_events" in metrics


def test_broken_files_are_quarantined_with_the_line(lake):
    s3 = lake.s3()
    db = unique("bad")
    s3.put_object(Bucket="raw", Key=f"{db}/people/ok.csv", Body=b"id,name\n0,eve\n")
    wait_moved(s3, f"{db}/people/ok.csv", "cleaned")
    ragged = b"id,name\n1,anna\n2,bob\n3,cid,extra,more\n4,dan\n"
    bad_json = b'{"a": 1}\n{"a": 2}\n{"a": 3, oops}\n'
    s3.put_object(Bucket="raw", Key=f"{db}/people/p.csv", Body=ragged)
    s3.put_object(Bucket="raw", Key=f"{db}/events/e.ndjson", Body=bad_json)
    s3.put_object(Bucket="raw", Key=f"{db}/empty/e.csv", Body=b"")
    wait_moved(s3, f"{db}/people/p.csv", "quarantine")
    r = reason(s3, f"{db}/people/p.csv")
    assert r["check"] == "parse" and r["line"] == 4, r
    assert r["table"] == f"cleaned.{db}.people" and r["policy"]["mode"] == "additive"
    assert body(s3, "quarantine", f"{db}/people/p.csv") == ragged
    wait_moved(s3, f"{db}/events/e.ndjson", "quarantine")
    r = reason(s3, f"{db}/events/e.ndjson")
    assert r["check"] == "parse" and r["line"] == 3, r
    wait_moved(s3, f"{db}/empty/e.csv", "quarantine")
    assert reason(s3, f"{db}/empty/e.csv")["check"] == "empty"
    assert keys(s3, "cleaned", f"{db}/") == [f"{db}/people/ok.csv"]

    listed = json.loads(lake.tarn("quarantine", "list", f"raw.{db}.people", "--json").stdout)
    assert [(o["key"], o["check"], o["line"]) for o in listed["objects"]] == \
        [(f"{db}/people/p.csv", "parse", 4)]
    text = lake.tarn("quarantine", "list").stdout
    assert f"{db}/events/e.ndjson" in text and "CHECK" in text.splitlines()[0]
    status, t = rest(lake, "GET", f"/v1/tables/cleaned/{db}/people")
    assert status == 200 and t["quarantined"] == 1


def test_header_only_csv_is_empty_and_duplicates_are_refused(lake):
    s3 = lake.s3()
    db = unique("dup")
    data = b"k,v\n1,a\n2,b\n"
    s3.put_object(Bucket="raw", Key=f"{db}/t/one.csv", Body=data)
    wait_moved(s3, f"{db}/t/one.csv", "cleaned")
    s3.put_object(Bucket="raw", Key=f"{db}/t/two.csv", Body=data)
    wait_moved(s3, f"{db}/t/two.csv", "quarantine")
    r = reason(s3, f"{db}/t/two.csv")
    assert r["check"] == "duplicate" and f"{db}/t/one.csv" in r["detail"]
    # The same key with the same bytes again (a client's retry) is already promoted.
    s3.put_object(Bucket="raw", Key=f"{db}/t/one.csv", Body=data)
    wait_for(lambda: not keys(s3, "raw", f"{db}/t/one.csv"))
    assert body(s3, "cleaned", f"{db}/t/one.csv") == data
    assert not keys(s3, "quarantine", f"{db}/t/one.csv")
    s3.put_object(Bucket="raw", Key=f"{db}/t/three.csv", Body=b"k,v\n")
    wait_moved(s3, f"{db}/t/three.csv", "quarantine")
    assert reason(s3, f"{db}/t/three.csv")["check"] == "empty"


def test_copies_landing_together_are_promoted_once(lake):
    """Objects are checked side by side, but copies of the same bytes are checked one after
    the other: of ten copies landing at once, one reaches cleaned, nine are duplicates;
    other files landing with them all reach cleaned, and each key ends with its last
    version."""
    s3 = lake.s3()
    db = unique("burst")
    same = b"k,v\n1,same\n2,bytes\n"
    files = {f"{db}/t/copy{i}.csv": same for i in range(10)}
    files.update({f"{db}/t/other{i}.csv": f"k,v\n{i},other\n".encode() for i in range(10)})
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket="raw", Key=kv[0], Body=kv[1]), files.items()))
    # A key landed twice keeps the second version.
    s3.put_object(Bucket="raw", Key=f"{db}/t/other0.csv", Body=b"k,v\n0,newer\n")
    wait_for(lambda: not keys(s3, "raw", f"{db}/t/"), timeout=60)
    cleaned = keys(s3, "cleaned", f"{db}/t/")
    copies = [k for k in cleaned if "/copy" in k]
    assert len(copies) == 1, cleaned
    assert sorted(k for k in cleaned if "/other" in k) == sorted(f"{db}/t/other{i}.csv" for i in range(10))
    quarantined = [k for k in keys(s3, "quarantine", f"{db}/t/") if not k.endswith(".reason.json")]
    assert len(quarantined) == 9 and all(reason(s3, k)["check"] == "duplicate" for k in quarantined)
    assert body(s3, "cleaned", f"{db}/t/other0.csv") == b"k,v\n0,newer\n"


def test_schema_change_quarantined_then_released_after_policy_change(lake):
    s3 = lake.s3()
    db = unique("evo")
    s3.put_object(Bucket="raw", Key=f"{db}/m/a.csv", Body=b"id,amount\n1,10\n2,20\n")
    wait_moved(s3, f"{db}/m/a.csv", "cleaned")
    # An added column is fine under the default (additive) mode...
    s3.put_object(Bucket="raw", Key=f"{db}/m/b.csv", Body=b"id,amount,note\n3,30,x\n")
    wait_moved(s3, f"{db}/m/b.csv", "cleaned")
    # ...a changed type is not.
    changed = b"id,amount\n4,lots\n5,few\n"
    s3.put_object(Bucket="raw", Key=f"{db}/m/c.csv", Body=changed)
    wait_moved(s3, f"{db}/m/c.csv", "quarantine")
    r = reason(s3, f"{db}/m/c.csv")
    assert r["check"] == "schema" and "amount" in r["detail"] and "VARCHAR" in r["detail"], r

    # Releasing without a fix quarantines it again.
    lake.tarn("quarantine", "release", f"{db}/m/c.csv")
    wait_for(lambda: "release" not in json.loads(
        lake.tarn("quarantine", "list", f"cleaned.{db}.m", "--json").stdout)["objects"][0])
    assert reason(s3, f"{db}/m/c.csv")["check"] == "schema"

    out = lake.tarn("table", "set", f"cleaned.{db}.m", "--promotion-mode", "any").stdout
    assert "any" in out or out == "" or "cleaned" in out
    t = json.loads(lake.tarn("table", "show", f"cleaned.{db}.m", "--json").stdout)
    assert t["promotion"]["mode"] == "any" and t["quarantined"] == 1
    lake.tarn("quarantine", "release", f"{db}/m/c.csv")
    wait_for(lambda: f"{db}/m/c.csv" in keys(s3, "cleaned", f"{db}/m/c.csv"))
    wait_for(lambda: not keys(s3, "quarantine", f"{db}/m/"))
    assert body(s3, "cleaned", f"{db}/m/c.csv") == changed
    wait_for(lambda: sql(lake, f'SELECT count(*) FROM cleaned."{db}".m') == [[5]])
    t = json.loads(lake.tarn("table", "show", f"cleaned.{db}.m", "--json").stdout)
    assert t["quarantined"] == 0
    status, out = rest(lake, "POST", "/v1/quarantine/release", {"key": f"{db}/m/c.csv"})
    assert status == 404 and out["error"]["code"] == "NoSuchKey"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_omitted_optional_column_and_a_widened_type_are_not_quarantined(lake, fmt):
    """Later files of a stream or a source database may omit a nullable column (an
    optional field, a column dropped at the source) or widen a type: under the default
    additive mode they are promoted, and the column reads as NULL."""
    s3 = lake.s3()
    db = unique("evolve")
    if fmt == "jsonl":
        first = b'{"id": 1, "v": 2, "note": "x"}\n{"id": 2, "v": 3, "note": "y"}\n'
        later = b'{"id": 3, "v": 2.5}\n'
    else:
        first = b"id,v,note\n1,2,x\n2,3,y\n"
        later = b"id,v\n3,2.5\n"
    s3.put_object(Bucket="raw", Key=f"{db}/e/a.{fmt}", Body=first)
    wait_moved(s3, f"{db}/e/a.{fmt}", "cleaned")
    s3.put_object(Bucket="raw", Key=f"{db}/e/b.{fmt}", Body=later)
    wait_moved(s3, f"{db}/e/b.{fmt}", "cleaned")
    assert not keys(s3, "quarantine", f"{db}/")
    wait_for(lambda: sql(lake, f'SELECT count(*), sum(v), count(note) FROM cleaned."{db}".e')
             == [[3, 7.5, 2]])


def test_required_columns_and_not_null_keys(lake):
    s3 = lake.s3()
    db = unique("req")
    s3.put_object(Bucket="raw", Key=f"{db}/u/a.csv", Body=b"id,email\n1,a@x\n")
    wait_moved(s3, f"{db}/u/a.csv", "cleaned")
    status, _ = rest(lake, "PATCH", f"/v1/tables/cleaned/{db}/u", {
        "promotion": {"required_columns": ["email"], "not_null_keys": ["id"]}})
    assert status == 200
    s3.put_object(Bucket="raw", Key=f"{db}/u/b.csv", Body=b"id,name,email\n2,b,b@x\n,c,c@x\n")
    wait_moved(s3, f"{db}/u/b.csv", "quarantine")
    r = reason(s3, f"{db}/u/b.csv")
    assert r["check"] == "not_null_keys" and "id" in r["detail"]
    assert r["policy"]["not_null_keys"] == ["id"]
    s3.put_object(Bucket="raw", Key=f"{db}/u/c.csv", Body=b"id,name\n3,c\n")
    wait_moved(s3, f"{db}/u/c.csv", "quarantine")
    assert reason(s3, f"{db}/u/c.csv")["check"] in ("required_columns", "schema")
    status, out = rest(lake, "PATCH", f"/v1/tables/cleaned/{db}/u", {"promotion": {"mode": "lax"}})
    assert status == 400 and "additive, strict or any" in out["error"]["message"]


def test_quarantine_is_admin_only(lake):
    lake.tarn("user", "create", "qreader")
    created = json.loads(lake.tarn("key", "create", "qreader", "--json").stdout)
    ak = created["access_key"]
    sk = created["secret_key"]
    status, out = rest(lake, "GET", "/v1/quarantine", keys=(ak, sk))
    assert status == 403
    status, out = rest(lake, "GET", "/v1/quarantine")
    assert status == 200 and "objects" in out


def test_kill9_during_a_burst_loses_and_duplicates_nothing(tmp_path):
    s = Server(tmp_path / "data", promotion=True).start()
    s3 = s.s3()
    db = unique("burst")
    n = 300
    sent = {}
    for i in range(n):
        k = f"{db}/t/f{i:04d}.csv"
        # Every third file is a duplicate of an earlier one's bytes: quarantine, not loss.
        sent[k] = (b"id,v\n%d,%d\n" % (i, i)) if i % 3 else (b"id,v\n%d,0\n" % (100000 + i // 30))
    items = list(sent.items())
    errors = []

    def upload(part):
        c = s.s3()
        for k, b in part:
            try:
                c.put_object(Bucket="raw", Key=k, Body=b)
            except Exception:  # the server dies under some of them
                errors.append(k)

    threads = [threading.Thread(target=upload, args=(items[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(keys(s3, "cleaned", f"{db}/")) >= 20, timeout=60, interval=0.02)
    s.kill9()
    for t in threads:
        t.join()
    s.start()
    for k in errors:  # what the client saw fail and the lake does not have, it sends again
        if not any(keys(s3, b, k) for b in ("raw", "cleaned", "quarantine")):
            s3.put_object(Bucket="raw", Key=k, Body=sent[k])
    wait_for(lambda: not keys(s3, "raw", f"{db}/"), timeout=180)
    cleaned = set(keys(s3, "cleaned", f"{db}/"))
    quarantined = {k for k in keys(s3, "quarantine", f"{db}/") if not k.endswith(".reason.json")}
    assert not cleaned & quarantined
    assert cleaned | quarantined == set(sent)
    for k in cleaned:
        assert body(s3, "cleaned", k) == sent[k]
    for k in quarantined:
        assert reason(s3, k)["check"] == "duplicate"
    # Each distinct content is in cleaned exactly once.
    assert len({sent[k] for k in cleaned}) == len(cleaned) == len(set(sent.values()))
    t = wait_for(lambda: (lambda t: t if t[1]["files"] == len(cleaned) else None)(
        rest(s, "GET", f"/v1/tables/cleaned/{db}/t")))
    assert sql(s, f'SELECT count(*) FROM cleaned."{db}".t') == [[len(cleaned)]]
    s.stop()
