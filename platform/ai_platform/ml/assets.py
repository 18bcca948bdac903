"""ML layer: one factory turns a ModelSpec into weekly model and evaluation assets (group `ml`)."""

import base64
import json
from datetime import timedelta

import dagster as dg

from ai_platform import settings
from ai_platform.automation.freshness import weekly_policy
from ai_platform.automation.retraining import retrain_condition
from ai_platform.files import write_atomic
from ai_platform.ml import evaluation, training
from ai_platform.ml.spec import ModelSpec
from ai_platform.partitions import END_DATE, START_DATE, days, parse_day, weekly

GROUP = "ml"
LIGHTGBM_POOL = "lightgbm"


def report_dir(spec: ModelSpec, week: str):
    return settings.reports_dir() / spec.name / week


def load_metrics(spec: ModelSpec, week: str) -> dict:
    return json.loads((report_dir(spec, week) / "metrics.json").read_text())


def _png_markdown(path) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"![{path.stem}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})")


def _training_days(spec: ModelSpec) -> dg.TimeWindowPartitionMapping:
    """Weekly partition -> the daily partitions it trains on (offsets count weeks of the model)."""
    if spec.window == "expanding":
        weeks_of_data = (END_DATE - START_DATE).days // 7 + 1
        return dg.TimeWindowPartitionMapping(
            start_offset=-weeks_of_data, end_offset=-1, allow_nonexistent_upstream_partitions=True
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
        }
        paths, card = training.save(spec, week, trained, card)
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
        out = report_dir(spec, week)
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

    return [model, model_evaluation]
