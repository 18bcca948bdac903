"""A file that cannot be ingested is quarantined byte for byte; the days around it keep running; a corrected
file brings the day back. The landing zone is never touched."""

import json
from datetime import date

import polars as pl

from ai_platform import lake, quarantine
from ai_platform.files import sha256
from ai_platform.landing import day_name
from ai_platform.tools.replay import replay
from sensor_runs import execute, tick

D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)


def _edit(zone, day: date, **values) -> bytes:
    path = zone.path(day_name("flights", day))
    data = pl.read_csv(path, infer_schema=False).with_columns(**{k: pl.lit(v) for k, v in values.items()})
    path.write_text(data.write_csv())
    return path.read_bytes()


def test_a_bad_file_is_quarantined_other_days_run_and_a_corrected_file_recovers_the_day(zone, data_dir, instance):
    replay(zone, D1, D3)
    requests, cursor = tick(instance)
    assert execute(instance, requests[0]).success
    good = zone.read(day_name("flights", D2))

    bad = _edit(zone, D2, arr_time="25:99")
    (run,), cursor = tick(instance, cursor)
    failed = execute(instance, run)

    assert not failed.success
    kept = quarantine.quarantine_dir() / "flights" / "2013-01-02" / f"{sha256(bad)}.csv"
    assert kept.read_bytes() == bad == zone.read(day_name("flights", D2))  # kept whole; landing untouched
    reason = json.loads(kept.with_suffix(".json").read_text())
    assert "column 'arr_time' expects" in reason["reason"] and reason["landing_name"] == "flights/2013-01-02.csv"
    message = str(failed.get_step_failure_events()[0].step_failure_data.error)
    assert "land a corrected file to recover the day" in message

    _edit(zone, D1, dep_delay="100")  # a correction whose history range spans the quarantined day
    requests, cursor = tick(instance, cursor)
    ranges = sorted((r.partition_key or r.tags["dagster/asset_partition_range_start"]) for r in requests)
    assert ranges == ["2013-01-01", "2013-01-03"]  # day 2 left out, the days around it still run
    assert all(execute(instance, r).success for r in requests)

    zone.path(day_name("flights", D2)).write_bytes(good)  # the fixed file lands
    (fixed,), _ = tick(instance, cursor)
    assert execute(instance, fixed).success
    assert lake.source_of(lake.raw_day_path("flights", D2))["sha256"] == sha256(good)
