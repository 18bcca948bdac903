"""Under `dagster dev`, run monitoring fails a run whose worker was killed and frees its pool slots, so the next
run goes through; the test frees nothing itself. Its own module: xdist then runs it beside the other `dagster dev`
test (test_dagster_dev.py) instead of after it."""

import os
import signal
from datetime import date
from pathlib import Path

import pytest

from ai_platform.landing import LocalZone
from ai_platform.tools.replay import replay
from dev_server import DagsterDev
from processes import live_processes

pytestmark = pytest.mark.heavy

D1, D2 = date(2013, 1, 1), date(2013, 1, 2)
TIMEOUT = 600


def _dbt_build_under(home: Path) -> tuple[int, int] | None:
    """(run worker pid, dbt pid) of a `dbt build` started by a run of the instance at `home`."""
    for pid, (ppid, _, cmdline) in live_processes().items():
        try:
            ours = f"DAGSTER_HOME={home}\0".encode() in Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if "dbt build" in cmdline and ours:
            return ppid, pid
    return None


def test_a_killed_run_worker_is_failed_and_frees_its_slot_for_the_next_run(tmp_path, dagster_home):
    """kill -9 of a run worker inside its dbt step (holding the single `duckdb` slot): run monitoring fails the
    run and frees the slot, and the next day's run succeeds; the test frees nothing itself."""
    home, data = dagster_home, tmp_path / "data"
    zone = LocalZone(data / "landing")
    env = {
        "AI_PLATFORM_DATA_DIR": str(data),
        "AI_PLATFORM_LGBM_THREADS": "1",
    }
    with DagsterDev(home, env) as dev:
        replay(zone, D1, D1)
        worker, dbt = dev.wait_for(lambda: _dbt_build_under(home), TIMEOUT, interval=0.2, what="dbt build of day 1")
        (killed,) = [r for r in dev.runs() if r["status"] == "STARTED"]
        os.kill(dbt, signal.SIGKILL)  # the worker and what it started, as the OOM killer or a crash would
        os.kill(worker, signal.SIGKILL)

        dev.wait_for(lambda: dev.run(killed["runId"])["status"] == "FAILURE", TIMEOUT, what="the killed run failed")
        replay(zone, D2, D2, with_reference=False)
        dev.wait_for(
            lambda: "2013-01-02" in dev.materialized_partitions(["flight_features"]),
            2 * TIMEOUT,
            what="day 2 features after the kill (the duckdb slot was freed)",
        )
