"""ML layer: one factory turns a ModelSpec into its assets: the weekly model, its evaluation and the champion
decision (group `ml`), daily predictions, daily monitoring (group `monitoring`) and the model history report."""

import base64
import json
from datetime import timedelta

import dagster as dg

from ai_platform import settings
from ai_platform.automation.freshness import weekly_policy
from ai_platform.automation.retraining import retrain_condition
from ai_platform.files import write_atomic
from ai_platform.ml import drift, evaluation, registry, training
from ai_platform.ml.champion import build_champion_asset
from ai_platform.ml.history_report import history_markdown, write_history_report
from ai_platform.ml.predictions import build_predictions_asset
from ai_platform.ml.spec import ModelSpec
from ai_platform.monitoring.assets import build_monitoring_assets, load_drift
from ai_platform.partitions import END_DATE, START_DATE, days, parse_day, weekly

GROUP = "ml"
LIGHTGBM_POOL = "lightgbm"


def _png_markdown(path) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"![{path.stem}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})")


def _training_days(spec: ModelSpec) -> dg.TimeWindowPartitionMapping:
    """Weekly partition -> the daily partitions it trains on (offsets count weeks of the model)."""
    if spec.window == "expanding":
        weeks = (END_DATE - START_DATE).days // 7 + 1
        if spec.max_window_weeks is not None:
            weeks = min(weeks, spec.max_window_weeks)
        return dg.TimeWindowPartitionMapping(
            start_offset=-weeks, end_offset=-1, allow_nonexistent_upstream_partitions=True
        )
    return dg.TimeWindowPartitionMapping(start_offset=-spec.window_weeks, end_offset=-1)


def build_model_assets(spec: ModelSpec) -> list:
    """The weekly model (trained on the trailing window) and its out-of-time evaluation report."""
    weeks = weekly(spec.window_weeks)
    features = dg.AssetKey(spec.features_model)
    model_key = dg.AssetKey(["ml", spec.name, "model"])
    evaluation_key = dg.AssetKey(["ml", spec.name, "evaluation"])

    @dg.asset(
        key=model_key,
        partitions_def=weeks,
        deps=[
            dg.AssetDep(
                features,
                partition_mapping=_training_days(spec),
            )
        ],
        group_name=GROUP,
        kinds={"lightgbm", "python"},
        automation_condition=retrain_condition(),
        freshness_policy=weekly_policy(),
        pool=LIGHTGBM_POOL,
        description=(
            f"{spec.description} LightGBM trained on "
            + (f"the {spec.window_weeks} weeks" if spec.window == "trailing" else "every day")
            + " before the partition's week, saved in LightGBM's text format with a model card."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "feature_set_matches_spec",
                asset=model_key,
                blocking=True,
                description="The saved model file loads and uses exactly the spec's features, in order.",
            )
        ],
    )
    def model(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        week = context.partition_key
        start = parse_day(week)
        window = days(spec.training_start(start, START_DATE), start)
        df, versions = training.load_days(spec, window)
        train = training.labelled(spec, df)
        vocab = training.vocabulary(spec, train)
        valid_from = window[-spec.early_stopping_days]
        trained = training.fit(spec, train, valid_from, vocab)
        importance = training.feature_importance(trained.booster)
        card = {
            "spec": spec.name,
            "week": week,
            "label": spec.label,
            "features": list(spec.features),
            "categorical_vocabulary": vocab,
            "training_window": [window[0].isoformat(), window[-1].isoformat()],
            "early_stopping_from": valid_from.isoformat(),
            "rows": {"window": df.height, "labelled": train.height},
            "params": trained.params,
            "best_iteration": trained.best_iteration,
            "metrics": {"early_stopping_valid_auc": trained.valid_auc},
            "input_data_versions": {spec.features_model: versions},
            "top_features": sorted(spec.features, key=lambda f: -importance[f]),
        }
        profile = drift.reference_profile(train, spec.features, spec.categorical)
        profile["daily_psi_p95"] = drift.daily_psi_quantile(profile, train, "flight_date", window[-28:])
        paths, card = training.save(spec, week, trained, card, profile)
        saved_features = training.load_model(paths["model"]).feature_name()
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": train.height,
                "training_window": f"{window[0]} .. {window[-1]}",
                "best_iteration": trained.best_iteration,
                "early_stopping_valid_auc": trained.valid_auc,
                "model_path": dg.MetadataValue.path(str(paths["model"])),
                "model_card": dg.MetadataValue.path(str(paths["card"])),
            },
            data_version=dg.DataVersion(card["model_file_sha256"]),
            check_results=[
                dg.AssetCheckResult(
                    check_name="feature_set_matches_spec",
                    passed=saved_features == list(spec.features),
                    metadata={"features": len(saved_features)},
                )
            ],
        )

    @dg.asset(
        key=evaluation_key,
        partitions_def=weeks,
        deps=[model_key, features],
        group_name=GROUP,
        kinds={"lightgbm", "html"},
        automation_condition=retrain_condition(),
        freshness_policy=weekly_policy(),
        pool=LIGHTGBM_POOL,
        description=(
            f"The week's model scored on the {spec.eval_days} days of its own week, which it never saw: "
            "ROC-AUC, PR-AUC, log loss, Brier, calibration and lift over a historical baseline, "
            "with ROC, calibration and feature-importance plots and a standalone HTML report."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "auc_above_floor", asset=evaluation_key, description=f"Out-of-time ROC-AUC >= {spec.auc_floor}."
            ),
            dg.AssetCheckSpec(
                "beats_baseline",
                asset=evaluation_key,
                description=f"The model's AUC beats the `{spec.baseline}` baseline.",
            ),
        ],
    )
    def model_evaluation(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        week = context.partition_key
        start = parse_day(week)
        card = training.load_card(spec, week)
        df, versions = training.load_days(spec, days(start, start + timedelta(days=spec.eval_days)))
        test = training.labelled(spec, df)
        model_path = training.model_dir(spec, week) / "model.txt"
        booster = training.load_model(model_path)
        scores = training.predict(booster, spec, test, card["categorical_vocabulary"])
        y = test[spec.label].to_numpy()
        baseline = test[spec.baseline].to_numpy() if spec.baseline else None
        metrics = evaluation.binary_metrics(y, scores, baseline)
        metrics["cancelled_or_unlabelled"] = df.height - test.height
        out = evaluation.report_dir(spec.name, week)
        files = evaluation.write_report(
            out,
            title=f"{spec.name}: week of {week}",
            y_true=y,
            y_score=scores,
            baseline_score=baseline,
            feature_importance=training.feature_importance(booster),
            metrics=metrics,
            context={
                "model week": week,
                "training window": " .. ".join(card["training_window"]),
                "evaluation days": f"{start} .. {start + timedelta(days=spec.eval_days - 1)}",
                "model file sha256": card["model_file_sha256"],
            },
        )
        write_atomic(
            out / "metrics.json",
            json.dumps({"week": week, **metrics, "input_data_versions": versions}, indent=2, sort_keys=True).encode(),
        )
        auc, baseline_auc = metrics["roc_auc"], metrics.get("baseline_roc_auc")
        return dg.MaterializeResult(
            metadata={
                "roc_auc": auc,
                "pr_auc": metrics["pr_auc"],
                "log_loss": metrics["log_loss"],
                "brier": metrics["brier"],
                "ece": metrics["ece"],
                "baseline_roc_auc": baseline_auc,
                "auc_lift": metrics.get("auc_lift"),
                "dagster/row_count": metrics["n"],
                "metrics": dg.MetadataValue.md(evaluation.metrics_markdown(metrics)),
                "roc": _png_markdown(files["roc"]),
                "calibration": _png_markdown(files["calibration"]),
                "report": dg.MetadataValue.path(str(files["html"])),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="auc_above_floor",
                    passed=auc >= spec.auc_floor,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"roc_auc": auc, "floor": spec.auc_floor},
                ),
                dg.AssetCheckResult(
                    check_name="beats_baseline",
                    passed=baseline_auc is None or auc > baseline_auc,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"roc_auc": auc, "baseline_roc_auc": baseline_auc},
                ),
            ],
        )

    champion = build_champion_asset(spec, weeks, model_key, evaluation_key)
    predictions = build_predictions_asset(spec, weeks, champion.key)
    monitoring = build_monitoring_assets(spec, weeks, champion.key, predictions.key)
    report = build_history_report_asset(spec, evaluation_key, champion.key, monitoring[0].key)
    return [model, model_evaluation, champion, predictions, *monitoring, report]


def history_inputs(spec: ModelSpec) -> tuple[list[dict], list[dict]]:
    """Per week: the challenger's and the serving champion's AUC on the challenger's week; and the decisions."""
    decisions = registry.history(spec)
    weeks = []
    for d in decisions:
        metrics = evaluation.load_metrics(spec.name, d["week"])
        incumbent = (d["numbers"] or {}).get("champion")
        weeks.append(
            {
                "week": d["week"],
                "challenger_auc": metrics["roc_auc"],
                "champion_auc": incumbent["roc_auc"] if incumbent else None,
                "baseline_auc": metrics.get("baseline_roc_auc"),
                "champion": d["previous"],
            }
        )
    return weeks, decisions


def build_history_report_asset(
    spec: ModelSpec, evaluation_key: dg.AssetKey, champion_key: dg.AssetKey, drift_key: dg.AssetKey
) -> dg.AssetsDefinition:
    @dg.asset(
        key=["ml", spec.name, "history_report"],
        deps=[evaluation_key, champion_key, drift_key],
        group_name=GROUP,
        kinds={"html"},
        # Not eager(): it waits for every partition upstream, and days keep arriving.
        automation_condition=dg.AutomationCondition.eager()
        .without(dg.AutomationCondition.in_latest_time_window())
        .without(~dg.AutomationCondition.any_deps_missing()),
        description=(
            "The model history: AUC per week for the challenger, the serving champion and the baseline, "
            "promotions and rollbacks marked, feature drift per day; HTML with PNG plots."
        ),
    )
    def history_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        weeks, decisions = history_inputs(spec)
        files = write_history_report(
            settings.reports_dir() / spec.name / "history",
            title=f"{spec.name}: model history",
            weeks=weeks,
            decisions=decisions,
            # The check's own measure: each watched feature's PSI over its limit (above 1: drift).
            drift=[
                {"day": r["day"], "psi": {f: r["psi"][f] / limit for f, limit in r["limits"].items()}}
                for r in load_drift(spec)
                if r["champion"]
            ],
            drift_threshold=1.0,
            measure="PSI / drift limit",
        )
        champions = [d for d in decisions if d["champion"]]
        return dg.MaterializeResult(
            metadata={
                "weeks": len(weeks),
                "promotions": sum(d["action"] in ("promote", "bootstrap") for d in decisions),
                "rollbacks": sum(d["action"] == "rollback" for d in decisions),
                "current_champion": champions[-1]["champion"] if champions else "none",
                "summary": dg.MetadataValue.md(history_markdown(weeks, decisions)),
                "auc_history": _png_markdown(files["auc"]),
                "drift": _png_markdown(files["drift"]),
                "report": dg.MetadataValue.path(str(files["html"])),
            }
        )

    return history_report
