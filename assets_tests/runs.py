"""Launching the platform's jobs from tests, the way `make run` and single-run backfills do."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from ai_platform.partitions import range_tags
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


@contextmanager
def make_run_until(
    root: Path, until: date, models: list[str] | None = None
) -> Iterator[tuple[dict, dg.DagsterInstance]]:
    """`make run` up to day `until` in its own data directory and instance under `root` (kept while in use),
    for the named model specs (default: all of them, as `make run`); alerts go to root/alerts.jsonl."""
    from ai_platform import settings
    from ai_platform.definitions import defs
    from ai_platform.ml.specs import spec, specs
    from ai_platform.pipeline import run
    from ai_platform.progress import Reporter
    from conftest import LGBM_THREADS, instance_overrides

    with (
        pytest.MonkeyPatch.context() as mp,
        instance_dir(root) as home,
        dg.instance_for_test(temp_dir=str(home), overrides=instance_overrides()) as instance,
    ):
        mp.setenv(settings.DATA_DIR_ENV, str(root / "data"))
        mp.setenv(settings.LGBM_THREADS_ENV, LGBM_THREADS)
        mp.setenv("AI_PLATFORM_ALERTS_FILE", str(root / "alerts.jsonl"))
        chosen = [spec(m) for m in models] if models else specs()
        yield run(defs, chosen, until=until, instance=instance, out=Reporter.quiet()), instance
