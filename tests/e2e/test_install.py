"""make install: the installed tarn runs from any folder with no checkout beside it. The
build under test is installed into a staging folder (DESTDIR), and that copy must find its
libduckdb.so beside itself (RUNPATH $ORIGIN/../lib/tarn, nothing pointing into the
checkout), print its version, and serve a lake that S3 clients use."""
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import TARN


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    build = os.path.dirname(os.path.abspath(TARN))
    stage = tmp_path_factory.mktemp("stage")
    subprocess.run(["meson", "install", "-C", build, "--no-rebuild", "--quiet",
                    "--destdir", str(stage)], check=True, capture_output=True, timeout=300)
    return stage / "usr" / "local"


def test_the_installed_files(installed):
    assert (installed / "bin" / "tarn").is_file()
    assert (installed / "lib" / "tarn" / "libduckdb.so").is_file()
    doc = installed / "share" / "doc" / "tarn"
    assert (doc / "storage.md").is_file() and (doc / "tarn.service").is_file()
    dyn = subprocess.run(["readelf", "-d", str(installed / "bin" / "tarn")], check=True,
                         capture_output=True, text=True).stdout
    runpath = [l for l in dyn.splitlines() if "RUNPATH" in l or "RPATH" in l]
    assert runpath and all("[$ORIGIN/../lib/tarn]" in l for l in runpath), runpath


def test_the_installed_tarn_runs_outside_the_checkout(installed, tmp_path):
    tarn = str(installed / "bin" / "tarn")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LD_")}
    out = subprocess.run([tarn, "version"], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    assert "tarn" in out and "duckdb" in out
    port, pg = free_port(), free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([tarn, "serve", "--data", str(tmp_path / "data"), "--listen",
                             f"127.0.0.1:{port}", "--pg-listen", f"127.0.0.1:{pg}"],
                            cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, open(tmp_path / "serve.log").read()
                time.sleep(0.05)
        else:
            pytest.fail("the installed tarn did not become ready")
        creds = open(tmp_path / "data" / "admin.credentials").read()
        kv = dict(l.split(" = ", 1) for l in creds.splitlines() if " = " in l)
        import boto3
        from botocore.config import Config
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id=kv["aws_access_key_id"],
                          aws_secret_access_key=kv["aws_secret_access_key"],
                          config=Config(s3={"addressing_style": "path"}))
        s3.put_object(Bucket="raw", Key="inst/t/a.csv", Body=b"id\n1\n")
        assert s3.get_object(Bucket="raw", Key="inst/t/a.csv")["Body"].read() == b"id\n1\n"
    finally:
        proc.terminate()
        proc.wait(timeout=60)
