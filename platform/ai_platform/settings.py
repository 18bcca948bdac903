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


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or REPO_ROOT / "data").resolve()


def landing_dir() -> Path:
    uri = os.environ.get(LANDING_URI_ENV)
    if not uri:
        return data_dir() / "landing"
    if "://" in uri:
        raise ValueError(f"{LANDING_URI_ENV}={uri!r}: only local folders are supported as landing zone so far")
    return Path(uri).resolve()


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
