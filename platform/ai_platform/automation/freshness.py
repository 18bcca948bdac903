"""Freshness that knows partitions: a check that the expected latest day has arrived.

A freshness policy (`policies.daily_policy`, ...) looks at the newest materialization of *any* partition, so
backfilling an old day makes an asset look fresh. `latest_day_arrived` is partition-aware: every day that landed
(or, on the wall clock, every day up to yesterday) must be materialized.
"""

import os
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from ai_platform import alerts, settings
from ai_platform.automation.landing_sensor import DAEMON_LOOP_S
from ai_platform.landing import LandingResource, complete_days, valid_names
from ai_platform.partitions import END_DATE, START_DATE, days, is_day, parse_day, run_window

CLOCK_ENV = "AI_PLATFORM_CLOCK"
ACTIVE_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
CLOCKS = ("landing", "wall")


def clock() -> str:
    name = os.environ.get(CLOCK_ENV) or "landing"
    if name not in CLOCKS:
        raise ValueError(f"{CLOCK_ENV}={name!r}: expected one of {', '.join(CLOCKS)}")
    return name


def landing_grace() -> timedelta:
    """Time for the landing sensor to see a file and queue its run (from then on the run is in flight): three of
    the daemon's loops, or of the sensor's interval if longer."""
    return timedelta(seconds=3 * max(settings.sensor_interval_seconds(), DAEMON_LOOP_S))


def expected_days(landing: LandingResource) -> list[date]:
    """The days that should be materialized by now: every day fully landed before `landing_grace()`
    (younger files may not have been seen by the sensor yet), or every day up to yesterday."""
    if clock() == "wall":
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        return days(START_DATE, min(yesterday + timedelta(days=1), END_DATE))
    settled = datetime.now(UTC).timestamp() - landing_grace().total_seconds()
    names = valid_names(landing.zone().list())
    young = {n.day for n, e in names.items() if e.modified > settled}
    return [d for d in complete_days(names) if d not in young]


_expected_in_run: dict[str, list[date]] = {}


def expected_days_of_run(run_id: str, landing: LandingResource) -> list[date]:
    """`expected_days`, worked out once per run: a run checks several assets against the same landing zone, and
    listing it costs one entry per landed file of the whole history."""
    if run_id not in _expected_in_run:
        _expected_in_run.clear()  # one run at a time per process: keep only the current run's
        _expected_in_run[run_id] = expected_days(landing)
    return _expected_in_run[run_id]


def days_in_flight(instance: dg.DagsterInstance) -> set[date]:
    """Days that a queued or running run is materializing: not missing, only not done yet. An off-cycle run's
    partition (`offcycle-<day>`) is not a day: such a run materializes no daily partition."""
    active = instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE_RUN_STATUSES))
    out: set[date] = set()
    for run in active:
        window = run_window(run.tags)
        if window and all(map(is_day, window)):
            out.update(days(parse_day(window[0]), parse_day(window[1]) + timedelta(days=1)))
    return out


def build_latest_day_checks(asset_keys: list[dg.AssetKey]) -> list[dg.AssetChecksDefinition]:
    def build(key: dg.AssetKey) -> dg.AssetChecksDefinition:
        @dg.asset_check(
            asset=key,
            name="latest_day_arrived",
            description=(
                "Partition-aware freshness: every day expected by the clock (AI_PLATFORM_CLOCK: `landing` = each "
                "day whose files all landed, `wall` = each day up to yesterday) is materialized."
            ),
        )
        def _check(context: dg.AssetCheckExecutionContext, landing: LandingResource) -> dg.AssetCheckResult:
            expected = expected_days_of_run(context.run.run_id, landing)
            done = context.instance.get_materialized_partitions(key)
            pending = days_in_flight(context.instance)
            missing = [d for d in expected if d.isoformat() not in done and d not in pending]
            latest = max(done, default=None)
            return dg.AssetCheckResult(
                passed=not missing,
                severity=dg.AssetCheckSeverity.ERROR,
                description=(
                    f"all {len(expected)} expected day(s) materialized"
                    if not missing
                    else f"{len(missing)} expected day(s) not materialized: "
                    + ", ".join(d.isoformat() for d in missing[:10])
                    + (" ..." if len(missing) > 10 else "")
                ),
                metadata={
                    "clock": clock(),
                    "expected_latest_day": expected[-1].isoformat() if expected else "none",
                    "latest_materialized_day": latest or "none",
                    "missing_days": len(missing),
                    alerts.FAILING_METADATA: [d.isoformat() for d in missing],
                },
            )

        return _check

    return [build(k) for k in asset_keys]
