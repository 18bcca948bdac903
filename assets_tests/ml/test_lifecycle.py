"""Model lifecycle on real data: champion decisions, rollback, predictions by the champion of each day,
drift monitoring that alerts and requests a retrain."""

import json
from datetime import date, timedelta

import dagster as dg
import duckdb
import polars as pl
import pytest

from ai_platform import settings
from ai_platform.definitions import defs
from ai_platform.landing import LocalZone, day_name
from ai_platform.ml import keys, registry, training
from ai_platform.ml.champion import scored_on_week
from ai_platform.ml.evaluation import load_metrics
from ai_platform.ml.predictions import predictions_path, serving_version
from ai_platform.ml.specs import spec
from ai_platform.partitions import days, weekly
from runs import LAKE_UNTIL, copy_of_lake
from sensor_runs import execute, tick

pytestmark = pytest.mark.heavy

SPEC = spec("flight_delay")


def serving_version_of(day: date) -> str | None:
    return serving_version(SPEC, weekly(SPEC.window_weeks), day)[1]


UNTIL = LAKE_UNTIL  # 11 weeks: three weekly models and their decisions
WEEKS = ["2013-02-26", "2013-03-05", "2013-03-12"]
CHAMPION = dg.AssetKey(["ml", "flight_delay", "champion"])
DRIFT = dg.AssetKey(["monitoring", "flight_delay", "feature_drift"])


@pytest.fixture(scope="module")
def eleven_weeks(session_lake, tmp_path_factory):
    root = tmp_path_factory.mktemp("lifecycle")
    with copy_of_lake(session_lake, root) as (_, instance):
        yield instance, root


def test_every_week_is_decided_with_its_numbers_and_audited(eleven_weeks):
    history = registry.history(SPEC)
    assert [d["week"] for d in history] == WEEKS
    assert history[0]["action"] == "bootstrap" and history[0]["champion"] == WEEKS[0]
    for d in history[1:]:
        assert d["action"] in ("promote", "keep")
        assert d["numbers"]["challenger"]["version"] == d["week"]
        assert d["numbers"]["champion"]["version"] == d["previous"]  # both scored on the challenger's week
        assert d["effective_from"] == (date.fromisoformat(d["week"]) + timedelta(days=7)).isoformat()
    audit = (registry.registry_dir(SPEC) / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["week"] for line in audit] == WEEKS


def test_a_range_run_records_each_week_as_one_run_per_week_would(eleven_weeks):
    """`make run` trains a stretch of weeks in one run: each week still has its own materialization and metadata,
    the checks one result over the range naming the weeks that failed, and the same models and decisions as runs
    of one week each."""
    instance, _ = eleven_weeks
    model, evaluation = keys.model(SPEC.name), keys.evaluation(SPEC.name)
    windows = {
        week: instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=model, asset_partitions=[week]), limit=1)
        .records[0]
        .asset_materialization.metadata["training_window"]
        .value
        for week in WEEKS
    }
    assert windows == {w: " .. ".join(training.load_card(SPEC, w)["training_window"]) for w in WEEKS}
    (floor_check,) = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(evaluation, "auc_above_floor"), limit=1
    )
    result = floor_check.event.dagster_event.event_specific_data
    below = [w for w in WEEKS if load_metrics(SPEC.name, w)["roc_auc"] < SPEC.auc_floor]
    assert result.metadata["partitions"].value == len(WEEKS) and result.metadata["failing"].value == below
    assert result.passed == (not below)

    ranged = {w: (training.load_card(SPEC, w)["model_file_sha256"], registry.load_decision(SPEC, w)) for w in WEEKS}
    job = defs.resolve_job_def("train_and_evaluate_flight_delay")
    for week in WEEKS:
        assert job.execute_in_process(instance=instance, partition_key=week).success
    for week in WEEKS:
        decision = registry.load_decision(SPEC, week)
        assert training.load_card(SPEC, week)["model_file_sha256"] == ranged[week][0]
        assert (decision["action"], decision["champion"]) == (ranged[week][1]["action"], ranged[week][1]["champion"])


def test_each_day_is_predicted_by_the_champion_in_effect_that_day_never_by_a_model_that_saw_it(eleven_weeks):
    instance, _ = eleven_weeks
    served = [d for d in days(date(2013, 1, 1), UNTIL + timedelta(days=1)) if predictions_path(SPEC, d).exists()]
    assert served == days(date(2013, 3, 5), UNTIL + timedelta(days=1))  # from the first decision in effect on
    for day in served:
        predictions = pl.read_parquet(predictions_path(SPEC, day))
        features = pl.read_parquet(
            settings.lake_dir() / "features" / "flight_features" / f"date={day}" / "data.parquet"
        )
        in_effect = registry.decision_week_for(day, WEEKS)
        assert predictions.height == features.height
        assert predictions["model_version"].unique().to_list() == [registry.load_decision(SPEC, in_effect)["champion"]]
        trained_until = training.load_card(SPEC, predictions["model_version"][0])["training_window"][1]
        assert date.fromisoformat(trained_until) < day
    assert instance.get_materialized_partitions(dg.AssetKey(["ml", "flight_delay", "predictions"])) == {
        d.isoformat() for d in days(date(2013, 1, 1), UNTIL + timedelta(days=1))
    }
    (rows,) = duckdb.sql(
        f"select count(*), min(score), max(score) from read_parquet("
        f"'{settings.lake_dir()}/predictions/flight_delay/*/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert rows[0] > 10000 and 0 < rows[1] < rows[2] < 1


def _poor_model(version: str) -> None:
    """A deliberately poor model of the same spec: one week of January, three boosting rounds."""
    few_rounds = {"max_rounds": 3, "early_stopping_rounds": 1, "params": {**SPEC.params, "num_leaves": 2}}
    poor = SPEC.model_copy(update=few_rounds)
    df, _ = training.load_days(SPEC, days(date(2013, 1, 1), date(2013, 1, 8)))
    train = training.labelled(SPEC, df)
    vocab = training.vocabulary(SPEC, train)
    trained = training.fit(poor, train, date(2013, 1, 6), vocab)
    card = {
        "features": list(SPEC.features),
        "categorical_vocabulary": vocab,
        "training_window": ["2013-01-01", "2013-01-07"],
    }
    training.save(SPEC, version, trained, card, profile={})


def test_the_gate_promotes_a_better_challenger_and_keeps_a_worse_one(eleven_weeks):
    _poor_model("poor")
    week = WEEKS[-1]
    good, poor = scored_on_week(SPEC, week, week), scored_on_week(SPEC, "poor", week)
    assert good.roc_auc > poor.roc_auc + 0.02

    better = registry.decide(SPEC, week, challenger=good, champion=poor)
    worse = registry.decide(SPEC, week, challenger=poor, champion=good)

    assert better["action"] == "promote" and better["champion"] == week
    assert worse["action"] == "keep" and worse["champion"] == week
    assert "below the floor" in worse["reason"] or "does not beat the margin" in worse["reason"]
    assert worse["numbers"]["challenger"]["roc_auc"] == poor.roc_auc


def test_rollback_is_one_materialization_with_config_audited_and_kept(eleven_weeks):
    instance, _ = eleven_weeks
    job = defs.resolve_job_def("train_and_evaluate_flight_delay")
    config = {"ops": {"ml__flight_delay__champion": {"config": {"rollback_to": WEEKS[0], "reason": "bad release"}}}}

    result = job.execute_in_process(
        instance=instance, partition_key=WEEKS[-1], asset_selection=[CHAMPION], run_config=config
    )

    assert result.success
    decision = registry.load_decision(SPEC, WEEKS[-1])
    assert (decision["action"], decision["champion"], decision["reason"]) == ("rollback", WEEKS[0], "bad release")
    audit = [json.loads(line) for line in (registry.registry_dir(SPEC) / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["action"] == "rollback" and audit[-1]["run_id"] == result.run_id
    again = job.execute_in_process(instance=instance, partition_key=WEEKS[-1], asset_selection=[CHAMPION])
    assert again.success and registry.load_decision(SPEC, WEEKS[-1])["action"] == "rollback"  # kept on re-runs

    bad = {"ops": {"ml__flight_delay__champion": {"config": {"rollback_to": "2013-12-24", "reason": "x"}}}}
    failed = job.execute_in_process(
        instance=instance, partition_key=WEEKS[0], asset_selection=[CHAMPION], run_config=bad, raise_on_error=False
    )
    assert not failed.success
    assert "not a model version up to 2013-02-26" in str(failed.get_step_failure_events()[0].step_failure_data.error)


def test_injected_drift_trips_the_check_and_one_breach_episode_brings_an_offcycle_version(eleven_weeks):
    instance, root = eleven_weeks
    zone = LocalZone(settings.data_dir() / "landing")
    day = date(2013, 3, 14)
    name = day_name("flights", day)
    flights = pl.read_csv(zone.read(name), infer_schema=False)
    # An upstream bug: every flight of the day goes to Chicago O'Hare.
    zone.path(name).write_text(flights.with_columns(dest=pl.lit("ORD")).write_csv())

    requests, _ = tick(instance)
    (request,) = requests
    assert DRIFT in request.asset_selection
    result = execute(instance, request)

    checks = result.get_asset_check_evaluations()
    (drift_check,) = [e for e in checks if e.asset_check_key == dg.AssetCheckKey(DRIFT, "feature_drift")]
    assert not drift_check.passed and "2013-03-14" in drift_check.description
    assert "dest" in drift_check.description
    assert drift_check.severity == dg.AssetCheckSeverity.ERROR

    def breach_alerts() -> list[dict]:
        lines = (root / "alerts.jsonl").read_text().splitlines() if (root / "alerts.jsonl").exists() else []
        return [a for a in map(json.loads, lines) if a["kind"] == "breach"]

    sensor = defs.get_sensor_def("retrain_on_breach_flight_delay")
    with dg.build_sensor_context(instance=instance, definitions=defs) as context:
        retrain = sensor(context)
    # The lake's own days may have breached too (a storm day's departures so far drift), each its own episode.
    version = "offcycle-2013-03-14"
    (retrain_request,) = [r for r in retrain.run_requests if r.partition_key == version]
    assert retrain_request.tags["ai_platform/trigger"] == "breach"
    assert version in [k for r in retrain.dynamic_partitions_requests for k in r.partition_keys]
    (alert,) = [a for a in breach_alerts() if a["partition"] == "2013-03-14"]
    assert "feature_drift" in alert["summary"]
    episodes = len(breach_alerts())
    assert episodes == len(retrain.run_requests)  # an alert and a version per episode

    with dg.build_sensor_context(instance=instance, definitions=defs, cursor=retrain.cursor) as context:
        again = sensor(context)
    assert not again.run_requests and len(breach_alerts()) == episodes  # an episode alerts and retrains once

    instance.add_dynamic_partitions("flight_delay_offcycle", [version])  # what the daemon does with the request
    job = defs.resolve_job_def("offcycle_flight_delay")
    assert job.execute_in_process(instance=instance, partition_key=version, tags=retrain_request.tags).success

    card = training.load_card(SPEC, version)
    first = SPEC.training_start(date(2013, 3, 15), date(2013, 1, 1)).isoformat()
    assert card["training_window"] == [first, "2013-03-14"]  # the spec's window, up to the breach day
    metrics = json.loads((settings.reports_dir() / "flight_delay" / version / "metrics.json").read_text())
    assert sorted(metrics["input_data_versions"]) == ["2013-03-15", "2013-03-16", "2013-03-17"]
    decision = registry.load_decision(SPEC, version)
    assert decision["action"] in ("promote", "keep") and decision["effective_from"] == "2013-03-18"
    serving_before = registry.load_decision(SPEC, WEEKS[1])["champion"]  # decided 03-05, serving 03-12 .. 03-18
    assert decision["numbers"]["challenger"]["version"] == version
    assert decision["numbers"]["champion"]["version"] == serving_before  # the same gate, on the same days
    assert version in [d["week"] for d in registry.history(SPEC)]
    audit = [json.loads(line) for line in (registry.registry_dir(SPEC) / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["week"] == version
    # From its effective day the decision chooses who serves: the off-cycle version if it was promoted.
    assert serving_version_of(date(2013, 3, 17)) == serving_before
    assert serving_version_of(date(2013, 3, 18)) == decision["champion"]

    assert defs.resolve_job_def("model_history_flight_delay").execute_in_process(instance=instance).success
    report = (settings.reports_dir() / "flight_delay" / "history" / "report.html").read_text()
    assert version in report
