"""Launching the platform's jobs from tests, the way `make run` and single-run backfills do."""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from ai_platform import lake
from ai_platform.partitions import days, range_tags
from instance_dirs import instance_dir


def materialize_days(instance: dg.DagsterInstance, first: date, last: date) -> dg.ExecuteInProcessResult:
    """Ingest and featurize the days [first, last] as one run, the way a single-run backfill does."""
    from ai_platform.definitions import defs

    return defs.resolve_job_def("daily_ingest_and_features").execute_in_process(
        instance=instance,
        tags=range_tags(first, last),
        raise_on_error=False,
    )


def materialize_reference(instance: dg.DagsterInstance) -> None:
    from ai_platform.definitions import defs

    assert defs.resolve_job_def("reference_tables").execute_in_process(instance=instance).success


def assert_features_of_every_flight(first: date, last: date) -> None:
    """The lake holds flight_features for the days [first, last], a row for each ingested flight."""
    for day in days(first, last + timedelta(days=1)):
        features = pl.read_parquet(lake.features_day_path("flight_features", day))
        assert features.height == pl.read_parquet(lake.raw_day_path("flights", day)).height > 0


@contextmanager
def _platform_env(root: Path, home: Path) -> Iterator[dg.DagsterInstance]:
    """The instance at `home` (the repository's dagster.yaml) and the data directory root/data; alerts go to
    root/alerts.jsonl."""
    from ai_platform import settings
    from ai_platform.alerts import ALERTS_FILE_ENV
    from conftest import LGBM_THREADS, instance_overrides

    with (
        pytest.MonkeyPatch.context() as mp,
        dg.instance_for_test(temp_dir=str(home), overrides=instance_overrides()) as instance,
    ):
        mp.setenv(settings.DATA_DIR_ENV, str(root / "data"))
        mp.setenv(settings.LGBM_THREADS_ENV, LGBM_THREADS)
        mp.setenv(ALERTS_FILE_ENV, str(root / "alerts.jsonl"))
        yield instance


@contextmanager
def make_run_until(
    root: Path, until: date, models: list[str] | None = None
) -> Iterator[tuple[dict, dg.DagsterInstance]]:
    """`make run` up to day `until` in its own data directory and instance under `root` (kept while in use),
    for the named model specs (default: all of them, as `make run`); alerts go to root/alerts.jsonl."""
    from ai_platform.definitions import defs
    from ai_platform.ml.specs import spec, specs
    from ai_platform.tools.pipeline import run
    from ai_platform.tools.progress import Reporter

    with instance_dir(root) as home, _platform_env(root, home) as instance:
        chosen = [spec(m) for m in models] if models else specs()
        yield run(defs, chosen, until=until, instance=instance, out=Reporter.quiet()), instance


LAKE_UNTIL = date(2013, 3, 18)  # eleven weeks: three weekly models of each spec, decided, and their days served


def build_lake(base: Path) -> None:
    """`ai-platform run` (what `make run` runs, in a process of its own) up to LAKE_UNTIL with every model spec:
    its data directory in base/data, its DAGSTER_HOME copied to base/home, what it printed in base/run.out."""
    from ai_platform import settings
    from ai_platform.alerts import ALERTS_FILE_ENV
    from conftest import LGBM_THREADS
    from dev_server import BIN, REPO, instance_home

    base.mkdir(parents=True)
    with instance_dir(base) as home:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(instance_home(home)),
            settings.DATA_DIR_ENV: str(base / "data"),
            settings.END_DATE_ENV: (LAKE_UNTIL + timedelta(days=1)).isoformat(),  # the CLI runs to the partitions' end
            settings.LGBM_THREADS_ENV: LGBM_THREADS,
            ALERTS_FILE_ENV: str(base / "alerts.jsonl"),
        }
        env.pop(settings.LANDING_URI_ENV, None)
        made = subprocess.run(
            [str(BIN / "ai-platform"), "run"], cwd=REPO, env=env, capture_output=True, text=True, timeout=1100
        )
        assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
        shutil.copytree(home, base / "home")  # once its process has ended: the SQLite files are whole
    (base / "run.out").write_text(made.stdout)


def copy_lake(base: Path, data: Path, home: Path) -> None:
    """The data directory of the lake at `base` (build_lake) copied to `data`, its instance into the folder `home`."""
    shutil.copytree(base / "data", data)
    shutil.copytree(base / "home", home, dirs_exist_ok=True)


@contextmanager
def copy_of_lake(base: Path, root: Path) -> Iterator[tuple[dict, dg.DagsterInstance]]:
    """A copy of the lake at `base` in root/data with its instance (kept while in use), and its run summary, as
    `make_run_until` gives them; alerts go to root/alerts.jsonl."""
    with instance_dir(root) as home:
        copy_lake(base, root / "data", home)
        with _platform_env(root, home) as instance:
            yield json.loads((root / "data" / "run_summary.json").read_text()), instance
