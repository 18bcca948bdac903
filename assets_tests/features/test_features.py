from datetime import date, timedelta

import dagster as dg
import polars as pl
import pytest

from ai_platform import lake, landing
from ai_platform.features.assets import partition_window
from ai_platform.features.manifest import lake_exports, manifest
from ai_platform.ml.specs import specs
from ai_platform.tools.replay import replay
from runs import materialize_days, materialize_reference

OUTCOMES = ["dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"]
STATUS_LEAD_MINUTES = 60  # flight_features.sql's status_lead_minutes: the day so far, this long before departure


def test_the_partition_window_is_a_half_open_date_window():
    assert partition_window(date(2013, 1, 1), date(2013, 1, 2)) == {"min_date": "2013-01-01", "max_date": "2013-01-02"}
    with pytest.raises(ValueError):
        partition_window(date(2013, 1, 2), date(2013, 1, 2))
    with pytest.raises(ValueError):
        partition_window("2013-01-01'; drop table x; --", date(2013, 1, 2))


def test_a_range_of_days_is_featurized_exported_and_checked_by_dbt_tests(zone, data_dir, instance):
    replay(zone, date(2013, 1, 1), date(2013, 1, 5))
    materialize_reference(instance)

    result = materialize_days(instance, date(2013, 1, 1), date(2013, 1, 5))

    assert result.success
    assert instance.get_materialized_partitions(dg.AssetKey("flight_features")) == {
        f"2013-01-0{d}" for d in range(1, 6)
    }
    for day in (date(2013, 1, 1) + timedelta(days=i) for i in range(5)):
        features = pl.read_parquet(lake.features_day_path("flight_features", day))
        raw = pl.read_parquet(lake.raw_day_path("flights", day))
        assert features.height == raw.height > 0
        assert features["flight_date"].unique().to_list() == [day]
    # Model specs are checked against the columns declared in the dbt YAML: they are exactly the exported ones.
    declared = {n["name"]: list(n["columns"]) for n in manifest()["nodes"].values() if n["resource_type"] == "model"}
    exports = {e.model for e in lake_exports(manifest())}
    assert {s.features_model for s in specs()} <= exports  # what the model specs train on
    for model in exports:
        assert pl.read_parquet(lake.features_day_path(model, date(2013, 1, 3))).columns == declared[model], model
    late = pl.read_parquet(lake.features_day_path("late_departure_features", date(2013, 1, 3)))
    assert late.height == pl.read_parquet(lake.features_day_path("flight_features", date(2013, 1, 3))).height
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert "assert_history_strictly_before_flight_day" in checks
    assert "unique_flight_features_flight_id" in checks
    assert all(checks.values()), checks


def test_features_of_a_flight_do_not_change_with_outcomes_known_only_later(zone, data_dir, instance):
    """Leakage: tamper with the outcomes of day D's flights scheduled from noon on and of the days after D, and
    delete those days. The features of D's flights scheduled before 13:00 stay put: they see the day as it stood
    an hour before their departure (STATUS_LEAD_MINUTES), when no tampered flight was due yet. The later flights'
    day-so-far features do change: the tampering reached them."""
    d = date(2013, 1, 20)
    replay(zone, date(2013, 1, 1), d + timedelta(days=3))
    materialize_reference(instance)
    assert materialize_days(instance, date(2013, 1, 1), d + timedelta(days=3)).success
    before = pl.read_parquet(lake.features_day_path("flight_features", d))

    path = zone.path(landing.day_name("flights", d))
    flights = pl.read_csv(path, infer_schema=False)
    afternoon = pl.col("sched_dep_time").cast(pl.Int32) >= 1200  # hhmm
    flights = flights.with_columns(
        pl.when(afternoon & (pl.int_range(pl.len()) % 2 == 0))
        .then(pl.lit("NA"))
        .when(afternoon)
        .then(pl.lit("250"))
        .otherwise(pl.col(c))
        .alias(c)
        for c in OUTCOMES
    )
    path.write_text(flights.write_csv())
    for later in (d + timedelta(days=i) for i in range(1, 4)):
        for table in ("flights", "weather"):
            zone.path(landing.day_name(table, later)).unlink()
            lake.raw_day_path(table, later).unlink()
    assert materialize_days(instance, d, d).success
    after = pl.read_parquet(lake.features_day_path("flight_features", d))

    labels = [c for c in before.columns if c.startswith("label_")]
    morning = pl.col("sched_dep_minute_of_day") < 12 * 60 + STATUS_LEAD_MINUTES
    assert after.filter(morning).drop(labels).equals(before.filter(morning).drop(labels))
    assert not after.select(labels).equals(before.select(labels))  # the tampering reached the day
    status = ["origin_late_share_so_far", "origin_known_dep_delay_so_far", "tail_prev_leg_known_dep_delay"]
    assert not after.filter(~morning).select(status).equals(before.filter(~morning).select(status))
