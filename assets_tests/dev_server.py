"""Run `dagster dev` on this repository's workspace in a throwaway instance and talk to its GraphQL API.

For integration tests and benchmarks that need the real webserver, daemon and code server:

    with DagsterDev(tmp_path / "home", env={"AI_PLATFORM_DATA_DIR": str(tmp_path / "data")}) as dev:
        dev.wait_for(lambda: dev.materialized_partitions(["raw", "flights"]), 60, what="raw/flights")
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from processes import free_port, live_processes

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.prefix) / "bin"

T = TypeVar("T")

LOCATIONS_QUERY = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { repositories { name } }
          ... on PythonError { message stack causes { message } }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

PARTITIONS_QUERY = """
query AssetPartitions($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    __typename
    ... on AssetNode {
      isPartitioned
      partitionKeys
      assetPartitionStatuses {
        __typename
        ... on TimePartitionStatuses { ranges { startKey endKey status } }
        ... on DefaultPartitionStatuses { materializedPartitions }
      }
    }
  }
}
"""

RUNS_QUERY = """
query Runs($limit: Int) {
  runsOrError(limit: $limit) {
    __typename
    ... on Runs { results { runId status jobName tags { key value } } }
    ... on PythonError { message }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      status
      tags { key value }
      assetMaterializations { assetKey { path } partition }
    }
    ... on PythonError { message }
  }
}
"""

SENSOR_QUERY = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status } }
    ... on Error { message }
  }
}
"""

SENSOR_TICKS_QUERY = """
query SensorTicks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { ticks(limit: 5) { timestamp endTimestamp status } } }
    ... on Error { message }
  }
}
"""

RELOAD_MUTATION = """
mutation Reload($location: String!) {
  reloadRepositoryLocation(repositoryLocationName: $location) {
    __typename
    ... on WorkspaceLocationEntry {
      loadStatus
      locationOrLoadError { __typename ... on PythonError { message stack causes { message } } }
    }
    ... on Error { message }
  }
}
"""


class DagsterDev:
    """`dagster dev -w workspace.yaml` with DAGSTER_HOME=home, from entering until the whole process group is gone."""

    def __init__(self, home: Path, env: dict[str, str], port: int | None = None, startup_timeout: float = 600.0):
        self.home = Path(home)
        self.env = env
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.ui_url = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.ui_url}/graphql"
        self.log_path = self.home / "dagster_dev.log"
        self.location = ""
        self.repository = ""
        self.startup_s = 0.0
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> DagsterDev:
        instance_home(self.home)
        env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DAGSTER_HOME": str(self.home),
            **self.env,
        }
        cmd = [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)]
        t0 = time.monotonic()
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            self._wait_until_loaded()
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - t0
        print(f"{time.strftime('%H:%M:%S')} dagster dev loaded: {self.startup_s:.1f} s")
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM `dagster dev`, then its process group (code server, run workers); SIGKILL what outlives `grace_s`."""
        if self._proc is None:
            return
        pgid = self._proc.pid  # start_new_session: the group id is the leader's pid
        deadline = time.monotonic() + grace_s
        # The leader alone first: it stops its services itself, and it restarts a code server that exits under it.
        self._proc.terminate()
        try:
            self._proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
        if _signal_group(pgid, signal.SIGTERM):
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.2)
            _signal_group(pgid, signal.SIGKILL)
            # kill() returns before the processes are gone: a run worker still holding the warehouse's lock would
            # fail the test's next read of it (seen on a busy machine).
            deadline = time.monotonic() + 30
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.1)
        self._proc.wait()
        self._proc = None

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def graphql(self, query: str, variables: dict[str, Any] | None = None, timeout: float = 60.0) -> dict:
        """POST a query; return its `data`, raising on GraphQL errors."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = json.load(response)
        except urllib.error.HTTPError as e:  # invalid queries come back as 400 with an `errors` body
            text = e.read().decode(errors="replace")
            try:
                payload = json.loads(text)
            except ValueError:
                raise RuntimeError(f"HTTP {e.code} from {self.url}: {text[:2000]}") from e
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {json.dumps(payload['errors'], indent=1)}")
        return payload["data"]

    def wait_for(self, predicate: Callable[[], T], timeout: float, interval: float = 1.0, what: str = "condition") -> T:
        """Poll `predicate` until it returns something truthy, and return that; fail early if `dagster dev` died."""
        start = time.monotonic()
        deadline = start + timeout
        while True:
            self._check_alive(what)
            last = predicate()
            if last:
                print(f"{time.strftime('%H:%M:%S')} {what}: {time.monotonic() - start:.1f} s")  # shown on failure
                return last
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what}: not reached within {timeout:.0f} s; last observed: {last!r}")
            time.sleep(interval)

    def materialized_partitions(self, asset_key: list[str]) -> set[str]:
        """Partitions whose latest status is materialized (not failed or in progress since)."""
        node = self.graphql(PARTITIONS_QUERY, {"path": asset_key})["assetNodeOrError"]
        if node["__typename"] == "AssetNotFoundError":
            # On a busy machine the code server can miss its heartbeat and be restarted: wait for it, ask again.
            self._wait_until_loaded()
            node = self.graphql(PARTITIONS_QUERY, {"path": asset_key})["assetNodeOrError"]
        if node["__typename"] != "AssetNode":
            raise KeyError(f"asset {'/'.join(asset_key)}: {node['__typename']}")
        if not node["isPartitioned"]:
            raise ValueError(f"asset {'/'.join(asset_key)} is not partitioned")
        statuses = node["assetPartitionStatuses"]
        if statuses["__typename"] == "DefaultPartitionStatuses":
            return set(statuses["materializedPartitions"])
        if statuses["__typename"] != "TimePartitionStatuses":
            raise NotImplementedError(f"asset {'/'.join(asset_key)}: {statuses['__typename']}")
        keys = node["partitionKeys"]
        index = {key: i for i, key in enumerate(keys)}
        return {
            key
            for r in statuses["ranges"]
            if r["status"] == "MATERIALIZED"
            for key in keys[index[r["startKey"]] : index[r["endKey"]] + 1]
        }

    def runs(self, limit: int = 50) -> list[dict]:
        """Newest first: runId, status, jobName and tags (as a dict)."""
        result = self.graphql(RUNS_QUERY, {"limit": limit})["runsOrError"]
        if result["__typename"] != "Runs":
            raise RuntimeError(f"runsOrError: {result}")
        return [{**run, "tags": {t["key"]: t["value"] for t in run["tags"]}} for run in result["results"]]

    def run(self, run_id: str) -> dict:
        """status, tags (as a dict) and materializations ([{"asset": "a/b", "partition": ...}]) of one run."""
        result = self.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
        if result["__typename"] != "Run":
            raise RuntimeError(f"runOrError {run_id}: {result}")
        return {
            "status": result["status"],
            "tags": {t["key"]: t["value"] for t in result["tags"]},
            "materializations": [
                {"asset": "/".join(m["assetKey"]["path"]), "partition": m["partition"]}
                for m in result["assetMaterializations"]
            ],
        }

    def skip_welcome_dialog(self) -> None:
        """What the UI's "Skip" on its one-time community dialog does, so that it does not cover pages in a browser."""
        self.graphql("mutation { setNuxSeen }")

    def sensor_status(self, name: str) -> str:
        """RUNNING, STOPPED or DECLARED_IN_CODE."""
        selector = {"repositoryLocationName": self.location, "repositoryName": self.repository, "sensorName": name}
        result = self.graphql(SENSOR_QUERY, {"selector": selector})["sensorOrError"]
        if result["__typename"] != "Sensor":
            raise RuntimeError(f"sensorOrError {name}: {result}")
        return result["sensorState"]["status"]

    def sensor_ticks(self, name: str) -> list[dict]:
        """The sensor's newest ticks, newest first: timestamp (its start), endTimestamp (None while running), status."""
        selector = {"repositoryLocationName": self.location, "repositoryName": self.repository, "sensorName": name}
        result = self.graphql(SENSOR_TICKS_QUERY, {"selector": selector})["sensorOrError"]
        if result["__typename"] != "Sensor":
            raise RuntimeError(f"sensorOrError {name}: {result}")
        return result["sensorState"]["ticks"]

    def reload_location(self, timeout: float = 180.0) -> None:
        """The UI's "Reload definitions": the code server loads the code location again; raises if that fails."""
        result = self.graphql(RELOAD_MUTATION, {"location": self.location}, timeout=timeout)["reloadRepositoryLocation"]
        if result["__typename"] != "WorkspaceLocationEntry":
            raise RuntimeError(f"reloadRepositoryLocation: {result}")
        loaded = result["locationOrLoadError"]
        if loaded is None:
            raise RuntimeError(
                f"code location {self.location}: nothing loaded after the reload ({result['loadStatus']})"
            )
        if loaded["__typename"] == "PythonError":
            raise RuntimeError(f"code location {self.location} failed to reload: {_error_text(loaded)}")

    def _check_alive(self, what: str) -> None:
        if self._proc is None or self._proc.poll() is not None:
            code = None if self._proc is None else self._proc.returncode
            raise RuntimeError(f"dagster dev exited (code {code}) while waiting for {what}:\n{self.log_tail()}")

    def _wait_until_loaded(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            self._check_alive("the code location to load")
            try:
                workspace = self.graphql(LOCATIONS_QUERY, timeout=10)["workspaceOrError"]
            except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
                last = f"webserver not answering: {e}"
            else:
                if workspace["__typename"] != "Workspace":
                    raise RuntimeError(f"workspaceOrError: {workspace}")
                entries = workspace["locationEntries"]
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    (entry,) = entries  # the workspace has one location
                    loaded = entry["locationOrLoadError"]
                    if loaded["__typename"] == "PythonError":
                        raise RuntimeError(f"code location {entry['name']} failed to load: {_error_text(loaded)}")
                    self.location = entry["name"]
                    (repo,) = loaded["repositories"]
                    self.repository = repo["name"]
                    return
                last = f"locations: {[(e['name'], e['loadStatus']) for e in entries]}"
            time.sleep(0.5)
        raise TimeoutError(
            f"dagster dev not ready within {self.startup_timeout:.0f} s ({last}); log tail:\n{self.log_tail()}"
        )


def instance_home(home: Path) -> Path:
    """A DAGSTER_HOME with the repository's dagster.yaml (pools, run queue), as `make` sets one up."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    return home


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the group; False if no process is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies hold no lock; not every container's PID 1 reaps them)."""
    return any(group == pgid for _, group, _ in live_processes().values())


def _error_text(error: dict) -> str:
    """A PythonError with its stack and, last, the causes (where the user's own exception is)."""
    causes = "".join(f"\ncaused by: {c['message']}" for c in error.get("causes") or [])
    return f"{error['message']}\n{''.join(error['stack'])}{causes}"
