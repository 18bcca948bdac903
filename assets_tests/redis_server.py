"""A real Redis server (Debian's `redis-server`, which `make test` installs) on loopback, for the Celery broker."""

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from processes import die_with_parent, free_port, log_tail, terminate


@contextlib.contextmanager
def redis_server(root: Path, timeout_s: float = 60.0) -> Iterator[str]:
    """Start `redis-server` in `root` (no persistence); yields its URL, redis://127.0.0.1:<port>."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server not found: install Debian's redis-server (`make test` does)")
    port, log = free_port(), root / "redis.log"
    args = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, cwd=root, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent())
    url = f"redis://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                redis.Redis.from_url(url, socket_connect_timeout=1).ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer on {url}:\n{log_tail(log)}") from None
                time.sleep(0.2)
        yield url
    finally:
        terminate(proc, 10)
