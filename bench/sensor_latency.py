"""Seconds from a day's files landing to that day's raw and feature partitions, under `dagster dev`, as a new
user meets it: a fresh DAGSTER_HOME and data directory, a warm-up week replayed and flowed through, then
single days of March replayed one at a time.

For each measured day it prints the time to raw/flights and flight_features, and where the time went,
read from the instance's own records of the day's run: landing -> run created (the landing sensor), created
-> started (queue and launch), started -> first step (the run worker's start-up), the raw steps, the dbt
step (of which dbt's own model and test time, the rest being dbt's start-up and the lake export). Prints the
medians and writes data/bench/sensor_latency.json. Usage: `.venv/bin/python bench/sensor_latency.py
[--days N]` (also run by `make bench`).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "assets_tests"))

from ai_platform.landing import LocalZone  # noqa: E402
from ai_platform.replay import replay  # noqa: E402
from dev_server import DagsterDev  # noqa: E402

WARM_UP = (date(2013, 1, 1), date(2013, 1, 7))
FIRST_MEASURED = date(2013, 3, 5)
TARGETS = {"raw": ["raw", "flights"], "features": ["flight_features"]}
DBT_STEP = "flights_dbt"


def _wait(dev: DagsterDev, key: list[str], day: date) -> None:
    dev.wait_for(
        lambda: day.isoformat() in dev.materialized_partitions(key),
        timeout=600,
        interval=0.1,
        what=f"{'/'.join(key)} {day}",
    )


def breakdown(instance: dg.DagsterInstance, day: date, landed_at: float) -> dict[str, float]:
    """Where the seconds of the day's run went, from the instance's run and step records (wall clock)."""
    (record,) = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": day.isoformat()}))
    steps = {s.step_key: s for s in instance.get_run_step_stats(record.dagster_run.run_id)}
    raw = [s for k, s in steps.items() if k.startswith("raw__")]
    dbt = steps[DBT_STEP]
    dbt_work = 0.0
    for entry in instance.all_logs(record.dagster_run.run_id, of_type={dg.DagsterEventType.ASSET_MATERIALIZATION}):
        metadata = entry.dagster_event.event_specific_data.materialization.metadata
        if entry.step_key == DBT_STEP and "Execution Duration" in metadata:
            dbt_work += float(metadata["Execution Duration"].value)
    first_step = min(s.start_time for s in steps.values())
    return {
        "sensor": record.create_timestamp.timestamp() - landed_at,
        "queue_and_launch": record.start_time - record.create_timestamp.timestamp(),
        "worker_start_up": first_step - record.start_time,
        "raw_steps": max(s.end_time for s in raw) - min(s.start_time for s in raw),
        "dbt_step": dbt.end_time - dbt.start_time,
        "dbt_models_and_tests": dbt_work,
        "run_end_after_dbt": record.end_time - dbt.end_time if record.end_time else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=3, help="March days to measure after the warm-up (default 3)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ai-platform-latency-"))
    zone = LocalZone(work / "data" / "landing")
    env = {"AI_PLATFORM_DATA_DIR": str(work / "data"), "AI_PLATFORM_LGBM_THREADS": "1"}
    rows = []
    with DagsterDev(work / "home", env) as dev:
        print(f"dagster dev up in {dev.startup_s:.1f} s (default settings)")
        t = time.perf_counter()
        replay(zone, *WARM_UP)
        _wait(dev, TARGETS["features"], WARM_UP[1])
        print(f"warm-up week {WARM_UP[0]} .. {WARM_UP[1]} flowed through in {time.perf_counter() - t:.1f} s")
        instance = dg.DagsterInstance.from_config(str(work / "home"))
        for i in range(args.days):
            day = FIRST_MEASURED + timedelta(days=i)
            landed_at, landed = time.time(), time.perf_counter()
            replay(zone, day, day, with_reference=False)
            reached = {}
            for layer, key in TARGETS.items():
                _wait(dev, key, day)
                reached[layer] = time.perf_counter() - landed
            dev.wait_for(
                lambda day=day: [
                    r
                    for r in dev.runs()
                    if r["tags"].get("dagster/partition") == day.isoformat() and r["status"] in ("SUCCESS", "FAILURE")
                ],
                timeout=600,
                what=f"the run of {day} to end",
            )
            parts = breakdown(instance, day, landed_at)
            print(
                f"{day}  "
                + "  ".join(f"{k} {v:5.1f} s" for k, v in reached.items())
                + "  |  "
                + "  ".join(f"{k} {v:.1f}" for k, v in parts.items())
            )
            rows.append({"day": day.isoformat(), **reached, "breakdown_s": parts})
    figures = {
        "scenario": f"fresh instance, warm-up {WARM_UP[0]}..{WARM_UP[1]}, then single March days",
        "days": rows,
        "median_s": {k: statistics.median(r[k] for r in rows) for k in TARGETS},
        "median_breakdown_s": {k: statistics.median(r["breakdown_s"][k] for r in rows) for k in rows[0]["breakdown_s"]},
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    print("median: " + ", ".join(f"{k} {v:.1f} s" for k, v in figures["median_s"].items()))
    print("median breakdown: " + ", ".join(f"{k} {v:.1f} s" for k, v in figures["median_breakdown_s"].items()))
    print(f"load average at the end: {figures['load_average']}")
    out = REPO / "data" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sensor_latency.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
