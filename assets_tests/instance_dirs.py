"""Where tests keep their Dagster instances: in memory (/dev/shm) when the machine has room there, else on disk.

An instance's SQLite storage commits (and fsyncs) every event: ~8 ms a commit on this machine's disk when idle, far
more when it is busy, microseconds on tmpfs; a run of weeks of partitions writes thousands of events. Only the
instance goes there (a few MB); data directories stay under the test's tmp_path.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SHM = Path("/dev/shm")
MIN_FREE_BYTES = 1 << 30  # a small /dev/shm (Docker's default is 64 MB) is left alone


def _root(fallback: Path) -> Path:
    if os.access(SHM, os.W_OK) and shutil.disk_usage(SHM).free >= MIN_FREE_BYTES:
        return SHM
    return fallback


@contextmanager
def instance_dir(fallback: Path, prefix: str = "dagster_home_") -> Iterator[Path]:
    """A new empty folder for a DAGSTER_HOME (on tmpfs if it can, else under `fallback`), removed afterwards."""
    fallback.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"ai_platform_test_{prefix}", dir=_root(fallback)))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
