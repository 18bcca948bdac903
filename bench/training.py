"""Training cost of the full year, per spec: the platform against a plain-LightGBM floor, quiet and beside a
competing CPU-bound process.

1. A lake holding the year's features, built with the platform's own jobs (replay, reference tables, every
   day through raw and dbt) and kept in data/bench/training/base/ until the dbt project changes.
2. The platform (a fresh process, data directory and instance; the lake's feature files copied in): per spec the
   44 weeks' models, evaluations and champion decisions as `make run` plans them (`train_and_evaluate_<spec>`,
   one range run for the models and evaluations, one for the decisions), then the year's
   `predict_and_monitor_<spec>` run. Seconds per step kind from Dagster's step stats; out-of-time AUC per week.
3. The floor, in a fresh process: per spec and week, read the window's feature files with polars, build the
   matrix, `lightgbm.train` with the spec's parameters and the same early stopping (hence the same rounds), and
   the refit on the whole window where the spec asks for one
   -- no Dagster, no model card, profile, report or file written. Platform training / floor is the ratio.
4. The platform again, with one CPU-bound process (a Python busy loop) running beside it: the slowdown ratio.
5. The last week's model trained again with one LightGBM thread: the same file as with the default threads?

Prints the figures and writes data/bench/training.json. Usage: `make bench` or
`.venv/bin/python bench/training.py [--keep DIR] [--specs flight_delay,late_departure]`.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "data" / "bench" / "training.json"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
FIRST_HALF_END = "2013-07-01"  # features and parameters were chosen on the weeks before it


def env_for(data: Path, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AI_PLATFORM_LANDING_URI"}
    return env | {"AI_PLATFORM_DATA_DIR": str(data), "DAGSTER_HOME": str(home), **extra}


def child(step: str, work: Path, env: dict[str, str], *args: str) -> tuple[dict, float, float]:
    """Run `step` of this script in a fresh process: its JSON answer, wall seconds and peak RSS (MB)."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"{step}.log"
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--step", step, "--keep", str(work), *args],
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    lines = log.read_text().splitlines()
    answer = next((json.loads(line[len("RESULT ") :]) for line in reversed(lines) if line.startswith("RESULT ")), None)
    if os.waitstatus_to_exitcode(status) != 0 or answer is None:
        raise SystemExit(f"step {step} failed:\n" + "\n".join(lines[-40:]))
    return answer, wall, usage.ru_maxrss / 1024


def _instance(home: Path):
    import dagster as dg

    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.get()


def _defs():
    from ai_platform.tools.code_location import load_definitions

    return load_definitions()


# --- steps, each in its own process ---------------------------------------------------------------------------


def step_lake(work: Path) -> dict:
    """Land the year and build every day's raw partitions and features, as `make run` does."""
    from ai_platform import landing, settings
    from ai_platform.partitions import END_DATE, START_DATE, range_tags
    from ai_platform.tools.replay import replay

    replay(landing.open_zone(settings.landing_uri()), START_DATE, END_DATE - timedelta(days=1))
    defs, instance = _defs(), _instance(Path(os.environ["DAGSTER_HOME"]))
    assert defs.resolve_job_def("reference_tables").execute_in_process(instance=instance, run_config=QUIET).success
    tags = range_tags(START_DATE, END_DATE - timedelta(days=1))
    job = defs.resolve_job_def("daily_ingest_and_features")
    assert job.execute_in_process(instance=instance, run_config=QUIET, tags=tags).success
    return {}


def step_platform(work: Path, spec_names: list[str]) -> dict:
    """Every week's model, evaluation and champion decision as `make run` plans them, then the year's predictions
    and monitoring."""
    import dagster as dg

    from ai_platform.ml import keys, training
    from ai_platform.ml.evaluation import load_metrics
    from ai_platform.ml.specs import spec
    from ai_platform.partitions import END_DATE, START_DATE, range_tags
    from ai_platform.tools.pipeline import train_weeks, weeks_in_data
    from ai_platform.tools.progress import Reporter
    from ai_platform.tools.run_summary import Timing

    defs, instance = _defs(), _instance(Path(os.environ["DAGSTER_HOME"]))
    out = {}
    for name in spec_names:
        s = spec(name)
        seconds: dict[str, float] = {}
        rounds, weeks = 0, {}
        t0 = time.perf_counter()
        train_weeks(defs, instance, s, [], END_DATE, Timing(), Reporter.quiet())
        served = defs.resolve_job_def(keys.serve_job(name)).execute_in_process(
            instance=instance, run_config=QUIET, tags=range_tags(START_DATE, END_DATE - timedelta(days=1))
        )
        wall = time.perf_counter() - t0
        assert served.success
        runs = instance.get_runs(dg.RunsFilter(job_name=keys.train_job(name))) + [served.dagster_run]
        for run in runs:
            assert run.is_success
            for step in instance.get_run_step_stats(run.run_id):
                kind = step.step_key.removeprefix(f"ml__{name}__").removeprefix(f"monitoring__{name}__")
                seconds[kind] = seconds.get(kind, 0.0) + step.end_time - step.start_time
        for week in weeks_in_data(s, END_DATE):
            card = training.load_card(s, week)
            rounds += card["best_iteration"]
            weeks[week] = {"auc": load_metrics(name, week)["roc_auc"], "model_sha256": card["model_file_sha256"]}
        out[name] = {"wall_s": wall, "step_s": seconds, "runs": len(runs), "rounds": rounds, "weeks": weeks}
    return out


def step_floor(work: Path, spec_names: list[str]) -> dict:
    """Plain LightGBM on the same files: read, matrix, train with early stopping. Nothing else."""
    import lightgbm as lgb
    import numpy as np
    import polars as pl
    from threadpoolctl import threadpool_limits

    from ai_platform import lake
    from ai_platform.ml import cores
    from ai_platform.ml.specs import spec
    from ai_platform.partitions import END_DATE, START_DATE, days, parse_day
    from ai_platform.tools.pipeline import weeks_in_data

    out = {}
    for name in spec_names:
        s = spec(name)
        columns = ["flight_date", s.label, *s.features]
        params = {**s.params, "seed": s.seed, "deterministic": True, "force_row_wise": True}
        t0, rounds = time.perf_counter(), 0
        for week in weeks_in_data(s, END_DATE):
            start = parse_day(week)
            window = days(s.training_start(start, START_DATE), start)
            files = [lake.features_day_path(s.features_model, d) for d in window]
            df = pl.concat([pl.read_parquet(f, columns=columns) for f in files]).filter(pl.col(s.label).is_not_null())
            df = df.with_columns(
                pl.col(c).cast(pl.Enum(sorted(df[c].drop_nulls().unique().to_list()))).to_physical()
                for c in s.categorical
            )
            x = df.select(pl.col(f).cast(pl.Float64) for f in s.features).to_numpy()
            is_valid = (df["flight_date"] >= window[-s.early_stopping_days]).to_numpy()
            data = lgb.Dataset(
                x,
                df[s.label].to_numpy(),
                feature_name=list(s.features),
                categorical_feature=[s.features.index(c) for c in s.categorical],
                params=params,
            )
            with threadpool_limits(limits=cores.lgbm_threads(), user_api="openmp"):
                data.construct()
                booster = lgb.train(
                    {**params, "metric": "auc"},
                    data.subset(np.flatnonzero(~is_valid)),
                    num_boost_round=s.max_rounds,
                    valid_sets=[data.subset(np.flatnonzero(is_valid))],
                    callbacks=[lgb.early_stopping(s.early_stopping_rounds, verbose=False)],
                )
                best = max(1, booster.best_iteration)
                if s.refit:
                    lgb.train(params, data, num_boost_round=best)
            rounds += best
        out[name] = {"train_s": time.perf_counter() - t0, "rounds": rounds}
    return out


def step_one_thread(work: Path, spec_names: list[str]) -> dict:
    """The last week's model of each spec, trained again (in another data directory) with the current threads."""
    from ai_platform.ml import keys, training
    from ai_platform.ml.specs import spec
    from ai_platform.partitions import END_DATE
    from ai_platform.tools.pipeline import weeks_in_data

    defs, instance = _defs(), _instance(Path(os.environ["DAGSTER_HOME"]))
    out = {}
    for name in spec_names:
        s = spec(name)
        week = weeks_in_data(s, END_DATE)[-1]
        job = defs.resolve_job_def(keys.train_job(name))
        key = keys.model(name)
        result = job.execute_in_process(instance=instance, run_config=QUIET, partition_key=week, asset_selection=[key])
        assert result.success
        path = training.model_dir(s, week) / "model.txt"
        out[name] = {"week": week, "model_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return out


# --- the parent: prepares, runs the steps, compares -----------------------------------------------------------


def _dbt_checksum() -> str:
    """sha256 of the dbt project's models, macros and settings: the lake's features are those of this project."""
    from ai_platform import settings

    project = settings.dbt_project_dir()
    files = sorted([project / "dbt_project.yml", *(project / "models").rglob("*"), *(project / "macros").rglob("*")])
    digest = hashlib.sha256()
    for path in (p for p in files if p.is_file()):
        digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _copy_features(base: Path, data: Path) -> None:
    shutil.rmtree(data.parent, ignore_errors=True)
    shutil.copytree(base / "data" / "lake" / "features", data / "lake" / "features")


def _summary(weeks: dict) -> dict:
    def mean(values):
        return sum(values) / len(values) if values else None

    aucs = {w: v["auc"] for w, v in weeks.items()}
    first = [a for w, a in aucs.items() if w < FIRST_HALF_END]
    second = [a for w, a in aucs.items() if w >= FIRST_HALF_END]
    return {
        "weeks": len(aucs),
        "mean_auc": mean(list(aucs.values())),
        "min_auc": min(aucs.values()),
        "mean_auc_jan_jun": mean(first),
        "min_auc_jan_jun": min(first),
        "mean_auc_jul_dec": mean(second),
        "min_auc_jul_dec": min(second),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, default=REPO / "data" / "bench" / "training")
    parser.add_argument("--specs", default="")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work: Path = args.keep.resolve()

    if args.step:
        names = args.specs.split(",")
        step = {"lake": step_lake, "platform": step_platform, "floor": step_floor, "one_thread": step_one_thread}
        answer = step[args.step](work) if args.step == "lake" else step[args.step](work, names)
        print("RESULT " + json.dumps(answer))
        return

    from ai_platform.ml.specs import specs

    names = args.specs.split(",") if args.specs else [s.name for s in specs()]
    base = work / "base"
    built_by = _dbt_checksum()
    if not (base / "ready").exists() or (base / "ready").read_text().split()[0] != built_by:
        shutil.rmtree(base, ignore_errors=True)
        print("building the year's lake (kept in", base, "until the dbt project changes)", flush=True)
        _, seconds, _ = child("lake", work, env_for(base / "data", base / "home"))
        (base / "ready").write_text(f"{built_by} {seconds:.0f} s\n")

    runs = {}
    for label, competing in (("quiet", False), ("busy", True)):
        data, home = work / label / "data", work / label / "home"
        _copy_features(base, data)
        competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if competing else None
        try:
            print(f"platform, {label}{' (beside a CPU-bound process)' if competing else ''}", flush=True)
            runs[label] = child("platform", work, env_for(data, home), "--specs", ",".join(names))
        finally:
            if competitor:
                competitor.kill()
                competitor.wait()
    print("floor: plain lightgbm.train on the same files", flush=True)
    floor_env = env_for(work / "quiet" / "data", work / "floor_home")
    floor, _, _ = child("floor", work, floor_env, "--specs", ",".join(names))
    data, home = work / "one_thread" / "data", work / "one_thread" / "home"
    _copy_features(base, data)
    one, _, _ = child("one_thread", work, env_for(data, home, AI_PLATFORM_LGBM_THREADS="1"), "--specs", ",".join(names))

    quiet, busy = runs["quiet"][0], runs["busy"][0]
    figures = {"cpus": os.cpu_count(), "specs": {}}
    for name in names:
        q, b = quiet[name], busy[name]
        training_s = q["step_s"]["model"]
        last = one[name]["week"]
        figures["specs"][name] = {
            "runs": q["runs"],
            "quiet": q["step_s"] | {"wall_s": q["wall_s"]},
            "busy": b["step_s"] | {"wall_s": b["wall_s"]},
            "floor_train_s": floor[name]["train_s"],
            "platform_training_over_floor": training_s / floor[name]["train_s"],
            "busy_over_quiet": b["wall_s"] / q["wall_s"],
            "rounds": {"platform": q["rounds"], "floor": floor[name]["rounds"]},
            "models_identical_quiet_busy": sum(
                q["weeks"][w]["model_sha256"] == b["weeks"][w]["model_sha256"] for w in q["weeks"]
            ),
            "last_model_identical_with_1_thread": q["weeks"][last]["model_sha256"] == one[name]["model_sha256"],
            **_summary(q["weeks"]),
        }
    figures["ml_quiet_s"] = sum(quiet[n]["wall_s"] for n in names)
    figures["ml_busy_s"] = sum(busy[n]["wall_s"] for n in names)
    figures["busy_over_quiet"] = figures["ml_busy_s"] / figures["ml_quiet_s"]
    figures["platform_peak_rss_mb"] = runs["quiet"][2]

    for name, f in figures["specs"].items():
        print(f"\n{name}: {f['weeks']} weekly models in {f['runs']} runs")
        print("  seconds (quiet): " + ", ".join(f"{k} {v:.1f}" for k, v in f["quiet"].items()))
        print(
            f"  training: platform {f['quiet']['model']:.1f} s, floor {f['floor_train_s']:.1f} s "
            f"(ratio {f['platform_training_over_floor']:.2f}; "
            f"rounds {f['rounds']['platform']} / {f['rounds']['floor']})"
        )
        print(f"  beside a CPU-bound process: {f['busy']['wall_s']:.1f} s, {f['busy_over_quiet']:.2f}x quiet")
        print(
            f"  out-of-time AUC: mean {f['mean_auc']:.3f}, worst {f['min_auc']:.3f}; "
            f"Jan-Jun {f['mean_auc_jan_jun']:.3f} (worst {f['min_auc_jan_jun']:.3f}), "
            f"Jul-Dec {f['mean_auc_jul_dec']:.3f} (worst {f['min_auc_jul_dec']:.3f})"
        )
        print(
            f"  models identical quiet vs busy: {f['models_identical_quiet_busy']}/{f['weeks']}; "
            f"last week's with 1 thread: {'identical' if f['last_model_identical_with_1_thread'] else 'DIFFERENT'}"
        )
    print(
        f"\nML of the year, all specs: {figures['ml_quiet_s']:.1f} s quiet, {figures['ml_busy_s']:.1f} s beside a "
        f"CPU-bound process ({figures['busy_over_quiet']:.2f}x); peak RSS {figures['platform_peak_rss_mb']:.0f} MB"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
