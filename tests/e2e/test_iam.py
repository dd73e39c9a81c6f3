"""Identities through the tarn CLI and the REST API: `tarn user create`, `tarn key create
--json`, a new user's keys working with boto3 and the aws CLI, a non-admin denied the
admin commands (`tarn user list` run with the user's TARN_ACCESS_KEY/TARN_SECRET_KEY),
`tarn key delete` and `tarn user delete` revoking access (InvalidAccessKeyId), `tarn key
rotate|deactivate|activate` taking effect at once, JSON output, and `curl --aws-sigv4`
against /v1 (admin allowed, user denied)."""
import json
import subprocess

import pytest

from conftest import TARN
from s3util import s3_error, signed, unique


def tarn_as(server, keys, *args):
    env = {**server.env(), "TARN_ACCESS_KEY": keys["access_key"],
           "TARN_SECRET_KEY": keys["secret_key"]}
    return subprocess.run([TARN, *args], env=env, capture_output=True, text=True, timeout=60)


def curl(server, path, ak, sk, method="GET", data=None):
    args = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--aws-sigv4",
            "aws:amz:us-east-1:tarn", "--user", f"{ak}:{sk}", "-X", method]
    if data is not None:
        args += ["-H", "Content-Type: application/json", "--data", data]
    r = subprocess.run(args + [server.endpoint + path], capture_output=True, text=True,
                       timeout=60, check=True)
    body, _, status = r.stdout.rpartition("\n")
    return int(status), body


@pytest.fixture
def user(server):
    """A fresh non-admin user with one access key."""
    name = unique("alice")
    out = server.tarn("user", "create", name).stdout
    assert f"Created user {name}" in out
    keys = json.loads(server.tarn("key", "create", name, "--json").stdout)
    assert keys["user"] == name
    assert len(keys["access_key"]) == 20 and len(keys["secret_key"]) == 40
    keys["name"] = name
    # Non-admins may do only what they are granted: here, the raw zone through S3.
    server.tarn("grant", "READ,WRITE", "ON", "LOCATION", "raw", "TO", f"user:{name}")
    return keys


def test_user_can_use_s3_with_boto3(server, user):
    s3 = server.s3(access_key=user["access_key"], secret_key=user["secret_key"])
    k = unique("alice-data") + "/x.csv"
    s3.put_object(Bucket="raw", Key=k, Body=b"from alice")
    assert s3.get_object(Bucket="raw", Key=k)["Body"].read() == b"from alice"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="raw", Prefix=k)["Contents"]] == [k]
    s3.delete_object(Bucket="raw", Key=k)


def test_user_can_use_the_aws_cli(server, user, tmp_path):
    env = server.env()
    env.pop("AWS_SHARED_CREDENTIALS_FILE")
    env.update({"AWS_ACCESS_KEY_ID": user["access_key"], "AWS_SECRET_ACCESS_KEY": user["secret_key"]})
    src = tmp_path / "f.txt"
    src.write_text("cli as alice\n")
    k = unique("alice-cli") + "/f.txt"
    subprocess.run(["/usr/bin/aws", "--endpoint-url", server.endpoint, "s3", "cp", str(src),
                    f"s3://raw/{k}"], env=env, check=True, capture_output=True, timeout=60)
    out = subprocess.run(["/usr/bin/aws", "--endpoint-url", server.endpoint, "s3", "cp",
                          f"s3://raw/{k}", "-"], env=env, check=True, capture_output=True,
                         text=True, timeout=60).stdout
    assert out == "cli as alice\n"


def test_user_is_denied_admin_commands(server, user):
    r = tarn_as(server, user, "user", "list")
    assert r.returncode != 0
    assert "AccessDenied" in r.stderr and "403" in r.stderr
    r = tarn_as(server, user, "user", "create", unique("mallory"))
    assert r.returncode != 0 and "AccessDenied" in r.stderr
    r = tarn_as(server, user, "key", "create", "admin")
    assert r.returncode != 0 and "AccessDenied" in r.stderr
    # The admin's listing does not show a user alice failed to create.
    names = [u["name"] for u in json.loads(server.tarn("user", "list", "--json").stdout)["users"]]
    assert not any(n.startswith("mallory") for n in names)


def test_user_list_json(server, user):
    out = json.loads(server.tarn("user", "list", "--json").stdout)
    users = {u["name"]: u for u in out["users"]}
    assert users["admin"]["admin"] is True
    assert users[user["name"]]["admin"] is False
    assert users[user["name"]]["keys"] == 1
    table = server.tarn("user", "list").stdout
    assert table.splitlines()[0].split() == ["USER", "ADMIN", "KEYS", "CREATED"]
    assert any(line.split()[:3] == [user["name"], "no", "1"] for line in table.splitlines())


def test_key_list_and_delete(server, user):
    s3 = server.s3(access_key=user["access_key"], secret_key=user["secret_key"])
    s3.list_objects_v2(Bucket="raw", MaxKeys=1)
    second = json.loads(server.tarn("key", "create", user["name"], "--json").stdout)
    keys = json.loads(server.tarn("key", "list", user["name"], "--json").stdout)["keys"]
    assert sorted(k["access_key"] for k in keys) == sorted([user["access_key"], second["access_key"]])
    assert all("secret_key" not in k for k in keys)
    assert all(k["status"] == "active" for k in keys)

    server.tarn("key", "delete", user["name"], user["access_key"])
    with s3_error("InvalidAccessKeyId", 403):
        s3.list_objects_v2(Bucket="raw", MaxKeys=1)
    r = tarn_as(server, user, "user", "list")
    assert r.returncode != 0 and "InvalidAccessKeyId" in r.stderr
    # The other key still works.
    s3b = server.s3(access_key=second["access_key"], secret_key=second["secret_key"])
    s3b.list_objects_v2(Bucket="raw", MaxKeys=1)
    keys = json.loads(server.tarn("key", "list", user["name"], "--json").stdout)["keys"]
    assert [k["access_key"] for k in keys] == [second["access_key"]]
    r = server.tarn("key", "delete", user["name"], user["access_key"], check=False)
    assert r.returncode != 0


def test_user_delete_revokes_keys(server, user):
    s3 = server.s3(access_key=user["access_key"], secret_key=user["secret_key"])
    s3.list_objects_v2(Bucket="raw", MaxKeys=1)
    server.tarn("user", "delete", user["name"])
    with s3_error("InvalidAccessKeyId", 403):
        s3.list_objects_v2(Bucket="raw", MaxKeys=1)
    names = [u["name"] for u in json.loads(server.tarn("user", "list", "--json").stdout)["users"]]
    assert user["name"] not in names
    r = server.tarn("user", "delete", user["name"], check=False)
    assert r.returncode != 0 and "404" in r.stderr


def test_duplicate_and_invalid_users(server, user):
    r = server.tarn("user", "create", user["name"], check=False)
    assert r.returncode != 0 and "EntityAlreadyExists" in r.stderr
    r = server.tarn("user", "create", "-bad name", check=False)
    assert r.returncode != 0
    r = server.tarn("user", "create", "bad/name", check=False)
    assert r.returncode != 0 and "InvalidArgument" in r.stderr
    r = server.tarn("key", "create", unique("ghost"), check=False)
    assert r.returncode != 0 and "404" in r.stderr


def test_curl_aws_sigv4_against_rest(server, user):
    ak, sk = server.admin_keys()
    status, body = curl(server, "/v1/users", ak, sk)
    assert status == 200
    assert user["name"] in [u["name"] for u in json.loads(body)["users"]]
    status, body = curl(server, "/v1/whoami", ak, sk)
    assert status == 200 and json.loads(body) == {"user": "admin", "admin": True, "access_key": ak}

    status, body = curl(server, "/v1/whoami", user["access_key"], user["secret_key"])
    assert status == 200 and json.loads(body)["user"] == user["name"]
    assert json.loads(body)["admin"] is False
    status, body = curl(server, "/v1/users", user["access_key"], user["secret_key"])
    assert status == 403 and json.loads(body)["error"]["code"] == "AccessDenied"

    status, body = curl(server, "/v1/users", ak, "wrong" * 8)
    assert status == 403 and json.loads(body)["error"]["code"] == "SignatureDoesNotMatch"

    name = unique("dave")
    status, body = curl(server, "/v1/users", ak, sk, method="POST", data=json.dumps({"name": name}))
    assert status == 201
    created = json.loads(body)
    assert created["name"] == name and created["admin"] is False and created["password"]
    status, body = curl(server, f"/v1/users/{name}", ak, sk, method="DELETE")
    assert status == 204
    status, body = curl(server, "/v1/users", ak, sk, method="POST", data="{not json")
    assert status == 400 and json.loads(body)["error"]["code"] == "MalformedJSON"


def test_user_denied_metrics_and_audit(server, user):
    for path in ("/metrics", "/v1/audit"):
        r = signed(server, "GET", path, access_key=user["access_key"], secret_key=user["secret_key"],
                   service="tarn")
        assert r.status == 403, path


def test_admin_flag(server):
    name = unique("root2")
    server.tarn("user", "create", name, "--admin")
    keys = json.loads(server.tarn("key", "create", name, "--json").stdout)
    out = tarn_as(server, keys, "user", "list", "--json")
    assert out.returncode == 0, out.stderr
    assert name in [u["name"] for u in json.loads(out.stdout)["users"]]
    server.tarn("user", "delete", name)


def test_key_belongs_to_its_user(server, user):
    other = unique("bob")
    server.tarn("user", "create", other)
    r = server.tarn("key", "delete", other, user["access_key"], check=False)
    assert r.returncode != 0 and "NoSuchEntity" in r.stderr and "404" in r.stderr
    s3 = server.s3(access_key=user["access_key"], secret_key=user["secret_key"])
    s3.list_objects_v2(Bucket="raw", MaxKeys=1)  # still valid
    server.tarn("user", "delete", other)


def test_last_admin_cannot_be_deleted(fresh_server):
    r = fresh_server.tarn("user", "delete", "admin", check=False)
    assert r.returncode != 0 and "DeleteConflict" in r.stderr and "409" in r.stderr
    fresh_server.tarn("user", "create", "second-admin", "--admin")
    fresh_server.tarn("user", "delete", "second-admin")
    names = [u["name"] for u in json.loads(fresh_server.tarn("user", "list", "--json").stdout)["users"]]
    assert names == ["admin"]
    assert fresh_server.s3().list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_lake_files_are_not_world_readable(server):
    """The catalog database holds sealed secrets and password verifiers; the keyring and
    the admin credentials are owner-only; nothing in the lake is world-readable."""
    import os
    import stat
    for name in ("tarn.db", "admin.credentials", "keys/master.key", "keys/audit.key"):
        mode = stat.S_IMODE(os.stat(os.path.join(server.data, name)).st_mode)
        assert mode & 0o077 == 0, f"{name} has mode {oct(mode)}"
    for root, dirs, files in os.walk(server.data):
        for n in dirs + files:
            mode = stat.S_IMODE(os.lstat(os.path.join(root, n)).st_mode)
            assert mode & 0o007 == 0, f"{os.path.join(root, n)} has mode {oct(mode)}"


def keys_of(server, name):
    return {k["access_key"]: k for k in
            json.loads(server.tarn("key", "list", name, "--json").stdout)["keys"]}


def test_rotate_gives_a_new_key_and_stops_the_old_at_once(server, user):
    old = server.s3(access_key=user["access_key"], secret_key=user["secret_key"])
    old.list_objects_v2(Bucket="raw", MaxKeys=1)  # the old key is resolved and cached
    out = server.tarn("key", "rotate", user["name"]).stdout
    assert "shown only now" in out and "Deactivated 1 older key" in out
    new_ak = next(line.split()[1] for line in out.splitlines()
                  if line.strip().startswith("aws_access_key_id"))
    new_sk = next(line.split()[1] for line in out.splitlines()
                  if line.strip().startswith("aws_secret_access_key"))
    new = server.s3(access_key=new_ak, secret_key=new_sk)
    k = unique("rotated") + "/x.txt"
    new.put_object(Bucket="raw", Key=k, Body=b"after rotation")
    assert new.get_object(Bucket="raw", Key=k)["Body"].read() == b"after rotation"
    with s3_error("InvalidAccessKeyId", 403):
        old.list_objects_v2(Bucket="raw", MaxKeys=1)
    r = tarn_as(server, user, "tables")
    assert r.returncode != 0 and "InvalidAccessKeyId" in r.stderr
    keys = keys_of(server, user["name"])
    assert keys[user["access_key"]]["status"] == "inactive"
    assert keys[new_ak]["status"] == "active"
    # --delete-old removes every other key, the inactive one too.
    rot = json.loads(server.tarn("key", "rotate", user["name"], "--delete-old", "--json").stdout)
    assert rot["old_keys"] == "deleted" and rot["retired"] == 2
    assert list(keys_of(server, user["name"])) == [rot["access_key"]]
    with s3_error("InvalidAccessKeyId", 403):
        new.list_objects_v2(Bucket="raw", MaxKeys=1)
    server.s3(access_key=rot["access_key"], secret_key=rot["secret_key"]).list_objects_v2(
        Bucket="raw", MaxKeys=1)


def test_deactivate_and_activate(server, user):
    s3 = server.s3(access_key=user["access_key"], secret_key=user["secret_key"])
    s3.list_objects_v2(Bucket="raw", MaxKeys=1)
    out = server.tarn("key", "deactivate", user["name"], user["access_key"]).stdout
    assert f"Deactivated access key {user['access_key']}" in out
    with s3_error("InvalidAccessKeyId", 403):  # at once, though the key was just cached
        s3.list_objects_v2(Bucket="raw", MaxKeys=1)
    status, body = curl(server, "/v1/whoami", user["access_key"], user["secret_key"])
    assert status == 403 and "InvalidAccessKeyId" in body
    assert keys_of(server, user["name"])[user["access_key"]]["status"] == "inactive"
    j = json.loads(server.tarn("key", "activate", user["name"], user["access_key"], "--json").stdout)
    assert j["status"] == "active" and j["access_key"] == user["access_key"]
    s3.list_objects_v2(Bucket="raw", MaxKeys=1)
    # REST directly: PATCH with a bad status, an unknown key, a user's own key of another.
    ak, sk = server.admin_keys()
    path = f"/v1/users/{user['name']}/keys/{user['access_key']}"
    status, body = curl(server, path, ak, sk, "PATCH", '{"status": "paused"}')
    assert status == 400 and "InvalidArgument" in body
    status, body = curl(server, f"/v1/users/{user['name']}/keys/TKNOSUCHKEY000000000", ak, sk,
                        "PATCH", '{"status": "inactive"}')
    assert status == 404
    status, body = curl(server, f"/v1/users/admin/keys/{user['access_key']}", ak, sk, "PATCH",
                        '{"status": "inactive"}')
    assert status == 404
    s3.list_objects_v2(Bucket="raw", MaxKeys=1)
    r = server.tarn("key", "deactivate", user["name"], check=False)
    assert r.returncode == 2 and "usage" in r.stderr


def test_key_list_shows_status_created_and_last_used(server, user):
    second = json.loads(server.tarn("key", "create", user["name"], "--json").stdout)
    keys = keys_of(server, user["name"])
    assert keys[user["access_key"]].get("last_used") is None
    server.s3(access_key=user["access_key"], secret_key=user["secret_key"]).list_objects_v2(
        Bucket="raw", MaxKeys=1)
    server.tarn("key", "deactivate", user["name"], second["access_key"])
    keys = keys_of(server, user["name"])
    used = keys[user["access_key"]]
    assert used["status"] == "active" and used["last_used"] >= used["created"]
    assert used["created"].endswith("Z") and "T" in used["created"]
    assert keys[second["access_key"]]["status"] == "inactive"
    assert keys[second["access_key"]].get("last_used") is None
    lines = server.tarn("key", "list", user["name"]).stdout.splitlines()
    assert lines[0].split() == ["ACCESS", "KEY", "STATUS", "CREATED", "LAST", "USED", "FROM"]
    row = next(line.split() for line in lines if line.startswith(user["access_key"]))
    assert row[1] == "active" and row[3] == used["last_used"] and row[4] == "any"
    row = next(line.split() for line in lines if line.startswith(second["access_key"]))
    assert row[1] == "inactive" and row[3] == "-"


def test_key_lifecycle_is_for_admins_and_iam_holders(server, user):
    for args in (["key", "rotate", user["name"]],
                 ["key", "deactivate", user["name"], user["access_key"]],
                 ["key", "activate", user["name"], user["access_key"]]):
        r = tarn_as(server, user, *args)
        assert r.returncode != 0 and "AccessDenied" in r.stderr, args
    assert keys_of(server, user["name"])[user["access_key"]]["status"] == "active"
    # A holder of ALL on IAM manages other users' keys.
    ops = unique("ops")
    server.tarn("user", "create", ops)
    ops_keys = json.loads(server.tarn("key", "create", ops, "--json").stdout)
    server.tarn("grant", "ALL", "ON", "IAM", "TO", f"user:{ops}")
    r = tarn_as(server, ops_keys, "key", "deactivate", user["name"], user["access_key"])
    assert r.returncode == 0, r.stderr
    assert keys_of(server, user["name"])[user["access_key"]]["status"] == "inactive"
    r = tarn_as(server, ops_keys, "key", "activate", user["name"], user["access_key"])
    assert r.returncode == 0, r.stderr
    # Each change, allowed or denied, is in the audit trail.
    ak, sk = server.admin_keys()
    status, body = curl(server, "/v1/audit?n=200", ak, sk)
    recs = json.loads(body)["records"]
    acts = [(r.get("principal"), r.get("action"), r.get("outcome")) for r in recs]
    assert (user["name"], "iam:RotateAccessKeys", "deny") in acts
    assert (user["name"], "iam:UpdateAccessKey", "deny") in acts
    assert (ops, "iam:UpdateAccessKey", "allow") in acts
    server.tarn("user", "delete", ops)
