"""Starting `ai-platform serve` for real, as a subprocess on a free loopback port (tests and bench/serving.py)."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from processes import terminate

CLI = Path(sys.executable).with_name("ai-platform")


@contextmanager
def serving(data_dir: Path, port: int, log: Path, poll_seconds: float = 0.2) -> Iterator[httpx.Client]:
    """The service over `data_dir`, up and answering /health; a client bound to it. Stopped on exit."""
    env = {**os.environ, "AI_PLATFORM_DATA_DIR": str(data_dir)}
    args = [str(CLI), "serve", "--port", str(port), "--poll-seconds", str(poll_seconds)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"ai-platform serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"ai-platform serve did not answer in 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield client
    finally:
        client.close()
        terminate(proc)
