"""Principals die whole: a user, group or role that used its grants, then was deleted and
created again under the same name (new key, password, members), gets AccessDenied on
everything the old one could read, through REST SQL, psycopg2 and boto3; `tarn grants`
and GET /v1/grants show none of the old grants; an open PostgreSQL connection of a
deleted user cannot run another statement."""
import json

import psycopg2
import pytest
from botocore.exceptions import ClientError

from conftest import Server
from s3util import rest, unique, wait_for

SALARIES = b"name,salary\nann,1\nbob,2\n"
HR_DROP = b"name\nann\n"


def make_user(s, name):
    password = unique("pw")
    s.tarn("user", "create", name, "--password", password)
    k = json.loads(s.tarn("key", "create", name, "--json").stdout)
    return {"name": name, "password": password, "keys": (k["access_key"], k["secret_key"])}


def sql(s, u, q="SELECT count(*) FROM hr.salaries"):
    return rest(s, "POST", "/v1/sql", {"sql": q}, keys=u["keys"])


def pg_connect(s, u):
    c = psycopg2.connect(**s.pg_params(user=u["name"], password=u["password"]))
    c.autocommit = True
    return c


def pg_count(s, u):
    c = pg_connect(s, u)
    try:
        cur = c.cursor()
        cur.execute("SELECT count(*) FROM hr.salaries")
        return cur.fetchone()[0]
    finally:
        c.close()


def s3_get(s, u, key="hr/drop.csv"):
    return s.s3(access_key=u["keys"][0], secret_key=u["keys"][1]).get_object(
        Bucket="raw", Key=key)["Body"].read()


def reads_everywhere(s, u):
    """u reads the table through REST SQL and PostgreSQL, and the raw file through S3."""
    assert sql(s, u)[1]["rows"] == [[2]]
    assert pg_count(s, u) == 2
    assert s3_get(s, u) == HR_DROP


def denied_everywhere(s, u, s3_too=True):
    status, body = sql(s, u)
    assert status == 403, body
    with pytest.raises(psycopg2.Error) as e:
        pg_count(s, u)
    assert e.value.pgcode == "42501", e.value
    if s3_too:
        with pytest.raises(ClientError) as e:
            s3_get(s, u)
        assert e.value.response["Error"]["Code"] == "AccessDenied"


def grants_of(s, principal):
    """The grants GET /v1/grants and `tarn grants --json` list for principal."""
    status, body = rest(s, "GET", f"/v1/grants?principal={principal}")
    assert status == 200, body
    cli = json.loads(s.tarn("grants", principal, "--json").stdout)["grants"]
    assert cli == body["grants"]
    everything = rest(s, "GET", "/v1/grants")[1]["grants"]
    assert [g for g in everything if g["principal"] == principal] == body["grants"]
    return body["grants"]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("principals") / "data").start()
    s3 = s.s3()
    s3.put_object(Bucket="curated", Key="hr/salaries/part-1.csv", Body=SALARIES)
    s3.put_object(Bucket="raw", Key="hr/drop.csv", Body=HR_DROP)
    wait_for(lambda: rest(s, "GET", "/v1/tables/curated/hr/salaries")[0] == 200, timeout=30)
    yield s
    s.stop()


def test_user_deleted_and_created_again_gets_nothing(lake):
    s = lake
    old = make_user(s, "pat")
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.hr.salaries", "TO", "user:pat")
    s.tarn("grant", "READ", "ON", "LOCATION", "raw/hr/", "TO", "user:pat")
    s.tarn("group", "create", "pat_team")
    s.tarn("group", "add", "pat_team", "pat")
    s.tarn("grant", "DESCRIBE", "ON", "DATABASE", "curated.hr", "TO", "group:pat_team")
    # the old user uses its grants on every door
    reads_everywhere(s, old)
    assert len(grants_of(s, "user:pat")) == 2
    s.tarn("user", "delete", "pat")
    new = make_user(s, "pat")
    denied_everywhere(s, new)
    # nothing of the old user is listed: grants, membership
    assert grants_of(s, "user:pat") == []
    assert "user:pat" not in json.dumps(rest(s, "GET", "/v1/grants")[1])
    groups = json.loads(s.tarn("group", "list", "--json").stdout)["groups"]
    assert {"name": "pat_team", "members": []} in groups
    # the old key is gone with its user
    status, _ = rest(s, "GET", "/v1/grants", keys=old["keys"])
    assert status == 403
    # and the new user gets what it is granted, not more
    s.tarn("grant", "READ", "ON", "LOCATION", "raw/hr/", "TO", "user:pat")
    assert s3_get(s, new) == HR_DROP
    assert sql(s, new)[0] == 403
    assert [g["permission"] for g in grants_of(s, "user:pat")] == ["READ"]


def test_group_deleted_and_created_again_gets_nothing(lake):
    s = lake
    quinn = make_user(s, "quinn")
    s.tarn("group", "create", "auditors")
    s.tarn("group", "add", "auditors", "quinn")
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.hr.salaries", "TO", "group:auditors")
    s.tarn("grant", "READ", "ON", "LOCATION", "raw/hr/", "TO", "group:auditors")
    reads_everywhere(s, quinn)
    assert len(grants_of(s, "group:auditors")) == 2
    s.tarn("group", "delete", "auditors")
    s.tarn("group", "create", "auditors")
    s.tarn("group", "add", "auditors", "quinn")
    denied_everywhere(s, quinn)
    assert grants_of(s, "group:auditors") == []


def test_role_deleted_and_created_again_gets_nothing(lake):
    s = lake
    rita = make_user(s, "rita")
    s.tarn("group", "create", "rita_team")
    s.tarn("group", "add", "rita_team", "rita")
    s.tarn("role", "create", "hr_reader")
    s.tarn("role", "assign", "hr_reader", "group:rita_team")
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.hr.salaries", "TO", "role:hr_reader")
    s.tarn("grant", "READ", "ON", "LOCATION", "raw/hr/", "TO", "role:hr_reader")
    reads_everywhere(s, rita)
    s.tarn("role", "delete", "hr_reader")
    s.tarn("role", "create", "hr_reader")
    s.tarn("role", "assign", "hr_reader", "group:rita_team")
    s.tarn("role", "assign", "hr_reader", "user:rita")
    denied_everywhere(s, rita)
    assert grants_of(s, "role:hr_reader") == []
    roles = json.loads(s.tarn("role", "list", "--json").stdout)["roles"]
    assert {"name": "hr_reader", "holders": ["group:rita_team", "user:rita"]} in roles


def test_open_postgres_connection_of_a_deleted_user_cannot_read(lake):
    s = lake
    sam = make_user(s, "sam")
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.hr.salaries", "TO", "user:sam")
    c = pg_connect(s, sam)
    cur = c.cursor()
    cur.execute("SELECT count(*) FROM hr.salaries")
    assert cur.fetchone()[0] == 2
    s.tarn("user", "delete", "sam")
    with pytest.raises(psycopg2.Error):
        cur.execute("SELECT count(*) FROM hr.salaries")
        cur.fetchall()
    c.close()
    # A connection open when its user is deleted and a namesake (with the same grant)
    # created: the connection still ends; the namesake reads through its own.
    old = make_user(s, "tess")
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.hr.salaries", "TO", "user:tess")
    c = pg_connect(s, old)
    cur = c.cursor()
    cur.execute("SELECT 1")
    s.tarn("user", "delete", "tess")
    new = make_user(s, "tess")
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.hr.salaries", "TO", "user:tess")
    with pytest.raises(psycopg2.Error):
        cur.execute("SELECT count(*) FROM hr.salaries")
        cur.fetchall()
    c.close()
    assert pg_count(s, new) == 2
    # a connection of another user, open meanwhile, is not disturbed
    other = make_user(s, "uma")
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.hr.salaries", "TO", "user:uma")
    c = pg_connect(s, other)
    cur = c.cursor()
    s.tarn("user", "delete", "tess")
    cur.execute("SELECT count(*) FROM hr.salaries")
    assert cur.fetchone()[0] == 2
    c.close()


def test_pipelines_of_a_deleted_owner_are_not_a_namesakes(lake):
    """A pipeline belongs to its owner's principal, not to the name: a user created again
    under the name neither sees, manages nor runs as the old owner's pipelines."""
    s = lake
    tess = make_user(s, "tess")
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.hr.salaries", "TO", "user:tess")
    s.tarn("grant", "CREATE_TABLE", "ON", "DATABASE", "curated.hr", "TO", "user:tess")
    name = unique("tess_pipe").replace("-", "_")
    spec = (f"name: {name}\nsteps:\n  - name: copy\n    sql: SELECT * FROM curated.hr.salaries\n"
            f"    target: {{table: curated.hr.{name}, mode: overwrite}}\n")
    status, out = rest(s, "POST", "/v1/pipelines", {"spec": spec}, keys=tess["keys"])
    assert status == 201, out
    status, out = rest(s, "GET", "/v1/pipelines", keys=tess["keys"])
    assert [p["name"] for p in out["pipelines"]] == [name]

    s.tarn("user", "delete", "tess")
    again = make_user(s, "tess")
    s.tarn("grant", "SELECT", "ON", "TABLE", "curated.hr.salaries", "TO", "user:tess")
    s.tarn("grant", "CREATE_TABLE", "ON", "DATABASE", "curated.hr", "TO", "user:tess")
    status, out = rest(s, "GET", "/v1/pipelines", keys=again["keys"])
    assert status == 200 and out["pipelines"] == [], out
    for method, path, body in (("GET", f"/v1/pipelines/{name}", None),
                               ("POST", f"/v1/pipelines/{name}/runs", {"replay": False}),
                               ("DELETE", f"/v1/pipelines/{name}", None),
                               ("POST", "/v1/pipelines", {"spec": spec})):
        status, out = rest(s, method, path, body, keys=again["keys"])
        assert status == 403 and out["error"]["code"] == "AccessDenied", (method, path, out)
    # Started by the admin, a run of the old owner's pipeline fails: no one runs as it.
    status, run = rest(s, "POST", f"/v1/pipelines/{name}/runs", {"replay": False})
    assert status == 202, run

    def ended():
        out = rest(s, "GET", f"/v1/pipelines/{name}/runs/{run['id']}")[1]
        return out if out["status"] in ("succeeded", "failed") else None
    got = wait_for(ended, timeout=60)
    assert got["status"] == "failed" and "was deleted" in json.dumps(got), got
    # The admin gives it to the new tess by applying it again: now it is hers.
    status, out = rest(s, "POST", "/v1/pipelines", {"spec": spec + "owner: tess\n"})
    assert status == 200 and out["changed"], out
    status, out = rest(s, "GET", "/v1/pipelines", keys=again["keys"])
    assert [p["name"] for p in out["pipelines"]] == [name]
