"""The catalog as users meet it: files landed with boto3 under raw/<db>/<table>/dt=.../
become tables with schemas, partitions and counts without a manual crawl (CSV, TSV,
JSON Lines, JSON arrays, Parquet, gzip and zstd CSV); schema evolution into new versions
with change summaries; bad files quarantined in the catalog with a reason; declared
tables; removals and snapshots; the crawl survives kill -9; browse, metadata and search
through the tarn CLI and the REST API."""
import gzip
import json
import os
import subprocess

from conftest import ROOT, Server
from s3util import rest, unique, wait_for

PARQUET = os.path.join(ROOT, "third_party", "vega-datasets", "data", "flights-3m.parquet")


def table(server, name, keys=None):
    zone, db, t = name.split(".")
    status, body = rest(server, "GET", f"/v1/tables/{zone}/{db}/{t}", keys=keys)
    return body if status == 200 else None


def wait_table(server, name, files=1, timeout=30, **expect):
    """Waits until the table lists `files` files (registered or failed) and fields match."""
    def ready():
        t = table(server, name)
        if not t or t["files"] + t["error_files"] < files:
            return None
        return t if all(t.get(k) == v for k, v in expect.items()) else None
    return wait_for(ready, timeout=timeout)


def cli_json(server, *args):
    return json.loads(server.tarn(*args, "--json").stdout)


def columns(t):
    return [(c["name"], c["type"]) for c in t["columns"]]


def test_each_format_lands_as_a_table_without_a_crawl(server, s3):
    db = unique("fmt")
    csv = b"id,name,amount,day\n1,anna,10.5,2024-01-01\n2,bob,7.25,2024-01-02\n"
    files = {
        "csv": ("dt=2024-01-01/part-0.csv", csv),
        "tsv": ("dt=2024-01-01/part-0.tsv", b"id\tcity\n1\tOslo\n2\tBergen\n"),
        "jsonl": ("dt=2024-01-01/events.ndjson",
                  b'{"user": "u1", "clicks": 3, "ok": true}\n{"user": "u2", "clicks": 5, "ok": false}\n'),
        "json": ("dt=2024-01-01/list.json", b'[{"sku": "a-1", "price": 2.5}, {"sku": "b-2", "price": 4}]'),
        "gz": ("dt=2024-01-01/part-0.csv.gz", gzip.compress(csv)),
    }
    for t, (key, body) in files.items():
        s3.put_object(Bucket="raw", Key=f"{db}/{t}/{key}", Body=body)
    with open(PARQUET, "rb") as f:
        s3.put_object(Bucket="raw", Key=f"{db}/flights/dt=2024-01-01/flights.parquet", Body=f)

    t = wait_table(server, f"raw.{db}.csv", status="ok")
    assert t["format"] == "csv" and t["files"] == 1 and t["bytes"] == len(csv)
    assert columns(t) == [("id", "BIGINT"), ("name", "VARCHAR"), ("amount", "DOUBLE"),
                          ("day", "DATE")]
    assert t["format_options"]["delimiter"] == "," and t["format_options"]["header"] is True
    assert t["partition_keys"] == [{"name": "dt", "type": "DATE"}]
    assert t["schema_version"] == 1 and t["location"] == f"s3://raw/{db}/csv/"

    t = wait_table(server, f"raw.{db}.tsv", status="ok")
    assert t["format"] == "tsv" and t["format_options"]["delimiter"] == "\t"
    assert columns(t) == [("id", "BIGINT"), ("city", "VARCHAR")]

    t = wait_table(server, f"raw.{db}.jsonl", status="ok")
    assert t["format"] == "jsonl"
    assert columns(t) == [("user", "VARCHAR"), ("clicks", "BIGINT"), ("ok", "BOOLEAN")]

    t = wait_table(server, f"raw.{db}.json", status="ok")
    assert t["format"] == "json" and t["format_options"]["layout"] == "array"
    assert columns(t) == [("sku", "VARCHAR"), ("price", "DOUBLE")]

    t = wait_table(server, f"raw.{db}.gz", status="ok")
    assert t["format"] == "csv" and columns(t)[0] == ("id", "BIGINT")
    files_of_gz = rest(server, "GET", f"/v1/tables/raw/{db}/gz/files")[1]["files"]
    assert files_of_gz[0]["status"] == "ok"

    t = wait_table(server, f"raw.{db}.flights", status="ok", timeout=60)
    assert t["format"] == "parquet" and t["rows"] == 3000000
    assert len(t["columns"]) >= 5

    parts = rest(server, "GET", f"/v1/tables/raw/{db}/csv/partitions")[1]["partitions"]
    assert [(p["spec"], p["values"], p["files"]) for p in parts] == [
        ("dt=2024-01-01", {"dt": "2024-01-01"}, 1)]
    f = rest(server, "GET", f"/v1/tables/raw/{db}/csv/files")[1]["files"][0]
    assert f["key"] == f"{db}/csv/dt=2024-01-01/part-0.csv" and f["size"] == len(csv)
    assert len(f["sha256"]) == 64 and f["schema_version"] == 1 and f["partition"] == "dt=2024-01-01"

    # The CLI lists them, aligned, and as JSON.
    out = server.tarn("tables", f"raw.{db}").stdout
    assert out.splitlines()[0].split()[:3] == ["TABLE", "FORMAT", "FILES"]
    assert sum(1 for line in out.splitlines() if line.startswith(f"raw.{db}.")) == 6
    names = [x["name"] for x in cli_json(server, "tables", f"raw.{db}")["tables"]]
    assert names == sorted(f"raw.{db}.{t}" for t in ["csv", "tsv", "jsonl", "json", "gz", "flights"])
    dbs = rest(server, "GET", "/v1/databases?zone=raw")[1]["databases"]
    assert any(d["name"] == f"raw.{db}" and d["tables"] == 6 for d in dbs)


def test_new_column_makes_version_2_and_type_change_names_both_types(server, s3):
    db = unique("evo")
    s3.put_object(Bucket="raw", Key=f"{db}/users/dt=2024-01-01/a.csv", Body=b"id,amount\n1,10\n2,20\n")
    wait_table(server, f"raw.{db}.users", schema_version=1)
    s3.put_object(Bucket="raw", Key=f"{db}/users/dt=2024-01-02/b.csv",
                  Body=b"id,amount,email\n3,30,c@example.com\n")
    t = wait_table(server, f"raw.{db}.users", files=2, schema_version=2)
    assert columns(t) == [("id", "BIGINT"), ("amount", "BIGINT"), ("email", "VARCHAR")]
    s3.put_object(Bucket="raw", Key=f"{db}/users/dt=2024-01-03/c.csv",
                  Body=b"id,amount,email\n4,unknown,d@example.com\n")
    t = wait_table(server, f"raw.{db}.users", files=3, schema_version=3)
    assert dict(columns(t))["amount"] == "VARCHAR"
    versions = cli_json(server, "table", "versions", f"raw.{db}.users")["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert versions[1]["changes"] == {"added": [{"name": "email", "type": "VARCHAR"}]}
    assert versions[2]["changes"] == {
        "changed": [{"name": "amount", "old_type": "BIGINT", "new_type": "VARCHAR"}]}
    # Column ids are stable across versions.
    assert [c["id"] for c in versions[2]["columns"]] == [1, 2, 3]
    out = server.tarn("table", "versions", f"raw.{db}.users").stdout
    assert "added email VARCHAR" in out and "amount BIGINT -> VARCHAR" in out
    # Each file records the version it was read with.
    files = {f["key"].rsplit("/", 1)[1]: f["schema_version"]
             for f in rest(server, "GET", f"/v1/tables/raw/{db}/users/files")[1]["files"]}
    assert files == {"a.csv": 1, "b.csv": 2, "c.csv": 3}
    # The same schema again makes no new version.
    s3.put_object(Bucket="raw", Key=f"{db}/users/dt=2024-01-04/d.csv", Body=b"id,amount,email\n5,x,y\n")
    t = wait_table(server, f"raw.{db}.users", files=4)
    assert t["schema_version"] == 3


def test_bad_files_get_a_reason_and_never_stop_the_crawl(server, s3):
    db = unique("bad")
    wide = ",".join(f"c{i}" for i in range(5000)) + "\n" + ",".join("1" for _ in range(5000)) + "\n"
    s3.put_object(Bucket="raw", Key=f"{db}/mixed/dt=2024-01-01/garbage.csv",
                  Body=bytes(range(256)) * 40)
    s3.put_object(Bucket="raw", Key=f"{db}/mixed/dt=2024-01-01/empty.csv", Body=b"")
    s3.put_object(Bucket="raw", Key=f"{db}/mixed/dt=2024-01-01/wide.csv", Body=wide.encode())
    s3.put_object(Bucket="raw", Key=f"{db}/mixed/dt=2024-01-01/good.csv", Body=b"a,b\n1,2\n")
    s3.put_object(Bucket="raw", Key=f"{db}/after/x.csv", Body=b"k,v\n1,one\n")
    s3.put_object(Bucket="raw", Key="top-level.csv", Body=b"a\n1\n")
    t = wait_table(server, f"raw.{db}.mixed", files=4)
    assert t["files"] == 1 and t["error_files"] == 3 and t["status"] == "error"
    assert "3 files could not be registered" in t["status_reason"]
    assert columns(t) == [("a", "BIGINT"), ("b", "BIGINT")]
    reasons = {f["key"].rsplit("/", 1)[1]: (f["status"], f["reason"])
               for f in rest(server, "GET", f"/v1/tables/raw/{db}/mixed/files")[1]["files"]}
    assert reasons["good.csv"] == ("ok", None)
    assert reasons["empty.csv"] == ("error", "empty file")
    assert reasons["garbage.csv"][0] == "error" and "not a recognized format" in reasons["garbage.csv"][1]
    assert reasons["wide.csv"][0] == "error" and "5000 columns" in reasons["wide.csv"][1]
    assert "1600" in reasons["wide.csv"][1]
    wait_table(server, f"raw.{db}.after", status="ok")
    out = server.tarn("table", "files", f"raw.{db}.mixed").stdout
    assert "empty file" in out and "REASON" in out.splitlines()[0]


def test_declared_table_keeps_its_schema_and_flags_mismatches(server, s3):
    db = unique("decl")
    r = server.tarn("table", "create", f"raw.{db}.orders", "--format", "csv", "--schema",
                    "id BIGINT NOT NULL, amount DOUBLE, note VARCHAR", "--description",
                    "Orders as booked", "--owner", "sales-team", "--tag", "finance")
    assert f"Created raw.{db}.orders" in r.stdout
    s3.put_object(Bucket="raw", Key=f"{db}/orders/a.csv", Body=b"id,amount\n1,2\n")
    s3.put_object(Bucket="raw", Key=f"{db}/orders/b.csv", Body=b"id,amount\n1,lots\n")
    s3.put_object(Bucket="raw", Key=f"{db}/orders/c.csv", Body=b"id,amount,extra\n1,2,3\n")
    s3.put_object(Bucket="raw", Key=f"{db}/orders/d.csv", Body=b"amount\n2.5\n")
    t = wait_table(server, f"raw.{db}.orders", files=4)
    assert t["schema_source"] == "declared" and t["schema_version"] == 1
    assert columns(t) == [("id", "BIGINT"), ("amount", "DOUBLE"), ("note", "VARCHAR")]
    assert t["owner"] == "sales-team" and t["tags"] == ["finance"]
    files = {f["key"].rsplit("/", 1)[1]: (f["status"], f["reason"])
             for f in rest(server, "GET", f"/v1/tables/raw/{db}/orders/files")[1]["files"]}
    assert files["a.csv"] == ("ok", None)
    assert files["b.csv"] == ("mismatch", "column amount is VARCHAR in the file, DOUBLE in the table")
    assert files["c.csv"] == ("mismatch", "column extra is in the file but not in the table")
    assert files["d.csv"] == ("mismatch", "column id (NOT NULL) is missing from the file")
    # A bad declaration is refused with a precise message.
    r = server.tarn("table", "create", f"raw.{db}.bad", "--format", "csv", "--schema",
                    "id BIGNUM", check=False)
    assert r.returncode == 1 and "unknown type 'BIGNUM'" in r.stderr
    r = server.tarn("table", "create", f"raw.{db}.orders", "--format", "csv", "--schema",
                    "id BIGINT", check=False)
    assert r.returncode == 1 and "already exists" in r.stderr


def test_removal_and_snapshots(server, s3):
    db = unique("snap")
    s3.put_object(Bucket="raw", Key=f"{db}/t/dt=2024-01-01/a.csv", Body=b"x\n1\n")
    wait_table(server, f"raw.{db}.t", files=1)
    s3.put_object(Bucket="raw", Key=f"{db}/t/dt=2024-01-02/b.csv", Body=b"x\n2\n")
    wait_table(server, f"raw.{db}.t", files=2)
    s3.delete_object(Bucket="raw", Key=f"{db}/t/dt=2024-01-01/a.csv")
    t = wait_for(lambda: (lambda t: t if t["files"] == 1 else None)(table(server, f"raw.{db}.t")))
    assert t["snapshot"] == 3
    snaps = cli_json(server, "table", "snapshots", f"raw.{db}.t")
    assert [(s["snapshot"], s["added_files"], s["removed_files"], s["files"])
            for s in snaps["snapshots"]] == [(1, 1, 0, 1), (2, 1, 0, 2), (3, 0, 1, 1)]
    # Earlier snapshots stay listable.
    keys = lambda n: [f["key"] for f in rest(server, "GET", f"/v1/tables/raw/{db}/t/snapshots/{n}")[1]["files"]]
    assert keys(2) == [f"{db}/t/dt=2024-01-01/a.csv", f"{db}/t/dt=2024-01-02/b.csv"]
    assert keys(3) == [f"{db}/t/dt=2024-01-02/b.csv"]
    parts = rest(server, "GET", f"/v1/tables/raw/{db}/t/partitions")[1]["partitions"]
    assert [p["spec"] for p in parts] == ["dt=2024-01-02"]
    out = server.tarn("table", "partitions", f"raw.{db}.t").stdout.splitlines()
    assert out[0].split() == ["PARTITION", "FILES", "SIZE", "UPDATED"]
    assert out[1].split()[:2] == ["dt=2024-01-02", "1"] and len(out) == 2
    status, body = rest(server, "GET", f"/v1/tables/raw/{db}/t/snapshots/9")
    assert status == 404 and body["error"]["code"] == "NoSuchSnapshot"
    # DeleteObjects removes from the catalog too.
    s3.delete_objects(Bucket="raw", Delete={"Objects": [{"Key": f"{db}/t/dt=2024-01-02/b.csv"}]})
    t = wait_for(lambda: (lambda t: t if t["files"] == 0 else None)(table(server, f"raw.{db}.t")))
    assert t["schema_version"] == 1 and len(t["columns"]) == 1


def test_metadata_and_search_with_cli_and_rest(server, s3):
    db = unique("crm")
    s3.put_object(Bucket="raw", Key=f"{db}/contacts/a.csv",
                  Body=b"contact_id,mail_addr,country\n1,a@example.com,NO\n")
    wait_table(server, f"raw.{db}.contacts", status="ok")
    server.tarn("table", "set", f"raw.{db}.contacts", "--description", "People we sell to",
                "--owner", "crm-team", "--steward", "dana", "--tag", "gold",
                "--column", "mail_addr", "--description", "primary electronic correspondence",
                "--sensitivity", "restricted", "--tag", "pii")
    t = table(server, f"raw.{db}.contacts")
    col = {c["name"]: c for c in t["columns"]}["mail_addr"]
    assert (col["description"], col["sensitivity"], col["tags"]) == (
        "primary electronic correspondence", "restricted", ["pii"])
    assert (t["owner"], t["steward"], t["tags"]) == ("crm-team", "dana", ["gold"])
    # Found by words of a column description, through the CLI and REST.
    out = server.tarn("search", "electronic correspondence").stdout
    assert f"raw.{db}.contacts" in out
    res = rest(server, "GET", "/v1/search?q=correspond&sensitivity=restricted")[1]["results"]
    assert f"raw.{db}.contacts" in [r["name"] for r in res]
    res = rest(server, "GET", f"/v1/search?q=people&tag=pii&database={db}")[1]["results"]
    assert [r["name"] for r in res] == [f"raw.{db}.contacts"]
    assert rest(server, "GET", "/v1/search?q=people&owner=nobody")[1]["results"] == []
    # PATCH with an unknown field or value is refused, naming what is valid.
    status, body = rest(server, "PATCH", f"/v1/tables/raw/{db}/contacts", {"colour": "red"})
    assert status == 400 and "valid: description, owner" in body["error"]["message"]
    status, body = rest(server, "PATCH", f"/v1/tables/raw/{db}/contacts",
                        {"columns": {"mail_addr": {"sensitivity": "secret"}}})
    assert status == 400 and "restricted" in body["error"]["message"]
    status, body = rest(server, "PATCH", f"/v1/tables/raw/{db}/contacts",
                        {"columns": {"nope": {"description": "x"}}})
    assert status == 404 and body["error"]["code"] == "NoSuchColumn"
    status, body = rest(server, "GET", f"/v1/tables/raw/{db}/missing")
    assert status == 404 and body["error"]["code"] == "NoSuchTable"
    status, body = rest(server, "GET", "/v1/search")
    assert status == 400 and body["error"]["code"] == "InvalidArgument"


def test_search_hides_tables_a_user_may_not_describe(tmp_path):
    s = Server(tmp_path / "data").start()
    try:
        s3 = s.s3()
        s3.put_object(Bucket="raw", Key="hr/salaries/a.csv", Body=b"employee,salary\nx,1\n")
        s3.put_object(Bucket="raw", Key="shop/salary_bands/a.csv", Body=b"band,salary\na,1\n")
        wait_table(s, "raw.hr.salaries", status="ok")
        wait_table(s, "raw.shop.salary_bands", status="ok")
        s.tarn("user", "create", "eve")
        keys = json.loads(s.tarn("key", "create", "eve", "--json").stdout)
        eve = (keys["access_key"], keys["secret_key"])
        # eve may describe the shop database's tables, not hr's
        s.tarn("grant", "DESCRIBE", "ON", "DATABASE", "raw.shop", "TO", "user:eve")
        admin_hits = [r["name"] for r in rest(s, "GET", "/v1/search?q=salary")[1]["results"]]
        assert sorted(admin_hits) == ["raw.hr.salaries", "raw.shop.salary_bands"]
        eve_hits = [r["name"] for r in rest(s, "GET", "/v1/search?q=salary", keys=eve)[1]["results"]]
        assert eve_hits == ["raw.shop.salary_bands"]
        names = [t["name"] for t in rest(s, "GET", "/v1/tables", keys=eve)[1]["tables"]]
        assert names == ["raw.shop.salary_bands"]
        dbs = [d["name"] for d in rest(s, "GET", "/v1/databases", keys=eve)[1]["databases"]]
        assert dbs == ["raw.shop"]
        status, body = rest(s, "GET", "/v1/tables/raw/hr/salaries", keys=eve)
        assert status == 403 and body["error"]["code"] == "AccessDenied"
        # Changing metadata and crawling are the admin's.
        status, _ = rest(s, "PATCH", "/v1/tables/raw/shop/salary_bands", {"owner": "eve"}, keys=eve)
        assert status == 403
        status, _ = rest(s, "POST", "/v1/crawl", {"zone": "raw"}, keys=eve)
        assert status == 403
    finally:
        s.stop()


def test_manual_crawl_finds_files_written_before_and_forgets_removed(server, s3):
    db = unique("crawl")
    s3.put_object(Bucket="raw", Key=f"{db}/t/a.csv", Body=b"a\n1\n")
    wait_table(server, f"raw.{db}.t", status="ok")
    r = server.tarn("crawl", f"raw/{db}/")
    assert f"Crawled raw/{db}/: 1 objects (1 unchanged)" in r.stdout
    before = table(server, f"raw.{db}.t")["snapshot"]
    job = cli_json(server, "crawl", f"raw/{db}/", "--force")
    assert job["state"] == "done" and job["objects"] == 1 and job["registered"] == 1
    # Re-reading the same bytes changes no snapshot.
    assert table(server, f"raw.{db}.t")["snapshot"] == before
    status, body = rest(server, "POST", "/v1/crawl", {"zone": "attic"})
    assert status == 400 and "raw, cleaned and curated" in body["error"]["message"]
    status, body = rest(server, "POST", "/v1/crawl", {"zone": "raw", "depth": 3})
    assert status == 400 and "valid: zone, prefix, force" in body["error"]["message"]
    status, body = rest(server, "GET", "/v1/crawl/999999")
    assert status == 404 and body["error"]["code"] == "NoSuchCrawl"


def test_catalog_survives_kill_9_during_crawl(fresh_server):
    s3 = fresh_server.s3()
    for i in range(300):
        s3.put_object(Bucket="raw", Key=f"k9/t{i % 3}/dt=2024-01-{1 + i % 28:02d}/f{i}.csv",
                      Body=f"id,v\n{i},{i * 2}\n".encode())
    fresh_server.kill9()
    fresh_server.start()
    for t in range(3):
        got = wait_table(fresh_server, f"raw.k9.t{t}", files=100, timeout=60)
        assert got["files"] == 100 and got["error_files"] == 0
        keys = [f["key"] for f in rest(fresh_server, "GET", f"/v1/tables/raw/k9/t{t}/files")[1]["files"]]
        assert len(keys) == len(set(keys)) == 100
        snap = rest(fresh_server, "GET", f"/v1/tables/raw/k9/t{t}/snapshots/{got['snapshot']}")[1]
        assert len(snap["files"]) == 100


def test_help_documents_catalog_commands(server):
    for cmd, words in [("tables", "ZONE[.DATABASE]"), ("table", "--sensitivity"),
                       ("search", "--tag"), ("crawl", "--force")]:
        assert words in server.tarn("help", cmd).stdout
    r = server.tarn("table", "show", "nodots", check=False)
    assert r.returncode == 2 and "zone.database.table" in r.stderr
    r = server.tarn("table", "show", "raw.none.none", check=False)
    assert r.returncode == 1 and "no table raw.none.none" in r.stderr


def test_zstd_latin1_and_json_documents(server, s3):
    db = unique("enc")
    doc = b'{"type": "FeatureCollection",\n "count": 2,\n "features": [{"id": 1}, {"id": 2}]\n}\n'
    s3.put_object(Bucket="raw", Key=f"{db}/geo/week.json", Body=doc)
    ndjson = b'{"sensor": "s1", "temp": 21.5}\n{"sensor": "s2", "temp": 19}\n'
    packed = subprocess.run(["zstd", "-q", "-c"], input=ndjson, capture_output=True,
                            check=True).stdout
    s3.put_object(Bucket="raw", Key=f"{db}/readings/part-0.ndjson.zst", Body=packed)
    s3.put_object(Bucket="raw", Key=f"{db}/names/a.csv", Body="name;city\nJosé;Málaga\n".encode("latin-1"))
    t = wait_table(server, f"raw.{db}.readings", status="ok")
    assert t["format"] == "jsonl" and columns(t) == [("sensor", "VARCHAR"), ("temp", "DOUBLE")]
    f = rest(server, "GET", f"/v1/tables/raw/{db}/readings/files")[1]["files"][0]
    assert f["status"] == "ok" and f["format"] == "jsonl"
    t = wait_table(server, f"raw.{db}.names", status="ok")
    assert t["format_options"]["delimiter"] == ";"
    assert columns(t) == [("name", "VARCHAR"), ("city", "VARCHAR")]
    t = wait_table(server, f"raw.{db}.geo", status="ok")
    assert t["format"] == "json" and t["format_options"]["layout"] == "unstructured"
    assert [c[0] for c in columns(t)] == ["type", "count", "features"]
