"""Retraining: the sensor that evaluates the assets' automation condition (`policies.eager_condition`), so a
week's model and report materialize by themselves once the days they read are there."""

from __future__ import annotations

import dagster as dg

from ai_platform import settings


def build_retraining_sensor(target: dg.AssetSelection) -> dg.AutomationConditionSensorDefinition:
    # Declared here because the sensor Dagster would create by itself starts STOPPED.
    return dg.AutomationConditionSensorDefinition(
        "retraining",
        target=target,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.automation_interval_seconds(),
        description="Trains and evaluates each week's model once its feature days are all materialized.",
    )
