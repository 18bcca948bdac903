"""Drift-triggered retraining: a failed `feature_drift` check requests the drifted day's weekly model, its
evaluation and a new champion decision, as soon as that week's days are all featurized.

The checks are read from the instance's asset-check execution records (kept outside the per-run event
logs), from an id cursor; requests waiting for their week's days are kept in the cursor too.
"""

import json
from datetime import timedelta

import dagster as dg

from ai_platform import alerts, settings
from ai_platform.ml.spec import ModelSpec
from ai_platform.monitoring.assets import DRIFT_CHECK
from ai_platform.partitions import days, parse_day

TRIGGER_TAG = "ai_platform/trigger"
DRIFT_DAYS_TAG = "ai_platform/drift_days"


def week_of(day: str, week_keys: list[str]) -> str | None:
    """The weekly partition whose week contains `day` (None before the first one)."""
    containing = [w for w in week_keys if parse_day(w) <= parse_day(day)]
    return containing[-1] if containing else None


def build_drift_retrain_sensor(
    spec: ModelSpec, weeks: dg.WeeklyPartitionsDefinition, job_name: str
) -> dg.SensorDefinition:
    check = dg.AssetCheckKey(dg.AssetKey(["monitoring", spec.name, "feature_drift"]), DRIFT_CHECK)
    features = dg.AssetKey(spec.features_model)

    @dg.sensor(
        name=f"retrain_on_drift_{spec.name}",
        job_name=job_name,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.sensor_interval_seconds(),
        description=f"A failed {DRIFT_CHECK} check of {spec.name} retrains the drifted day's week and decides "
        "the champion again (once the week's days are all featurized).",
    )
    def retrain_on_drift(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = json.loads(context.cursor or '{"after": 0, "pending": {}}')
        records = context.instance.event_log_storage.get_asset_check_execution_history(check, limit=200)
        for record in sorted(records, key=lambda r: r.id):
            if record.id <= cursor["after"]:
                continue
            cursor["after"] = record.id
            evaluation = record.event.dagster_event.event_specific_data if record.event else None
            if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
                continue
            for day in evaluation.metadata[alerts.FAILING_METADATA].value:
                week = week_of(day, weeks.get_partition_keys())
                if week is None:
                    context.log.info(f"drift on {day}: no weekly model covers it yet")
                else:
                    cursor["pending"][week] = sorted({*cursor["pending"].get(week, []), day})
        featurized = context.instance.get_materialized_partitions(features)
        requests = []
        for week, drifted in sorted(cursor["pending"].items()):
            start = parse_day(week)
            if all(d.isoformat() in featurized for d in days(start, start + timedelta(days=spec.eval_days))):
                requests.append(
                    dg.RunRequest(
                        run_key=f"drift:{week}:{','.join(drifted)}",
                        partition_key=week,
                        tags={TRIGGER_TAG: "drift", DRIFT_DAYS_TAG: ",".join(drifted)},
                    )
                )
        for r in requests:
            del cursor["pending"][r.partition_key]
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

    return retrain_on_drift
