from datetime import date

import dagster as dg
import polars as pl

from ai_platform import lake, landing
from ai_platform.files import sha256
from ai_platform.raw import assets as raw
from ai_platform.tools.replay import replay

FLIGHTS = dg.AssetKey(["raw", "flights"])


def test_a_day_lands_in_the_lake_with_its_checksum_as_data_version(zone, data_dir, instance):
    replay(zone, date(2013, 1, 7), date(2013, 1, 7))

    assert dg.materialize(
        raw.daily_assets, resources=raw.resources, instance=instance, partition_key="2013-01-07"
    ).success

    event = instance.get_latest_materialization_event(FLIGHTS).asset_materialization
    source = zone.path(landing.day_name("flights", date(2013, 1, 7)))
    assert event.partition == "2013-01-07"
    assert event.metadata["dagster/row_count"].value == 933
    assert event.metadata["sha256"].value == sha256(source.read_bytes())
    assert event.tags["dagster/data_version"] == sha256(source.read_bytes())
    written = pl.read_parquet(lake.raw_day_path("flights", date(2013, 1, 7)))
    assert written.height == 933 and written.schema["time_hour"] == pl.Datetime("us", "UTC")


def test_a_missing_day_fails_with_a_clear_message_and_other_days_still_work(zone, data_dir, instance):
    replay(zone, date(2013, 1, 7), date(2013, 1, 7))

    failed = dg.materialize(
        raw.daily_assets, resources=raw.resources, instance=instance, partition_key="2013-01-08", raise_on_error=False
    )

    assert not failed.success
    failure = next(e for e in failed.all_events if e.is_step_failure).step_failure_data.error
    assert "flights/2013-01-08.csv: the landing file is missing" in failure.message
    assert dg.materialize(
        raw.daily_assets, resources=raw.resources, instance=instance, partition_key="2013-01-07"
    ).success
    assert instance.get_materialized_partitions(FLIGHTS) == {"2013-01-07"}


def test_reference_tables_land_whole(zone, data_dir, instance):
    replay(zone, date(2013, 1, 7), date(2013, 1, 7))
    assert dg.materialize(raw.reference_assets, resources=raw.resources, instance=instance).success
    assert pl.read_parquet(lake.raw_reference_path("planes")).height == 3322
    assert pl.read_parquet(lake.raw_reference_path("airlines")).height == 16
