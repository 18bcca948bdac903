"""A run spread over the workers of a real broker: AI_PLATFORM_EXECUTOR=celery with deploy/celery/.

A Redis server (the broker and result backend) and a PostgreSQL instance (deploy/celery/dagster.yaml), both started
here; two Celery workers started with the command the deploy variant documents (`dagster-celery worker start -A
dagster_celery.app -y deploy/celery/worker.yaml`), one task at a time each; then the reference tables and three days
of ingestion and features, launched as a user's process would (`execute_job` of the code location's jobs). Every
step is a Celery task: the runs succeed, their steps ran on both workers, and the lake holds the days' features.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from ai_platform import lake, settings
from ai_platform.partitions import days, range_tags
from ai_platform.tools.replay import replay
from processes import live_processes, log_tail
from redis_server import redis_server

pytestmark = pytest.mark.heavy

VARIANT = settings.REPO_ROOT / "deploy" / "celery"
BIN = Path(sys.prefix) / "bin"
FIRST, LAST = date(2013, 1, 1), date(2013, 1, 3)
PLAN = [{"job": "reference_tables"}, {"job": "daily_ingest_and_features", "tags": range_tags(FIRST, LAST)}]
WORKERS = ("worker1", "worker2")
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
def cluster(tmp_path, data_dir, postgres_server, monkeypatch) -> Iterator[Cluster]:
    """The deploy variant on this machine (this process's environment too, to read the instance), with two workers
    listening on the broker."""
    database = postgres_server.create_database(f"test_{uuid.uuid4().hex[:12]}")
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
                with open(tmp_path / f"{name}.log", "ab") as log:
                    command = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app"]
                    command += ["-y", str(VARIANT / "worker.yaml"), "-n", name, "--", "--pool", "solo"]
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


def test_a_runs_steps_are_celery_tasks_spread_over_two_workers(cluster, zone):
    replay(zone, FIRST, LAST)
    worker_of = cluster.worker_of()

    done = subprocess.run(
        [sys.executable, "-m", "crash_runs", json.dumps(PLAN)],
        cwd=Path(__file__).parent,
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )

    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert sorted(r.job_name for r in runs) == sorted(p["job"] for p in PLAN)
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        ran_on = {
            e.step_key: worker_of.get(e.dagster_event.pid, f"pid {e.dagster_event.pid}")
            for r in runs
            for e in instance.all_logs(r.run_id, of_type=dg.DagsterEventType.STEP_START)
        }
    assert "flights_dbt" in ran_on and "raw__flights" in ran_on
    assert set(ran_on.values()) == set(WORKERS), ran_on  # every step on one of the two workers, both used
    for day in days(FIRST, date(2013, 1, 4)):
        features = pl.read_parquet(lake.features_day_path("flight_features", day))
        assert features.height == pl.read_parquet(lake.raw_day_path("flights", day)).height > 0
