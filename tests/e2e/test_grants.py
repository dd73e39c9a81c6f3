"""Grants, enforced on every door: alice holds SELECT on two columns of
curated.sales.orders through a row filter; bob holds nothing; the analysts group holds a
table in another database. For boto3 (S3), REST SQL, psycopg2, catalog browse and search:
the allowed action works and the denied one gets the interface's own error. Revocation
counts from the next request."""
import json

import psycopg2
import pytest
from botocore.exceptions import ClientError

from conftest import Server
from s3util import rest, wait_for

ORDERS = (b"order_id,region,amount,customer\n1,eu,10.5,ann\n2,us,20,bob\n3,eu,7,cid\n"
          b"4,apac,1,dan\n")


def user(s, name, password):
    s.tarn("user", "create", name, "--password", password)
    k = json.loads(s.tarn("key", "create", name, "--json").stdout)
    return {"name": name, "password": password, "keys": (k["access_key"], k["secret_key"])}


def sql(s, q, u):
    return rest(s, "POST", "/v1/sql", {"sql": q}, keys=u["keys"])


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("grants") / "data").start()
    s3 = s.s3()
    s3.put_object(Bucket="curated", Key="sales/orders/part-1.csv", Body=ORDERS)
    s3.put_object(Bucket="curated", Key="hr/salaries/part-1.csv", Body=b"name,salary\nann,1\n")
    s3.put_object(Bucket="raw", Key="sales/drops/a.csv", Body=b"x\n1\n")
    for t in ("curated/sales/orders", "curated/hr/salaries", "raw/sales/drops"):
        wait_for(lambda t=t: rest(s, "GET", f"/v1/tables/{t}")[0] == 200, timeout=30)
    alice, bob, carol = (user(s, n, f"{n}-pass-123") for n in ("alice", "bob", "carol"))
    s.tarn("filter", "create", "curated.sales.orders", "eu_only", "--row-filter", "region = 'eu'",
           "--columns", "order_id,amount")
    s.tarn("grant", "SELECT", "ON", "FILTER", "curated.sales.orders.eu_only", "TO", "user:alice")
    s.tarn("grant", "READ", "ON", "LOCATION", "raw/sales/", "TO", "user:alice")
    s.tarn("group", "create", "analysts")
    s.tarn("group", "add", "analysts", "carol")
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.hr.salaries", "TO", "group:analysts")
    yield s, alice, bob, carol
    s.stop()


def test_sql_shows_only_granted_rows_and_columns(lake):
    s, alice, bob, carol = lake
    status, body = sql(s, "SELECT * FROM sales.orders ORDER BY order_id", alice)
    assert status == 200, body
    assert [c["name"] for c in body["columns"]] == ["order_id", "amount"]
    assert body["rows"] == [[1, 10.5], [3, 7.0]]
    status, body = sql(s, "SELECT count(*), sum(amount) FROM sales.orders", alice)
    assert body["rows"] == [[2, 17.5]]
    status, body = sql(s, "SELECT customer FROM sales.orders", alice)
    assert status == 403 and "customer" in body["error"]["message"]
    status, body = sql(s, "SELECT count(*) FROM sales.orders WHERE region = 'us'", alice)
    assert status == 403 and "region" in body["error"]["message"]
    status, body = sql(s, "SELECT * FROM hr.salaries", alice)
    assert status == 403
    for q in ("SELECT * FROM sales.orders", "SELECT 1 FROM hr.salaries"):
        status, body = sql(s, q, bob)
        assert status == 403, (q, body)
    status, body = sql(s, "SELECT name FROM hr.salaries", carol)
    assert status == 200 and body["rows"] == [["ann"]]
    # the SQL issue's bypass list, as alice: nothing hidden comes out
    for q in ("SELECT * FROM read_csv('" + s.data + "/objects/curated/sales/orders/part-1.csv')",
              "SELECT * FROM '" + s.data + "/objects/curated/sales/orders/part-1.csv'",
              "SELECT * FROM glob('/*')",
              "EXPLAIN SELECT customer FROM sales.orders",
              "SELECT * FROM (SELECT * FROM sales.orders) t WHERE amount > 0 UNION ALL "
              "SELECT order_id, amount FROM sales.orders"):
        status, body = sql(s, q, alice)
        text = json.dumps(body)
        assert "bob" not in text and "apac" not in text and "cid" not in text, (q, text)


def test_postgres_protocol_enforces_the_same(lake):
    s, alice, bob, carol = lake
    c = psycopg2.connect(**s.pg_params(user="alice", password=alice["password"]))
    c.autocommit = True
    cur = c.cursor()
    cur.execute("SELECT * FROM sales.orders ORDER BY 1")
    assert [d.name for d in cur.description] == ["order_id", "amount"]
    assert cur.fetchall() == [(1, 10.5), (3, 7.0)]
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("SELECT customer FROM sales.orders")
    assert e.value.pgcode == "42501" and "customer" in str(e.value)
    cur.execute("SELECT attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relname = 'orders' AND a.attnum > 0 ORDER BY a.attnum")
    assert [r[0] for r in cur.fetchall()] == ["order_id", "amount"]
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN "
                "('pg_catalog', 'information_schema') ORDER BY 1")
    assert [r[0] for r in cur.fetchall()] == ["orders"]
    c.close()


def test_storage_api_needs_location_grants(lake):
    s, alice, bob, carol = lake
    a3 = s.s3(access_key=alice["keys"][0], secret_key=alice["keys"][1])
    b3 = s.s3(access_key=bob["keys"][0], secret_key=bob["keys"][1])
    assert a3.get_object(Bucket="raw", Key="sales/drops/a.csv")["Body"].read() == b"x\n1\n"
    keys = [o["Key"] for o in a3.list_objects_v2(Bucket="raw", Prefix="sales/")["Contents"]]
    assert keys == ["sales/drops/a.csv"]
    for call in (lambda: b3.get_object(Bucket="raw", Key="sales/drops/a.csv"),
                 lambda: a3.put_object(Bucket="raw", Key="sales/drops/b.csv", Body=b"x\n"),
                 lambda: a3.get_object(Bucket="curated", Key="sales/orders/part-1.csv"),
                 lambda: b3.list_objects_v2(Bucket="raw")):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_catalog_lists_only_describable_tables(lake):
    s, alice, bob, carol = lake
    names = [t["name"] for t in rest(s, "GET", "/v1/tables", keys=alice["keys"])[1]["tables"]]
    assert names == ["curated.sales.orders"]
    assert rest(s, "GET", "/v1/tables", keys=bob["keys"])[1]["tables"] == []
    status, _ = rest(s, "GET", "/v1/tables/curated/hr/salaries", keys=alice["keys"])
    assert status == 403
    # describing a table shows no more of it than querying it does
    status, t = rest(s, "GET", "/v1/tables/curated/sales/orders", keys=alice["keys"])
    assert status == 200 and [c["name"] for c in t["columns"]] == ["order_id", "amount"]
    status, t = rest(s, "GET", "/v1/tables/curated/sales/orders")
    assert [c["name"] for c in t["columns"]] == ["order_id", "region", "amount", "customer"]
    hits = rest(s, "GET", "/v1/search?q=salaries", keys=carol["keys"])[1]["results"]
    assert [h["name"] for h in hits] == ["curated.hr.salaries"]
    assert rest(s, "GET", "/v1/search?q=salaries", keys=alice["keys"])[1]["results"] == []
    # a column alice may not select does not find its table for her
    hits = rest(s, "GET", "/v1/search?q=customer")[1]["results"]
    assert "curated.sales.orders" in [h["name"] for h in hits]
    hits = rest(s, "GET", "/v1/search?q=custom", keys=alice["keys"])[1]["results"]
    assert "curated.sales.orders" not in [h["name"] for h in hits]
    hits = rest(s, "GET", "/v1/search?q=orders", keys=alice["keys"])[1]["results"]
    assert "curated.sales.orders" in [h["name"] for h in hits]


def test_revocation_counts_from_the_next_request(lake):
    s, alice, bob, carol = lake
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.sales.orders", "(order_id)", "TO", "user:bob")
    status, body = sql(s, "SELECT * FROM sales.orders ORDER BY 1", bob)
    assert status == 200 and body["rows"] == [[1], [2], [3], [4]]
    s.tarn("revoke", "SELECT", "ON", "TABLE", "curated.sales.orders", "FROM", "user:bob")
    status, body = sql(s, "SELECT * FROM sales.orders", bob)
    assert status == 403
    out = json.loads(s.tarn("grants", "user:alice", "--json").stdout)["grants"]
    assert {(g["permission"], g["resource"]) for g in out} == {
        ("SELECT", "filter:curated.sales.orders.eu_only"), ("READ", "location:raw/sales/")}


def test_grant_option_and_who_may_grant(lake):
    s, alice, bob, carol = lake
    # bob may not grant what he does not hold with the grant option
    status, body = rest(s, "POST", "/v1/grants", {"principal": "user:bob", "permission": "SELECT",
                                                  "resource": "table:curated.hr.salaries"},
                        keys=bob["keys"])
    assert status == 403 and "GRANT OPTION" in body["error"]["message"]
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.sales.orders", "TO", "user:carol", "WITH",
           "GRANT", "OPTION")
    status, body = rest(s, "POST", "/v1/grants", {"principal": "user:bob", "permission": "SELECT",
                                                  "resource": "table:curated.sales.orders"},
                        keys=carol["keys"])
    assert status == 201, body
    status, body = sql(s, "SELECT count(*) FROM sales.orders", bob)
    assert status == 200 and body["rows"] == [[4]]
    s.tarn("revoke", "SELECT", "ON", "TABLE", "curated.sales.orders", "FROM", "user:bob")
    # a user cannot manage identities without ALL on IAM
    status, _ = rest(s, "POST", "/v1/users", {"name": "mallory"}, keys=bob["keys"])
    assert status == 403
    r = s.tarn("grant", "SELECT", "ON", "TABLE", "curated.sales.orders", "TO", "user:nobody",
               check=False)
    assert r.returncode != 0 and "nobody" in r.stderr
    r = s.tarn("grant", "READ", "ON", "TABLE", "curated.sales.orders", "TO", "user:bob",
               check=False)
    assert r.returncode != 0 and "READ cannot be granted on table" in r.stderr


def test_every_decision_is_audited_with_its_grant(lake):
    s, alice, bob, carol = lake
    sql(s, "SELECT 1 FROM sales.orders", bob)
    sql(s, "SELECT order_id FROM sales.orders", alice)

    def audited():
        out = s.tarn("audit", "tail", "-n", "300", "--json", "--data", s.data).stdout
        recs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return [r for r in recs if r["principal"] in ("alice", "bob")]
    recs = wait_for(audited, timeout=10)
    assert any(r["principal"] == "bob" and r["outcome"] == "deny" for r in recs)
    assert any(r["principal"] == "alice" and (r.get("reason") or "").startswith("grant:")
               for r in recs)
    # a query's record names each table it read and what decided it, allowed or denied
    assert any(r["principal"] == "alice" and r["action"] == "sql:Select" and
               "curated.sales.orders=grant:" in (r.get("reason") or "") for r in recs), recs
    assert any(r["principal"] == "bob" and r["action"] == "sql:Select" and
               "curated.sales.orders=no-select-grant" in (r.get("reason") or "") for r in recs)


def test_firehose_puts_need_insert_on_the_table(lake):
    import boto3
    from botocore.config import Config
    s, alice, bob, carol = lake

    def fh(keys):
        return boto3.client("firehose", endpoint_url=s.endpoint, region_name="us-east-1",
                            aws_access_key_id=keys[0], aws_secret_access_key=keys[1],
                            config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    admin = fh(s.admin_keys())
    admin.create_delivery_stream(
        DeliveryStreamName="clicks", DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose", "BucketARN": "arn:aws:s3:::raw",
            "Prefix": "web/clicks/", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}})
    records = [{"Data": b'{"page": "/"}\n'}]
    with pytest.raises(ClientError) as e:
        fh(alice["keys"]).put_record_batch(DeliveryStreamName="clicks", Records=records)
    assert e.value.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied")
    assert "INSERT" in e.value.response["Error"]["Message"]
    # creating streams is not for everyone either
    with pytest.raises(ClientError):
        fh(alice["keys"]).create_delivery_stream(
            DeliveryStreamName="mine", ExtendedS3DestinationConfiguration={
                "BucketARN": "arn:aws:s3:::raw", "Prefix": "web/mine/"})
    s.tarn("grant", "INSERT", "ON", "TABLE", "raw.web.clicks", "TO", "user:alice")
    out = fh(alice["keys"]).put_record_batch(DeliveryStreamName="clicks", Records=records)
    assert out["FailedPutCount"] == 0
    status, body = rest(s, "POST", "/v1/streams/clicks/records", None, keys=bob["keys"])
    assert status in (400, 403)


def test_grant_and_revoke_statements_through_sql(lake):
    s, alice, bob, carol = lake
    # the admin over PostgreSQL, with SQL's own spelling
    c = psycopg2.connect(**s.pg_params())
    c.autocommit = True
    cur = c.cursor()
    cur.execute("GRANT SELECT ON TABLE curated.sales.orders (order_id, region) TO bob")
    assert cur.statusmessage == "GRANT"
    status, body = sql(s, "SELECT * FROM sales.orders ORDER BY 1 LIMIT 1", bob)
    assert status == 200 and body["rows"] == [[1, "eu"]]
    cur.execute("REVOKE SELECT ON TABLE curated.sales.orders FROM USER bob")
    assert sql(s, "SELECT 1 FROM sales.orders", bob)[0] == 403
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("GRANT SELECT ON TABLE curated.sales.orders TO")
    assert e.value.pgcode == "42601"
    c.close()
    # over REST, a user without the grant option is refused; carol holds it (granted above)
    status, body = sql(s, "GRANT SELECT ON curated.hr.salaries TO user:bob", bob)
    assert status == 403 and "GRANT OPTION" in body["error"]["message"]
    status, body = sql(s, "GRANT SELECT ON TABLE curated.sales.orders TO GROUP analysts", carol)
    assert status == 200 and body["stats"]["command"] == "GRANT", body
    status, body = sql(s, "REVOKE SELECT ON TABLE curated.sales.orders FROM GROUP analysts", carol)
    assert status == 200 and body["stats"]["command"] == "REVOKE"


def test_groups_and_roles_from_the_cli(lake):
    s, alice, bob, carol = lake
    assert s.tarn("group", "create", "cli_team").stdout.strip() == "Created group cli_team."
    assert s.tarn("group", "add", "cli_team", "bob").stdout.strip() == "Added bob to cli_team."
    s.tarn("role", "create", "cli_reader")
    out = s.tarn("role", "assign", "cli_reader", "group:cli_team").stdout
    assert "group:cli_team now holds the role cli_reader" in out
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.hr.salaries", "TO", "role:cli_reader")
    assert sql(s, "SELECT count(*) FROM hr.salaries", bob)[0] == 200
    listed = json.loads(s.tarn("role", "list", "--json").stdout)["roles"]
    assert {"name": "cli_reader", "holders": ["group:cli_team"]} in listed
    s.tarn("role", "unassign", "cli_reader", "group:cli_team")
    # an SDK signs the holder as one path segment
    assert rest(s, "PUT", "/v1/roles/cli_reader/holders/group:cli_team")[0] == 204
    assert rest(s, "DELETE", "/v1/roles/cli_reader/holders/group:cli_team")[0] == 204
    assert sql(s, "SELECT count(*) FROM hr.salaries", bob)[0] == 403
    assert s.tarn("group", "remove", "cli_team", "bob").stdout.strip() == \
        "Removed bob from cli_team."
    s.tarn("role", "delete", "cli_reader")
    s.tarn("group", "delete", "cli_team")
