"""TLS on both ports with a certificate made by `tarn init --self-signed`: boto3 with
verify=<cert>, the aws CLI with --ca-bundle / AWS_CA_BUNDLE (and refusing without it), the
tarn CLI over https with TARN_CA_BUNDLE / --ca-bundle, psql and psycopg2 with
sslmode=verify-full; plain HTTP to the TLS port failing; a certificate chain with an
intermediate CA; the warning for a non-loopback listener without TLS."""
import json
import os
import signal
import socket
import ssl
import stat
import subprocess
import time
import urllib.error
import urllib.request

import psycopg2
import pytest

from conftest import AWS, TARN, Server, free_port
from s3util import unique

PSQL = "/usr/bin/psql"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    data = tmp_path_factory.mktemp("tls") / "data"
    out = subprocess.run([TARN, "init", "--self-signed", "--data", str(data)], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return data, out


@pytest.fixture(scope="module")
def tls_server(lake):
    data, _ = lake
    s = Server(data, extra_args=["--tls-cert", str(data / "tls" / "cert.pem"),
                                 "--tls-key", str(data / "tls" / "key.pem")]).start()
    yield s
    s.stop()


def test_init_self_signed_makes_a_certificate_and_says_how_to_use_it(lake):
    data, out = lake
    cert, key = data / "tls" / "cert.pem", data / "tls" / "key.pem"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert f"--tls-cert {cert} --tls-key {key}" in out
    assert f"AWS_CA_BUNDLE={cert} aws --endpoint-url https://127.0.0.1:9470" in out
    assert f"sslmode=verify-full sslrootcert={cert} host=localhost" in out
    text = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-text"], check=True,
                          capture_output=True, text=True).stdout
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text
    assert f"DNS:{socket.gethostname()}" in text or not socket.gethostname().isascii()
    # Again on the same lake: the certificate stays as it is.
    before = cert.read_bytes()
    again = subprocess.run([TARN, "init", "--self-signed", "--data", str(data)], check=True,
                           capture_output=True, text=True, timeout=60).stdout
    assert "already has a certificate" in again and cert.read_bytes() == before
    # Without --self-signed an existing lake is still an error.
    r = subprocess.run([TARN, "init", "--data", str(data)], capture_output=True, text=True)
    assert r.returncode != 0 and "already exists" in r.stderr


def test_boto3_put_get_list_over_https(tls_server):
    assert tls_server.endpoint.startswith("https://")
    s3 = tls_server.s3()
    prefix = unique("tls")
    big = os.urandom(3 << 20)
    s3.put_object(Bucket="raw", Key=f"{prefix}/small.txt", Body=b"over tls")
    s3.put_object(Bucket="raw", Key=f"{prefix}/big.bin", Body=big)
    assert s3.get_object(Bucket="raw", Key=f"{prefix}/small.txt")["Body"].read() == b"over tls"
    assert s3.get_object(Bucket="raw", Key=f"{prefix}/big.bin")["Body"].read() == big
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="raw", Prefix=prefix)["Contents"]]
    assert keys == [f"{prefix}/big.bin", f"{prefix}/small.txt"]


def test_aws_cli_needs_the_ca_bundle(tls_server, tmp_path):
    src = tmp_path / "f.txt"
    src.write_text("aws over tls\n")
    k = unique("tls-aws") + "/f.txt"
    env = tls_server.env()  # AWS_CA_BUNDLE is set
    subprocess.run([AWS, "--endpoint-url", tls_server.endpoint, "s3", "cp", str(src),
                    f"s3://raw/{k}"], env=env, check=True, capture_output=True, timeout=120)
    env.pop("AWS_CA_BUNDLE")
    r = subprocess.run([AWS, "--endpoint-url", tls_server.endpoint, "--ca-bundle", tls_server.ca,
                        "s3", "ls", f"s3://raw/{k}"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "f.txt" in r.stdout, r.stderr
    r = subprocess.run([AWS, "--endpoint-url", tls_server.endpoint, "s3", "ls", "s3://raw/"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in r.stderr


def test_tarn_cli_over_https(tls_server):
    name = unique("tlsuser")
    r = tls_server.tarn("user", "create", name)  # TARN_CA_BUNDLE from the environment
    assert f"Created user {name}" in r.stdout
    env = tls_server.env()
    ca = env.pop("TARN_CA_BUNDLE")
    r = subprocess.run([TARN, "user", "list", "--json", "--ca-bundle", ca], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and name in r.stdout, r.stderr
    r = subprocess.run([TARN, "--ca-bundle=" + ca, "key", "list", name], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("ACCESS KEY"), r.stderr
    r = subprocess.run([TARN, "user", "list"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "is not trusted" in r.stderr and "--ca-bundle" in r.stderr
    r = subprocess.run([TARN, "user", "list", "--ca-bundle", "/nonexistent.pem"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "cannot read the CA bundle" in r.stderr
    env["TARN_ENDPOINT"] = tls_server.endpoint.replace("https://", "http://")
    r = subprocess.run([TARN, "user", "list"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "https://" in r.stderr


def test_psql_and_psycopg2_verify_full(tls_server):
    params = dict(tls_server.pg_params(), host="localhost", sslmode="verify-full",
                  sslrootcert=tls_server.ca)
    with psycopg2.connect(**params) as c:
        cur = c.cursor()
        cur.execute("SELECT 42")
        assert cur.fetchone() == (42,)
        assert c.info.ssl_in_use
    env = dict(os.environ, PGPASSWORD=tls_server.admin_password(), PGCONNECT_TIMEOUT="10")
    r = subprocess.run([PSQL, "-X", "-A", "-t", "-c", "SELECT 'psql over tls'",
                        f"sslmode=verify-full sslrootcert={tls_server.ca} host=localhost "
                        f"port={tls_server.pg_port} dbname=lake user=admin"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "psql over tls", r.stderr


def test_plain_http_to_the_tls_port_fails(tls_server):
    plain = tls_server.endpoint.replace("https://", "http://")
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(plain + "/healthz", timeout=5).read()
    # ... and the server goes on serving HTTPS.
    ctx = ssl.create_default_context(cafile=tls_server.ca)
    with urllib.request.urlopen(tls_server.endpoint + "/healthz", context=ctx, timeout=5) as r:
        assert r.status == 200
    # A client that trusts only the system's CAs refuses the self-signed certificate.
    with pytest.raises(urllib.error.URLError) as ei:
        urllib.request.urlopen(tls_server.endpoint + "/healthz", timeout=5)
    assert "CERTIFICATE_VERIFY_FAILED" in str(ei.value)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def test_certificate_chain_with_an_intermediate(tmp_path):
    """A leaf signed by an intermediate CA, served as leaf + intermediate in one PEM;
    clients trust only the root."""
    d = str(tmp_path)
    (tmp_path / "ca.ext").write_text("basicConstraints=critical,CA:TRUE\n"
                                     "keyUsage=critical,keyCertSign,cRLSign\n")
    (tmp_path / "leaf.ext").write_text("basicConstraints=CA:FALSE\n"
                                       "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                       "extendedKeyUsage=serverAuth\n")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "root.key", "-out", "root.pem", "-days", "2", "-subj", "/CN=test root",
            cwd=d)
    for name, subj, signer, ext in (("inter", "/CN=test intermediate", "root", "ca.ext"),
                                    ("leaf", "/CN=localhost", "inter", "leaf.ext")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subj, cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{signer}.pem", "-CAkey",
                f"{signer}.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                "-extfile", ext, cwd=d)
    chain = tmp_path / "chain.pem"
    chain.write_bytes((tmp_path / "leaf.pem").read_bytes() + (tmp_path / "inter.pem").read_bytes())
    s = Server(tmp_path / "data", extra_args=["--tls-cert", str(chain), "--tls-key",
                                              str(tmp_path / "leaf.key")])
    s.ca = str(tmp_path / "root.pem")  # clients trust the root only
    s.start()
    try:
        s3 = s.s3()
        s3.put_object(Bucket="raw", Key="chain/x.txt", Body=b"chained")
        assert s3.get_object(Bucket="raw", Key="chain/x.txt")["Body"].read() == b"chained"
        r = s.tarn("user", "list", "--json")
        assert "admin" in r.stdout
        params = dict(s.pg_params(), host="localhost", sslmode="verify-full",
                      sslrootcert=s.ca)
        with psycopg2.connect(**params) as c:
            assert c.info.ssl_in_use
    finally:
        s.stop()


def test_mismatched_key_stops_the_server(lake, tmp_path):
    data, _ = lake
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(tmp_path / "k2.pem"), "-out", str(other), "-days", "2", "-subj", "/CN=x"],
                   check=True, capture_output=True)
    r = subprocess.run([TARN, "serve", "--data", str(tmp_path / "d2"), "--listen",
                        f"127.0.0.1:{free_port()}", "--pg-listen", "off", "--tls-cert",
                        str(other), "--tls-key", str(data / "tls" / "key.pem")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "cannot serve HTTPS" in r.stderr
    r = subprocess.run([TARN, "serve", "--data", str(tmp_path / "d2"), "--listen",
                        f"127.0.0.1:{free_port()}", "--pg-listen", "off", "--tls-cert",
                        str(tmp_path / "missing.pem"), "--tls-key", str(data / "tls" / "key.pem")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "missing.pem" in r.stderr


def test_non_loopback_without_tls_warns(tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "wb") as f:
        p = subprocess.Popen([TARN, "serve", "--data", str(tmp_path / "data"), "--listen",
                              f"0.0.0.0:{port}", "--pg-listen", "off", "--promotion", "off"],
                             stdout=f, stderr=f)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and "tarn ready" not in log.read_text():
            assert p.poll() is None, log.read_text()
            time.sleep(0.05)
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        warn = [x for x in lines if x["level"] == "warn" and "without TLS" in x["msg"]]
        assert warn and warn[0]["listen"] == f"0.0.0.0:{port}"
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
