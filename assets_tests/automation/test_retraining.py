"""Retraining by declarative automation: a week's model and report are requested once their days are there."""

from datetime import date, datetime, timedelta

import dagster as dg

from ai_platform.definitions import defs
from ai_platform.features import assets as features
from ai_platform.ml.component import model_assets
from ai_platform.ml.specs import spec
from ai_platform.partitions import START_DATE, days
from ai_platform.raw import assets as raw

FEATURES = dg.AssetKey("flight_features")
MODEL = dg.AssetKey(["ml", "flight_delay", "model"])
EVALUATION = dg.AssetKey(["ml", "flight_delay", "evaluation"])
WEEK1 = date(2013, 2, 26)  # the first weekly partition: 8 weeks of data before it
WEEK2 = WEEK1 + timedelta(days=7)


def land_features(instance: dg.DagsterInstance, start: date, end: date) -> None:
    for d in days(start, end):
        instance.report_runless_asset_event(dg.AssetMaterialization(FEATURES, partition=d.isoformat()))


def evaluate(instance, cursor=None, assets=defs, **kwargs):
    return dg.evaluate_automation_conditions(
        defs=assets,
        instance=instance,
        asset_selection=dg.AssetSelection.assets(MODEL, EVALUATION),
        cursor=cursor,
        **kwargs,
    )


def test_a_weeks_model_and_report_are_requested_once_their_feature_days_are_all_materialized(instance):
    first = evaluate(instance)
    assert first.total_requested == 0  # nothing there yet

    land_features(instance, START_DATE, WEEK1 - timedelta(days=1))  # one day short of the first window
    result = evaluate(instance, first.cursor)
    assert result.total_requested == 0

    land_features(instance, WEEK1 - timedelta(days=1), WEEK1)
    result = evaluate(instance, result.cursor)
    assert result.get_requested_partitions(MODEL) == {WEEK1.isoformat()}
    assert result.get_requested_partitions(EVALUATION) == set()  # its week's days have not landed

    instance.report_runless_asset_event(dg.AssetMaterialization(MODEL, partition=WEEK1.isoformat()))
    land_features(instance, WEEK1, WEEK2)
    result = evaluate(instance, result.cursor)
    assert result.get_requested_partitions(EVALUATION) == {WEEK1.isoformat()}
    assert result.get_requested_partitions(MODEL) == {WEEK2.isoformat()}

    result = evaluate(instance, result.cursor)
    assert result.total_requested == 0  # handled: not requested again

    land_features(instance, date(2013, 1, 15), date(2013, 1, 16))  # a corrected day in both training windows
    result = evaluate(instance, result.cursor)
    assert result.get_requested_partitions(MODEL) == {WEEK1.isoformat(), WEEK2.isoformat()}


def test_with_a_retrain_cron_weeks_are_retrained_on_its_ticks_only(instance, monkeypatch):
    monkeypatch.setenv("AI_PLATFORM_RETRAIN_CRON", "0 6 * * 1")  # Mondays, 06:00 UTC
    assets = dg.Definitions(
        assets=[*raw.assets, *features.assets, *model_assets(spec("flight_delay"))],
        resources={**raw.resources, **features.resources},
    )
    sunday = datetime(2026, 11, 22, 12, 0)
    first = evaluate(instance, assets=assets, evaluation_time=sunday)

    land_features(instance, START_DATE, WEEK1)
    result = evaluate(instance, first.cursor, assets=assets, evaluation_time=sunday + timedelta(hours=1))
    assert result.total_requested == 0  # before the tick

    result = evaluate(instance, result.cursor, assets=assets, evaluation_time=sunday + timedelta(hours=19))
    assert result.get_requested_partitions(MODEL) == {WEEK1.isoformat()}


def test_the_history_report_follows_each_new_day_without_waiting_for_the_whole_year(instance):
    report = dg.AssetSelection.assets(dg.AssetKey(["ml", "flight_delay", "history_report"]))
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=report)
    drift = dg.AssetKey(["monitoring", "flight_delay", "feature_drift"])
    instance.report_runless_asset_event(dg.AssetMaterialization(drift, partition="2013-03-05"))

    result = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=report, cursor=first.cursor
    )

    assert first.total_requested == 0 and result.total_requested == 1
