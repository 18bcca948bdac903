"""The landing zone's layout: one file per table per day, reference tables as whole files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

DAILY_TABLES = ("flights", "weather")
REFERENCE_TABLES = ("planes", "airports", "airlines")


def day_file(root: Path, table: str, day: date) -> Path:
    if table not in DAILY_TABLES:
        raise ValueError(f"{table!r} is not a daily table; expected one of {DAILY_TABLES}")
    return root / table / f"{day.isoformat()}.csv"


def reference_file(root: Path, table: str) -> Path:
    if table not in REFERENCE_TABLES:
        raise ValueError(f"{table!r} is not a reference table; expected one of {REFERENCE_TABLES}")
    return root / f"{table}.csv"
