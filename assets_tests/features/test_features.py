from datetime import date, timedelta

import dagster as dg
import polars as pl
import pytest

from ai_platform import lake, landing
from ai_platform.features.assets import lake_exports, manifest, partition_window
from ai_platform.ml.specs import specs
from ai_platform.replay import replay
from runs import materialize_days, materialize_reference

OUTCOMES = ["dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"]


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


def test_features_of_a_day_do_not_change_with_its_own_or_later_outcomes(zone, data_dir, instance):
    """Leakage: tamper with the outcomes of days >= D and delete days > D; D's features stay put."""
    d = date(2013, 1, 20)
    replay(zone, date(2013, 1, 1), d + timedelta(days=3))
    materialize_reference(instance)
    assert materialize_days(instance, date(2013, 1, 1), d + timedelta(days=3)).success
    before = pl.read_parquet(lake.features_day_path("flight_features", d))

    path = zone.path(landing.day_name("flights", d))
    flights = pl.read_csv(path, infer_schema=False)
    flights = flights.with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.lit("NA")).otherwise(pl.lit("250")).alias(c) for c in OUTCOMES
    )
    path.write_text(flights.write_csv())
    for later in (d + timedelta(days=i) for i in range(1, 4)):
        for table in ("flights", "weather"):
            zone.path(landing.day_name(table, later)).unlink()
            lake.raw_day_path(table, later).unlink()
    assert materialize_days(instance, d, d).success
    after = pl.read_parquet(lake.features_day_path("flight_features", d))

    labels = [c for c in before.columns if c.startswith("label_")]
    assert after.drop(labels).equals(before.drop(labels))
    assert not after.select(labels).equals(before.select(labels))  # the tampering reached the day
