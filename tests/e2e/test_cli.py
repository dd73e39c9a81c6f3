"""The tarn command line as a user meets it: `tarn init` writes the admin credentials once
(AWS credentials format, 0600) and refuses to overwrite a lake, the aws CLI works straight
from that file, `tarn help CMD` documents every command, a second server on the same lake
is refused, and errors say what to do next."""
import configparser
import json
import os
import stat
import subprocess

from conftest import AWS, TARN, Server


def run(*args, env=None, check=False):
    return subprocess.run([TARN, *args], capture_output=True, text=True, timeout=60, env=env,
                          check=check)


def test_init_writes_credentials_once(tmp_path):
    data = tmp_path / "lake"
    r = run("init", "--data", str(data), check=True)
    cred = data / "admin.credentials"
    assert stat.S_IMODE(os.stat(cred).st_mode) == 0o600
    cp = configparser.ConfigParser()
    cp.read(cred)
    ak, sk = cp["default"]["aws_access_key_id"], cp["default"]["aws_secret_access_key"]
    pw = cp["default"]["tarn_password"]
    # printed once, on this run only
    assert ak in r.stdout and sk in r.stdout and pw in r.stdout
    again = run("init", "--data", str(data))
    assert again.returncode != 0 and "already exists" in again.stderr
    assert sk not in again.stdout + again.stderr
    for d in ("raw", "cleaned", "curated", "quarantine"):
        assert (data / "objects" / d).is_dir()


def test_aws_cli_uses_the_credentials_file_as_is(tmp_path):
    s = Server(tmp_path / "lake").start()
    try:
        env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=s.credentials_file,
                   AWS_CONFIG_FILE="/dev/null", AWS_PAGER="")
        env.pop("AWS_DEFAULT_REGION", None)
        out = subprocess.run([AWS, "--endpoint-url", s.endpoint, "s3", "ls"], env=env,
                             capture_output=True, text=True, timeout=60, check=True).stdout
        assert {"raw", "cleaned", "curated", "quarantine"} <= {l.split()[-1] for l in out.splitlines()}
    finally:
        s.stop()


def test_help_documents_every_command():
    top = run("help", check=True).stdout
    for cmd in ("init", "serve", "user", "key", "audit", "version"):
        assert cmd in top
        page = run("help", cmd, check=True).stdout
        assert page.startswith("usage: tarn " + cmd)
    bad = run("help", "nope")
    assert bad.returncode == 2 and "no command 'nope'" in bad.stderr
    unknown = run("frobnicate")
    assert unknown.returncode == 2 and "unknown command" in unknown.stderr


def test_second_server_on_the_same_lake_is_refused(server):
    r = run("serve", "--data", server.data, "--listen", "127.0.0.1:1")
    assert r.returncode != 0 and "already using" in r.stderr


def test_bad_listen_address_says_the_expected_form(tmp_path):
    r = run("serve", "--data", str(tmp_path / "lake"), "--listen", "nowhere")
    assert r.returncode != 0 and "ADDR:PORT" in r.stderr


def test_unreachable_server_says_what_to_do(server):
    env = server.env()
    env["TARN_ENDPOINT"] = "http://127.0.0.1:1"
    r = run("user", "list", env=env)
    assert r.returncode == 1 and "tarn serve" in r.stderr and "TARN_ENDPOINT" in r.stderr


def test_unknown_option_lists_the_valid_ones(server):
    r = run("user", "list", "--frob", env=server.env())
    assert r.returncode == 2 and "unknown option --frob" in r.stderr and "--json" in r.stderr


def test_json_output_for_scripts(server):
    v = json.loads(run("version", "--json", check=True).stdout)
    assert v["duckdb"].startswith("v1.4")
    users = json.loads(server.tarn("user", "list", "--json").stdout)["users"]
    assert any(u["name"] == "admin" and u["admin"] for u in users)


def test_whoami_and_sql_options(server, tmp_path):
    out = json.loads(server.tarn("whoami", "--json").stdout)
    assert out["user"] == "admin" and out["admin"] is True and out["access_key"]
    assert server.tarn("whoami").stdout.startswith("admin, admin (access key ")
    # -c, -f, and "--" before a query that starts with a dash.
    assert server.tarn("sql", "-c", "SELECT 41 + 1 AS x", "--format", "csv").stdout.split() == \
        ["x", "42"]
    f = tmp_path / "q.sql"
    f.write_text("SELECT 1 AS a;\nSELECT 2 AS b;\n")
    r = server.tarn("sql", "-f", str(f), "--format", "csv")
    assert r.stdout.split() == ["a", "1", "b", "2"], r
    r = server.tarn("sql", "--format", "csv", "--", "-- a comment\nSELECT 3 AS c")
    assert r.stdout.split() == ["c", "3"], r
    r = server.tarn("sql", "-c", "SELECT 1", "SELECT 2", check=False)
    assert r.returncode == 2 and "once" in r.stderr
    r = server.tarn("sql", "-f", str(tmp_path / "missing.sql"), check=False)
    assert r.returncode != 0 and "missing.sql" in r.stderr
