"""Real database servers for the tests: PostgreSQL and Redis on 127.0.0.1.

Each starts on a free port with a throwaway data directory, once per test session
(the fixtures in ``tests/conftest.py``), and is stopped by its PID. Where a binary is
absent the fixture skips with the reason (``.ci/run`` installs both packages).

initdb and postgres refuse to run as root, and the tests run as root in CI: there
they run as the ``postgres`` user (or ``nobody``) through ``setpriv``, which execs the
server itself, so the PID we hold is the server's.
"""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from .processes import free_port, wait_for_port

PG_USER = "app"
PG_PASSWORD = "pg-s3cret-9f2c"  # tests assert this never reaches the receiver or a log
PG_DATABASE = "appdb"


def _postgres_bin():
    """The directory of initdb/pg_ctl/postgres, newest version first, or None."""
    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return os.path.dirname(found)
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _unprivileged():
    """(uid, gid) to run PostgreSQL as when we are root, else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and no postgres or nobody user to run PostgreSQL as")


def _as_user(ids, cmd):
    if ids is None:
        return cmd
    uid, gid = ids
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups", "--"] + cmd


def _stop(proc, sig, timeout):
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


class Postgres:
    """A PostgreSQL server with a database ``appdb`` owned by ``app`` (password auth)."""

    def __init__(self):
        self.bin = _postgres_bin()
        self.port = None
        self.proc = None
        self.dir = None

    @property
    def available(self):
        return self.bin is not None and os.path.exists(os.path.join(self.bin, "postgres"))

    def dsn(self, password=PG_PASSWORD, **params):
        parts = {"host": "127.0.0.1", "port": self.port, "dbname": PG_DATABASE, "user": PG_USER,
                 "password": password}
        parts.update(params)
        return " ".join("%s=%s" % (k, v) for k, v in parts.items())

    def url(self, driver="psycopg"):
        return "postgresql+%s://%s:%s@127.0.0.1:%d/%s" % (driver, PG_USER, PG_PASSWORD, self.port, PG_DATABASE)

    def start(self):
        ids = _unprivileged()
        self.dir = tempfile.mkdtemp(prefix="test-postgres-")
        data = os.path.join(self.dir, "data")
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write("superpw\n")
        if ids is not None:
            for path in (self.dir, pwfile):
                os.chown(path, *ids)
        log = os.path.join(self.dir, "initdb.log")
        with open(log, "wb") as out:
            done = subprocess.run(
                _as_user(ids, [os.path.join(self.bin, "initdb"), "-D", data, "-U", "postgres",
                               "--pwfile", pwfile, "--auth-host=scram-sha-256", "--auth-local=trust",
                               "-E", "UTF8", "--no-sync"]),
                stdout=out, stderr=subprocess.STDOUT, timeout=120)
        if done.returncode != 0:
            with open(log) as f:
                raise RuntimeError("initdb failed:\n" + f.read())
        self.port = free_port()
        with open(os.path.join(self.dir, "server.log"), "wb") as server_log:
            self.proc = self._spawn(ids, data, server_log)
        wait_for_port(self.port, timeout=30, proc=self.proc)
        self._create_database()
        return self

    def _spawn(self, ids, data, server_log):
        return subprocess.Popen(
            _as_user(ids, [os.path.join(self.bin, "postgres"), "-D", data, "-p", str(self.port),
                           "-h", "127.0.0.1", "-k", self.dir, "-c", "fsync=off",
                           "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                           "-c", "max_connections=60", "-c", "shared_buffers=16MB"]),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=server_log)

    def _create_database(self):
        import psycopg

        deadline = time.monotonic() + 20
        while True:
            try:
                admin = psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", password="superpw",
                                        dbname="postgres", autocommit=True)
                break
            except psycopg.OperationalError:  # accepting TCP, still starting up
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with admin:
            admin.execute("CREATE ROLE %s LOGIN PASSWORD '%s'" % (PG_USER, PG_PASSWORD))
            admin.execute("CREATE DATABASE %s OWNER %s" % (PG_DATABASE, PG_USER))

    def stop(self):
        if self.proc is not None:
            _stop(self.proc, signal.SIGINT, 20)  # SIGINT: PostgreSQL's fast shutdown
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self):
        self.binary = shutil.which("redis-server")
        self.port = None
        self.proc = None
        self.dir = None

    @property
    def available(self):
        return self.binary is not None

    def url(self, db=0):
        return "redis://127.0.0.1:%d/%d" % (self.port, db)

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="test-redis-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
             "--enable-debug-command", "local"],  # redis-py's own suite (compat/) uses DEBUG
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, timeout=20, proc=self.proc)
        return self

    def stop(self):
        if self.proc is not None:
            _stop(self.proc, signal.SIGTERM, 10)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
