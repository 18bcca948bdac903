"""Seconds from a day's files landing to that day's partitions being materialized, under `dagster dev`.

Starts `dagster dev -w workspace.yaml` (webserver + daemon) on a fresh data directory and instance with
a 5-second landing sensor interval, lands a warm-up day, then drops one day at a time and polls the
webserver's GraphQL API until the day's raw and feature partitions are materialized. Prints each day
and the median, and writes data/bench/sensor_latency.json. Usage: `.venv/bin/python bench/sensor_latency.py
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "assets_tests"))

from ai_platform.landing import LocalZone  # noqa: E402
from ai_platform.replay import replay  # noqa: E402
from dev_server import DagsterDev  # noqa: E402

# What a day's arrival must reach, upstream first. January has no champion yet: its predictions and
# drift partitions are materialized as "no model in effect", without scoring.
TARGETS = {
    "raw": ["raw", "flights"],
    "features": ["flight_features"],
    "predictions": ["ml", "flight_delay", "predictions"],
    "monitoring": ["monitoring", "flight_delay", "feature_drift"],
}
FIRST = date(2013, 1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=5, help="days to drop after the warm-up day (default 5)")
    parser.add_argument("--interval", type=int, default=5, help="landing sensor interval in seconds (default 5)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ai-platform-latency-"))
    zone = LocalZone(work / "data" / "landing")
    env = {
        "AI_PLATFORM_DATA_DIR": str(work / "data"),
        "AI_PLATFORM_SENSOR_INTERVAL_SECONDS": str(args.interval),
        "AI_PLATFORM_LGBM_THREADS": "1",
    }
    rows = []
    with DagsterDev(work / "home", env) as dev:
        print(f"dagster dev up in {dev.startup_s:.1f} s; sensor interval {args.interval} s")
        for i in range(args.days + 1):
            day = FIRST + timedelta(days=i)
            landed = time.perf_counter()
            replay(zone, day, day)
            reached = {}
            for layer, key in TARGETS.items():
                dev.wait_for(
                    lambda key=key, day=day: day.isoformat() in dev.materialized_partitions(key),
                    timeout=300,
                    interval=0.25,
                    what=f"{'/'.join(key)} {day}",
                )
                reached[layer] = time.perf_counter() - landed
            label = "warm-up" if i == 0 else ""
            print(f"{day}  " + "  ".join(f"{k} {v:5.1f} s" for k, v in reached.items()) + f"  {label}")
            if i:
                rows.append({"day": day.isoformat(), **reached})
    figures = {
        "sensor_interval_s": args.interval,
        "days": rows,
        "median_s": {k: statistics.median(r[k] for r in rows) for k in TARGETS},
        "max_s": {k: max(r[k] for r in rows) for k in TARGETS},
        "cpus": os.cpu_count(),
    }
    print("median: " + ", ".join(f"{k} {v:.1f} s" for k, v in figures["median_s"].items()))
    print("max:    " + ", ".join(f"{k} {v:.1f} s" for k, v in figures["max_s"].items()))
    out = REPO / "data" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sensor_latency.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
