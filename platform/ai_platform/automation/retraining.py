"""Retraining: a week's model and report materialize by themselves once the days they read are there.

Dagster's `eager()` and `on_cron()` only look at the latest time partition; the data's calendar is
not the wall clock's, so the conditions here drop that restriction and consider every week.
"""

from __future__ import annotations

import dagster as dg

from ai_platform import settings


def retrain_condition() -> dg.AutomationCondition:
    """As soon as a week's inputs are all present or one changed; only on AI_PLATFORM_RETRAIN_CRON ticks if set."""
    eager = dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window())
    cron = settings.retrain_cron()
    if not cron:
        return eager
    # on_cron() waits for every dep to update *after* the tick; here the tick releases what changed before it.
    return (dg.AutomationCondition.cron_tick_passed(cron) & eager).with_label(f"on ticks of {cron}, every week")


def build_retraining_sensor(target: dg.AssetSelection) -> dg.AutomationConditionSensorDefinition:
    # Declared here because the sensor Dagster would create by itself starts STOPPED.
    return dg.AutomationConditionSensorDefinition(
        "retraining",
        target=target,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.automation_interval_seconds(),
        description="Trains and evaluates each week's model once its feature days are all materialized.",
    )
