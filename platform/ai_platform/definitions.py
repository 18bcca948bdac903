"""The code location: composes each layer's assets, checks, jobs, sensors and resources."""

import dagster as dg

from ai_platform import upstream_fixes
from ai_platform.automation.alert_sensors import (
    alert_on_failed_check,
    alert_on_run_failure,
    build_freshness_alert_sensor,
)
from ai_platform.automation.freshness import build_latest_day_checks
from ai_platform.automation.landing_sensor import build_landing_sensor
from ai_platform.automation.retraining import build_retraining_sensor
from ai_platform.executors import executor_def
from ai_platform.features import assets as features
from ai_platform.features.history import build_history_checks
from ai_platform.features.manifest import lake_exports, manifest
from ai_platform.jobs import daily_job, landing_job, reference_job, serving_ready
from ai_platform.ml.assets import GROUP as ML_GROUP
from ai_platform.ml.specs import spec_definitions, specs
from ai_platform.monitoring.assets import GROUP as MONITORING_GROUP
from ai_platform.raw import assets as raw

upstream_fixes.apply()

feature_keys = sorted(features.flights_dbt.keys)
exports = lake_exports(manifest())
exported_keys = [dg.AssetKey(e.model) for e in exports]


def build_defs() -> dg.Definitions:
    models = spec_definitions()  # every model spec's assets, jobs and drift sensor (ai_platform/defs/*/defs.yaml)
    landing = landing_job(specs())
    assets = [*raw.assets, *features.assets]
    freshness_policies = {
        s.key: s.freshness_policy for a in [*assets, *models.assets] for s in a.specs if s.freshness_policy
    }
    platform = dg.Definitions(
        assets=assets,
        asset_checks=[
            *build_latest_day_checks([*(a.key for a in raw.daily_assets), *exported_keys]),
            *build_history_checks(exports),
        ],
        jobs=[reference_job, daily_job, landing],
        sensors=[
            build_landing_sensor(landing, feature_keys, serving_ready),
            build_retraining_sensor(dg.AssetSelection.groups(ML_GROUP, MONITORING_GROUP)),
            alert_on_run_failure,
            alert_on_failed_check,
            build_freshness_alert_sensor(freshness_policies),
        ],
        resources={**raw.resources, **features.resources},
        executor=executor_def(),
    )
    return dg.Definitions.merge(platform, models)


defs = build_defs()
