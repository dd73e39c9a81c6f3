"""Fixtures for end-to-end tests: a real `tarn serve` on a free loopback port with its own
data folder, and real clients (boto3, the aws CLI, the tarn CLI) pointed at it."""
import configparser
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARN = os.environ.get("TARN_BIN", os.path.join(ROOT, "build", "tarn"))
AWS = "/usr/bin/aws"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One tarn server process; restartable on the same data folder."""

    def __init__(self, data_dir, extra_env=None, extra_args=(), promotion=False, wrapper=()):
        self.data = str(data_dir)
        # A command the server runs under (strace, say); stop() then signals the server.
        self.wrapper = list(wrapper)
        self.extra_env = extra_env or {}
        # Promotion moves what lands in raw to cleaned; tests of raw tables, S3 and SQL
        # keep raw as it is, and the promotion tests turn it on.
        self.extra_args = list(extra_args) + ([] if promotion else ["--promotion", "off"])
        self.port = free_port()
        self.pg_port = free_port()
        # With --tls-cert the HTTP port serves HTTPS only; clients trust that certificate.
        args = list(extra_args)
        self.ca = args[args.index("--tls-cert") + 1] if "--tls-cert" in args else None
        self.endpoint = f"{'https' if self.ca else 'http'}://127.0.0.1:{self.port}"
        self.proc = None
        self.log_path = os.path.join(os.path.dirname(self.data), f"server-{self.port}.log")

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*self.wrapper, TARN, "serve", "--data", self.data, "--listen", f"127.0.0.1:{self.port}",
             "--pg-listen", f"127.0.0.1:{self.pg_port}", *self.extra_args],
            stdout=log, stderr=log, env={**os.environ, **self.extra_env})
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tarn exited: " + open(self.log_path).read())
            try:
                ctx = ssl.create_default_context(cafile=self.ca) if self.ca else None
                with urllib.request.urlopen(self.endpoint + "/healthz", timeout=1,
                                            context=ctx) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("tarn did not become ready")

    @property
    def pid(self):
        """The server's own process id (not its wrapper's)."""
        if not self.wrapper:
            return self.proc.pid
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
            return int(f.read().split()[0])

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            os.kill(self.pid, sig)
            self.proc.wait(timeout=60)
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    @property
    def credentials_file(self):
        return os.path.join(self.data, "admin.credentials")

    def admin_keys(self):
        cp = configparser.ConfigParser()
        cp.read(self.credentials_file)
        return cp["default"]["aws_access_key_id"], cp["default"]["aws_secret_access_key"]

    def admin_password(self):
        cp = configparser.ConfigParser()
        cp.read(self.credentials_file)
        return cp["default"]["tarn_password"]

    def pg_params(self, user="admin", password=None, dbname="lake"):
        """Connection parameters for the PostgreSQL protocol (psycopg2/psycopg keywords)."""
        return {"host": "127.0.0.1", "port": self.pg_port, "user": user,
                "password": self.admin_password() if password is None else password,
                "dbname": dbname}

    def s3(self, access_key=None, secret_key=None, **cfg):
        ak, sk = self.admin_keys()
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=access_key or ak, aws_secret_access_key=secret_key or sk,
            verify=self.ca if self.ca else None, config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **cfg))

    def env(self):
        """Environment for the aws and tarn CLIs."""
        e = dict(os.environ)
        e.update({"AWS_SHARED_CREDENTIALS_FILE": self.credentials_file,
                  "AWS_CONFIG_FILE": "/dev/null", "AWS_DEFAULT_REGION": "us-east-1",
                  "TARN_CREDENTIALS_FILE": self.credentials_file,
                  "TARN_ENDPOINT": self.endpoint, "AWS_PAGER": ""})
        if self.ca:
            e.update({"AWS_CA_BUNDLE": self.ca, "TARN_CA_BUNDLE": self.ca})
        return e

    def aws(self, *args, check=True):
        return subprocess.run([AWS, "--endpoint-url", self.endpoint, *args], env=self.env(),
                              capture_output=True, text=True, check=check, timeout=300)

    def tarn(self, *args, check=True, input=None):
        return subprocess.run([TARN, *args], env=self.env(), capture_output=True, text=True,
                              check=check, timeout=120, input=input)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("lake") / "data").start()
    yield s
    s.stop()


@pytest.fixture
def fresh_server(tmp_path):
    """A server of the test's own, for tests that kill or tamper with it."""
    s = Server(tmp_path / "data").start()
    yield s
    if s.proc.poll() is None:
        s.stop()


@pytest.fixture
def s3(server):
    return server.s3()
