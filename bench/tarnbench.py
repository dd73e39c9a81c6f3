"""What the benchmarks share: a tarn server on free loopback ports (HTTP and PostgreSQL)
with its own data folder, and the SigV4 signing of REST calls (service "tarn")."""
import configparser
import http.client
import os
import signal
import socket
import subprocess
import sys
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGION = "us-east-1"


def fail(msg):
    raise SystemExit(f"{os.path.basename(sys.argv[0])}: {msg}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`tarn serve` on data, its log in log_path; ready once /healthz answers 200."""

    def __init__(self, binary, data, log_path, extra_args=()):
        self.port, self.pg_port = free_port(), free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.endpoint = f"http://{self.host}"
        self.data = data
        self.log_path = log_path
        self.logf = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, "serve", "--data", data, "--listen", self.host,
             "--pg-listen", f"127.0.0.1:{self.pg_port}", *extra_args],
            stdout=self.logf, stderr=self.logf)
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                fail(f"tarn exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            try:
                c = http.client.HTTPConnection(self.host, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    c.close()
                    break
                c.close()
            except OSError:
                pass
            if time.time() > deadline:
                fail("tarn did not answer /healthz with 200 within 60 s")
            time.sleep(0.05)
        cp = configparser.ConfigParser()
        cp.read(os.path.join(data, "admin.credentials"))
        self.ak = cp["default"]["aws_access_key_id"]
        self.sk = cp["default"]["aws_secret_access_key"]
        self.password = cp["default"].get("tarn_password")

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.logf.closed:
            self.logf.close()


class RestBase:
    """SigV4-signed (service "tarn") requests on one keep-alive connection; scripts add
    how they send and read."""

    def __init__(self, srv, timeout):
        self.srv = srv
        self.auth = SigV4Auth(Credentials(srv.ak, srv.sk), "tarn", REGION)
        self.timeout = timeout
        self.conn = None

    def sign(self, method, path, body=None, signed=True):
        """The headers of a request, ready to send (signing is kept off the clock)."""
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        if not signed:
            return hdrs
        req = AWSRequest(method=method, url=self.srv.endpoint + path, data=body or b"",
                         headers=hdrs)
        self.auth.add_auth(req)
        return dict(req.headers.items())

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
