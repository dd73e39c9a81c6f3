"""Blueprints against a real PostgreSQL 15: one document makes the source and one
apply_changes pipeline per table. Three tables (one of 200,000 rows, one with every
common type and NULLs, one outside schema public); the snapshot appears as catalog tables
in raw and cleaned; a mixed workload of 10,000 inserts, updates (some changing the key)
and deletes in transactions of varied size runs while tarn runs; then the curated
current-state tables equal the source tables (counts, sums and every row, read through
psycopg2 on both sides). list, show and delete; a bad blueprint is refused."""
import json
import random

import psycopg2
import pytest

from conftest import Server
from pgserver import PgServer
from s3util import rest, wait_for

REPL_PW = "bp-repl-pw"
ORDERS = 200_000


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    s = PgServer(tmp_path_factory.mktemp("bppg"))
    try:
        s.sql("CREATE DATABASE shop")
        s.sql(f"CREATE ROLE repl LOGIN REPLICATION PASSWORD '{REPL_PW}'", "shop")
        s.sql("GRANT CREATE ON DATABASE shop TO repl", "shop")
        s.sql("CREATE SCHEMA crm AUTHORIZATION repl", "shop")
        s.sql("""CREATE TABLE orders(id bigint PRIMARY KEY, customer_id int NOT NULL,
                 amount numeric(12,2), status text, order_date date NOT NULL)""", "shop")
        s.sql(f"""INSERT INTO orders SELECT g, g % 997, (g % 10000) / 100.0,
                  (ARRAY['open','paid','shipped'])[1 + g % 3],
                  DATE '2024-01-01' + (g % 20) FROM generate_series(1, {ORDERS}) g""", "shop")
        s.sql("""CREATE TABLE crm.customers(id int PRIMARY KEY, name text, email text)""",
              "shop")
        s.sql("""INSERT INTO crm.customers SELECT g, 'customer ' || g, 'c' || g || '@x.org'
                 FROM generate_series(1, 2000) g""", "shop")
        s.sql("""CREATE TABLE kinds(id int PRIMARY KEY, n numeric(20,4), nu numeric,
                 t timestamptz, j json, jb jsonb, arr int[], u uuid, b bytea, f float8,
                 ok bool, d date, tx text)""", "shop")
        s.sql("""INSERT INTO kinds VALUES
                 (1, 123.4567, 12345678901234567890.5, '2024-01-02 03:04:05.123+02',
                  '{"a": [1, 2]}', '{"b": {"c": null}}', '{1,2,3}',
                  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff10', 1.5, true,
                  '2024-02-29', E'tab\\tquote"back\\\\slash'),
                 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
              "shop")
        for t in ("orders", "crm.customers", "kinds"):
            s.sql(f"ALTER TABLE {t} OWNER TO repl", "shop")
    except Exception:
        s.stop()
        raise
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("bplake") / "data", promotion=True,
               extra_env={"SHOP_PW": REPL_PW}).start()
    yield s
    if s.proc.poll() is None:
        s.stop()


def blueprint(pg, **over):
    b = {"blueprint": "shop",
         "source": {"type": "postgres",
                    "connection": {"host": "127.0.0.1", "port": pg.port, "database": "shop",
                                   "user": "repl", "password_env": "SHOP_PW"},
                    "tables": ["public.orders", "crm.customers", "public.kinds"],
                    "batch": {"max_time": "500ms"}},
         "mode": "cdc",
         "target": {"database": "shop", "format": "parquet"},
         "tables": {"public.orders": {"partition_by": ["order_date"]}},
         "batch_window_seconds": 1}
    b.update(over)
    return b


def sql(lake, q):
    status, out = rest(lake, "POST", "/v1/sql", {"sql": q})
    assert status == 200, out
    return out["rows"]


def count(lake, table):
    try:
        return sql(lake, f"SELECT count(*) FROM {table}")[0][0]
    except AssertionError:
        return None


def lake_rows(lake, q):
    with psycopg2.connect(**lake.pg_params()) as c:
        cur = c.cursor()
        cur.execute(q)
        return cur.fetchall()


def equal(lake, pg, q_lake, q_pg):
    """The same rows through psycopg2 from tarn and from PostgreSQL."""
    return lake_rows(lake, q_lake) == pg.sql(q_pg, "shop")


def test_blueprint_keeps_curated_equal_to_source(pg, lake, tmp_path):
    f = tmp_path / "shop.yaml"
    f.write_text(json.dumps(blueprint(pg)))
    out = json.loads(lake.tarn("blueprint", "apply", str(f), "--json").stdout)
    assert out["created"] and out["version"] == 1 and out["source"]["name"] == "shop"
    tables = {t["table"]: t for t in out["tables"]}
    assert tables["crm.customers"]["curated"] == "curated.shop.crm_customers"
    assert tables["public.orders"]["raw"] == "raw.shop.orders"
    assert tables["public.orders"]["keys"] == ["id"]
    assert sorted(out["pipelines"]) == ["shop_crm_customers", "shop_kinds", "shop_orders"]
    # The snapshot: catalog tables in raw, promoted to cleaned, applied to curated.
    wait_for(lambda: count(lake, "cleaned.shop.orders") == ORDERS, timeout=180, interval=1)
    names = {t["name"] for t in json.loads(lake.tarn("tables", "--json").stdout)["tables"]}
    assert {"raw.shop.orders", "cleaned.shop.orders", "cleaned.shop.crm_customers",
            "cleaned.shop.kinds"} <= names
    wait_for(lambda: count(lake, "curated.shop.orders") == ORDERS, timeout=180, interval=1)

    # The workload, while tarn runs: 10,000 changes in transactions of 1 to 200.
    rnd = random.Random(1414)
    conn = pg.connect("shop")
    cur = conn.cursor()
    changes, next_id, next_cust = 0, ORDERS + 1, 2001
    while changes < 10_000:
        cur.execute("BEGIN")
        for _ in range(rnd.choice([1, 1, 3, 10, 50, 200])):
            k = rnd.random()
            if k < 0.35:
                cur.execute("INSERT INTO orders VALUES (%s, %s, %s, 'open', DATE '2024-01-01' + %s)",
                            (next_id, rnd.randrange(997), rnd.randrange(100000) / 100,
                             rnd.randrange(25)))
                next_id += 1
            elif k < 0.65:
                lo = rnd.randrange(1, next_id)
                cur.execute("UPDATE orders SET amount = amount + 1, status = 'paid',"
                            " order_date = order_date + (id %% 2)::int WHERE id BETWEEN %s AND %s",
                            (lo, lo + rnd.randrange(3)))
            elif k < 0.8:
                lo = rnd.randrange(1, next_id)
                cur.execute("DELETE FROM orders WHERE id BETWEEN %s AND %s",
                            (lo, lo + rnd.randrange(2)))
            elif k < 0.85:
                # A key change: the old key goes.
                old = rnd.randrange(1, next_id)
                cur.execute("UPDATE orders SET id = %s WHERE id = %s", (next_id, old))
                next_id += 1
            elif k < 0.95:
                c = rnd.randrange(1, next_cust)
                cur.execute("UPDATE crm.customers SET email = upper(email) WHERE id = %s", (c,))
            else:
                cur.execute("INSERT INTO crm.customers VALUES (%s, %s, NULL)",
                            (next_cust, f"new {next_cust}"))
                next_cust += 1
            changes += max(cur.rowcount, 0)
        cur.execute("COMMIT")
    cur.execute("UPDATE kinds SET jb = '[1, 2]', b = '\\xdead', n = n + 1 WHERE id = 1")
    cur.execute("INSERT INTO kinds(id, tx) VALUES (3, 'third')")
    cur.execute("DELETE FROM kinds WHERE id = 2")
    conn.commit()

    o_pg = pg.sql("SELECT count(*), sum(amount), sum(id), sum(customer_id) FROM orders", "shop")

    def orders_equal():
        return lake_rows(lake, "SELECT count(*), sum(amount), sum(id), sum(customer_id)"
                               " FROM shop.orders") == o_pg
    wait_for(orders_equal, timeout=300, interval=2)
    assert equal(lake, pg, "SELECT id, customer_id, amount, status, order_date FROM shop.orders"
                           " ORDER BY id",
                 "SELECT id, customer_id, amount, status, order_date FROM orders ORDER BY id")
    wait_for(lambda: equal(lake, pg, "SELECT id, name, email FROM shop.crm_customers ORDER BY id",
                           "SELECT id, name, email FROM crm.customers ORDER BY id"),
             timeout=120, interval=1)
    q = ("SELECT id, n::text, nu::text, t, j::text, jb::text, arr::text, u::text, encode(b, 'hex'),"
         " f, ok, d, tx FROM {} ORDER BY id")
    wait_for(lambda: count(lake, "curated.shop.kinds") == 2, timeout=120, interval=1)
    got = lake_rows(lake, "SELECT id, n::VARCHAR, nu, t, replace(j::VARCHAR, ' ', ''),"
                          " replace(jb::VARCHAR, ' ', ''), arr, u::VARCHAR, lower(hex(b)), f, ok,"
                          " d, tx FROM shop.kinds ORDER BY id")
    want = pg.sql(q.format("kinds").replace("j::text, jb::text", "replace(j::text, ' ', ''),"
                                            " replace(jb::text, ' ', '')"), "shop")
    assert got == want, (got, want)
    # Partitioned by order_date, one folder per date.
    status, t = rest(lake, "GET", "/v1/tables/curated/shop/orders")
    assert status == 200 and [k["name"] for k in t["partition_keys"]] == ["order_date"], t

    # list, show, delete: the source and the pipelines go, the tables stay.
    listed = json.loads(lake.tarn("blueprint", "list", "--json").stdout)["blueprints"]
    assert [b["name"] for b in listed] == ["shop"] and listed[0]["source"] == "shop"
    shown = json.loads(lake.tarn("blueprint", "show", "shop", "--json").stdout)
    assert "bp-repl-pw" not in json.dumps(shown) and shown["generated"]["tables"]
    out = json.loads(lake.tarn("blueprint", "delete", "shop", "--json").stdout)
    assert out["deleted"] and sorted(out["pipelines"]) == sorted(tables[t]["pipeline"] for t in tables)
    assert rest(lake, "GET", "/v1/sources/shop")[0] == 404
    assert rest(lake, "GET", "/v1/pipelines/shop_orders")[0] == 404
    assert rest(lake, "GET", "/v1/blueprints/shop")[0] == 404
    assert count(lake, "curated.shop.orders") == o_pg[0][0]
    assert not pg.sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'tarn_shop'", "shop")


def test_bad_blueprints_refused(pg, lake, tmp_path):
    cases = [
        (blueprint(pg, schedule="0 2 * * *"), "schedule"),
        (blueprint(pg, mode="incremental", schedule="0 2 * * *"), "watermark"),
        (blueprint(pg, blueprint="Bad-Name"), "blueprint"),
        (blueprint(pg, tables={"public.orders": {"partition": ["x"]}}), "tables.public.orders"),
        (blueprint(pg, target={"database": "shop", "zone": "raw"}), "target"),
        ({**blueprint(pg), "source": {**blueprint(pg)["source"], "tables": ["public.nope"]}},
         "public.nope"),
    ]
    for doc, word in cases:
        doc["blueprint"] = doc["blueprint"] if doc["blueprint"] != "shop" else "shop_bad"
        status, out = rest(lake, "POST", "/v1/blueprints", {"spec": json.dumps(doc)})
        assert status == 400 and word in out["error"]["message"], (doc, out)
    assert rest(lake, "GET", "/v1/sources/shop_bad")[0] == 404
