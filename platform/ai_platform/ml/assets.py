"""ML layer: a model's weekly model and its out-of-time evaluation (group `ml`), and its model history report.
`ml.component.model_assets` puts them together with the model's other assets."""

from datetime import timedelta

import dagster as dg

from ai_platform import settings
from ai_platform.automation.policies import eager_condition, weekly_policy
from ai_platform.ml import evaluation, keys, registry, versions
from ai_platform.ml.history_report import history_markdown, write_history_report
from ai_platform.ml.spec import ModelSpec
from ai_platform.monitoring.assets import load_drift
from ai_platform.partitions import END_DATE, START_DATE, days, parse_day, weekly

GROUP = "ml"


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


def build_model_assets(spec: ModelSpec) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    """The weekly model (trained on the trailing window) and its out-of-time evaluation report."""
    weeks = weekly(spec.window_weeks)
    features = dg.AssetKey(spec.features_model)
    model_key = keys.model(spec.name)
    evaluation_key = keys.evaluation(spec.name)

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
        automation_condition=eager_condition(),
        freshness_policy=weekly_policy(),
        description=(
            f"{spec.description} LightGBM trained on "
            + (f"the {spec.window_weeks} weeks" if spec.window == "trailing" else "every day")
            + " before the partition's week, saved in LightGBM's text format with a model card."
        ),
        check_specs=versions.model_checks(model_key),
    )
    def model(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        def train(week: str) -> dg.MaterializeResult:
            start = parse_day(week)
            return versions.train_version(spec, week, days(spec.training_start(start, START_DATE), start))

        return versions.each_partition(context, train)

    @dg.asset(
        key=evaluation_key,
        partitions_def=weeks,
        deps=[model_key, features],
        group_name=GROUP,
        kinds={"lightgbm", "html"},
        automation_condition=eager_condition(),
        freshness_policy=weekly_policy(),
        description=(
            f"The week's model scored on the {spec.eval_days} days of its own week, which it never saw: "
            "ROC-AUC, PR-AUC, log loss, Brier, calibration and lift over a historical baseline, "
            "with ROC, calibration and feature-importance plots and a standalone HTML report."
        ),
        check_specs=versions.evaluation_checks(spec, evaluation_key),
    )
    def model_evaluation(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        def evaluate(week: str) -> dg.MaterializeResult:
            start = parse_day(week)
            return versions.evaluate_version(spec, week, days(start, start + timedelta(days=spec.eval_days)))

        return versions.each_partition(context, evaluate)

    return model, model_evaluation


def history_inputs(spec: ModelSpec) -> tuple[list[dict], list[dict]]:
    """Per decision (weekly or off-cycle): the challenger's and the serving champion's AUC on the challenger's own
    days; and the decisions."""
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
    spec: ModelSpec,
    evaluation_key: dg.AssetKey,
    champion_key: dg.AssetKey,
    drift_key: dg.AssetKey,
    offcycle_key: dg.AssetKey,
) -> dg.AssetsDefinition:
    @dg.asset(
        key=keys.history_report(spec.name),
        deps=[evaluation_key, champion_key, drift_key, offcycle_key],
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
                "auc_history": versions.png_markdown(files["auc"]),
                "drift": versions.png_markdown(files["drift"]),
                "report": dg.MetadataValue.path(str(files["html"])),
            }
        )

    return history_report
