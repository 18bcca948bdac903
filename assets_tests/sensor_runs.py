"""Evaluating the landing sensor and launching what it requests, as the daemon would, in-process."""

import os
from unittest import mock

import dagster as dg

from ai_platform import settings
from ai_platform.definitions import defs
from ai_platform.landing import LandingResource


def tick(instance: dg.DagsterInstance, cursor: str | None = None) -> tuple[list[dg.RunRequest], str]:
    """One evaluation of the landing sensor, one look at the zone: its run requests and the cursor it leaves.

    With the daemon's 5-s loop as interval a tick looks once instead of watching the zone for files that, in a
    test, will not come (assets_tests/automation/test_landing_sensor.py watches)."""
    sensor = defs.get_sensor_def("landing_zone")
    with (
        mock.patch.dict(os.environ, {settings.SENSOR_INTERVAL_ENV: "5"}),
        dg.build_sensor_context(
            instance=instance, cursor=cursor, definitions=defs, resources={"landing": LandingResource()}
        ) as context,
    ):
        result = sensor(context)
    return list(result.run_requests or []), result.cursor


def execute(instance: dg.DagsterInstance, request: dg.RunRequest, raw_only: bool = False) -> dg.ExecuteInProcessResult:
    """Launch what `request` asks for; `raw_only`: only its raw assets, for a test that asserts nothing downstream
    of them (the features are a dbt build, ~10 s of CPU a run)."""
    selection = [k for k in request.asset_selection if not raw_only or k.path[0] == "raw"]
    return defs.resolve_job_def("landing_refresh").execute_in_process(
        instance=instance,
        asset_selection=selection,
        partition_key=request.partition_key,
        tags=request.tags,
        raise_on_error=False,
    )
