"""Keeps dbt's manifest current without re-parsing on every run.

`prepare_if_dev()` re-parses in every run and step process under `dagster dev` (~10 s each). Here the
manifest is rebuilt only when a dbt file is newer than it, so "edit SQL, reload definitions" works
and runs that changed nothing pay nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

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
    manifest = dbt_project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(dbt_project.project_dir):
        from ai_platform.features.dbt_cli import dbt_cli

        dbt_cli().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
    return manifest
