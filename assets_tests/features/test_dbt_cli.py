"""The platform's dbt resource starts dbt once per call: no `dbt --version` first, no adapter in the caller.

`DbtCli` overrides two private hooks of dagster-dbt's `DbtCliResource` (features/dbt_cli.py); these tests fail
when an upgrade of dagster-dbt moves them, or when the version they stand in for is not the executable's.
"""

import subprocess
import sys

from dagster_dbt import DbtCliResource

from ai_platform.features.dbt_cli import DbtCli, dbt_cli
from ai_platform.features.project import DBT_EXECUTABLE

_started: list[list[str]] = []
_recording = False


def _record_processes(event: str, args: tuple) -> None:
    if _recording and event == "subprocess.Popen":
        _started.append([str(a) for a in args[1]])


sys.addaudithook(_record_processes)  # audit hooks cannot be removed: it records only while _recording


def test_the_overridden_hooks_are_dagster_dbts():
    for hook in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert hook in vars(DbtCliResource), f"dagster-dbt no longer has DbtCliResource.{hook}: see features/dbt_cli.py"
        assert hook in vars(DbtCli)


def test_the_version_it_assumes_is_the_executables():
    printed = subprocess.run([DBT_EXECUTABLE, "--version"], capture_output=True, text=True, check=True).stdout
    assert f"installed: {dbt_cli()._cli_version}" in printed


def test_a_call_starts_only_the_dbt_command_and_no_adapter(tmp_path):
    global _recording
    _started.clear()
    _recording = True
    try:
        invocation = dbt_cli().cli(["parse", "--quiet"], target_path=tmp_path).wait()
    finally:
        _recording = False
    assert invocation.is_successful()
    assert (tmp_path / "manifest.json").exists()
    assert _started == [[DBT_EXECUTABLE, "parse", "--quiet"]]
    assert invocation.adapter is None
