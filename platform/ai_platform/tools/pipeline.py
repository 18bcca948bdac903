"""`make run`: replay the year, then materialize every asset for every partition that needs it.

Runs go through the persistent Dagster instance (DAGSTER_HOME), so `make dev` shows them. Nothing
is done twice: a day is re-ingested only when its landing file changed, features are rebuilt for
changed days and the days whose trailing history reads them, and a week's model is retrained only
when the feature files of its window changed.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from unittest import mock

import dagster as dg

from ai_platform import lake, landing, quarantine, settings
from ai_platform.automation.landing_sensor import contiguous, quarantined_day
from ai_platform.features.manifest import LakeExport, lake_exports, manifest
from ai_platform.files import FileVersion, file_version, read_version, sha256
from ai_platform.jobs import serving_keys
from ai_platform.landing import LandingZone
from ai_platform.ml import cores, keys, registry, training
from ai_platform.ml.evaluation import load_metrics
from ai_platform.ml.predictions import predictions_path, serving_version
from ai_platform.ml.spec import ModelSpec
from ai_platform.partitions import END_DATE, START_DATE, days, parse_day, range_tags, weekly
from ai_platform.raw.schemas import DAILY_SCHEMAS, REFERENCE_SCHEMAS
from ai_platform.tools import run_summary
from ai_platform.tools.progress import RelayedReporter, Reporter, relay


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
    return {day: _checksum(file_version(p)) for day, p in paths.items()}


# A day's file is in the windows of 8 weeks and in its own serving check: hash it once a planning pass, not 10 times.
@functools.lru_cache(maxsize=4096)
def _checksum(file: FileVersion) -> str:
    return sha256(read_version(file))


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


# Before its first step a run logs a "planned" event per asset and partition it will materialize: for a range run of
# the year, 365 per asset, 46 s of a cold `make run` (2 cores) before the first dbt step and 13 s before each spec's
# predictions. Dagster's switch below logs one event per asset with its partitions instead. Its price: the partitions
# of a range run that fails show as missing, not failed, in the UI's partition bars (the run shows as failed, and
# `make run` names the day it failed on); the live runs of the sensors keep one event per partition.
ONE_PLANNED_EVENT_PER_ASSET = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}

# Step logs stay in the instance (the UI shows them); the terminal gets warnings and errors only.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _execute(
    job: dg.JobDefinition, instance: dg.DagsterInstance, timing: run_summary.Timing, **kwargs
) -> dg.ExecuteInProcessResult:
    # dagster-dbt echoes dbt's log to sys.stdout: it belongs with the step's captured logs (the UI shows them, from
    # the step's own copy of its output), not among make run's messages.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        result = job.execute_in_process(instance=instance, run_config=QUIET, **kwargs)
    timing.add(instance, result.run_id)
    return result


def ingest_and_featurize(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    zone: LandingZone,
    todo: list[date],
    timing: run_summary.Timing,
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


def stretches(selected: list[str], ordered: list[str]) -> list[tuple[str, str]]:
    """`selected` partition keys as inclusive [first, last] runs of keys adjacent in `ordered`."""
    out: list[tuple[str, str]] = []
    for i, key in enumerate(ordered):
        if key not in selected:
            continue
        if out and i > 0 and out[-1][1] == ordered[i - 1]:
            out[-1] = (out[-1][0], key)
        else:
            out.append((key, key))
    return out


def weeks_to_redo(
    instance: dg.DagsterInstance, spec: ModelSpec, blocked: list[str], end: date
) -> tuple[list[str], list[str]]:
    """The weeks (but `blocked`) to train and evaluate, and those to decide."""
    weeks = [w for w in weeks_in_data(spec, end) if w not in blocked]
    todo = [w for w in weeks_to_train(instance, spec, end) if w in weeks]
    decided = instance.get_materialized_partitions(keys.champion(spec.name))
    # Decisions form a chain (each compares with the champion the previous one left): from the first retrained
    # or undecided week on, every week is decided again, in order.
    first = min([*todo, *(w for w in weeks if w not in decided)], default=None)
    return todo, [w for w in weeks if first is not None and w >= first]


def train_weeks(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    spec: ModelSpec,
    blocked: list[str],
    end: date,
    timing: run_summary.Timing,
    out: Reporter,
) -> list[str]:
    """Train and evaluate the weeks whose model is missing or whose days changed, then decide the champion from
    the first such (or undecided) week on; each stretch of weeks is one range run. Returns the weeks decided."""
    every = weeks_in_data(spec, end)
    todo, decide = weeks_to_redo(instance, spec, blocked, end)
    out.echo(f"{spec.name}: training and evaluating {len(todo)} week(s), deciding {len(decide)}")
    job = defs.resolve_job_def(keys.train_job(spec.name))
    runs = [(stretch, [keys.model(spec.name), keys.evaluation(spec.name)]) for stretch in stretches(todo, every)]
    runs += [(stretch, [keys.champion(spec.name)]) for stretch in stretches(decide, every)]
    with out.task(f"{spec.name}: weekly models", total=len(runs)) as advance:
        for i, ((first_week, last_week), selection) in enumerate(runs):
            advance(i, len(runs))
            tags = range_tags(parse_day(first_week), parse_day(last_week))
            _execute(job, instance, timing, tags=tags, asset_selection=selection)
    lines = []
    for week in decide:
        d = registry.load_decision(spec, week)
        lines.append(
            f"  {spec.name} week {week}: AUC {load_metrics(spec.name, week)['roc_auc']:.3f}, "
            f"{d['action']} -> champion {d['champion']}"
        )
    if lines:  # one message: another spec's, side by side, cannot land between its lines
        out.echo("\n".join(lines))
    return decide


def train_and_serve(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    spec: ModelSpec,
    skipped: list[date],
    end: date,
    timing: run_summary.Timing,
    out: Reporter,
) -> list[dict]:
    """One spec's weekly models, evaluations and champion decisions, then its predictions, monitoring and model
    history report; returns the metrics of its weekly models. `skipped`: quarantined days (weeks reading one wait)."""
    blocked = weeks_reading(spec, skipped, end)
    if blocked:
        out.echo(f"{spec.name}: {len(blocked)} week(s) read a quarantined day and wait for it: {', '.join(blocked)}")
    decided = train_weeks(defs, instance, spec, blocked, end, timing, out)
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
    if decided or serve or instance.get_latest_materialization_event(report) is None:
        with out.task(f"{spec.name}: model history report"):
            _execute(defs.resolve_job_def(keys.history_job(spec.name)), instance, timing)
    return [load_metrics(spec.name, w) for w in weeks_in_data(spec, end) if w not in blocked]


def train_and_serve_all(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    specs: list[ModelSpec],
    skipped: list[date],
    end: date,
    timing: run_summary.Timing,
    out: Reporter,
) -> dict[str, list[dict]]:
    """`train_and_serve` for every spec; returns each spec's weekly metrics.

    Specs share no asset, job or file, so on a machine with a core to spare the others' work runs beside the first
    spec's, in processes of their own (each loads the code location) on the same instance: most of a spec's steps
    (reports, predictions, monitoring) are single-threaded Python, and each fit takes the cores left idle
    (`ml/cores.py`). The year cold, 2 cores: 165 s instead of 228 s, the models the same files. Their messages and
    bars show on `out`.
    """
    # A process of its own costs ~5 s of a core (it loads the code location): only for a spec with work to do.
    busy = [s for s in specs if _has_work(instance, s, skipped, end)]
    workers = min(len(busy) - 1, cores.physical() - 1)
    if workers < 1 or instance.is_ephemeral:  # an in-memory instance cannot be shared with another process
        return {s.name: train_and_serve(defs, instance, s, skipped, end, timing, out) for s in specs}
    apart = busy[1:]
    here = [s for s in specs if s not in apart]
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    shown = threading.Thread(target=relay, args=(messages, out), daemon=True)
    shown.start()
    try:
        with ProcessPoolExecutor(workers, context, initializer=_start_worker, initargs=(messages,)) as pool:
            ref = instance.get_ref()
            done = {s.name: pool.submit(_train_and_serve_apart, s.name, skipped, end, ref) for s in apart}
            metrics = {s.name: train_and_serve(defs, instance, s, skipped, end, timing, out) for s in here}
            for name, result in done.items():
                metrics[name], their_timing = result.result()
                timing.merge(their_timing)
    finally:
        messages.put(None)
        shown.join()
    return metrics


def _has_work(instance: dg.DagsterInstance, spec: ModelSpec, skipped: list[date], end: date) -> bool:
    """Whether `train_and_serve` would train, decide or serve anything for `spec` (a week to train is one to decide)."""
    _, decide = weeks_to_redo(instance, spec, weeks_reading(spec, skipped, end), end)
    return bool(decide) or any(d not in skipped for d in days_to_serve(instance, spec, end))


_worker_out: RelayedReporter | None = None  # a worker process's messages to the `make run` that started it


def _start_worker(messages) -> None:
    global _worker_out
    _worker_out = RelayedReporter(messages)


def _train_and_serve_apart(
    name: str, skipped: list[date], end: date, instance_ref
) -> tuple[list[dict], run_summary.Timing]:
    from ai_platform.ml.specs import spec
    from ai_platform.tools.code_location import load_definitions

    timing = run_summary.Timing()
    try:
        with dg.DagsterInstance.from_ref(instance_ref) as instance:
            served = train_and_serve(load_definitions(), instance, spec(name), skipped, end, timing, _worker_out)
            return served, timing
    except Exception as e:  # Dagster's errors do not all survive the way back to `make run`: their text does
        raise RuntimeError(f"{name}: " + "".join(traceback.format_exception(e))) from None


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
    with mock.patch.dict(os.environ, ONE_PLANNED_EVENT_PER_ASSET):
        return _run(defs, specs, end, instance, out or Reporter())


def _run(
    defs: dg.Definitions, specs: list[ModelSpec], end: date, instance: dg.DagsterInstance | None, out: Reporter
) -> dict:
    from ai_platform.tools.replay import default_years, replay

    started = time.perf_counter()
    timing = run_summary.Timing()
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

    t = time.perf_counter()
    summaries = train_and_serve_all(defs, instance, specs, skipped, end, timing, out)
    timing.stage_wall_s["models and serving"] = time.perf_counter() - t
    return run_summary.write(specs, summaries, timing, time.perf_counter() - started)
