"""latest_day_arrived and its alerts: a missing day is named, alerted once, and cleared when it arrives."""

import json
import logging
import uuid
from datetime import date, timedelta

import dagster as dg
import polars as pl

from ai_platform.automation import freshness
from ai_platform.automation.alert_sensors import send_failed_check_alerts
from ai_platform.definitions import defs
from ai_platform.landing import day_name
from ai_platform.partitions import range_tags
from ai_platform.tools.replay import replay
from runs import materialize_reference

D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)
CHECK = dg.AssetCheckKey(dg.AssetKey("flight_features"), "latest_day_arrived")


def materialize(instance, first: date, last: date) -> dg.DagsterRun:
    result = defs.resolve_job_def("landing_refresh").execute_in_process(instance=instance, tags=range_tags(first, last))
    return instance.get_run_by_id(result.run_id)


def evaluation(instance, run) -> dg.AssetCheckEvaluation:
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    return next(
        e
        for e in (r.event_log_entry.dagster_event.event_specific_data for r in records)
        if dg.AssetCheckKey(e.asset_key, e.check_name) == CHECK
    )


def test_a_missing_day_is_named_alerted_once_and_cleared_when_it_lands(zone, data_dir, instance, tmp_path, monkeypatch):
    monkeypatch.setattr(freshness, "landing_grace", lambda: timedelta(0))  # the files were just written
    alerts_file = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("AI_PLATFORM_ALERTS_FILE", str(alerts_file))

    def feature_alerts():
        lines = alerts_file.read_text().splitlines() if alerts_file.exists() else []
        return [a for a in map(json.loads, lines) if a["asset"] == "flight_features" and CHECK.name in a["summary"]]

    replay(zone, D1, D3)
    first = materialize(instance, D1, D1)
    assert evaluation(instance, first).description == "2 expected day(s) not materialized: 2013-01-02, 2013-01-03"
    send_failed_check_alerts(instance, first, logging.getLogger("test"))
    assert len(feature_alerts()) == 1 and "2013-01-02, 2013-01-03" in feature_alerts()[0]["reason"]

    again = materialize(instance, D1, D1)  # the same days still missing: no second alert
    send_failed_check_alerts(instance, again, logging.getLogger("test"))
    assert len(feature_alerts()) == 1

    third = materialize(instance, D3, D3)  # a different set missing: alerted
    send_failed_check_alerts(instance, third, logging.getLogger("test"))
    assert [a["reason"] for a in feature_alerts()][1:] == ["1 expected day(s) not materialized: 2013-01-02"]

    done = materialize(instance, D2, D2)
    assert evaluation(instance, done).passed
    send_failed_check_alerts(instance, done, logging.getLogger("test"))
    assert len(feature_alerts()) == 2


def test_a_check_failing_on_a_new_day_alerts_again_whatever_its_description(
    zone, data_dir, instance, tmp_path, monkeypatch
):
    """Raw checks carry no description: alerts are told apart by the partitions a check failed on."""
    alerts_file = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("AI_PLATFORM_ALERTS_FILE", str(alerts_file))
    replay(zone, D1, D3)
    materialize_reference(instance)

    def break_day(day: date) -> None:
        path = zone.path(day_name("flights", day))
        df = pl.read_csv(path, infer_schema=False)
        path.write_text(df.with_columns(distance=pl.lit("-1")).write_csv())

    def raw_run(day: date) -> list[dict]:
        result = defs.resolve_job_def("daily_ingest_and_features").execute_in_process(
            instance=instance,
            tags=range_tags(day, day),
            asset_selection=[dg.AssetKey(["raw", "flights"])],
            raise_on_error=False,
        )
        send_failed_check_alerts(instance, instance.get_run_by_id(result.run_id), logging.getLogger("test"))
        lines = alerts_file.read_text().splitlines() if alerts_file.exists() else []
        return [a for a in map(json.loads, lines) if "values_in_range" in a["summary"]]

    break_day(D1)
    assert [a["partition"] for a in raw_run(D1)] == [D1.isoformat()]
    assert len(raw_run(D1)) == 1  # the same day failing again: no repeat
    break_day(D2)
    assert [a["partition"] for a in raw_run(D2)] == [D1.isoformat(), D2.isoformat()]  # a new bad day: alerted


def test_days_in_flight_are_the_days_of_active_runs_and_no_offcycle_partition(instance):
    """An off-cycle model run in flight (partition `offcycle-<day>`, launched by a drift or quality breach) beside a
    run of days: the latest_day_arrived checks of that run count only the days, and do not fail on the other key."""
    for tags in (range_tags(D1, D2), {"dagster/partition": "offcycle-2013-01-03"}):
        instance.add_run(
            dg.DagsterRun(job_name="a_job", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED, tags=tags)
        )
    assert freshness.days_in_flight(instance) == {D1, D2}
