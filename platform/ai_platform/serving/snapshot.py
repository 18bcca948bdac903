"""The online-features snapshot: per entity, the outcome history a flight of the next day sees, in memory.

The dbt model online_features (group `serving`) builds it as of its window's last day; each run exports it to
the lake as one Parquet file per day (`lake/serving/online_features/as_of=<day>/data.parquet`), and the service
loads the newest one into dictionaries keyed by each grain's entity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import polars as pl

from ai_platform import lake, settings, storage
from ai_platform.storage import StoragePath

MODEL = "online_features"
AS_OF = re.compile(r"as_of=(\d{4}-\d{2}-\d{2})")
# A history column of grain g: g_<statistic>_<days>d (macros/trailing_history.sql).
HISTORY_COLUMN = r"^{grain}_(flights|delay_rate|cancel_rate|mean_dep_delay)_\d+d$"


def snapshot_dir() -> StoragePath:
    return settings.lake_dir() / "serving" / MODEL


def snapshot_path(as_of: date) -> StoragePath:
    return snapshot_dir() / f"as_of={as_of.isoformat()}" / "data.parquet"


def export(model: str) -> tuple[date, int] | None:
    """Copy the warehouse's `model` table to the lake as the snapshot of its day; None when it is empty."""
    import duckdb

    with duckdb.connect(settings.warehouse_database(), read_only=True) as con:
        df = pl.from_arrow(con.sql(f'select * from main."{model}" order by all').to_arrow_table())
    if df.is_empty():
        return None
    as_of = df["as_of"][0]
    lake.write_parquet(df, snapshot_path(as_of))
    return as_of, df.height


def latest() -> StoragePath | None:
    """The newest snapshot file in the lake."""
    found = sorted(snapshot_dir().glob("as_of=*/data.parquet"), key=lambda p: AS_OF.search(str(p)).group(1))
    return found[-1] if found else None


@dataclass(frozen=True)
class Grain:
    keys: tuple[str, ...]  # the request's columns that name an entity, e.g. ("origin", "dest")
    columns: tuple[str, ...]  # the features it gives
    rows: dict[tuple, tuple]  # entity -> its features, in `columns` order

    def lookup(self, entities: Iterable[tuple]) -> list[tuple]:
        """Each entity's features, in `columns` order (all None for an entity the snapshot has not seen)."""
        unseen, get = (None,) * len(self.columns), self.rows.get
        return [get(e, unseen) for e in entities]


@dataclass(frozen=True)
class Snapshot:
    as_of: date  # the last day it read: it scores flights of later days only
    path: StoragePath
    grains: dict[str, Grain]


def load(path: StoragePath) -> Snapshot:
    df = storage.read_parquet(path)
    as_of = df["as_of"][0]
    grains = {}
    for (name, keys), part in df.group_by("grain", "keys", maintain_order=True):
        key_cols = tuple(keys.split(","))
        if name == "plane":
            cols = ("plane_year", "seats", "engines")
        else:
            pattern = re.compile(HISTORY_COLUMN.format(grain=name))
            cols = tuple(c for c in df.columns if pattern.match(c))
        entities = part.select(key_cols).rows()
        grains[name] = Grain(key_cols, cols, dict(zip(entities, part.select(cols).rows(), strict=True)))
    return Snapshot(as_of, path, grains)
