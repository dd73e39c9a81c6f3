"""A real PostgreSQL 15 server for the source tests: initdb into a temporary folder (as the
postgres user when the tests run as root, in a folder of its own that it can reach),
wal_level = logical, SCRAM passwords, a free loopback port; stopped and removed
afterwards."""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

import psycopg2

BINDIR = os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin")
SUPERPASS = "super-secret-pw"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, folder, wal_level="logical"):
        self.folder = str(folder)
        self.own = None
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            # pytest's folders are the root's alone: the postgres user gets one of its own.
            self.own = self.folder = tempfile.mkdtemp(prefix="tarn-pg-")
            pw = pwd.getpwnam("postgres")
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
            self.user = "postgres"
        self.data = os.path.join(self.folder, "data")
        pwfile = os.path.join(self.folder, "pw")
        with open(pwfile, "w") as f:
            f.write(SUPERPASS + "\n")
        if self.user:
            pw = pwd.getpwnam("postgres")
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", self.data, "-A", "scram-sha-256", "-U", "postgres",
                  f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C", "--no-sync")
        os.unlink(pwfile)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"\nwal_level = {wal_level}\nmax_replication_slots = 10\n"
                    "max_wal_senders = 10\nfsync = off\nlisten_addresses = '127.0.0.1'\n"
                    f"port = {self.port}\nunix_socket_directories = '{self.folder}'\n")
        self.start()

    def _run(self, tool, *args, check=True):
        cmd = [os.path.join(BINDIR, tool), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and p.returncode:
            raise RuntimeError(f"{tool}: {(p.stderr or p.stdout)[-800:]}")
        return p

    def start(self):
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.folder, "log"), "-w",
                  "-t", "60", "start")

    def stop(self, remove=True):
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", check=False)
        if remove and self.own:
            shutil.rmtree(self.own, ignore_errors=True)

    def connect(self, dbname="postgres", user="postgres", password=SUPERPASS):
        c = psycopg2.connect(host="127.0.0.1", port=self.port, dbname=dbname, user=user,
                             password=password)
        c.autocommit = True
        return c

    def sql(self, sql, dbname="postgres", args=None):
        c = self.connect(dbname)
        try:
            cur = c.cursor()
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None
        finally:
            c.close()
