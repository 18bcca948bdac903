"""Keeps dbt's manifest current without re-parsing on every run.

`prepare_if_dev()` re-parses in every run and step process under `dagster dev` (~10 s each). Here the
manifest is rebuilt only when a dbt file is newer than it, so "edit SQL, reload definitions" works
and runs that changed nothing pay nothing.
"""

from __future__ import annotations

from pathlib import Path

from ai_platform.features.project import DBT_EXECUTABLE, dbt_project

_DBT_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".md"}


def _newest_source_mtime(project_dir: Path) -> float:
    newest = 0.0
    for path in project_dir.rglob("*"):
        rel = path.relative_to(project_dir).parts
        if rel and rel[0] in {"target", "logs", "dbt_packages"}:
            continue
        if path.suffix in _DBT_SUFFIXES and path.is_file():
            newest = max(newest, path.stat().st_mtime)
    return newest


def ensure_manifest() -> Path:
    """The manifest's path, parsing the project first if it is missing or older than a dbt file."""
    manifest = dbt_project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(dbt_project.project_dir):
        from dagster_dbt import DbtCliResource

        DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE).cli(
            ["parse", "--quiet"], target_path=dbt_project.target_path
        ).wait()
    return manifest
