"""A step's process killed under the `multiprocess` executor (AI_PLATFORM_EXECUTOR=multiprocess): Dagster retries the
step in a new process under its retry policy, and the run succeeds.

Three days of ingestion and features (the reference tables already in), launched by a process of their own on the
repository's dagster.yaml; `kill -9` of the dbt step's process and its dbt, mid-build, as the out-of-memory killer
would. (test_celery_run.py does the same to a whole Celery worker.)
"""

import shutil
import signal
import time
from datetime import date

import dagster as dg
import psutil
import pytest

import crash_runs
from ai_platform import settings
from ai_platform.partitions import range_tags
from ai_platform.tools.replay import replay
from processes import log_tail
from runs import assert_features_of_every_flight, materialize_reference

pytestmark = pytest.mark.heavy

FIRST, LAST = date(2013, 1, 1), date(2013, 1, 3)
PLAN = [{"job": "daily_ingest_and_features", "tags": range_tags(FIRST, LAST)}]
DBT_STEP = "flights_dbt"
STEP_START, STEP_RESTARTED = dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_RESTARTED  # a retry restarts
TIMEOUT = 600  # seconds; the plan takes ~40 s alone on 2 cores, other tests may share them


def test_a_killed_step_process_is_retried_and_the_run_succeeds(dagster_home, data_dir, zone, monkeypatch):
    shutil.copy(settings.REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    replay(zone, FIRST, LAST)
    with dg.DagsterInstance.get() as instance:
        materialize_reference(instance)  # in this process: a process per step costs a code location load each
    log = dagster_home / "runs.log"
    run = crash_runs.start(PLAN, {settings.EXECUTOR_ENV: "multiprocess"}, log)
    with dg.DagsterInstance.get() as instance:

        def dbt_starts() -> list[dg.EventLogEntry]:
            return [
                e
                for r in instance.get_runs()
                for e in instance.all_logs(r.run_id, of_type={STEP_START, STEP_RESTARTED})
                if e.step_key == DBT_STEP
            ]

        deadline = time.monotonic() + TIMEOUT
        while not (started := dbt_starts()) or not _dbt_under(started[0].dagster_event.pid):
            assert run.poll() is None and time.monotonic() < deadline, "the dbt step's dbt never started"
            time.sleep(0.2)
        step = psutil.Process(started[0].dagster_event.pid)
        for process in [*step.children(recursive=True), step]:
            process.send_signal(signal.SIGKILL)

        assert run.wait(TIMEOUT) == 0, log_tail(log, 80)
        runs = instance.get_runs()
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        (daily,) = [r for r in runs if r.job_name == "daily_ingest_and_features"]
        retried = instance.all_logs(daily.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
        starts = [(e.dagster_event.event_type, e.dagster_event.pid) for e in dbt_starts()]
    assert [e.step_key for e in retried] == [DBT_STEP]
    assert [kind for kind, _ in starts] == [STEP_START, STEP_RESTARTED]
    assert starts[0][1] != starts[1][1]  # the retry ran in a new process
    assert_features_of_every_flight(FIRST, LAST)


def _dbt_under(pid: int) -> bool:
    """Whether the step process `pid` has started its dbt (so the kill lands mid-build)."""
    try:
        return any("dbt" in " ".join(c.cmdline()) for c in psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return False
