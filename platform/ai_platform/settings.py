"""Where the platform keeps its files, resolved from environment variables at call time.

Every path the platform uses is derived here, so a setting is changed in one place. Reading the
environment when a path is asked for (not at import) lets tests and the CLI point one process at
another data directory.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

DATA_DIR_ENV = "AI_PLATFORM_DATA_DIR"
LANDING_URI_ENV = "AI_PLATFORM_LANDING_URI"
LGBM_THREADS_ENV = "AI_PLATFORM_LGBM_THREADS"
EXECUTOR_ENV = "AI_PLATFORM_EXECUTOR"
EXECUTORS = ("in_process", "multiprocess")
SENSOR_INTERVAL_ENV = "AI_PLATFORM_SENSOR_INTERVAL_SECONDS"
DAY_SECONDS_ENV = "AI_PLATFORM_DAY_SECONDS"
RETRAIN_CRON_ENV = "AI_PLATFORM_RETRAIN_CRON"


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or REPO_ROOT / "data").resolve()


def landing_uri() -> str:
    """A local folder or s3://bucket/prefix (endpoint and credentials: the standard AWS_* variables)."""
    return os.environ.get(LANDING_URI_ENV) or str(data_dir() / "landing")


def lake_dir() -> Path:
    return data_dir() / "lake"


def warehouse_path() -> Path:
    """The DuckDB file dbt builds into; dbt's profiles.yml derives the same path from DATA_DIR_ENV."""
    return data_dir() / "warehouse" / "flights.duckdb"


def models_dir() -> Path:
    return data_dir() / "models"


def reports_dir() -> Path:
    return data_dir() / "reports"


def lgbm_threads() -> int:
    """Threads for LightGBM: explicit, because its OpenMP default oversubscribes shared cores."""
    return int(os.environ.get(LGBM_THREADS_ENV) or os.cpu_count() or 1)


def export_for_dbt() -> None:
    """Make the dbt subprocess (which only sees os.environ) resolve the same data directory."""
    os.environ[DATA_DIR_ENV] = str(data_dir())


def executor() -> str:
    """How a run executes its steps: `in_process` (default, one machine) or `multiprocess`.

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
    """How often the landing sensor lists the landing zone (read when the code location loads)."""
    return _positive_int(SENSOR_INTERVAL_ENV, 5)


def day_seconds() -> int:
    """Wall-clock seconds of one day of data: 86400 for live data; the replay's `--every` in a simulation.

    Freshness windows are counted in days of data, so the same policies fit both.
    """
    return _positive_int(DAY_SECONDS_ENV, 86400)


def retrain_cron() -> str | None:
    """A cron schedule (e.g. `0 6 * * 1`) to retrain only on its ticks; unset: retrain as soon as a week is complete."""
    return os.environ.get(RETRAIN_CRON_ENV) or None
