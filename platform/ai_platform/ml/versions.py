"""The bodies of a model version's training and evaluation, shared by the weekly partitions and the off-cycle
versions a breach creates (`ml.offcycle`): a version is a name (a week, or `offcycle-<day>`), a training window
and the days it is evaluated on, which it never saw."""

import base64
import json
from collections.abc import Callable
from datetime import date

import dagster as dg

from ai_platform import alerts
from ai_platform.files import write_atomic
from ai_platform.ml import drift, evaluation, training
from ai_platform.ml.spec import ModelSpec


def png_markdown(path) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"![{path.stem}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})")


def each_partition(
    context: dg.AssetExecutionContext, materialize: Callable[[str], dg.MaterializeResult]
) -> dg.MaterializeResult:
    """Materialize every partition of the run, in order (a range run trains a stretch of weeks in one step, without
    paying a run and a step per week). A one-partition run returns its result whole. In a range run each partition
    keeps its own metadata, and each check gives one result over the range: failed if it failed for a partition,
    those partitions named in `alerts.FAILING_METADATA`, the worst severity. Dagster gives a range run's partitions
    one data version (computed from the run), so an explicit per-partition data version holds for one-partition runs.
    """
    partitions = context.partition_keys
    if len(partitions) == 1:
        return materialize(partitions[0])
    checks: dict[str, list[tuple[str, dg.AssetCheckResult]]] = {}
    for partition in partitions:
        result = materialize(partition)
        context.add_asset_metadata(dict(result.metadata or {}), partition_key=partition)
        for check in result.check_results or []:
            checks.setdefault(check.check_name, []).append((partition, check))
    return dg.MaterializeResult(check_results=[_over_range(name, results) for name, results in checks.items()])


def _over_range(name: str, results: list[tuple[str, dg.AssetCheckResult]]) -> dg.AssetCheckResult:
    failed = [(partition, r) for partition, r in results if not r.passed]
    warn_only = failed and all(r.severity == dg.AssetCheckSeverity.WARN for _, r in failed)
    return dg.AssetCheckResult(
        check_name=name,
        passed=not failed,
        severity=dg.AssetCheckSeverity.WARN if warn_only else dg.AssetCheckSeverity.ERROR,
        metadata={"partitions": len(results), alerts.FAILING_METADATA: [partition for partition, _ in failed]},
    )


def model_checks(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """The checks of a model version's asset (`train_version` evaluates them)."""
    return [
        dg.AssetCheckSpec(
            "feature_set_matches_spec",
            asset=key,
            blocking=True,
            description="The saved model file loads and uses exactly the spec's features, in order.",
        )
    ]


def evaluation_checks(spec: ModelSpec, key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """The checks of a model version's evaluation asset (`evaluate_version` evaluates them)."""
    return [
        dg.AssetCheckSpec("auc_above_floor", asset=key, description=f"Out-of-time ROC-AUC >= {spec.auc_floor}."),
        dg.AssetCheckSpec(
            "beats_baseline", asset=key, description=f"The model's AUC beats the `{spec.baseline}` baseline."
        ),
    ]


def decision_result(decision: dict, **metadata) -> dg.MaterializeResult:
    """A champion decision as its asset's materialization: the decision's fields (and `metadata`), and the
    champion as data version, so that what reads the champion reruns only when it changes."""
    return dg.MaterializeResult(
        metadata={
            "action": decision["action"],
            "champion": decision["champion"] or "none",
            "previous": decision["previous"] or "none",
            "reason": decision["reason"],
            "serves_from": decision["effective_from"],
            **metadata,
        },
        data_version=dg.DataVersion(decision["champion"] or "none"),
    )


def train_version(spec: ModelSpec, version: str, window: list[date]) -> dg.MaterializeResult:
    """Train model `version` on the days of `window`; save it with its card and reference profile."""
    df, data_versions = training.load_days(spec, window)
    train = training.labelled(spec, df)
    vocab = training.vocabulary(spec, train)
    valid_from = window[-spec.early_stopping_days]
    trained = training.fit(spec, train, valid_from, vocab)
    importance = training.feature_importance(trained.booster)
    card = {
        "spec": spec.name,
        "week": version,
        "label": spec.label,
        "features": list(spec.features),
        "categorical_vocabulary": vocab,
        "training_window": [window[0].isoformat(), window[-1].isoformat()],
        "early_stopping_from": valid_from.isoformat(),
        "rows": {"window": df.height, "labelled": train.height},
        "params": trained.params,
        "best_iteration": trained.best_iteration,
        "metrics": {"early_stopping_valid_auc": trained.valid_auc},
        "input_data_versions": {spec.features_model: data_versions},
        "top_features": sorted(spec.features, key=lambda f: -importance[f]),
    }
    profile = drift.reference_profile(train, spec.features, spec.categorical)
    profile["daily_psi_p95"] = drift.daily_psi_quantile(profile, train, "flight_date", window[-28:])
    paths, card = training.save(spec, version, trained, card, profile)
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


def evaluate_version(spec: ModelSpec, version: str, eval_days: list[date]) -> dg.MaterializeResult:
    """Score model `version` on `eval_days`: metrics, plots, an HTML report and metrics.json."""
    card = training.load_card(spec, version)
    df, data_versions = training.load_days(spec, eval_days)
    test = training.labelled(spec, df)
    model_path = training.model_dir(spec, version) / "model.txt"
    booster = training.load_model(model_path)
    scores = training.predict(booster, spec, test, card["categorical_vocabulary"])
    y = test[spec.label].to_numpy()
    baseline = test[spec.baseline].to_numpy() if spec.baseline else None
    metrics = evaluation.binary_metrics(y, scores, baseline)
    metrics["cancelled_or_unlabelled"] = df.height - test.height
    out = evaluation.report_dir(spec.name, version)
    files = evaluation.write_report(
        out,
        title=f"{spec.name}: model {version}",
        y_true=y,
        y_score=scores,
        baseline_score=baseline,
        feature_importance=training.feature_importance(booster),
        metrics=metrics,
        context={
            "model version": version,
            "training window": " .. ".join(card["training_window"]),
            "evaluation days": f"{eval_days[0]} .. {eval_days[-1]}",
            "model file sha256": card["model_file_sha256"],
        },
    )
    write_atomic(
        out / "metrics.json",
        json.dumps(
            {"week": version, **metrics, "input_data_versions": data_versions}, indent=2, sort_keys=True
        ).encode(),
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
            "roc": png_markdown(files["roc"]),
            "calibration": png_markdown(files["calibration"]),
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
