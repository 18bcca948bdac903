"""`history_complete`: a feature day whose trailing history (its model's `meta.lookback_days`) misses a day of
flights was computed as if nothing flew that day. The check names those feature days and the missing days.

It fails with severity ERROR without blocking: the day's features exist and serve, but the failure is shown
on the asset, alerted once per set of days, and lasts until the missing days land and the features are rebuilt
(the landing sensor and `make run` rebuild the days after a newly ingested day).
"""

from datetime import date, timedelta

import dagster as dg

from ai_platform import alerts, lake, storage
from ai_platform.features.manifest import LakeExport
from ai_platform.partitions import START_DATE, days, parse_day, run_window

CHECK = "history_complete"


def missing_history(export: LakeExport, day: date) -> list[date]:
    """The days of `day`'s look-back (from the first partition on) without flights in the lake."""
    first = max(START_DATE, day - timedelta(days=export.lookback_days))
    look_back = days(first, day)
    found = storage.existing([lake.raw_day_path("flights", d) for d in look_back])
    return [d for d, exists in zip(look_back, found, strict=True) if not exists]


def build_history_checks(exports: list[LakeExport]) -> list[dg.AssetChecksDefinition]:
    def build(export: LakeExport) -> dg.AssetChecksDefinition:
        @dg.asset_check(
            asset=export.model,
            name=CHECK,
            description=f"Every day of each feature day's {export.lookback_days}-day look-back has its flights in "
            "the lake (a missing day would read as a day when nothing flew).",
        )
        def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
            window = run_window(context.run.tags)
            checked = days(parse_day(window[0]), parse_day(window[1]) + timedelta(days=1)) if window else []
            incomplete = {d: m for d in checked if (m := missing_history(export, d))}
            missing = sorted({d for m in incomplete.values() for d in m})
            return dg.AssetCheckResult(
                passed=not incomplete,
                severity=dg.AssetCheckSeverity.ERROR,
                description=f"the look-back of all {len(checked)} day(s) is complete"
                if not incomplete
                else f"{len(incomplete)} day(s) computed without {len(missing)} day(s) of their history "
                f"(missing: {', '.join(d.isoformat() for d in missing[:10])}{' ...' if len(missing) > 10 else ''}); "
                "land the missing days, their features and the following days' are rebuilt",
                metadata={
                    "days_checked": len(checked),
                    "missing_history_days": [d.isoformat() for d in missing],
                    alerts.FAILING_METADATA: [d.isoformat() for d in incomplete],
                },
            )

        return _check

    return [build(e) for e in exports]
