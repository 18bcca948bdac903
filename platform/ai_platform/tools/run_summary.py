"""What `make run` reports: seconds per layer (and the work inside them) from Dagster's records of its runs, the
models' out-of-time quality and champions, written to <data dir>/run_summary.json and printed as tables."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

import dagster as dg

from ai_platform import settings
from ai_platform.features.assets import LAKE_EXPORT_SECONDS
from ai_platform.files import write_atomic
from ai_platform.ml import registry
from ai_platform.ml.evaluation import report_dir
from ai_platform.ml.predictions import predictions_path
from ai_platform.ml.spec import ModelSpec
from ai_platform.partitions import START_DATE


def _layer(step_key: str) -> str:
    return next((p for p in ("raw", "ml", "monitoring") if step_key.startswith(f"{p}__")), "features")


# Work: time spent in the computations themselves. A Python step's body is all computation (Parquet IO,
# checks, LightGBM), so its step time counts; a dbt step counts dbt's own time per model and test
# (dagster-dbt's "Execution Duration", from run_results) plus the lake export, not dbt's start-up and parsing.
DBT_DURATION = "Execution Duration"


@dataclass
class Timing:
    step_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # per layer
    work_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # per layer
    # Wall seconds of the stages whose steps may run side by side (then their step seconds add up to more).
    stage_wall_s: dict[str, float] = field(default_factory=dict)

    def merge(self, other: Timing) -> None:
        """Add the step and work seconds `other` counted (another process's runs)."""
        for mine, theirs in ((self.step_s, other.step_s), (self.work_s, other.work_s)):
            for layer, seconds in theirs.items():
                mine[layer] += seconds

    def add(self, instance: dg.DagsterInstance, run_id: str) -> None:
        # A range run reports a dbt model once per partition, each with the model's whole duration: one per node.
        per_node: dict[tuple, float] = {}
        kinds = {
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            dg.DagsterEventType.ASSET_OBSERVATION,
        }
        for entry in instance.all_logs(run_id, of_type=kinds):
            data = entry.dagster_event.event_specific_data
            holder = getattr(data, "materialization", None) or getattr(data, "asset_observation", None) or data
            node = (entry.step_key, entry.dagster_event.event_type_value, str(entry.dagster_event.asset_key))
            node += (getattr(data, "check_name", None),)
            for key in (DBT_DURATION, LAKE_EXPORT_SECONDS):
                if key in (holder.metadata or {}):
                    per_node[(*node, key)] = float(holder.metadata[key].value)
        measured: dict[str, float] = defaultdict(float)  # step key -> seconds of dbt work and lake export
        for (step_key, *_), seconds in per_node.items():
            measured[step_key] += seconds
        for step in instance.get_run_step_stats(run_id):
            if step.end_time and step.start_time:
                seconds = step.end_time - step.start_time
                self.step_s[_layer(step.step_key)] += seconds
                self.work_s[_layer(step.step_key)] += measured.get(step.step_key, seconds)


def write(specs: list[ModelSpec], metrics: dict[str, list[dict]], timing: Timing, wall_s: float) -> dict:
    """The run summary of the weekly models' `metrics` (per spec), written to <data dir>/run_summary.json."""
    summary = {
        "models": {name: _quality_summary(ms) for name, ms in metrics.items()},
        "champions": {spec.name: _champion_summary(spec) for spec in specs},
        "wall_s": wall_s,
        "layer_s": dict(timing.step_s),
        "work_s": dict(timing.work_s),
        "stage_wall_s": timing.stage_wall_s,
        "weeks": {
            name: [
                {k: m[k] for k in ("week", "n", "roc_auc", "pr_auc", "log_loss", "brier", "ece", "baseline_roc_auc")}
                | {"report": str(report_dir(name, m["week"]) / "report.html")}
                for m in ms
            ]
            for name, ms in metrics.items()
        },
    }
    write_atomic(settings.data_dir() / "run_summary.json", json.dumps(summary, indent=2).encode())
    return summary


def _quality_summary(weeks: list[dict]) -> dict:
    aucs = [m["roc_auc"] for m in weeks]
    return {
        "weekly_models": len(aucs),
        "mean_auc": sum(aucs) / len(aucs) if aucs else None,
        "min_auc": min(aucs, default=None),
        "mean_baseline_auc": sum(m["baseline_roc_auc"] for m in weeks) / len(aucs) if aucs else None,
    }


def _champion_summary(spec: ModelSpec) -> dict:
    history = registry.history(spec)
    serving = [d["champion"] for d in history if d["champion"]]
    files = predictions_path(spec, START_DATE).parents[1].glob("*/data.parquet")
    predicted = sorted(p.parent.name.removeprefix("date=") for p in files)
    return {
        "decisions": len(history),
        "promotions": sum(d["action"] in ("promote", "bootstrap") for d in history),
        "rollbacks": sum(d["action"] == "rollback" for d in history),
        "current": serving[-1] if serving else None,
        "predicted_days": [predicted[0], predicted[-1], len(predicted)] if predicted else None,
        "history_report": str(settings.reports_dir() / spec.name / "history" / "report.html"),
    }


def format_summary(summary: dict) -> str:
    lines = []
    for name, weeks in summary["weeks"].items():
        lines.append(f"\n{name}: out-of-time quality per weekly model (each scored on its own unseen week)")
        lines.append(f"{'week':<12}{'flights':>8}{'AUC':>8}{'base AUC':>10}{'PR-AUC':>8}{'logloss':>9}{'ECE':>7}")
        for w in weeks:
            lines.append(
                f"{w['week']:<12}{w['n']:>8}{w['roc_auc']:>8.3f}{w['baseline_roc_auc']:>10.3f}"
                f"{w['pr_auc']:>8.3f}{w['log_loss']:>9.3f}{w['ece']:>7.3f}"
            )
    lines.append("")
    for name, q in summary["models"].items():
        lines.append(
            f"{name}: {q['weekly_models']} weekly models: mean AUC {q['mean_auc']:.3f} "
            f"(baseline {q['mean_baseline_auc']:.3f}), worst week {q['min_auc']:.3f}"
            if q["weekly_models"]
            else f"{name}: no weekly model yet"
        )
    lines.append(
        "time per layer (step seconds): "
        + ", ".join(f"{k} {v:.1f}s" for k, v in summary["layer_s"].items())
        + "".join(f"; {k} {v:.1f}s wall" for k, v in summary["stage_wall_s"].items())
        + f"; wall {summary['wall_s']:.1f}s"
    )
    for name, c in summary["champions"].items():
        predicted = c["predicted_days"]
        days_line = (
            f"{predicted[2]} days predicted ({predicted[0]} .. {predicted[1]})" if predicted else "no predictions yet"
        )
        lines.append(
            f"{name} champion: {c['current']} after {c['decisions']} weekly decisions ({c['promotions']} promotions, "
            f"{c['rollbacks']} rollbacks); " + days_line
        )
        lines.append(f"model history: {c['history_report']}")
    lines.append(f"reports: {settings.reports_dir()}  summary: {settings.data_dir() / 'run_summary.json'}")
    return "\n".join(lines)
