"""dbt's manifest, kept current without re-parsing on every run, and what the platform reads in it: the models
exported to the lake.

`prepare_if_dev()` re-parses in every run and step process under `dagster dev` (~10 s each). Here the
manifest is rebuilt only when a dbt file is newer than it, so "edit SQL, reload definitions" works
and runs that changed nothing pay nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ai_platform.features.project import dbt_project

_DBT_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".md"}
_NOT_SOURCES = {"target", "logs", "dbt_packages"}


def _newest_source_mtime(project_dir: Path) -> float:
    """The newest mtime of the project's own files. dbt's output folders are not walked: runs create and delete
    their invocation folders in target/ while another process loads the code location."""
    newest = 0.0
    for folder, subfolders, files in os.walk(project_dir):
        if folder == str(project_dir):
            subfolders[:] = [d for d in subfolders if d not in _NOT_SOURCES]
        for name in files:
            if os.path.splitext(name)[1] in _DBT_SUFFIXES:
                try:
                    newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime)
                except FileNotFoundError:  # removed since the folder was listed
                    pass
    return newest


def ensure_manifest() -> Path:
    """The manifest's path, parsing the project first if it is missing or older than a dbt file."""
    path = dbt_project.manifest_path
    if not path.exists() or path.stat().st_mtime < _newest_source_mtime(dbt_project.project_dir):
        from ai_platform.features.dbt_cli import dbt_cli

        dbt_cli().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
    return path


@dataclass(frozen=True)
class LakeExport:
    """A dbt model exported per day to the lake (`meta.lake_export: daily` in its config)."""

    model: str
    partition_column: str
    lookback_days: int  # how many earlier days a day's rows read (its trailing history)


def is_lake_export(node: Mapping[str, Any]) -> bool:
    return node["resource_type"] == "model" and node.get("config", {}).get("meta", {}).get("lake_export") == "daily"


def is_snapshot_export(node: Mapping[str, Any]) -> bool:
    """A model exported whole to the lake after each build, as the snapshot of its window's last day."""
    return node["resource_type"] == "model" and node.get("config", {}).get("meta", {}).get("lake_export") == "snapshot"


def lake_exports(manifest: Mapping[str, Any]) -> list[LakeExport]:
    out = []
    for node in filter(is_lake_export, manifest["nodes"].values()):
        meta = node["config"]["meta"]
        out.append(LakeExport(node["name"], meta["partition_column"], int(meta.get("lookback_days", 0))))
    return out


@cache
def manifest() -> dict:
    return json.loads(ensure_manifest().read_text())
