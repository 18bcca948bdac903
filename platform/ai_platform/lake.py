"""The lake's layout (Parquet, one file per partition) and its atomic writer."""

from __future__ import annotations

import io
import json
from datetime import date

import polars as pl

from ai_platform import settings, storage
from ai_platform.files import write_atomic
from ai_platform.storage import StoragePath


def raw_day_path(table: str, day: date) -> StoragePath:
    # Hive-style folders let DuckDB prune files by date (dbt sources read `*/data.parquet`).
    return settings.lake_dir() / "raw" / table / f"date={day.isoformat()}" / "data.parquet"


def raw_reference_path(table: str) -> StoragePath:
    return settings.lake_dir() / "raw" / table / "data.parquet"


def features_day_path(model: str, day: date) -> StoragePath:
    return settings.lake_dir() / "features" / model / f"date={day.isoformat()}" / "data.parquet"


def _source_path(path: StoragePath) -> StoragePath:
    return path.with_name(path.name + ".source.json")


def write_parquet(df: pl.DataFrame, path: StoragePath, source: dict | None = None) -> None:
    """Write the file whole or not at all; `source` (e.g. the landing checksum) goes in a sidecar."""
    buf = io.BytesIO()
    df.write_parquet(buf, statistics=True)
    write_atomic(path, buf.getvalue())
    if source is not None:
        write_atomic(_source_path(path), json.dumps(source, sort_keys=True).encode())


def source_of(path: StoragePath) -> dict | None:
    """What `path` was written from, if it exists and recorded it."""
    try:
        recorded = storage.read_bytes(_source_path(path))
    except FileNotFoundError:
        return None
    return json.loads(recorded) if path.exists() else None
