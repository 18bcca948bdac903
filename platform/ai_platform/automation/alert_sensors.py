"""The sensors that raise alerts through the one sink (`ai_platform.alerts`): failed runs, failed checks,
and assets whose freshness turns to FAIL (open-source Dagster shows freshness but sends no alert).

Checks are read from each finished run's own events: the default SQLite storage keeps one event log per
run, where an instance-wide event cursor is not available."""

import json
from datetime import UTC, datetime

import dagster as dg

from ai_platform import alerts, settings
from ai_platform.monitoring.assets import BREACH_CHECKS
from ai_platform.partitions import run_window


def _partition(run: dg.DagsterRun) -> str | None:
    window = run_window(run.tags)
    if window is None:
        return None
    return window[0] if window[0] == window[1] else "..".join(window)


def _key(key: dg.AssetKey) -> str:
    return "/".join(key.path)


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=settings.automation_interval_seconds(),
    description="Sends an alert naming the failed run's assets, partition, failing steps and a link to the run.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    steps = context.get_step_failure_events()
    reason = "\n".join(
        f"step {e.step_key}: {e.event_specific_data.error.message.strip()}"
        for e in steps
        if e.event_specific_data and e.event_specific_data.error
    )
    assets = sorted(_key(k) for k in run.asset_selection or [])
    partition = _partition(run)
    alerts.send(
        alerts.Alert(
            kind="run_failure",
            summary=f"run of {run.job_name} failed" + (f" for {partition}" if partition else ""),
            reason=reason or context.failure_event.message or "the run failed",
            url=alerts.run_url(run.run_id),
            asset=", ".join(assets) or None,
            partition=partition,
            run_id=run.run_id,
        ),
        log=context.log,
    )
    send_failed_check_alerts(context.instance, run, context.log)


def send_failed_check_alerts(instance: dg.DagsterInstance, run: dg.DagsterRun, log) -> int:
    """One alert for each check of `run` that failed with ERROR severity (blocking checks included),
    unless its previous execution failed on the same partitions (a repeat of an alert already sent).
    Drift and realized-quality breaches are alerted by the retrain_on_breach_<spec> sensors instead."""
    sent = 0
    for record in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR:
            continue
        if evaluation.check_name in BREACH_CHECKS:
            continue  # the breach sensor alerts once per episode
        if _same_as_before(instance, evaluation, run):
            continue
        failing = failing_partitions(evaluation, run)
        alerts.send(
            alerts.Alert(
                kind="check_failed",
                summary=f"check {evaluation.check_name} failed on {_key(evaluation.asset_key)}"
                + (" (blocking: downstream did not run)" if evaluation.blocking else ""),
                reason=evaluation.description or f"the check did not pass: {dict(evaluation.metadata)}",
                url=alerts.run_url(run.run_id),
                asset=_key(evaluation.asset_key),
                partition=", ".join(failing) or None,
                run_id=run.run_id,
            ),
            log=log,
        )
        sent += 1
    return sent


def failing_partitions(evaluation: dg.AssetCheckEvaluation, run: dg.DagsterRun | None) -> list[str]:
    """The partitions a failed check names (`alerts.FAILING_METADATA`), else its own partition, else its run's."""
    named = evaluation.metadata.get(alerts.FAILING_METADATA)
    if named is not None:
        return sorted(named.value)
    partition = evaluation.partition or (_partition(run) if run else None)
    return [partition] if partition else []


def _same_as_before(instance: dg.DagsterInstance, evaluation, run: dg.DagsterRun) -> bool:
    """The execution of the check before this run's failed on the same partitions: alerting again would repeat it.
    A new failing day, or a failure after a pass, is a new alert whatever the description says."""
    key = dg.AssetCheckKey(evaluation.asset_key, evaluation.check_name)
    history = instance.event_log_storage.get_asset_check_execution_history(key, limit=50)  # newest first
    runs = [r.run_id for r in history]
    if run.run_id not in runs:
        return False
    for record in history[runs.index(run.run_id) + 1 :]:
        previous = record.event.dagster_event.event_specific_data if record.event else None
        if isinstance(previous, dg.AssetCheckEvaluation):
            if previous.passed:
                return False
            previous_run = instance.get_run_by_id(record.run_id)
            return failing_partitions(previous, previous_run) == failing_partitions(evaluation, run)
    return False


@dg.run_status_sensor(
    name="alert_on_failed_check",
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=settings.automation_interval_seconds(),
    description="Sends an alert for every asset check that fails with ERROR severity in a successful run "
    "(failed runs: alert_on_run_failure reports their failed checks too).",
)
def alert_on_failed_check(context: dg.RunStatusSensorContext) -> None:
    send_failed_check_alerts(context.instance, context.dagster_run, context.log)


def build_freshness_alert_sensor(policies: dict[dg.AssetKey, dg.FreshnessPolicy]) -> dg.SensorDefinition:
    """Alerts once per transition to FAIL of the freshness state the Dagster daemon records."""

    @dg.sensor(
        name="alert_on_stale_asset",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.automation_interval_seconds(),
        description="Sends an alert when an asset's freshness state turns to FAIL (once per transition).",
    )
    def alert_on_stale_asset(context: dg.SensorEvaluationContext) -> dg.SkipReason | None:
        previous = json.loads(context.cursor or "{}")
        records = context.instance.get_freshness_state_records(list(policies))
        states = {_key(k): r.freshness_state.value for k, r in records.items()}
        sent = 0
        for key, policy in policies.items():
            state = states.get(_key(key))
            if state == "FAIL" and previous.get(_key(key)) != "FAIL":
                last = context.instance.get_latest_materialization_event(key)
                seen = f"{last.asset_materialization.partition} at {_utc(last.timestamp)}" if last else "never"
                alerts.send(
                    alerts.Alert(
                        kind="freshness",
                        summary=f"{_key(key)} is stale",
                        reason=f"no materialization within its freshness window ({_window(policy)}); last: {seen}",
                        url=alerts.asset_url(key.path),
                        asset=_key(key),
                        partition=last.asset_materialization.partition if last else None,
                    ),
                    log=context.log,
                )
                sent += 1
        context.update_cursor(json.dumps(states, sort_keys=True))
        return None if sent else dg.SkipReason("no asset turned stale")

    return alert_on_stale_asset


def _window(policy: dg.FreshnessPolicy) -> str:
    fail = getattr(policy, "fail_window", None)
    return f"fail after {fail.to_timedelta()}" if fail is not None else str(policy)


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
