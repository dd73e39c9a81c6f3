"""A real MariaDB server for the source tests: mariadb-install-db into a temporary folder
(owned by the mysql user when the tests run as root), started with the binlog in ROW format
with full metadata on a free loopback port; restartable on the same data, stopped and
removed afterwards."""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pymysql

ROOT_PW = "root-secret-pw"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MariaDbServer:
    def __init__(self, binlog_format="ROW"):
        # A folder of its own outside pytest's, which are the root's alone (and made so again
        # by every pytest session that starts meanwhile): the mysql user owns this one.
        self.own = tempfile.mkdtemp(prefix="tarn-maria-")
        self.data = os.path.join(self.own, "data")
        self.sock = os.path.join(self.own, "sock")
        self.port = free_port()
        self.binlog_format = binlog_format
        self.root = os.geteuid() == 0
        if self.root:
            pw = pwd.getpwnam("mysql")
            os.chown(self.own, pw.pw_uid, pw.pw_gid)
        args = ["mariadb-install-db", "--no-defaults", f"--datadir={self.data}",
                "--auth-root-authentication-method=normal", "--skip-test-db"]
        if self.root:
            args.append("--user=mysql")
        p = subprocess.run(args, capture_output=True, text=True, timeout=180)
        if p.returncode:
            raise RuntimeError("mariadb-install-db: " + (p.stderr or p.stdout)[-800:])
        self.proc = None
        self.start()
        # The tests connect over TCP as root with a password.
        c = self.connect(password="")
        with c.cursor() as cur:
            cur.execute(f"CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY '{ROOT_PW}'")
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
        c.close()

    def start(self):
        args = ["mariadbd", "--no-defaults", f"--datadir={self.data}", f"--socket={self.sock}",
                "--bind-address=127.0.0.1", f"--port={self.port}", "--log-bin=mysql-bin",
                f"--binlog-format={self.binlog_format}", "--binlog-row-metadata=FULL",
                "--server-id=1", "--skip-name-resolve", "--character-set-server=utf8mb4",
                "--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0",
                f"--log-error={os.path.join(self.own, 'error.log')}"]
        if self.root:
            args.insert(2, "--user=mysql")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mariadbd exited: " + self.log()[-1500:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("mariadbd did not start: " + self.log()[-1500:])

    def log(self):
        try:
            with open(os.path.join(self.own, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, remove=True):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=120)
        if remove:
            shutil.rmtree(self.own, ignore_errors=True)

    def restart(self):
        self.stop(remove=False)
        self.start()

    def connect(self, db=None, user="root", password=ROOT_PW):
        return pymysql.connect(host="127.0.0.1", port=self.port, user=user, password=password,
                               database=db, autocommit=True, charset="utf8mb4")

    def sql(self, sql, db=None, args=None, password=ROOT_PW):
        c = self.connect(db, password=password)
        try:
            with c.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall() if cur.description else None
        finally:
            c.close()
