"""Crash recovery and determinism, with real processes: kill -9 a run in the middle of its dbt step and in the
middle of LightGBM training, re-execute each from its failure, and get exactly the files of a run that was never
interrupted (and the same warehouse tables). The uninterrupted run is also the second, independent
materialization that shows training and scoring are deterministic.

Both runs use the same landed files and, one after the other, the same data directory path (the reference run's
directory is renamed once it is done): files that record a path (the lake's sidecars) can then be compared byte
for byte too.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

import crash_runs
from ai_platform import settings
from ai_platform.features.assets import DBT_RUNS, PARTIAL_PARSE
from ai_platform.landing import LocalZone
from ai_platform.partitions import range_tags
from ai_platform.tools.replay import replay
from conftest import LGBM_THREADS
from instance_dirs import instance_dir
from processes import live_processes

pytestmark = pytest.mark.heavy

FIRST, LAST = date(2013, 1, 1), date(2013, 3, 5)  # 8 weeks of training + the model's week + one day served
WEEK, SERVED = "2013-02-26", "2013-03-05"  # the first weekly model; its decision serves from 2013-03-05
MODEL_DIR = Path("models/flight_delay") / WEEK
PREDICTIONS = Path(f"lake/predictions/flight_delay/date={SERVED}/data.parquet")
AUDIT_LOG = Path("registry/flight_delay/audit.jsonl")

DAILY = {"job": "daily_ingest_and_features", "tags": range_tags(FIRST, LAST)}
TRAIN = {"job": "train_and_evaluate_flight_delay", "tags": {"dagster/partition": WEEK}}
SERVE = [
    {"job": "predict_and_monitor_flight_delay", "tags": {"dagster/partition": SERVED}},
    {"job": "model_history_flight_delay"},
]
DBT_STEP, MODEL_STEP = "flights_dbt", "ml__flight_delay__model"
RUN_TIMEOUT = 900  # seconds; a whole plan takes ~90 s alone on 2 cores, others' tests may share them


@dataclass
class Setup:
    root: Path
    landing: Path
    data: Path  # the path every run writes to (the crash-recovered run's files end up here)
    reference: Path  # the uninterrupted run's data directory, renamed
    crash_home: Path
    kills: dict[str, dict] = field(default_factory=dict)  # what had and had not been written at each kill
    recoveries: dict[str, list[str]] = field(default_factory=dict)  # steps each re-execution ran
    seconds: dict[str, float] = field(default_factory=dict)
    procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self, name: str, plan: list[dict], home: Path) -> tuple[subprocess.Popen, Path]:
        """Launch `plan` in its own process group; output goes to <root>/<name>.log."""
        log = self.root / f"{name}.log"
        self.procs.append(crash_runs.start(plan, _env(self, home), log))
        return self.procs[-1], log


def _home(path: Path) -> Path:
    path.mkdir()
    shutil.copy(settings.REPO_ROOT / "dagster.yaml", path / "dagster.yaml")
    return path


def _env(s: Setup, home: Path) -> dict[str, str]:
    return {
        "DAGSTER_HOME": str(home),
        settings.DATA_DIR_ENV: str(s.data),
        settings.LANDING_URI_ENV: str(s.landing),
        settings.LGBM_THREADS_ENV: LGBM_THREADS,
    }


def _group_processes(pgid: int) -> dict[int, str]:
    """Live processes of the process group `pgid`, with their command lines."""
    return {pid: cmdline for pid, (_, group, cmdline) in live_processes().items() if group == pgid}


def _finish(proc: subprocess.Popen, log: Path) -> None:
    try:
        rc = proc.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError(f"the runs did not finish in {RUN_TIMEOUT} s; see {log}") from None
    assert rc == 0, f"a run failed (exit {rc}); see {log}"


def _wait_for(what: str, proc: subprocess.Popen, log: Path, condition: Callable, timeout: float = RUN_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        if proc.poll() is not None:
            raise AssertionError(f"the run process exited ({proc.returncode}) before {what}; see {log}")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"timed out waiting for {what}; see {log}")


def _started_run(instance: dg.DagsterInstance, job: str) -> dg.DagsterRun | None:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job, statuses=[dg.DagsterRunStatus.STARTED]))
    return runs[0] if runs else None


def _events(instance: dg.DagsterInstance, run_id: str, step: str) -> list[str]:
    return [
        e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.step_key == step and e.is_dagster_event
    ]


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the run process and every process it started (dbt), as a machine crash would."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while _group_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_processes(proc.pid), "a process of the killed group survived"


def _mark_failed(instance: dg.DagsterInstance, run_id: str, data: Path) -> None:
    """Fail the killed run and free its pool slots, which nothing in Dagster does for it here.

    Under `dagster dev` the code server that launched a run fails it when its worker dies, and run monitoring
    frees its slots (test_run_monitoring.py frees nothing by hand). These runs execute in a
    plain process (crash_runs: execute_job, as `make run` executes in-process), which no code server watches:
    run monitoring would fail them only at its max runtime (6 h), and meanwhile their slots block the recovery.
    """
    run = instance.get_run_by_id(run_id)
    assert run.status == dg.DagsterRunStatus.STARTED  # nobody could record the end of the killed run
    instance.report_run_failed(run, "the run worker was killed (kill -9 of its process group)")
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    # A killed dbt step leaves its invocation folder beside the warehouse, as a failed build does: this test made
    # it, it removes it.
    for folder in (data / "warehouse" / DBT_RUNS).glob(f"{run_id}-*"):
        shutil.rmtree(folder)


def _written(data: Path, *parts: str) -> list[str]:
    base = data.joinpath(*parts)
    return sorted(str(p.relative_to(data)) for p in base.rglob("*") if p.is_file()) if base.exists() else []


def _recover(s: Setup, instance: dg.DagsterInstance, name: str, run_id: str, item: dict, then: list[dict]) -> None:
    """Re-execute the killed run from its failure (then run `then`), in a new process, and record its steps."""
    t = time.perf_counter()
    _finish(*s.start(f"recover_{name}", [{**item, "reexecute_from": run_id}, *then], s.crash_home))
    s.seconds[f"recover_{name}"] = time.perf_counter() - t
    (child,) = [r for r in instance.get_runs(filters=dg.RunsFilter(job_name=item["job"])) if r.parent_run_id == run_id]
    assert child.status == dg.DagsterRunStatus.SUCCESS and child.root_run_id == run_id
    s.recoveries[name] = sorted(st.step_key for st in instance.get_run_step_stats(child.run_id))


def _crash_in_dbt(s: Setup, instance: dg.DagsterInstance) -> str:
    """Ingest the days, and kill -9 the run once dbt has materialized its first model, while dbt still runs."""
    proc, log = s.start("crash_dbt", [{"job": "reference_tables"}, DAILY], s.crash_home)
    run = _wait_for("the daily run", proc, log, lambda: _started_run(instance, DAILY["job"]))
    _wait_for(
        "dbt's first model",
        proc,
        log,
        lambda: "ASSET_MATERIALIZATION" in _events(instance, run.run_id, DBT_STEP),
    )
    dbt_alive = [c for c in _group_processes(proc.pid).values() if "/dbt build" in c]
    _kill_group(proc)
    events = _events(instance, run.run_id, DBT_STEP)
    materialized = sorted(
        {
            e.dagster_event.asset_key.to_user_string()
            for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
            if e.step_key == DBT_STEP
        }
    )
    s.kills["dbt"] = {
        "dbt_build_process_alive": bool(dbt_alive),
        "dbt_models_materialized": materialized,
        "dbt_step_ended": bool({"STEP_SUCCESS", "STEP_FAILURE"} & set(events)),
        "raw_files": len(_written(s.data, "lake", "raw")),
        "feature_files": len(_written(s.data, "lake", "features")),
        "warehouse": _written(s.data, "warehouse"),
    }
    _mark_failed(instance, run.run_id, s.data)
    return run.run_id


def _lightgbm_loaded(pid: int) -> bool:
    try:
        return "lib_lightgbm" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _crash_in_training(s: Setup, instance: dg.DagsterInstance) -> str:
    """Kill -9 the training run while LightGBM fits (lightgbm is loaded by `training.fit` only), before saving."""
    proc, log = s.start("crash_training", [TRAIN], s.crash_home)
    run = _wait_for("the training run", proc, log, lambda: _started_run(instance, TRAIN["job"]))
    _wait_for("the model step", proc, log, lambda: "STEP_START" in _events(instance, run.run_id, MODEL_STEP))
    step_started = time.monotonic()
    _wait_for("LightGBM to be loaded", proc, log, lambda: _lightgbm_loaded(proc.pid))
    fitting_from = time.monotonic()
    # At once: `training.fit` loads LightGBM just before binning the window, so the fit lies ahead on any machine;
    # a fixed sleep here let a fast fit (one thread, lr 0.1: about 2 s) save its model first.
    _kill_group(proc)
    s.kills["training"] = {
        "seconds_after_step_start": round(time.monotonic() - step_started, 2),
        "seconds_after_lightgbm_loaded": round(time.monotonic() - fitting_from, 2),
        "model_step_events": _events(instance, run.run_id, MODEL_STEP),
        "model_files": _written(s.data, *MODEL_DIR.parts),
        "report_files": _written(s.data, "reports"),
        "registry_files": _written(s.data, "registry"),
    }
    _mark_failed(instance, run.run_id, s.data)
    return run.run_id


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("crash")
    with instance_dir(root, "crash_homes_") as homes:  # a 64-day run stores ~1,500 events, each a commit
        s = Setup(root, root / "landing", root / "data", root / "reference", _home(homes / "crash"))
        try:
            yield _run_all(s, homes)
        finally:
            for proc in s.procs:  # only if a failure left one of this test's run processes behind
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def _run_all(s: Setup, homes: Path) -> Setup:
    replay(LocalZone(s.landing), FIRST, LAST)

    # The uninterrupted run, then its data directory moves aside: the crashed runs write to the same path.
    t = time.perf_counter()
    _finish(*s.start("reference", [{"job": "reference_tables"}, DAILY, TRAIN, *SERVE], _home(homes / "reference")))
    s.seconds["reference"] = time.perf_counter() - t
    s.data.rename(s.reference)

    t = time.perf_counter()
    with dg.DagsterInstance.from_config(str(s.crash_home)) as instance:
        killed = _crash_in_dbt(s, instance)
        _recover(s, instance, "dbt", killed, DAILY, [])
        killed = _crash_in_training(s, instance)
        _recover(s, instance, "training", killed, TRAIN, SERVE)
    s.seconds["crashed_and_recovered"] = time.perf_counter() - t
    print(json.dumps({"kills": s.kills, "recoveries": s.recoveries, "seconds": s.seconds}, indent=2))
    return s


def _digests(data: Path) -> dict[str, str]:
    """sha256 of every file under `data`, except the warehouse (compared by content) and the audit log."""
    return {
        str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data.rglob("*"))
        if p.is_file() and p.relative_to(data).parts[0] != "warehouse" and p.relative_to(data) != AUDIT_LOG
    }


def _warehouse(data: Path) -> dict:
    """The warehouse's relations, view definitions, and per table its row count and an order-free row hash."""
    with duckdb.connect(str(data / "warehouse" / "flights.duckdb"), read_only=True) as con:
        relations = con.execute(
            "select table_schema, table_name, table_type from information_schema.tables order by all"
        ).fetchall()
        out: dict = {"relations": relations}
        for schema, name, kind in relations:
            if kind == "VIEW":
                out[f"{schema}.{name}"] = con.execute(
                    "select sql from duckdb_views() where schema_name = ? and view_name = ?", [schema, name]
                ).fetchone()
            else:
                out[f"{schema}.{name}"] = con.execute(
                    f'select count(*), sum(hash(t)) from "{schema}"."{name}" as t'
                ).fetchone()
    return out


def test_kill_during_dbt_step_lands_mid_build(runs):
    kill = runs.kills["dbt"]
    assert kill["dbt_build_process_alive"], kill  # dbt was still building when its process group died
    assert kill["dbt_models_materialized"] and "flight_features" not in kill["dbt_models_materialized"], kill
    assert not kill["dbt_step_ended"] and kill["feature_files"] == 0, kill  # nothing exported to the lake yet
    assert kill["raw_files"] == 2 * 2 * 64 + 3 * 2, kill  # the raw steps had finished: parquet + sidecar per file
    assert kill["warehouse"], kill
    # The re-execution ran the dbt step again, not the raw steps that had succeeded before the kill.
    assert DBT_STEP in runs.recoveries["dbt"] and not {"raw__flights", "raw__weather"} & set(runs.recoveries["dbt"])


def test_kill_during_training_lands_mid_fit(runs):
    kill = runs.kills["training"]
    # The model step had started and had neither ended nor materialized anything.
    assert "STEP_START" in kill["model_step_events"], kill
    assert not {"STEP_SUCCESS", "STEP_FAILURE", "ASSET_MATERIALIZATION"} & set(kill["model_step_events"]), kill
    assert kill["model_files"] == [] and kill["report_files"] == [] and kill["registry_files"] == [], kill
    assert MODEL_STEP in runs.recoveries["training"]


def test_recovered_outputs_are_byte_identical_to_an_uninterrupted_run(runs):
    reference, recovered = _digests(runs.reference), _digests(runs.data)
    assert set(recovered) == set(reference)
    assert {p for p in reference if reference[p] != recovered[p]} == set()
    assert len(reference) > 2 * 2 * 64 + 64  # raw files and sidecars, features, models, reports, predictions ...
    for expected in (MODEL_DIR / "model.txt", MODEL_DIR / "model_card.json", MODEL_DIR / "profile.json", PREDICTIONS):
        assert str(expected) in reference
    assert _warehouse(runs.data) == _warehouse(runs.reference)
    # No torn or abandoned temp files, and DuckDB left no write-ahead log behind (beside it: dbt's parse state).
    for data in (runs.data, runs.reference):
        assert list(data.rglob(".*.tmp")) == []
        assert _written(data, "warehouse") == ["warehouse/flights.duckdb", f"warehouse/{PARTIAL_PARSE}"]


def test_audit_log_records_each_decision_once_with_its_own_time_and_run(runs):
    """The one output that differs between the runs, by design: the append-only audit log says when and in
    which run each decision was made. Everything else in it is identical, and the crash added no record."""

    def records(data: Path) -> list[dict]:
        return [json.loads(line) for line in (data / AUDIT_LOG).read_text().splitlines()]

    reference, recovered = records(runs.reference), records(runs.data)
    assert len(reference) == len(recovered) == 1
    for r in (*reference, *recovered):
        assert r.pop("decided_at") and r.pop("run_id")
    assert recovered == reference


def test_same_inputs_give_a_bit_identical_model_and_identical_predictions(runs):
    """Determinism: two independent materializations of the same landed files (separate processes and instances;
    separate data directories at the same path, one after the other), not an in-process re-fit."""
    model, reference_model = (
        (runs.data / MODEL_DIR / "model.txt").read_bytes(),
        (runs.reference / MODEL_DIR / "model.txt").read_bytes(),
    )
    assert model.startswith(b"tree\n") and model == reference_model
    card = json.loads((runs.data / MODEL_DIR / "model_card.json").read_text())
    assert card["model_file_sha256"] == hashlib.sha256(model).hexdigest()

    predictions, reference_predictions = (
        pl.read_parquet(runs.data / PREDICTIONS),
        pl.read_parquet(runs.reference / PREDICTIONS),
    )
    assert predictions.height > 800 and predictions["model_version"].unique().to_list() == [WEEK]
    assert predictions.equals(reference_predictions)  # every row, every score bit for bit
    assert (runs.data / PREDICTIONS).read_bytes() == (runs.reference / PREDICTIONS).read_bytes()
