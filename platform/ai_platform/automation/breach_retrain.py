"""Breach-triggered retraining: a failed `feature_drift` or realized-quality check starts a breach episode on
its first failing day D (consecutive failing days belong to the same episode). The episode sends one alert,
and once the `breach_eval_days` days after D are featurized, the sensor adds the partition `offcycle-<D>` to
the off-cycle assets (`ml.offcycle`) and requests them: a new model trained up to D, evaluated on those days,
through the champion gate.

The checks are read from the instance's asset-check execution records, from an id cursor; the breach days
seen and the episodes waiting for their evaluation days are kept in the cursor too.
"""

import json
from datetime import date, timedelta

import dagster as dg

from ai_platform import alerts, settings
from ai_platform.ml import keys, offcycle
from ai_platform.ml.spec import ModelSpec
from ai_platform.monitoring.assets import DRIFT_CHECK, QUALITY_CHECK

TRIGGER_TAG = "ai_platform/trigger"
BREACH_DAYS_TAG = "ai_platform/breach_days"
KEEP_DAYS = 60  # breach days remembered to tell a continuing episode from a new one


def breach_checks(spec: ModelSpec) -> list[dg.AssetCheckKey]:
    return [
        dg.AssetCheckKey(keys.feature_drift(spec.name), DRIFT_CHECK),
        dg.AssetCheckKey(keys.realized_quality(spec.name), QUALITY_CHECK),
    ]


def new_episodes(seen: set[date], breached: set[date]) -> list[date]:
    """The first days of the episodes `breached` starts: days whose day before was no breach (seen or new)."""
    every = seen | breached
    return sorted(d for d in breached - seen if d - timedelta(days=1) not in every)


def build_breach_retrain_sensor(spec: ModelSpec, job_name: str) -> dg.SensorDefinition:
    checks = breach_checks(spec)
    features = dg.AssetKey(spec.features_model)
    partitions = offcycle.partitions(spec)

    @dg.sensor(
        name=f"retrain_on_breach_{spec.name}",
        job_name=job_name,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.automation_interval_seconds(),
        description=f"A {DRIFT_CHECK} or {QUALITY_CHECK} breach of {spec.name} alerts once per episode and trains "
        f"an off-cycle version on the days up to the breach, judged on the {spec.breach_eval_days} days after it.",
    )
    def retrain_on_breach(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = json.loads(context.cursor or '{"after": {}, "seen": [], "pending": {}}')
        breached: dict[date, set[str]] = {}
        for check in checks:
            name = check.to_user_string()
            after = cursor["after"].get(name, 0)
            records = context.instance.event_log_storage.get_asset_check_execution_history(check, limit=200)
            for record in sorted(records, key=lambda r: r.id):
                if record.id <= after:
                    continue
                cursor["after"][name] = record.id
                evaluation = record.event.dagster_event.event_specific_data if record.event else None
                if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
                    continue
                for day in evaluation.metadata[alerts.FAILING_METADATA].value:
                    breached.setdefault(date.fromisoformat(day), set()).add(check.name)
        seen = {date.fromisoformat(d) for d in cursor["seen"]}
        for day in new_episodes(seen, set(breached)):
            version = offcycle.version_name(day)
            alerts.send(
                alerts.Alert(
                    kind="breach",
                    summary=f"{spec.name}: {' and '.join(sorted(breached[day]))} breached from {day}",
                    reason=f"an off-cycle model {version} will be trained on the days up to {day} and judged on "
                    f"the {spec.breach_eval_days} days after it",
                    url=alerts.asset_url(keys.offcycle(spec.name, "champion").path),
                    asset=f"monitoring/{spec.name}",
                    partition=day.isoformat(),
                ),
                log=context.log,
            )
            cursor["pending"][day.isoformat()] = sorted(breached[day])
        every = seen | set(breached)
        newest = max(every, default=None)
        cursor["seen"] = sorted(d.isoformat() for d in every if d > newest - timedelta(days=KEEP_DAYS))

        featurized = context.instance.get_materialized_partitions(features)
        ready = [
            day
            for day in sorted(cursor["pending"])
            if all(d.isoformat() in featurized for d in offcycle.evaluation_days(spec, date.fromisoformat(day)))
        ]
        versions = [offcycle.version_name(date.fromisoformat(day)) for day in ready]
        requests = [
            dg.RunRequest(
                run_key=version,
                partition_key=version,
                tags={TRIGGER_TAG: "breach", BREACH_DAYS_TAG: ",".join(cursor["pending"][day])},
            )
            for day, version in zip(ready, versions, strict=True)
        ]
        for day in ready:
            del cursor["pending"][day]
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[partitions.build_add_request(versions)] if versions else [],
            cursor=json.dumps(cursor, sort_keys=True),
        )

    return retrain_on_breach
