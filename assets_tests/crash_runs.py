"""Runs the platform's jobs in an OS process of their own, so that a test can kill -9 them mid-step.

`python -m crash_runs '<plan>'` executes a JSON list of runs in order, each {"job": name, "tags": {...}}
plus optionally "reexecute_from": <run id> (re-execute that failed run from its failure, as the UI's
"Re-execute from failure" does). It uses the persistent instance of $DAGSTER_HOME and the data directory
of $AI_PLATFORM_DATA_DIR, and prints one JSON line per finished run; exit status 1 at the first failed run.
`start()` launches it in its own process group (a whole group can be killed, as a machine crash would).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

HERE = Path(__file__).resolve().parent


def resolve_job(name: str) -> dg.JobDefinition:
    """The reconstructor `execute_job` records: the job `name` of the code location's definitions."""
    from ai_platform.definitions import defs

    return defs.resolve_job_def(name)


def start(plan: list[dict], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Launch `plan` in a new process group (its pid is the group id); stdout+stderr go to `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "crash_runs", json.dumps(plan)],
            cwd=HERE,
            env={**os.environ, "PYTHONPATH": str(HERE), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def main(plan: list[dict]) -> int:
    instance = dg.DagsterInstance.get()
    for item in plan:
        job = dg.build_reconstructable_job("crash_runs", "resolve_job", reconstructable_args=(item["job"],))
        parent = item.get("reexecute_from")
        result = dg.execute_job(
            job,
            instance=instance,
            # A re-execution does not inherit its parent's tags through execute_job: the partition (range)
            # tags are passed again, as the UI does when it re-executes.
            tags=item.get("tags"),
            reexecution_options=dg.ReexecutionOptions.from_failure(parent, instance) if parent else None,
        )
        print(json.dumps({"job": item["job"], "run_id": result.run_id, "success": result.success}), flush=True)
        if not result.success:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
