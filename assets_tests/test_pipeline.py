"""End to end: eleven weeks of data through every layer by `make run` (the session's lake, on a copy of it)."""

import subprocess
from datetime import date, timedelta

import dagster as dg
import polars as pl
import pytest

from ai_platform import lake, settings
from ai_platform.definitions import defs
from ai_platform.ml import cores, keys, training
from ai_platform.ml.specs import spec, specs
from ai_platform.partitions import days
from ai_platform.tools.pipeline import run, stretches
from ai_platform.tools.progress import Reporter
from ai_platform.tools.run_summary import format_summary
from runs import LAKE_UNTIL, copy_of_lake, make_run_until

pytestmark = pytest.mark.heavy

UNTIL = LAKE_UNTIL  # 11 weeks: the first three weekly models (8-week window) and their weeks
WEEKS = ["2013-02-26", "2013-03-05", "2013-03-12"]
SPEC = spec("flight_delay")


@pytest.fixture(scope="module")
def eleven_weeks(session_lake, tmp_path_factory):
    with copy_of_lake(session_lake, tmp_path_factory.mktemp("e2e")) as done:
        yield done


def test_every_week_gets_a_model_that_beats_the_baseline_out_of_time(eleven_weeks, session_lake):
    summary, _ = eleven_weeks
    assert summary["models"]["flight_delay"]["weekly_models"] == 3
    assert [w["week"] for w in summary["weeks"]["flight_delay"]] == WEEKS
    for week in summary["weeks"]["flight_delay"]:
        assert week["n"] > 5000
        assert week["roc_auc"] > 0.62
        assert week["roc_auc"] > week["baseline_roc_auc"]
    quality = summary["models"]["flight_delay"]
    assert quality["min_auc"] == min(w["roc_auc"] for w in summary["weeks"]["flight_delay"])
    printed = (session_lake / "run.out").read_text()  # what `make run` printed: the summary it saved
    assert f"flight_delay: 3 weekly models: mean AUC {quality['mean_auc']:.3f}" in printed
    assert f"worst week {quality['min_auc']:.3f}" in printed
    # dbt's own log is not among make run's messages; it is in the instance, with its run's captured output.
    assert "Running with dbt=" not in printed and " of 30 START " not in printed
    captured = (session_lake / "home").rglob("compute_logs/*.out")
    assert any("Running with dbt=" in p.read_text() for p in captured)


def test_with_a_core_to_spare_the_second_spec_works_beside_the_first_and_its_progress_is_printed(
    eleven_weeks, session_lake
):
    _, instance = eleven_weeks

    def processes(name: str) -> set[int]:
        return {
            event.dagster_event.pid
            for job in (keys.train_job(name), keys.serve_job(name))
            for run in instance.get_runs(dg.RunsFilter(job_name=job))
            for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
        }

    first, second = processes("flight_delay"), processes("late_departure")
    assert len(first) == len(second) == 1
    assert (first != second) == (cores.physical() > 1)
    printed = (session_lake / "run.out").read_text()  # what `make run` printed, the other process's lines included
    for name in ("flight_delay", "late_departure"):
        assert f"{name}: training and evaluating 3 week(s), deciding 3" in printed
        assert f"  {name} week {WEEKS[-1]}: AUC" in printed
        assert f"{name}: predictions and monitoring for" in printed


def test_the_second_spec_is_trained_evaluated_and_served_too(eleven_weeks):
    summary, instance = eleven_weeks
    assert [w["week"] for w in summary["weeks"]["late_departure"]] == WEEKS
    for week in summary["weeks"]["late_departure"]:
        assert week["n"] > 5000
        assert week["roc_auc"] > 0.62
        assert week["roc_auc"] > week["baseline_roc_auc"]
    daily = {d.isoformat() for d in days(date(2013, 1, 1), UNTIL + timedelta(days=1))}
    assert instance.get_materialized_partitions(dg.AssetKey("late_departure_features")) == daily
    for name in ("model", "evaluation", "champion"):
        assert instance.get_materialized_partitions(dg.AssetKey(["ml", "late_departure", name])) == set(WEEKS)
    late = spec("late_departure")
    card = training.load_card(late, WEEKS[0])
    assert card["training_window"] == ["2013-01-01", "2013-02-25"] and card["label"] == "label_dep_delayed_30"
    assert card["features"] == list(late.features)
    assert summary["champions"]["late_departure"]["predicted_days"] is not None
    printed = format_summary(summary)
    assert "late_departure: 3 weekly models: mean AUC" in printed and "flight_delay: 3 weekly models" in printed


def test_the_summary_separates_the_work_from_orchestration(eleven_weeks):
    summary, _ = eleven_weeks
    steps, work = summary["layer_s"], summary["work_s"]
    assert set(work) == set(steps) >= {"raw", "features", "ml", "monitoring"}
    assert all(0 < work[layer] <= steps[layer] for layer in steps)
    # dbt's start-up and parsing are not work: only its models' and tests' own time and the lake export are.
    assert work["features"] < steps["features"]


def test_the_whole_graph_is_materialized_in_the_instance(eleven_weeks):
    _, instance = eleven_weeks
    daily = {d.isoformat() for d in days(date(2013, 1, 1), UNTIL + timedelta(days=1))}
    for key in (["raw", "flights"], ["raw", "weather"], ["stg_flights"], ["flight_features"]):
        assert instance.get_materialized_partitions(dg.AssetKey(key)) == daily, key
    for key in (["ml", "flight_delay", "model"], ["ml", "flight_delay", "evaluation"]):
        assert instance.get_materialized_partitions(dg.AssetKey(key)) == set(WEEKS)
    evaluation = instance.get_latest_materialization_event(dg.AssetKey(["ml", "flight_delay", "evaluation"]))
    metadata = evaluation.asset_materialization.metadata
    assert 0.5 < metadata["roc_auc"].value < 1 and "roc_auc" in metadata["metrics"].value
    assert metadata["roc"].value.startswith("![roc](data:image/png;base64,")
    quality = instance.get_latest_materialization_event(dg.AssetKey(["monitoring", "flight_delay", "realized_quality"]))
    assert quality.asset_materialization.metadata["per_day"].value.startswith("| day | model | flights |")


def test_model_card_and_report_describe_the_model(eleven_weeks):
    card = training.load_card(SPEC, WEEKS[0])
    assert card["training_window"] == ["2013-01-01", "2013-02-25"]
    assert card["features"] == list(SPEC.features)
    assert card["params"]["seed"] == SPEC.seed and card["params"]["deterministic"] is True
    assert len(card["input_data_versions"]["flight_features"]) == 56
    assert {"lightgbm", "polars", "python"} <= set(card["libraries"])
    assert card["rows"]["labelled"] > 40000
    model_file = training.model_dir(SPEC, WEEKS[0]) / "model.txt"
    assert model_file.read_text().startswith("tree\n")  # LightGBM's text format, not a pickle
    report = (settings.reports_dir() / "flight_delay" / WEEKS[0] / "report.html").read_text()
    assert "data:image/png;base64," in report and "roc_auc" in report


def test_running_again_does_no_work_twice(eleven_weeks):
    _, instance = eleven_weeks
    runs_before = instance.get_runs_count()
    lake_files = {p: p.stat().st_mtime_ns for p in lake.raw_day_path("flights", UNTIL).parents[2].rglob("*.parquet")}

    run(defs, specs(), until=UNTIL, instance=instance, out=Reporter.quiet())

    assert instance.get_runs_count() == runs_before
    assert {p: p.stat().st_mtime_ns for p in lake_files} == lake_files


def test_features_read_by_models_match_the_warehouse(eleven_weeks):
    import duckdb

    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as con:
        n = con.execute("select count(*) from flight_features where flight_date = date '2013-03-01'").fetchone()[0]
    assert pl.read_parquet(lake.features_day_path("flight_features", date(2013, 3, 1))).height == n > 0


def test_weeks_to_redo_become_one_range_run_per_stretch_never_spanning_a_week_left_out():
    weeks = ["2013-01-01", "2013-01-08", "2013-01-15", "2013-01-22", "2013-01-29"]
    assert stretches(weeks[1:3] + weeks[4:], weeks) == [("2013-01-08", "2013-01-15"), ("2013-01-29", "2013-01-29")]
    assert stretches(weeks, weeks) == [(weeks[0], weeks[-1])]
    assert stretches([], weeks) == []


def test_definitions_validate_from_the_workspace():
    result = subprocess.run(
        [str(settings.REPO_ROOT / ".venv" / "bin" / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=settings.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_connected_lineage_from_landing_to_report():
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey(["ml", "flight_delay", "evaluation"])).parent_keys
    seen, todo = set(), list(upstream)
    while todo:
        key = todo.pop()
        if key not in seen:
            seen.add(key)
            todo.extend(graph.get(key).parent_keys)
    assert {
        dg.AssetKey(["raw", "flights"]),
        dg.AssetKey(["raw", "weather"]),
        dg.AssetKey(["raw", "planes"]),
        dg.AssetKey("stg_flights"),
        dg.AssetKey("flight_features"),
        dg.AssetKey(["ml", "flight_delay", "model"]),
    } <= seen


BAD_DAY = date(2013, 1, 10)


def test_make_run_skips_a_quarantined_day_and_builds_the_good_ones(tmp_path, monkeypatch):
    from ai_platform import quarantine
    from ai_platform.tools import replay

    source = replay.read_source

    def with_a_bad_day(table: str) -> pl.DataFrame:  # the landing zone gets a broken file for BAD_DAY
        df = source(table)
        if table != "flights":
            return df
        on_bad_day = (pl.col("month") == str(BAD_DAY.month)) & (pl.col("day") == str(BAD_DAY.day))
        return df.with_columns(distance=pl.when(on_bad_day).then(pl.lit("-1")).otherwise(pl.col("distance")))

    monkeypatch.setattr(replay, "read_source", with_a_bad_day)
    until = date(2013, 1, 20)
    with make_run_until(tmp_path, until, models=["flight_delay"]) as (summary, instance):
        # Before the first model's week: the summary says so (it failed to print, expecting predictions).
        printed = format_summary(summary)
        assert "flight_delay: no weekly model yet" in printed and "no predictions yet" in printed
        good = {d.isoformat() for d in days(date(2013, 1, 1), until + timedelta(days=1))} - {BAD_DAY.isoformat()}
        for key in (["raw", "flights"], ["flight_features"]):
            assert instance.get_materialized_partitions(dg.AssetKey(key)) == good, key
        assert list((quarantine.quarantine_dir() / "flights" / BAD_DAY.isoformat()).glob("*.csv"))

        runs = instance.get_runs_count()
        run(defs, [SPEC], until=until, instance=instance, out=Reporter.quiet())  # the bad day is still there
        assert instance.get_runs_count() == runs  # nothing to redo: no failed run, no rebuilt neighbours
