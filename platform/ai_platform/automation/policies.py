"""What the assets declare about time: when Dagster materializes a partition by itself (the automation condition)
and when an asset counts as late (freshness policies). Imports nothing of the platform but its settings, so that
an asset module declares them without pulling in the sensors and checks.

Dagster's `eager()` and `on_cron()` only look at the latest time partition; the data's calendar is not the wall
clock's, so the condition here drops that restriction and considers every partition. Freshness windows are
counted in days of data (AI_PLATFORM_DAY_SECONDS), so the same policies fit live data and a replay that drops a
day every N s.
"""

from datetime import timedelta

import dagster as dg

from ai_platform import settings

_MIN_WINDOW = timedelta(minutes=1)  # Dagster's smallest freshness window


def eager_condition() -> dg.AutomationCondition:
    """A partition materializes as soon as its inputs are all present or one changed (for a week's model: once the
    days before it are featurized); only on AI_PLATFORM_RETRAIN_CRON ticks if that is set."""
    eager = dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window())
    cron = settings.retrain_cron()
    if not cron:
        return eager
    # on_cron() waits for every dep to update *after* the tick; here the tick releases what changed before it.
    return (dg.AutomationCondition.cron_tick_passed(cron) & eager).with_label(f"on ticks of {cron}, every week")


def _window(data_days: float) -> timedelta:
    return max(timedelta(seconds=data_days * settings.day_seconds()), _MIN_WINDOW)


def _policy(warn_days: float, fail_days: float) -> dg.FreshnessPolicy:
    fail, warn = _window(fail_days), _window(warn_days)
    return dg.FreshnessPolicy.time_window(fail_window=fail, warn_window=warn if warn < fail else None)


def daily_policy() -> dg.FreshnessPolicy:
    """A daily asset is late after 1.5 days of data without a new materialization, failed after 2."""
    return _policy(1.5, 2)


def weekly_policy() -> dg.FreshnessPolicy:
    """A weekly model or report is late after 8 days of data, failed after 10."""
    return _policy(8, 10)
