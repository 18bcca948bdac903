"""`make run`: replay the year, then materialize every asset for every partition that needs it.

Runs go through the persistent Dagster instance (DAGSTER_HOME), so `make dev` shows them. Nothing
is done twice: a day is re-ingested only when its landing file changed, features are rebuilt for
changed days and the days whose trailing history reads them, and a week's model is retrained only
when the feature files of its window changed.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import dagster as dg

from ai_platform import lake, landing, quarantine, settings
from ai_platform.automation.landing_sensor import contiguous, quarantined_day
from ai_platform.features.assets import LAKE_EXPORT_SECONDS, LakeExport, lake_exports, manifest
from ai_platform.files import sha256, write_atomic
from ai_platform.jobs import serving_keys
from ai_platform.landing import LandingZone
from ai_platform.ml import keys, registry, training
from ai_platform.ml.evaluation import load_metrics, report_dir
from ai_platform.ml.predictions import predictions_path, serving_version
from ai_platform.ml.spec import ModelSpec
from ai_platform.partitions import END_DATE, START_DATE, days, parse_day, range_tags, weekly
from ai_platform.progress import Reporter
from ai_platform.raw.schemas import DAILY_SCHEMAS, REFERENCE_SCHEMAS


def _changed(zone: LandingZone, name: landing.LandingName, lake_path) -> bool:
    recorded = lake.source_of(lake_path)
    try:
        return recorded is None or recorded["sha256"] != sha256(zone.read(name))
    except FileNotFoundError:
        return True


def days_to_ingest(instance: dg.DagsterInstance, zone: LandingZone, end: date) -> list[date]:
    todo = set()
    for table in DAILY_SCHEMAS:
        done = instance.get_materialized_partitions(dg.AssetKey(["raw", table]))
        for day in days(START_DATE, end):
            name = landing.day_name(table, day)
            if day.isoformat() not in done or _changed(zone, name, lake.raw_day_path(table, day)):
                todo.add(day)
    return sorted(todo)


def days_to_featurize(instance: dg.DagsterInstance, ingested: list[date], export: LakeExport, end: date) -> list[date]:
    done = instance.get_materialized_partitions(dg.AssetKey(export.model))
    todo = {
        d
        for d in days(START_DATE, end)
        if d.isoformat() not in done or not lake.features_day_path(export.model, d).exists()
    }
    for day in ingested:  # their outcomes feed the trailing history of the following days
        todo.update(days(day, min(day + timedelta(days=export.lookback_days + 1), end)))
    return sorted(todo)


def weeks_in_data(spec: ModelSpec, end: date) -> list[str]:
    """The weekly partitions whose evaluation days all lie before `end`."""
    return [
        w
        for w in weekly(spec.window_weeks).get_partition_keys()
        if parse_day(w) + timedelta(days=spec.eval_days) <= end
    ]


def weeks_reading(spec: ModelSpec, skipped: list[date], end: date) -> list[str]:
    """The weeks whose training window or evaluation days include one of the `skipped` days."""
    out = []
    for week in weeks_in_data(spec, end):
        start = parse_day(week)
        read = days(spec.training_start(start, START_DATE), start + timedelta(days=spec.eval_days))
        if set(read) & set(skipped):
            out.append(week)
    return out


def _feature_versions(spec: ModelSpec, window: list[date]) -> dict[str, str] | None:
    """Checksums of the feature files of `window`, as the model card records them (None if one is missing)."""
    paths = {d.isoformat(): lake.features_day_path(spec.features_model, d) for d in window}
    if not all(p.exists() for p in paths.values()):
        return None
    return {day: sha256(p.read_bytes()) for day, p in paths.items()}


def weeks_to_train(instance: dg.DagsterInstance, spec: ModelSpec, end: date) -> list[str]:
    models = instance.get_materialized_partitions(keys.model(spec.name))
    reports = instance.get_materialized_partitions(keys.evaluation(spec.name))
    todo = []
    for week in weeks_in_data(spec, end):
        start = parse_day(week)
        try:
            card, metrics = training.load_card(spec, week), load_metrics(spec.name, week)
        except FileNotFoundError:
            todo.append(week)
            continue
        train_days = days(spec.training_start(start, START_DATE), start)
        eval_days = days(start, start + timedelta(days=spec.eval_days))
        if (
            week not in models
            or week not in reports
            or not (training.model_dir(spec, week) / "profile.json").exists()
            or card["input_data_versions"][spec.features_model] != _feature_versions(spec, train_days)
            or metrics["input_data_versions"] != _feature_versions(spec, eval_days)
        ):
            todo.append(week)
    return todo


def days_to_serve(instance: dg.DagsterInstance, spec: ModelSpec, end: date) -> list[date]:
    """Days whose predictions or monitoring are missing, or whose champion or features changed since."""
    weeks = weekly(spec.window_weeks)
    done = set.intersection(*(instance.get_materialized_partitions(k) for k in serving_keys(spec)))
    todo = []
    for day in days(START_DATE, end):
        recorded = lake.source_of(predictions_path(spec, day))
        _, version = serving_version(spec, weeks, day)
        if day.isoformat() not in done or (recorded and version is None):
            todo.append(day)
        elif version is not None and (
            recorded is None
            or recorded["model_version"] != version
            or recorded["features"] != _feature_versions(spec, [day])
        ):
            todo.append(day)
    return todo


def _layer(step_key: str) -> str:
    return next((p for p in ("raw", "ml", "monitoring") if step_key.startswith(f"{p}__")), "features")


# Step logs stay in the instance (the UI shows them); the terminal gets warnings and errors only.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


# Work: time spent in the computations themselves. A Python step's body is all computation (Parquet IO,
# checks, LightGBM), so its step time counts; a dbt step counts dbt's own time per model and test
# (dagster-dbt's "Execution Duration", from run_results) plus the lake export, not dbt's start-up and parsing.
DBT_DURATION = "Execution Duration"


@dataclass
class Timing:
    step_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # per layer
    work_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # per layer

    def add(self, instance: dg.DagsterInstance, run_id: str) -> None:
        # A range run reports a dbt model once per partition, each with the model's whole duration: one per node.
        per_node: dict[tuple, float] = {}
        kinds = {
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            dg.DagsterEventType.ASSET_OBSERVATION,
        }
        for entry in instance.all_logs(run_id, of_type=kinds):
            data = entry.dagster_event.event_specific_data
            holder = getattr(data, "materialization", None) or getattr(data, "asset_observation", None) or data
            node = (entry.step_key, entry.dagster_event.event_type_value, str(entry.dagster_event.asset_key))
            node += (getattr(data, "check_name", None),)
            for key in (DBT_DURATION, LAKE_EXPORT_SECONDS):
                if key in (holder.metadata or {}):
                    per_node[(*node, key)] = float(holder.metadata[key].value)
        measured: dict[str, float] = defaultdict(float)  # step key -> seconds of dbt work and lake export
        for (step_key, *_), seconds in per_node.items():
            measured[step_key] += seconds
        for step in instance.get_run_step_stats(run_id):
            if step.end_time and step.start_time:
                seconds = step.end_time - step.start_time
                self.step_s[_layer(step.step_key)] += seconds
                self.work_s[_layer(step.step_key)] += measured.get(step.step_key, seconds)


def _execute(
    job: dg.JobDefinition, instance: dg.DagsterInstance, timing: Timing, **kwargs
) -> dg.ExecuteInProcessResult:
    result = job.execute_in_process(instance=instance, run_config=QUIET, **kwargs)
    timing.add(instance, result.run_id)
    return result


def ingest_and_featurize(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    zone: LandingZone,
    todo: list[date],
    timing: Timing,
    out: Reporter,
) -> list[date]:
    """Ingest and featurize `todo` as one run per stretch of days without a quarantined file; returns the
    quarantined days left out. A run that quarantines a new bad day is run again without it: the good days
    of a range never wait for a bad one (the landing sensor plans the same way)."""
    job = defs.resolve_job_def("daily_ingest_and_features")
    bad = {d for d in todo if quarantined_day(zone, d)}
    pending = contiguous(set(todo) - bad)
    while pending:
        first, last = pending.pop(0)
        out.echo(f"daily ingest + features: {first} .. {last} as one run")
        with out.task(f"daily ingest + features {first} .. {last}"):
            result = _execute(job, instance, timing, tags=range_tags(first, last), raise_on_error=False)
        if result.success:
            continue
        stretch = set(days(first, last + timedelta(days=1)))
        newly_bad = {d for d in stretch if quarantined_day(zone, d)}
        if not newly_bad:
            errors = "; ".join(str(e.step_failure_data.error.message).strip() for e in result.get_step_failure_events())
            raise RuntimeError(f"daily ingest + features {first} .. {last} failed (run {result.run_id}): {errors}")
        bad |= newly_bad
        pending = contiguous(stretch - newly_bad) + pending
    return sorted(bad)


def run(
    defs: dg.Definitions,
    specs: list[ModelSpec],
    until: date | None = None,
    instance: dg.DagsterInstance | None = None,
    out: Reporter | None = None,
) -> dict:
    """Materialize what needs it up to day `until` (default: the last day of the data).

    Returns the run summary, also written to <data dir>/run_summary.json. `out` gets the messages and
    progress (default: messages printed, no bars).
    """
    end = (until + timedelta(days=1)) if until else END_DATE
    from ai_platform.replay import default_years, replay

    out = out or Reporter()
    started = time.perf_counter()
    timing = Timing()
    t = time.perf_counter()
    zone = landing.open_zone(settings.landing_uri())
    with out.task("replay into the landing zone") as advance:
        # Partitions beyond the source year (AI_PLATFORM_START_DATE / _END_DATE) get synthetic years.
        replayed = replay(zone, START_DATE, end - timedelta(days=1), years=default_years(), progress=advance)
    timing.step_s["replay"] = timing.work_s["replay"] = time.perf_counter() - t
    out.echo(f"landing zone {zone.uri}: {replayed.written} files written, {replayed.unchanged} unchanged")

    instance = instance or dg.DagsterInstance.get()
    refs_changed = [
        t
        for t in REFERENCE_SCHEMAS
        if _changed(zone, landing.reference_name(t), lake.raw_reference_path(t))
        or instance.get_latest_materialization_event(dg.AssetKey(["raw", t])) is None
    ]
    if refs_changed:
        out.echo(f"reference tables: ingesting {', '.join(refs_changed)}")
        with out.task("reference tables"):
            _execute(defs.resolve_job_def("reference_tables"), instance, timing)

    with out.task("compare the landing zone with the lake"):
        ingest = days_to_ingest(instance, zone, end)
    # A day still quarantined changes nothing downstream: the days after it need no new features.
    changed = [d for d in ingest if not quarantined_day(zone, d)]
    featurize = sorted(set().union(*(days_to_featurize(instance, changed, e, end) for e in lake_exports(manifest()))))
    skipped: list[date] = []
    if ingest or featurize:
        skipped = ingest_and_featurize(defs, instance, zone, sorted({*ingest, *featurize}), timing, out)
        if skipped:
            out.echo(
                f"skipped {len(skipped)} quarantined day(s): {', '.join(d.isoformat() for d in skipped)} "
                f"(why: {quarantine.quarantine_dir()}/<table>/<day>/*.json; land a corrected file to recover a day)"
            )
    else:
        out.echo("daily ingest + features: nothing changed")

    summaries = {}
    for spec in specs:
        blocked = weeks_reading(spec, skipped, end)
        if blocked:
            out.echo(
                f"{spec.name}: {len(blocked)} week(s) read a quarantined day and wait for it: {', '.join(blocked)}"
            )
        todo = [w for w in weeks_to_train(instance, spec, end) if w not in blocked]
        out.echo(f"{spec.name}: training and evaluating {len(todo)} week(s)")
        job = defs.resolve_job_def(keys.train_job(spec.name))
        champion = keys.champion(spec.name)
        decided = instance.get_materialized_partitions(champion)
        weeks = weeks_in_data(spec, end)
        # Decisions form a chain (each compares with the champion the previous one left): from the first
        # retrained week on, every week is decided again, in order.
        with out.task(f"{spec.name}: weekly models", total=len(weeks)) as advance:
            for i, week in enumerate(weeks, 1):
                advance(i - 1, len(weeks))
                if week in blocked:
                    continue
                if week in todo:
                    _execute(job, instance, timing, partition_key=week)
                elif week not in decided or (todo and week > todo[0]):
                    _execute(job, instance, timing, partition_key=week, asset_selection=[champion])
                else:
                    continue
                d = registry.load_decision(spec, week)
                out.echo(
                    f"  week {week}: AUC {load_metrics(spec.name, week)['roc_auc']:.3f}, "
                    f"{d['action']} -> champion {d['champion']}"
                )
        serve = [d for d in days_to_serve(instance, spec, end) if d not in skipped]
        for first, last in contiguous(set(serve)):
            out.echo(f"{spec.name}: predictions and monitoring for {first} .. {last} as one run")
            with out.task(f"{spec.name}: predictions and monitoring"):
                _execute(
                    defs.resolve_job_def(keys.serve_job(spec.name)),
                    instance,
                    timing,
                    tags=range_tags(first, last),
                )
        report = keys.history_report(spec.name)
        if todo or serve or instance.get_latest_materialization_event(report) is None:
            with out.task(f"{spec.name}: model history report"):
                _execute(defs.resolve_job_def(keys.history_job(spec.name)), instance, timing)
        summaries[spec.name] = [load_metrics(spec.name, w) for w in weeks_in_data(spec, end) if w not in blocked]

    summary = {
        "models": {name: _quality_summary(ms) for name, ms in summaries.items()},
        "champions": {spec.name: _champion_summary(spec) for spec in specs},
        "wall_s": time.perf_counter() - started,
        "layer_s": dict(timing.step_s),
        "work_s": dict(timing.work_s),
        "weeks": {
            name: [
                {k: m[k] for k in ("week", "n", "roc_auc", "pr_auc", "log_loss", "brier", "ece", "baseline_roc_auc")}
                | {"report": str(report_dir(name, m["week"]) / "report.html")}
                for m in ms
            ]
            for name, ms in summaries.items()
        },
    }
    write_atomic(settings.data_dir() / "run_summary.json", json.dumps(summary, indent=2).encode())
    return summary


def _quality_summary(weeks: list[dict]) -> dict:
    aucs = [m["roc_auc"] for m in weeks]
    return {
        "weekly_models": len(aucs),
        "mean_auc": sum(aucs) / len(aucs) if aucs else None,
        "min_auc": min(aucs, default=None),
        "mean_baseline_auc": sum(m["baseline_roc_auc"] for m in weeks) / len(aucs) if aucs else None,
    }


def _champion_summary(spec: ModelSpec) -> dict:
    history = registry.history(spec)
    serving = [d["champion"] for d in history if d["champion"]]
    files = predictions_path(spec, START_DATE).parents[1].glob("*/data.parquet")
    predicted = sorted(p.parent.name.removeprefix("date=") for p in files)
    return {
        "decisions": len(history),
        "promotions": sum(d["action"] in ("promote", "bootstrap") for d in history),
        "rollbacks": sum(d["action"] == "rollback" for d in history),
        "current": serving[-1] if serving else None,
        "predicted_days": [predicted[0], predicted[-1], len(predicted)] if predicted else None,
        "history_report": str(settings.reports_dir() / spec.name / "history" / "report.html"),
    }


def format_summary(summary: dict) -> str:
    lines = []
    for name, weeks in summary["weeks"].items():
        lines.append(f"\n{name}: out-of-time quality per weekly model (each scored on its own unseen week)")
        lines.append(f"{'week':<12}{'flights':>8}{'AUC':>8}{'base AUC':>10}{'PR-AUC':>8}{'logloss':>9}{'ECE':>7}")
        for w in weeks:
            lines.append(
                f"{w['week']:<12}{w['n']:>8}{w['roc_auc']:>8.3f}{w['baseline_roc_auc']:>10.3f}"
                f"{w['pr_auc']:>8.3f}{w['log_loss']:>9.3f}{w['ece']:>7.3f}"
            )
    lines.append("")
    for name, q in summary["models"].items():
        lines.append(
            f"{name}: {q['weekly_models']} weekly models: mean AUC {q['mean_auc']:.3f} "
            f"(baseline {q['mean_baseline_auc']:.3f}), worst week {q['min_auc']:.3f}"
            if q["weekly_models"]
            else f"{name}: no weekly model yet"
        )
    lines.append(
        "time per layer: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in summary["layer_s"].items())
        + f"; wall {summary['wall_s']:.1f}s"
    )
    for name, c in summary["champions"].items():
        days_line = f"{c['predicted_days'][2]} days predicted ({c['predicted_days'][0]} .. {c['predicted_days'][1]})"
        lines.append(
            f"{name} champion: {c['current']} after {c['decisions']} weekly decisions ({c['promotions']} promotions, "
            f"{c['rollbacks']} rollbacks); " + (days_line if c["predicted_days"] else "no predictions yet")
        )
        lines.append(f"model history: {c['history_report']}")
    lines.append(f"reports: {settings.reports_dir()}  summary: {settings.data_dir() / 'run_summary.json'}")
    return "\n".join(lines)
