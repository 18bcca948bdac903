"""A run spread over the workers of a real broker: AI_PLATFORM_EXECUTOR=celery with deploy/celery/.

A Redis server (the broker and result backend) and a PostgreSQL instance (deploy/celery/dagster.yaml), both started
here; two Celery workers started with the command the deploy variant documents (`dagster-celery worker start -A
dagster_celery.app -y deploy/celery/worker.yaml`), one task at a time each; then the reference tables and three days
of ingestion and features, launched as a user's process would (`execute_job` of the code location's jobs), and the
worker that runs the dbt step killed mid-step. Every step is a Celery task on one of the workers, the dbt step starts
again on the other, the runs succeed and the lake holds the days' features."""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import yaml

import crash_runs
from ai_platform import settings
from ai_platform.partitions import range_tags
from ai_platform.tools.replay import replay
from processes import live_processes, log_tail
from redis_server import redis_server
from runs import assert_features_of_every_flight

pytestmark = pytest.mark.heavy

VARIANT = settings.REPO_ROOT / "deploy" / "celery"
BIN = Path(sys.prefix) / "bin"
FIRST, LAST = date(2013, 1, 1), date(2013, 1, 3)
PLAN = [{"job": "reference_tables"}, {"job": "daily_ingest_and_features", "tags": range_tags(FIRST, LAST)}]
WORKERS = ("worker1", "worker2")
DBT_STEP = "flights_dbt"
VISIBILITY_TIMEOUT_S = 60
TIMEOUT = 600  # seconds; the plan takes ~40 s alone on 2 cores, other tests may share them


def _stop_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, 15)
        proc.wait(30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


@dataclass
class Cluster:
    env: dict[str, str]  # the deploy variant's environment, for the processes that launch runs
    groups: dict[str, int]  # worker name -> its process group (its launcher's pid)

    def worker_of(self) -> dict[int, str]:
        """pid -> worker name, for every live process of the workers."""
        by_group = {group: name for name, group in self.groups.items()}
        return {pid: by_group[group] for pid, (_, group, _) in live_processes().items() if group in by_group}


@pytest.fixture
def cluster(tmp_path, data_dir, database, monkeypatch) -> Iterator[Cluster]:
    """The deploy variant on this machine (this process's environment too, to read the instance), with two workers
    listening on the broker. Their worker.yaml is the variant's, except that the broker hands a dead worker's task to
    the other after 60 s instead of 2 h (and looks for such tasks every second), so that the test does not wait for
    hours: still longer than any step of its runs."""
    config = yaml.safe_load((VARIANT / "worker.yaml").read_text())
    options = config["execution"]["config"]["config_source"]["broker_transport_options"]
    options.update(visibility_timeout=VISIBILITY_TIMEOUT_S, unacked_restore_interval=1, unacked_restore_throttle=1)
    worker_yaml = tmp_path / "worker.yaml"
    worker_yaml.write_text(yaml.safe_dump(config))
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(VARIANT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in database.env().items():
        monkeypatch.setenv(name, value)
    with redis_server(tmp_path) as broker:
        env = {
            **os.environ,
            settings.EXECUTOR_ENV: "celery",
            "AI_PLATFORM_CELERY_BROKER_URL": f"{broker}/0",
            "AI_PLATFORM_CELERY_BACKEND_URL": f"{broker}/1",
            "PYTHONPATH": str(Path(__file__).parent),  # the workers load the runs' jobs through crash_runs
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        workers = []
        try:
            for name in WORKERS:
                command = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app"]
                command += ["-y", str(worker_yaml), "-n", name, "--", "--pool", "solo"]
                with open(tmp_path / f"{name}.log", "ab") as log:
                    workers.append(
                        subprocess.Popen(
                            command,
                            cwd=settings.REPO_ROOT,
                            env=env,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
            deadline = time.monotonic() + TIMEOUT
            for name in WORKERS:  # celery logs "<name>@<host> ready." once it consumes from the queue
                log = tmp_path / f"{name}.log"
                while f"{name}@" not in (text := log.read_text(errors="replace")) or " ready." not in text:
                    assert time.monotonic() < deadline, f"celery worker {name} not ready:\n{log_tail(log)}"
                    time.sleep(0.5)
            yield Cluster(env, {name: w.pid for name, w in zip(WORKERS, workers, strict=True)})
        finally:
            for worker in workers:
                _stop_group(worker)


def step_starts(instance: dg.DagsterInstance, worker_of: dict[int, str]) -> list[tuple[str, str]]:
    """(step, worker) of every step start of every run, in order."""
    return [
        (e.step_key, worker_of.get(e.dagster_event.pid, f"pid {e.dagster_event.pid}"))
        for r in reversed(instance.get_runs())
        for e in instance.all_logs(r.run_id, of_type=dg.DagsterEventType.STEP_START)
    ]


def test_steps_are_tasks_on_both_workers_and_a_dead_workers_step_moves_to_the_other(cluster, zone, tmp_path):
    replay(zone, FIRST, LAST)
    worker_of = cluster.worker_of()
    log = tmp_path / "runs.log"
    run = crash_runs.start(PLAN, cluster.env, log)
    with dg.DagsterInstance.get() as instance:
        deadline = time.monotonic() + TIMEOUT
        while not (dbt := [w for step, w in step_starts(instance, worker_of) if step == DBT_STEP]):
            assert run.poll() is None and time.monotonic() < deadline, "the dbt step never started"
            time.sleep(0.2)
        victim = dbt[0]
        os.killpg(cluster.groups[victim], signal.SIGKILL)  # the worker and its dbt, as a lost machine

        assert run.wait(TIMEOUT) == 0, log_tail(log, 80)
        runs = instance.get_runs()
        assert sorted(r.job_name for r in runs) == sorted(p["job"] for p in PLAN)
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert_features_of_every_flight(FIRST, LAST)
        ran_on = step_starts(instance, worker_of)
    assert {worker for _, worker in ran_on} == set(WORKERS), ran_on  # every step a task on one of the two workers
    (survivor,) = set(WORKERS) - {victim}
    assert [worker for step, worker in ran_on if step == DBT_STEP] == [victim, survivor]
