"""Launching the platform's jobs from tests, the way `make run` and single-run backfills do."""

from datetime import date

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG


def materialize_days(instance: dg.DagsterInstance, first: date, last: date) -> dg.ExecuteInProcessResult:
    """Ingest and featurize the days [first, last] as one run, the way a single-run backfill does."""
    from ai_platform.definitions import defs

    return defs.resolve_job_def("daily_ingest_and_features").execute_in_process(
        instance=instance,
        tags={ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat()},
        raise_on_error=False,
    )


def materialize_reference(instance: dg.DagsterInstance) -> None:
    from ai_platform.definitions import defs

    assert defs.resolve_job_def("reference_tables").execute_in_process(instance=instance).success
