"""Prometheus scrapes /metrics: a real Prometheus (Debian's) with a metrics token as its
bearer credential reaches tarn on a loopback port and its query API returns tarn's
series; the token reads /metrics and nothing else, is kept only hashed, shows in the list
and the audit trail, and once deleted the scrapes fail. `--metrics-public` serves
/metrics without authentication and is refused on a non-loopback listener."""
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import TARN, Server, free_port
from s3util import rest, wait_for

PROMETHEUS = shutil.which("prometheus")


def get(url, token=None):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def token_create(server, name):
    out = json.loads(server.tarn("metrics", "token", "create", "--name", name, "--json").stdout)
    assert out["name"] == name and out["token"].startswith("tmt_")
    return out["token"]


def test_token_reads_metrics_and_nothing_else(server):
    token = token_create(server, "probe")
    status, body = get(server.endpoint + "/metrics", token)
    assert status == 200 and "tarn_requests_total" in body
    # Not an S3, REST or Firehose credential.
    status, body = get(server.endpoint + "/v1/tables", token)
    assert status in (400, 403), body
    # A wrong token, or none, is refused.
    wrong = token[:-1] + ("1" if token[-1] == "0" else "0")
    status, body = get(server.endpoint + "/metrics", wrong)
    assert status == 403 and "InvalidToken" in body
    assert get(server.endpoint + "/metrics")[0] in (400, 403)
    # Listed by name, never shown again; only its hash is in the catalog.
    listed = json.loads(server.tarn("metrics", "token", "list", "--json").stdout)["tokens"]
    assert [t["name"] for t in listed if t["name"] == "probe"] == ["probe"]
    assert token not in json.dumps(listed)
    with open(os.path.join(server.data, "tarn.db"), "rb") as f:
        assert token.encode() not in f.read()
    # Each scrape is an audited request of the token's own principal.
    status, out = rest(server, "GET", "/v1/audit?n=200")
    assert any(r.get("principal") == "metrics-token:probe" and r.get("action") == "metrics:Read"
               for r in out["records"]), out["records"][-5:]
    # A second token with the same name is refused; deleting makes the token useless.
    r = server.tarn("metrics", "token", "create", "--name", "probe", check=False)
    assert r.returncode != 0 and "exists" in r.stderr
    server.tarn("metrics", "token", "delete", "probe")
    assert get(server.endpoint + "/metrics", token)[0] == 403
    r = server.tarn("metrics", "token", "delete", "probe", check=False)
    assert r.returncode != 0 and "no metrics token" in r.stderr


@pytest.mark.skipif(not PROMETHEUS, reason="prometheus is missing (make test installs it)")
def test_prometheus_scrapes_with_a_token(server, tmp_path):
    token = token_create(server, "prometheus-e2e")
    port = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [{
            "job_name": "tarn",
            "authorization": {"type": "Bearer", "credentials": token},
            "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}],
        }],
    }))
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={cfg}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=log)
    api = f"http://127.0.0.1:{port}/api/v1/query?query="

    def value(q):
        try:
            status, body = get(api + urllib.parse.quote(q))
        except OSError:
            return None
        res = json.loads(body)["data"]["result"] if status == 200 else []
        return res

    try:
        wait_for(lambda: (value('up{job="tarn"}') or [{"value": [0, "0"]}])[0]["value"][1] == "1",
                 timeout=60, interval=0.5)
        series = value('tarn_requests_total{job="tarn"}')
        assert series and all(s["metric"]["job"] == "tarn" for s in series)
        # Revoked: the next scrapes fail, and Prometheus says so.
        server.tarn("metrics", "token", "delete", "prometheus-e2e")
        wait_for(lambda: (value('up{job="tarn"}') or [{"value": [0, "1"]}])[0]["value"][1] == "0",
                 timeout=30, interval=0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_metrics_public_only_on_loopback(tmp_path):
    s = Server(tmp_path / "data", extra_args=["--metrics-public"]).start()
    try:
        status, body = get(s.endpoint + "/metrics")
        assert status == 200 and "tarn_requests_total" in body
        # Everything else still needs a signature.
        assert get(s.endpoint + "/v1/tables")[0] in (400, 403)
    finally:
        s.stop()
    r = subprocess.run([TARN, "serve", "--data", str(tmp_path / "data"), "--listen",
                        f"0.0.0.0:{free_port()}", "--pg-listen", "off", "--metrics-public"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "loopback" in r.stderr
