"""Seconds from a day's files landing to that day's raw and feature partitions, under `dagster dev`, as a new
user meets it: a fresh DAGSTER_HOME and data directory with the default settings, a warm-up replayed and
flowed through, then single days of March replayed one at a time, each once the instance is idle.

The warm-up is every day before the first measured one (2013-01-01 .. 2013-03-04): enough for the sensors
and the retraining automation to train, evaluate and decide flight_delay's first weekly model, whose
decision serves from 2013-03-05. So each measured day is a day with a champion: its landing run also scores
and monitors it, as a real day's does (the bench fails if no champion scored it).

For each measured day it prints the time to raw/flights and flight_features (and to the day's predictions),
and where the time went, from the instance's own records of the run that built the day's features: landing
-> the landing sensor's tick (waiting for it to start; nothing when a watching tick was looking) -> run created
(the tick from the landing on) -> enqueued (run submission: the
sensor daemon stores a planned event per asset and check of the run) -> starting (the run queue) -> the run
worker's first event (spawning it) -> started (it loads the code location) -> first step, then the raw steps,
the dbt step (of which dbt's own model and test time and the lake export; the rest is dbt's start-up), the
predictions and monitoring steps and the checks that are steps of their own. Prints the medians
and writes data/bench/sensor_latency.json. Usage: `.venv/bin/python bench/sensor_latency.py [--days N]`
(also run by `make bench`).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import dagster as dg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "assets_tests"))

from ai_platform import settings  # noqa: E402
from ai_platform.features.assets import LAKE_EXPORT_SECONDS  # noqa: E402
from ai_platform.landing import LocalZone  # noqa: E402
from ai_platform.ml import keys, registry  # noqa: E402
from ai_platform.ml.specs import spec  # noqa: E402
from ai_platform.partitions import START_DATE, run_window, weekly  # noqa: E402
from ai_platform.tools.replay import replay  # noqa: E402
from dev_server import DagsterDev  # noqa: E402

SPEC = "flight_delay"  # the model whose champion must serve the measured days
FIRST_MEASURED = date(2013, 3, 5)
TARGETS = {"raw": dg.AssetKey(["raw", "flights"]), "features": dg.AssetKey("flight_features")}
PREDICTIONS = keys.predictions(SPEC)
DBT_STEP = "flights_dbt"
SERVING_STEPS = ("ml__", "monitoring__")  # the predictions and monitoring steps
CHECK_STEPS = ("_latest_day_arrived", "_history_complete")  # the checks that are steps of their own
LANDING_SENSOR = "landing_zone"
IDLE_S = 20.0  # no run in progress for this long (4 sensor loops): what the last day started has all run
WARM_UP_TIMEOUT = 7200.0  # seconds; 9 weeks through raw, features and two models' first trainings
DAY_TIMEOUT = 1200.0  # seconds; a day takes seconds on an idle machine, minutes beside others' CPU-bound work
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]

T = TypeVar("T")


def wait(dev: DagsterDev, instance: dg.DagsterInstance, what: str, predicate: Callable[[], T], timeout: float) -> T:
    """Poll the instance until `predicate` holds; on a timeout, say what was awaited, the runs and dagster dev's log."""
    try:
        return dev.wait_for(predicate, timeout, interval=0.25, what=what)
    except TimeoutError as e:
        runs = instance.get_run_records(limit=10)
        listing = "\n".join(
            f"  {r.dagster_run.run_id[:8]} {r.dagster_run.job_name} {r.dagster_run.status.value} "
            f"{run_window(r.dagster_run.tags) or ''}"
            for r in runs
        )
        raise TimeoutError(f"{e}\nnewest runs:\n{listing}\ndagster dev log:\n{dev.log_tail(40)}") from None


def materialization(instance: dg.DagsterInstance, key: dg.AssetKey, day: date) -> dg.EventLogRecord | None:
    """The first materialization of `key` for `day`, if any."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day.isoformat()]), limit=1, ascending=True
    ).records
    return records[0] if records else None


def idle_since(instance: dg.DagsterInstance) -> float | None:
    """When the last run ended, if none is queued or in progress."""
    if instance.get_run_records(dg.RunsFilter(statuses=IN_PROGRESS), limit=1):
        return None
    ends = [r.end_time or r.create_timestamp.timestamp() for r in instance.get_run_records(limit=20)]
    return max(ends, default=0.0)


def wait_idle(dev: DagsterDev, instance: dg.DagsterInstance, timeout: float) -> None:
    wait(
        dev,
        instance,
        f"the instance to be idle for {IDLE_S:.0f} s",
        lambda: (since := idle_since(instance)) is not None and time.time() - since >= IDLE_S,
        timeout,
    )


def landing_ticks(instance: dg.DagsterInstance, **kwargs) -> list:
    """The landing sensor's ticks, newest first (`get_ticks` arguments: after, limit)."""
    (state,) = [s for s in instance.all_instigator_state() if s.name == LANDING_SENSOR]
    return list(instance.get_ticks(state.instigator_origin_id, state.selector_id, **kwargs))


def landing_tick(instance: dg.DagsterInstance, run_id: str):
    """The landing sensor's tick that requested `run_id`."""
    for tick in landing_ticks(instance, limit=200):
        if run_id in tick.run_ids:
            return tick
    raise LookupError(f"no {LANDING_SENSOR} tick requested run {run_id}")


def tick_spacing(instance: dg.DagsterInstance, since: float) -> float:
    """The median seconds between the landing sensor's ticks after `since` (the daemon evaluates sensors in a
    loop of its own, so a sensor's interval is only the least spacing)."""
    times = sorted(t.timestamp for t in landing_ticks(instance, after=since))
    return statistics.median(b - a for a, b in zip(times, times[1:], strict=False)) if len(times) > 1 else float("nan")


def _seconds(steps) -> float:
    return sum(s.end_time - s.start_time for s in steps)


def breakdown(instance: dg.DagsterInstance, run_id: str, landed_at: float) -> dict[str, float]:
    """Where the seconds of the day's run went, from the instance's run, tick, event and step records."""
    record = instance.get_run_record_by_id(run_id)
    created = record.create_timestamp.timestamp()
    tick = landing_tick(instance, run_id)
    events = instance.all_logs(run_id, of_type={dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_STARTING})
    enqueued, starting = (
        next(e.timestamp for e in events if e.dagster_event.event_type == t)
        for t in (dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_STARTING)
    )
    (spawned,) = [  # the run worker's first event, once its interpreter and dagster are up
        e.timestamp
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        if e.message.startswith("Started process for run")
    ]
    steps = {s.step_key: s for s in instance.get_run_step_stats(run_id)}
    raw = [s for k, s in steps.items() if k.startswith("raw__") and not k.endswith(CHECK_STEPS)]
    checks = [s for k, s in steps.items() if k.endswith(CHECK_STEPS)]
    serving = [s for k, s in steps.items() if k.startswith(SERVING_STEPS)]
    dbt = steps[DBT_STEP]
    dbt_work = lake_export = 0.0
    for entry in instance.all_logs(
        run_id,
        of_type={
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            dg.DagsterEventType.ASSET_OBSERVATION,
        },
    ):
        if entry.step_key != DBT_STEP:
            continue
        if entry.asset_materialization:
            metadata = entry.asset_materialization.metadata
        elif entry.asset_observation:
            metadata = entry.asset_observation.metadata
        else:  # a dbt test's check evaluation
            metadata = entry.dagster_event.event_specific_data.metadata
        if "Execution Duration" in metadata:
            dbt_work += float(metadata["Execution Duration"].value)
        if LAKE_EXPORT_SECONDS in metadata:
            lake_export += float(metadata[LAKE_EXPORT_SECONDS].value)
    dbt_s = dbt.end_time - dbt.start_time
    first_start, last_end = min(s.start_time for s in steps.values()), max(s.end_time for s in steps.values())
    return {
        # A tick that was already watching the zone when the day landed waited for nothing: it found the day on
        # its next look (the rest of its time up to the run's creation).
        "sensor_wait": max(0.0, tick.timestamp - landed_at),
        "sensor_tick": created - max(tick.timestamp, landed_at),
        "run_submission": enqueued - created,  # the sensor daemon stores the run's planned events
        "queue": starting - enqueued,
        "worker_spawn": spawned - starting,
        "worker_load": record.start_time - spawned,  # the code location's import and the job
        "worker_start_up": first_start - record.start_time,
        "raw_steps": _seconds(raw),
        "dbt_step": dbt_s,
        "dbt_models_and_tests": dbt_work,
        "lake_export": lake_export,
        "dbt_start_up_and_rest": dbt_s - dbt_work - lake_export,
        "serving_steps": _seconds(serving),
        "check_steps": _seconds(checks),
        "between_steps": last_end - first_start - _seconds(steps.values()),
        "run_end_after_steps": record.end_time - last_end,
    }


def measure_day(dev: DagsterDev, instance: dg.DagsterInstance, zone: LocalZone, day: date) -> dict:
    wait_idle(dev, instance, DAY_TIMEOUT)
    replay(zone, day, day, with_reference=False)
    landed_at = time.time()  # the day's last file is in the zone: the day has landed
    reached = {
        layer: wait(
            dev, instance, f"{key.to_user_string()} {day}", lambda k=key: materialization(instance, k, day), DAY_TIMEOUT
        )
        for layer, key in TARGETS.items()
    }
    run_id = reached["features"].run_id
    wait(
        dev,
        instance,
        f"the run of {day}'s features ({run_id}) to end",
        lambda: instance.get_run_by_id(run_id).is_finished,
        DAY_TIMEOUT,
    )
    run = instance.get_run_by_id(run_id)
    if run.status != dg.DagsterRunStatus.SUCCESS or run.tags.get("dagster/sensor_name") != LANDING_SENSOR:
        raise RuntimeError(
            f"{day}: the run {run_id} that built its features is {run.status.value}, launched by {run.tags}"
        )
    scored = materialization(instance, PREDICTIONS, day)
    model = scored and scored.asset_materialization.metadata.get("model_version")
    if scored is None or scored.run_id != run_id or model is None or model.value == "none":
        raise RuntimeError(f"{day}: its landing run did not score it with a {SPEC} champion (model {model})")
    return {
        "day": day.isoformat(),
        **{layer: r.timestamp - landed_at for layer, r in reached.items()},
        "predictions": scored.timestamp - landed_at,
        "model_version": model.value,
        "breakdown_s": breakdown(instance, run_id, landed_at),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=5, help="March days to measure after the warm-up (default 5)")
    args = parser.parse_args()
    model = spec(SPEC)
    decision_week = registry.decision_week_for(FIRST_MEASURED, weekly(model.window_weeks).get_partition_keys())
    work = Path(tempfile.mkdtemp(prefix="ai-platform-latency-"))
    zone = LocalZone(work / "data" / "landing")
    env = {settings.DATA_DIR_ENV: str(work / "data")}
    os.environ.update(env)  # this process reads the registry too
    rows = []
    with DagsterDev(work / "home", env) as dev:
        print(f"dagster dev up in {dev.startup_s:.1f} s (default settings)")
        instance = dg.DagsterInstance.from_config(str(work / "home"))
        t = time.perf_counter()
        warm_up_end = FIRST_MEASURED - timedelta(days=1)
        replay(zone, START_DATE, warm_up_end)
        champion = keys.champion(SPEC)
        wait(
            dev,
            instance,
            f"{champion.to_user_string()} {decision_week} (the decision serving {FIRST_MEASURED})",
            lambda: decision_week in instance.get_materialized_partitions(champion),
            WARM_UP_TIMEOUT,
        )
        wait_idle(dev, instance, WARM_UP_TIMEOUT)
        decided = registry.load_decision(model, decision_week)["champion"]
        print(
            f"warm-up {START_DATE} .. {warm_up_end} flowed through in {time.perf_counter() - t:.0f} s; "
            f"{SPEC} champion from {FIRST_MEASURED}: {decided}"
        )
        measured_from = float(time.time())
        for i in range(args.days):
            row = measure_day(dev, instance, zone, FIRST_MEASURED + timedelta(days=i))
            print(
                f"{row['day']}  "
                + "  ".join(f"{k} {row[k]:5.1f} s" for k in (*TARGETS, "predictions"))
                + "  |  "
                + "  ".join(f"{k} {v:.1f}" for k, v in row["breakdown_s"].items())
            )
            rows.append(row)
        spacing = tick_spacing(instance, measured_from)
    figures = {
        "scenario": f"fresh instance, warm-up {START_DATE}..{warm_up_end} (a {SPEC} champion), then single March days",
        "days": rows,
        "median_s": {k: statistics.median(r[k] for r in rows) for k in (*TARGETS, "predictions")},
        "median_breakdown_s": {k: statistics.median(r["breakdown_s"][k] for r in rows) for k in rows[0]["breakdown_s"]},
        "landing_sensor_tick_spacing_s": spacing,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    print("median: " + ", ".join(f"{k} {v:.1f} s" for k, v in figures["median_s"].items()))
    print("median breakdown: " + ", ".join(f"{k} {v:.1f} s" for k, v in figures["median_breakdown_s"].items()))
    print(f"landing sensor ticks every {spacing:.1f} s (median); load average at the end: {figures['load_average']}")
    out = REPO / "data" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sensor_latency.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
