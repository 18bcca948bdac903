"""Monitoring (group `monitoring`), daily: feature drift against the champion's training window, and the
quality the champion's predictions really had once the day's outcomes are known."""

import json
from datetime import date

import dagster as dg

from ai_platform import alerts, settings, storage
from ai_platform.automation.policies import eager_condition
from ai_platform.files import write_atomic
from ai_platform.ml import drift, evaluation, keys, training
from ai_platform.ml.predictions import predictions_path, serving_version
from ai_platform.ml.spec import ModelSpec
from ai_platform.partitions import DAILY, parse_day

GROUP = "monitoring"
DRIFT_CHECK = "feature_drift"
QUALITY_CHECK = "realized_auc_above_floor"
# Breaches: alerted once per episode by the retrain_on_breach_<spec> sensor, not once per failing day.
BREACH_CHECKS = frozenset({DRIFT_CHECK, QUALITY_CHECK})


def monitoring_dir(spec: ModelSpec, kind: str):
    return settings.storage_root() / "monitoring" / spec.name / kind


def load_drift(spec: ModelSpec) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(monitoring_dir(spec, "drift").glob("*.json"))]


def measure_drift(spec: ModelSpec, weeks: dg.WeeklyPartitionsDefinition, day: date) -> dict:
    """PSI of each feature of `day` against the training window of the champion serving it."""
    _, version = serving_version(spec, weeks, day)
    if version is None:
        return {"day": day.isoformat(), "champion": None, "psi": {}, "drifted": []}
    card = training.load_card(spec, version)
    profile = json.loads((training.model_dir(spec, version) / "profile.json").read_text())
    df, _ = training.load_days(spec, [day])
    psis = drift.psi(profile, df)
    limits = {
        f: max(spec.drift_psi_threshold, spec.drift_tolerance * profile["daily_psi_p95"][f])
        for f in card["top_features"][: spec.drift_top_features]
    }
    drifted = sorted(f for f, limit in limits.items() if psis[f] > limit)
    record = {"day": day.isoformat(), "champion": version, "psi": psis, "limits": limits, "drifted": drifted}
    path = monitoring_dir(spec, "drift") / f"{day.isoformat()}.json"
    write_atomic(path, json.dumps(record, sort_keys=True).encode())
    return record


def measure_quality(spec: ModelSpec, day: date) -> dict:
    """AUC, log loss and calibration of the day's predictions against the day's outcomes."""
    path = predictions_path(spec, day)
    if not path.exists():
        return {"day": day.isoformat(), "model_version": None}
    scored = storage.read_parquet(path)
    df, _ = training.load_days(spec, [day])
    labelled = training.labelled(spec, df.select("flight_id", spec.label).join(scored, on="flight_id"))
    y = labelled[spec.label].to_numpy()
    record = {"day": day.isoformat(), "model_version": scored["model_version"][0] if scored.height else None}
    if labelled.height and 0 < y.sum() < len(y):
        m = evaluation.binary_metrics(y, labelled["score"].to_numpy())
        record |= {k: m[k] for k in ("n", "positive_rate", "roc_auc", "log_loss", "ece")}
    write_atomic(
        monitoring_dir(spec, "quality") / f"{day.isoformat()}.json", json.dumps(record, sort_keys=True).encode()
    )
    return record


def quality_table(records: list[dict]) -> str:
    """Markdown: one row per scored day."""
    rows = [
        f"| {r['day']} | {r['model_version']} | {r['n']} | {r['positive_rate']:.3f} | {r['roc_auc']:.3f} "
        f"| {r['log_loss']:.3f} | {r['ece']:.3f} |"
        for r in records
    ]
    header = "| day | model | flights | positive rate | ROC-AUC | log loss | ECE |\n|---|---|---|---|---|---|---|\n"
    return header + "\n".join(rows)


def build_monitoring_assets(
    spec: ModelSpec, weeks: dg.WeeklyPartitionsDefinition, champion_key: dg.AssetKey, predictions_key: dg.AssetKey
) -> list[dg.AssetsDefinition]:
    """A model's daily feature drift and realized quality, each with its check."""
    return [build_drift_asset(spec, weeks, champion_key), build_quality_asset(spec, predictions_key)]


def build_drift_asset(
    spec: ModelSpec, weeks: dg.WeeklyPartitionsDefinition, champion_key: dg.AssetKey
) -> dg.AssetsDefinition:
    drift_key = keys.feature_drift(spec.name)

    @dg.asset(
        key=drift_key,
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[dg.AssetKey(spec.features_model), keys.serving_dep(champion_key)],
        group_name=GROUP,
        kinds={"polars"},
        automation_condition=eager_condition(),
        description=(
            "Population stability index of every feature of the day against the training window of the champion "
            f"serving it (10 quantile bins + missing). The day drifts when one of the champion's "
            f"{spec.drift_top_features} most important features has a PSI above {spec.drift_psi_threshold} and "
            f"above {spec.drift_tolerance}x what an ordinary day of the training window reached (95th percentile)."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                DRIFT_CHECK,
                asset=drift_key,
                description="No important feature drifts beyond its limit; a breach alerts and requests a retrain "
                "and a new promotion decision.",
            )
        ],
    )
    def feature_drift(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        records = [measure_drift(spec, weeks, parse_day(k)) for k in context.partition_keys]
        measured = [r for r in records if r["champion"]]
        drifted = [r for r in measured if r["drifted"]]
        metadata = {"days_measured": len(measured), "days_drifted": len(drifted)}
        if measured:
            worst = max(measured, key=lambda r: max(r["psi"].values()))
            metadata |= {
                "max_psi": max(worst["psi"].values()),
                "worst_day": worst["day"],
                "psi": dg.MetadataValue.md(drift.drift_table(worst["psi"], spec.drift_psi_threshold)),
            }
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name=DRIFT_CHECK,
                    passed=not drifted,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description="no drift"
                    if not drifted
                    else "drift on " + "; ".join(f"{r['day']}: {', '.join(r['drifted'])}" for r in drifted[:10]),
                    metadata={alerts.FAILING_METADATA: [r["day"] for r in drifted]},
                )
            ],
        )

    return feature_drift


def build_quality_asset(spec: ModelSpec, predictions_key: dg.AssetKey) -> dg.AssetsDefinition:
    quality_key = keys.realized_quality(spec.name)

    @dg.asset(
        key=quality_key,
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[predictions_key, dg.AssetKey(spec.features_model)],
        group_name=GROUP,
        kinds={"polars"},
        automation_condition=eager_condition(),
        description="The day's predictions against its real outcomes: ROC-AUC, log loss, calibration error.",
        check_specs=[
            dg.AssetCheckSpec(
                QUALITY_CHECK, asset=quality_key, description=f"Each day's realized ROC-AUC >= {spec.auc_floor}."
            )
        ],
    )
    def realized_quality(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        records = [measure_quality(spec, parse_day(k)) for k in context.partition_keys]
        scored = [r for r in records if "roc_auc" in r]
        low = [r for r in scored if r["roc_auc"] < spec.auc_floor]
        metadata: dict = {"days_scored": len(scored)}
        if scored:
            metadata |= {
                "mean_roc_auc": sum(r["roc_auc"] for r in scored) / len(scored),
                "mean_log_loss": sum(r["log_loss"] for r in scored) / len(scored),
                "mean_ece": sum(r["ece"] for r in scored) / len(scored),
                "per_day": dg.MetadataValue.md(quality_table(scored)),
            }
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name=QUALITY_CHECK,
                    passed=not low,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description="ok"
                    if not low
                    else "below the floor on " + ", ".join(f"{r['day']} ({r['roc_auc']:.3f})" for r in low[:10]),
                    metadata={alerts.FAILING_METADATA: [r["day"] for r in low]},
                )
            ],
        )

    return realized_quality
