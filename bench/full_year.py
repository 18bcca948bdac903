"""Full-year job, cold: a fresh data directory and Dagster instance, every asset for every partition.

Prints, per layer, the step seconds (Dagster's step stats; replay is timed directly) and the work
seconds inside them (a Python step's body; for dbt, dbt's own time per model and test from its run
results plus the lake export); the wall of the models-and-serving stage (ml + monitoring, whose specs run side
by side, so their step seconds add up to more than it); the share of the wall time spent outside the work
(orchestration: run and step set-up, dbt start-up and parsing, event logging; that stage counted by its wall), and
the peak RSS; writes them to data/bench/full_year.json.
Usage: `make bench` or `.venv/bin/python bench/full_year.py [--keep DIR]`.
"""

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (default: a temp folder)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ai-platform-bench-"))
    (work / "home").mkdir(parents=True, exist_ok=True)
    (work / "home" / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    os.environ["AI_PLATFORM_DATA_DIR"] = str(work / "data")
    os.environ["DAGSTER_HOME"] = str(work / "home")

    t0 = time.perf_counter()
    from ai_platform.ml.specs import specs
    from ai_platform.tools.code_location import load_definitions
    from ai_platform.tools.pipeline import run
    from ai_platform.tools.progress import Reporter

    defs = load_definitions()

    import_s = time.perf_counter() - t0
    with Reporter() as out:
        summary = run(defs, specs(), out=out)
    wall = time.perf_counter() - t0
    layers = {"import definitions": import_s, **summary["layer_s"]}
    work = summary["work_s"]
    stage_s = summary["stage_wall_s"]["models and serving"]
    inside = stage_s + sum(v for k, v in work.items() if k not in ("ml", "monitoring"))
    python_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "wall_s": wall,
        "layer_s": layers,
        "work_s": work,
        "models_and_serving_wall_s": stage_s,
        "outside_work_s": wall - inside,
        "outside_work_share": (wall - inside) / wall,
        "models": summary["models"],
        # The largest process of the job: this one, or a child such as dbt building the year (its DuckDB).
        "peak_rss_mb": max(python_rss_mb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "python_rss_mb": python_rss_mb,
        "cpus": os.cpu_count(),
    }
    print(f"{'layer':<22}{'steps s':>9}{'work s':>9}{'share':>8}")
    for name, seconds in layers.items():
        print(f"{name:<22}{seconds:>9.1f}{work.get(name, 0.0):>9.1f}{seconds / wall:>8.0%}")
    print(f"{'total (wall)':<22}{wall:>9.1f}{sum(work.values()):>9.1f}")
    print(f"models and serving (ml + monitoring, the specs side by side): {stage_s:.1f} s wall")
    print(f"outside the work: {figures['outside_work_s']:.1f} s, {figures['outside_work_share']:.0%} of wall time")
    for name, q in summary["models"].items():
        print(f"{name}: {q['weekly_models']} weekly models, mean AUC {q['mean_auc']:.3f}")
    print(f"peak RSS {figures['peak_rss_mb']:.0f} MB (largest process; this Python one {python_rss_mb:.0f} MB)")
    out = REPO / "data" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "full_year.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
