"""One incremental day after 1 month, 1 year and 10 years of history: does its cost grow with the history?

For each history length H (tokens like 1m, 1y, 10y, 9w, 45d; m = 30 days, y = a synthetic year of 364 days):
1. a fresh data directory and Dagster instance (DAGSTER_HOME with the repository's dagster.yaml), partitions
   configured to start on 2013-01-01 and end CAPACITY days after the history (AI_PLATFORM_START_DATE/_END_DATE);
2. `ai-platform replay --years N` lands the history; the reference tables, then ALL history days through raw and
   dbt features as one single-run range (`daily_ingest_and_features`);
3. then, --days times: make the champion decision serving the next new day if it is not made yet (see
   `_ensure_decision`: the first one trains, evaluates and decides its week on the spec's window (the 8 weeks
   before it); the decisions before it are not computed, one stub "no champion" stands for them, so the
   week bootstraps), land ONE new day (`replay --years`), evaluate the landing sensor as the daemon would
   (timed: "tick"), and run what it requests (`landing_refresh`: raw -> features -> predictions -> monitoring)
   in a fresh process, timed from its start (so its import of the code location counts, as a run worker's
   does); its peak RSS comes from wait4() on that process (it includes the dbt subprocess). A history shorter
   than 8 weeks + 1 week has no decision in effect: its predictions and monitoring run but score nothing (a
   model needs 8 weeks of training and its own week of evaluation).

Prints a table (medians over the new days) and writes data/bench/incremental_day.json. Usage:
`.venv/bin/python bench/incremental_day.py [--histories 1m,1y,10y] [--days 3] [--keep DIR]`. With --keep,
DIR/<history>/ keeps each built history; running again reuses it and takes the next new days (up to CAPACITY
days after the history); a new day whose week is not decided yet keeps the champion through a rollback decision,
without retraining. Building 10 years took ~20 min (raw + features as one run) on 2 shared cores.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START = date(2013, 1, 1)
CAPACITY = 28  # partition days after the history: room for new days, also on reuse with --keep
UNITS = {"d": 1, "w": 7, "m": 30, "y": 364}
OUT = REPO / "data" / "bench" / "incremental_day.json"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def history_days(token: str) -> int:
    token = token.strip().lower()
    if len(token) < 2 or token[-1] not in UNITS or not token[:-1].isdigit() or int(token[:-1]) < 1:
        raise argparse.ArgumentTypeError(f"{token!r}: expected a count and a unit, e.g. 1m, 1y, 10y, 9w, 45d")
    return int(token[:-1]) * UNITS[token[-1]]


def env_for(work: Path, days: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AI_PLATFORM_LANDING_URI"}
    env |= {
        "AI_PLATFORM_DATA_DIR": str(work / "data"),
        "DAGSTER_HOME": str(work / "home"),
        "AI_PLATFORM_START_DATE": START.isoformat(),
        "AI_PLATFORM_END_DATE": (START + timedelta(days=days + CAPACITY)).isoformat(),
        "AI_PLATFORM_LGBM_THREADS": env.get("AI_PLATFORM_LGBM_THREADS", "2"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    }
    return env


def child(step: str, work: Path, days: int, n: int) -> tuple[dict, float, float]:
    """Run `step` of this script in a fresh process; returns its JSON answer, wall seconds and peak RSS (MB)."""
    out = work / f"{step}.out"
    t0 = time.perf_counter()
    with open(out, "w") as f:
        proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--step",
                step,
                "--work",
                str(work),
                "--history-days",
                str(days),
                "--days",
                str(n),
            ],
            env=env_for(work, days),
            stdout=f,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = out.read_text().splitlines()
    answer = next((json.loads(line[len("RESULT ") :]) for line in reversed(lines) if line.startswith("RESULT ")), None)
    if proc.returncode != 0 or answer is None:
        raise SystemExit(f"step {step} failed ({proc.returncode}) for {work}:\n" + "\n".join(lines[-40:]))
    return answer, wall, usage.ru_maxrss / 1024


# --- steps, each in its own process (the partitions are read when the code location loads) -------------


def _defs():
    from ai_platform.tools.code_location import load_definitions

    return load_definitions()


def _step_seconds(instance, run_id: str) -> dict[str, float]:
    return {
        s.step_key: s.end_time - s.start_time
        for s in instance.get_run_step_stats(run_id)
        if s.end_time and s.start_time
    }


def _execute(defs, job: str, instance, run_config: dict | None = None, **kwargs) -> dict:
    t0 = time.perf_counter()
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, run_config={**QUIET, **(run_config or {})}, raise_on_error=False, **kwargs
    )
    if not result.success:
        raise SystemExit(f"{job} {kwargs} failed (run {result.run_id})")
    return {
        "seconds": time.perf_counter() - t0,
        "steps": _step_seconds(instance, result.run_id),
        "run_id": result.run_id,
    }


def _tick(defs, instance, cursor: str | None):
    import dagster as dg

    from ai_platform.landing import LandingResource

    with dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources={"landing": LandingResource()}
    ) as context:
        result = defs.get_sensor_def("landing_zone")(context)
    return list(result.run_requests or []), result.cursor


def _zone():
    from ai_platform import settings
    from ai_platform.landing import open_zone

    return open_zone(settings.landing_uri())


def _years() -> int:
    from ai_platform.partitions import END_DATE, START_DATE
    from ai_platform.tools.replay import years_covering

    return years_covering(END_DATE, START_DATE)


def _ensure_decision(defs, instance, day: date) -> dict | None:
    """Make the champion decision serving `day`, if it is not made yet (its week's days are all in by then).

    The first such week is trained, evaluated and decided (`train_and_evaluate_<spec>`), with one stub decision
    "no champion" for the week before it standing for the decisions not computed. A later week (a kept history
    reused for further new days) keeps the champion in effect without retraining: its decision is a rollback to
    that champion (the champion asset's `rollback_to` config), which scores it on the week and needs no model.
    """

    from ai_platform.ml import keys, registry
    from ai_platform.ml.specs import spec as model_spec
    from ai_platform.partitions import weekly

    spec = model_spec("flight_delay")
    weeks = weekly(spec.window_weeks).get_partition_keys()
    week = registry.decision_week_for(day, weeks)
    if week is None:
        return None
    if registry.decision_path(spec, week).exists():
        return {"week": week, "trained": False}
    i = weeks.index(week)
    previous = weeks[i - 1] if i > 0 else None
    job = keys.train_job(spec.name)
    if previous and registry.decision_path(spec, previous).exists():
        serving = registry.load_decision(spec, previous)["champion"]
        if serving:
            reason = "bench/incremental_day.py: keep the champion for further new days without retraining"
            config = {"rollback_to": serving, "reason": reason}
            ran = _execute(
                defs,
                job,
                instance,
                {"ops": {f"ml__{spec.name}__champion": {"config": config}}},
                partition_key=week,
                asset_selection=[keys.champion(spec.name)],
            )
            return {"week": week, "trained": False, "kept": serving, "seconds": ran["seconds"]}
    elif previous:
        stub = {
            "week": previous,
            "action": "reject",
            "champion": None,
            "previous": None,
            "reason": "bench/incremental_day.py: decisions before this week were not computed (no champion)",
            "effective_from": registry.effective_from(previous).isoformat(),
            "numbers": None,
        }
        registry.save_decision(spec, stub, "bench")
    ran = _execute(defs, job, instance, partition_key=week)
    decision = registry.load_decision(spec, week)
    return {
        "week": week,
        "trained": True,
        "seconds": ran["seconds"],
        "steps": ran["steps"],
        "action": decision["action"],
    }


def step_prepare(work: Path, days: int, n: int) -> dict:
    """Build the history, unless it is built already."""
    import dagster as dg

    from ai_platform import landing
    from ai_platform.partitions import range_tags
    from ai_platform.tools import cli

    marker = work / "built.json"
    out: dict = {}
    defs = _defs()
    instance = dg.DagsterInstance.get()
    if not marker.exists():
        last = START + timedelta(days=days - 1)
        t0 = time.perf_counter()
        assert cli.main(["replay", "--years", str(_years()), "--end", last.isoformat()]) == 0
        out["replay_s"] = time.perf_counter() - t0
        out["reference"] = _execute(defs, "reference_tables", instance)["seconds"]
        ran = _execute(defs, "daily_ingest_and_features", instance, tags=range_tags(START, last))
        out["history_range_s"] = ran["seconds"]
        out["history_range_steps"] = ran["steps"]
        t0 = time.perf_counter()
        requests, cursor = _tick(defs, instance, None)
        out["first_tick_s"] = time.perf_counter() - t0
        assert not requests, f"the first tick over the built history requested runs: {requests}"
        (work / "cursor.txt").write_text(cursor)
        marker.write_text(json.dumps({"history_days": days, "start": START.isoformat(), **out}, indent=2))
    else:
        out = json.loads(marker.read_text()) | {"reused": True}
    out["complete_days"] = len(landing.complete_days(landing.valid_names(_zone().list())))
    _record_build(marker, [])
    return out


def _record_build(marker: Path, trained: list[dict]) -> dict:
    """Add the weeks trained and this process's peak RSS to the build's record (a build spans several steps)."""
    built = json.loads(marker.read_text())
    built["trained"] = built.get("trained", []) + trained
    rss = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    built["build_peak_rss_mb"] = max(built.get("build_peak_rss_mb", built.pop("peak_rss_mb", 0)), rss)
    marker.write_text(json.dumps(built, indent=2))
    return built


def step_land(work: Path, days: int, n: int) -> dict:
    """Make the champion decision serving the next new day (see `_ensure_decision`), land the day and evaluate
    the landing sensor, as the daemon would; keep its run request."""
    import dagster as dg
    import polars as pl

    from ai_platform import lake
    from ai_platform.tools import cli
    from ai_platform.tools.replay import next_day

    defs = _defs()
    instance = dg.DagsterInstance.get()
    day = next_day(_zone())
    decision = _ensure_decision(defs, instance, day)
    _record_build(work / "built.json", [decision] if decision and decision["trained"] else [])
    flights = lake.raw_day_path("flights", day).parents[1]
    rows = pl.scan_parquet(str(flights / "*" / "data.parquet")).select(pl.len()).collect().item()
    history = len(list(flights.glob("date=*")))
    assert cli.main(["replay", "--years", str(_years()), "--start", day.isoformat(), "--end", day.isoformat()]) == 0
    t0 = time.perf_counter()
    requests, cursor = _tick(defs, instance, (work / "cursor.txt").read_text())
    tick_s = time.perf_counter() - t0
    if len(requests) != 1 or requests[0].partition_key != day.isoformat():
        raise SystemExit(f"expected one run request for {day}, got {requests}")
    (work / "cursor.txt").write_text(cursor)
    r = requests[0]
    request = {
        "day": day.isoformat(),
        "asset_selection": [k.to_user_string() for k in r.asset_selection],
        "partition_key": r.partition_key,
        "tags": dict(r.tags),
    }
    (work / "request.json").write_text(json.dumps(request, indent=2))
    return {
        "day": day.isoformat(),
        "history_days": history,
        "history_rows": rows,
        "tick_s": tick_s,
        "decision": decision,
        **request,
    }


def step_run(work: Path, days: int, n: int) -> dict:
    """The run the landing sensor requested, in this fresh process, as a run worker executes it."""
    t0 = time.perf_counter()
    import dagster as dg

    defs = _defs()
    import_s = time.perf_counter() - t0
    from ai_platform.ml import keys

    request = json.loads((work / "request.json").read_text())
    instance = dg.DagsterInstance.get()
    t1 = time.perf_counter()
    result = defs.resolve_job_def("landing_refresh").execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey.from_user_string(k) for k in request["asset_selection"]],
        partition_key=request["partition_key"],
        tags=request["tags"],
        run_config=QUIET,
        raise_on_error=False,
    )
    run_s = time.perf_counter() - t1
    if not result.success:
        raise SystemExit(f"landing_refresh for {request['day']} failed (run {result.run_id})")
    dbt_nodes = {}
    for event in result.get_asset_materialization_events():
        m = event.materialization
        if "Execution Duration" in m.metadata:
            dbt_nodes[m.asset_key.to_user_string()] = m.metadata["Execution Duration"].value
    for evaluation in result.get_asset_check_evaluations():
        if "Execution Duration" in evaluation.metadata:
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            dbt_nodes[name] = evaluation.metadata["Execution Duration"].value
    predictions = [
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key == keys.predictions("flight_delay")
    ]
    return {
        "day": request["day"],
        "import_s": import_s,
        "run_s": run_s,
        "steps": _step_seconds(instance, result.run_id),
        "dbt_nodes_s": dbt_nodes,
        "predicted_rows": predictions[0]["dagster/row_count"].value if predictions else None,
        "model_version": predictions[0]["model_version"].value if predictions else None,
        "self_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


STEPS = {"prepare": step_prepare, "land": step_land, "run": step_run}

# --- the benchmark ------------------------------------------------------------------------------------


def layer(step_key: str) -> str:
    if step_key.endswith("latest_day_arrived"):
        return "checks"  # the partition-aware freshness checks (raw/flights, raw/weather, flight_features)
    if step_key.startswith("raw__"):
        return "raw"
    if step_key.startswith("ml__"):
        return "predictions"
    if step_key.startswith("monitoring__"):
        return "monitoring"
    return "features"


LAYERS = ("raw", "features", "checks", "predictions", "monitoring")


def bench_history(token: str, days: int, n: int, root: Path) -> dict:
    work = root / token
    (work / "home").mkdir(parents=True, exist_ok=True)
    yaml = work / "home" / "dagster.yaml"
    if not yaml.exists():
        yaml.write_text((REPO / "dagster.yaml").read_text())
    print(f"[{token}] building {days} day(s) of history in {work} ...", flush=True)
    prepared, prepare_wall, prepare_rss = child("prepare", work, days, n)
    print(
        f"[{token}] prepared in {prepare_wall:.0f} s (peak RSS {prepare_rss:.0f} MB): "
        + json.dumps({k: v for k, v in prepared.items() if k != "history_range_steps"}, default=str)[:600],
        flush=True,
    )
    runs = []
    for _ in range(n):
        landed, _, _ = child("land", work, days, n)
        ran, wall, rss = child("run", work, days, n)
        by_layer = {name: 0.0 for name in LAYERS}
        for key, seconds in ran["steps"].items():
            by_layer[layer(key)] += seconds
        runs.append(landed | ran | {"wall_s": wall, "peak_rss_mb": rss})
        print(
            f"[{token}] {ran['day']}: {wall:.1f} s wall (import {ran['import_s']:.1f}, run {ran['run_s']:.1f}; "
            + ", ".join(f"{k} {v:.1f}" for k, v in by_layer.items())
            + f"), tick {landed['tick_s']:.2f} s, peak RSS {rss:.0f} MB, predicted {ran['predicted_rows']} rows"
            f" with {ran['model_version']}",
            flush=True,
        )
    built = json.loads((work / "built.json").read_text())
    prepared |= {"trained": built.get("trained", []), "build_peak_rss_mb": built.get("build_peak_rss_mb", 0)}
    return summarize(token, runs, prepared | {"wall_s": prepare_wall, "peak_rss_mb": prepare_rss})


def summarize(token: str, runs: list[dict], prepared: dict) -> dict:
    """Medians over the new days of one history (layers recomputed from the runs' step seconds)."""
    med = statistics.median
    for r in runs:
        r["layers_s"] = {name: 0.0 for name in LAYERS}
        for key, seconds in r["steps"].items():
            r["layers_s"][layer(key)] += seconds
        r["outside_steps_s"] = r["run_s"] - sum(r["steps"].values())
    return {
        "history": token,
        "history_days": runs[0]["history_days"],
        "history_rows": runs[0]["history_rows"],
        "wall_s": med(r["wall_s"] for r in runs),
        "median_s": med(r["wall_s"] for r in runs),  # the run's whole process (bench/report.py reads it)
        "run_s": med(r["run_s"] for r in runs),
        # The target's scope: the in-process run without its monitoring steps.
        "to_predictions_s": med(r["run_s"] - r["layers_s"]["monitoring"] for r in runs),
        "import_s": med(r["import_s"] for r in runs),
        "tick_s": med(r["tick_s"] for r in runs),
        "layers_s": {name: med(r["layers_s"][name] for r in runs) for name in LAYERS},
        "outside_steps_s": med(r["outside_steps_s"] for r in runs),
        "dbt_nodes_s": {
            node: med(r["dbt_nodes_s"].get(node, 0.0) for r in runs) for node in sorted(runs[-1]["dbt_nodes_s"])
        },
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "champion": runs[-1]["model_version"],
        "prepare": prepared,
        "runs": runs,
    }


def report(results: list[dict], days: int) -> None:
    base = results[0]
    print(f"\none new day (landing_refresh run in a fresh process), median of {days} day(s), {os.cpu_count()} CPUs")
    print(
        f"{'history':<8}{'days':>6}{'rows':>10}{'wall s':>8}{'ratio':>7}{'run s':>7}{'to pred':>8}{'import':>7}"
        + "".join(f"{name[:11]:>12}" for name in LAYERS)
        + f"{'other':>7}{'tick s':>8}{'peak MB':>9}  champion"
    )
    for r in results:
        print(
            f"{r['history']:<8}{r['history_days']:>6}{r['history_rows']:>10}{r['wall_s']:>8.1f}"
            f"{r['wall_s'] / base['wall_s']:>7.2f}{r['run_s']:>7.1f}{r['to_predictions_s']:>8.1f}{r['import_s']:>7.1f}"
            + "".join(f"{r['layers_s'][name]:>12.2f}" for name in LAYERS)
            + f"{r['outside_steps_s']:>7.2f}{r['tick_s']:>8.2f}{r['peak_rss_mb']:>9.0f}  {r['champion'] or 'none'}"
        )
    print(
        "(wall: the run's process from start to exit; run: execute_in_process; to pred: run without monitoring "
        "(raw -> features -> predictions); other: run minus its steps; "
        "tick: the landing sensor's evaluation that requested it)"
    )
    nodes = sorted({n for r in results for n in r["dbt_nodes_s"]})
    if nodes:
        print("\ndbt nodes (seconds, median; dbt's own timing inside the features step):")
        print(f"{'node':<75}" + "".join(f"{r['history']:>8}" for r in results))
        for node in nodes:
            print(f"{node[:74]:<75}" + "".join(f"{r['dbt_nodes_s'].get(node, 0.0):>8.2f}" for r in results))
    print("\nbuilding each history (seconds):")
    for r in results:
        p = r["prepare"]
        trained = p.get("trained", [])
        champion = ", ".join(f"{d['week']} {d['action']} in {d['seconds']:.0f} s" for d in trained) or "none"
        print(
            f"  {r['history']}: replay --years {p.get('replay_s', 0):.1f}, "
            f"raw + features of every day as one run {p.get('history_range_s', 0):.0f}, "
            f"first sensor tick {p.get('first_tick_s', 0):.1f}; champion trained: {champion}; "
            f"peak RSS of the build {p.get('build_peak_rss_mb', 0):.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--histories", default="1m,1y,10y", help="history lengths, e.g. 1m,1y,10y (default)")
    parser.add_argument("--days", type=int, default=3, help="new days to time per history (median; default 3)")
    parser.add_argument("--keep", type=Path, help="build histories in DIR/<history>/ and keep them for reuse")
    parser.add_argument(
        "--report", action="store_true", help="print the table of data/bench/incremental_day.json again (no run)"
    )
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--history-days", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        answer = STEPS[args.step](args.work, args.history_days, args.days)
        print("RESULT " + json.dumps(answer, default=str), flush=True)
        return

    if args.report:
        figures = json.loads(OUT.read_text())
        figures["histories"] = [summarize(r["history"], r["runs"], r["prepare"]) for r in figures["histories"]]
        report(figures["histories"], figures["days_per_history"])
        OUT.write_text(json.dumps(figures, indent=2, default=str))
        return
    tokens = [t.strip() for t in args.histories.split(",") if t.strip()]
    lengths = {t: history_days(t) for t in tokens}
    if args.days < 1 or args.days > CAPACITY:
        parser.error(f"--days must be within 1..{CAPACITY}")
    root = (args.keep or Path(tempfile.mkdtemp(prefix="ai-platform-incremental-"))).resolve()
    results = [bench_history(t, lengths[t], args.days, root) for t in sorted(tokens, key=lengths.get)]
    report(results, args.days)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    figures = {"days_per_history": args.days, "cpus": os.cpu_count(), "work": str(root), "histories": results}
    OUT.write_text(json.dumps(figures, indent=2, default=str))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
