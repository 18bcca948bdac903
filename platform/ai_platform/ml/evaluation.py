"""Metrics and a standalone HTML report for binary classifiers.

sklearn and matplotlib are imported inside functions so that importing this
module (done when Dagster loads definitions) stays cheap.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ai_platform import settings
from ai_platform.files import write_atomic
from ai_platform.storage import StoragePath

_EPS = 1e-7


def report_dir(spec_name: str, week: str) -> StoragePath:
    """Where the evaluation of a spec's weekly model is written."""
    return settings.reports_dir() / spec_name / week


def load_metrics(spec_name: str, week: str) -> dict:
    return json.loads((report_dir(spec_name, week) / "metrics.json").read_text())


def _check(y_true: Any, y_score: Any, name: str = "y_score") -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float).ravel()
    s = np.asarray(y_score, dtype=float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"y_true and {name} lengths differ: {y.size} != {s.size}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must contain only 0/1 labels")
    if np.unique(y).size < 2:
        raise ValueError("y_true has a single class; binary metrics are undefined")
    return y.astype(np.int64), s


def _check_probs(s: np.ndarray, name: str) -> None:
    if not np.isfinite(s).all() or s.min() < 0.0 or s.max() > 1.0:
        raise ValueError(f"{name} must be finite probabilities in [0, 1]")


def _fill_baseline(y: np.ndarray, baseline_score: Any) -> np.ndarray:
    """NaN baseline scores (no history) are filled with the overall positive rate of y_true."""
    b = np.asarray(baseline_score, dtype=float).ravel()
    if b.shape != y.shape:
        raise ValueError(f"y_true and baseline_score lengths differ: {y.size} != {b.size}")
    return np.where(np.isnan(b), y.mean(), b)


def calibration_table(y_true: Any, y_score: Any, n_bins: int = 10) -> list[dict]:
    """Per non-empty equal-width bin on [0, 1]: bounds, count, mean score, observed rate."""
    y, s = _check(y_true, y_score)
    _check_probs(s, "y_score")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Interior edges only: a score of exactly 1.0 lands in the last bin.
    idx = np.searchsorted(edges[1:-1], s, side="right")
    rows = []
    for b in range(n_bins):
        mask = idx == b
        if mask.any():
            rows.append(
                {
                    "bin_lower": float(edges[b]),
                    "bin_upper": float(edges[b + 1]),
                    "n": int(mask.sum()),
                    "mean_score": float(s[mask].mean()),
                    "observed_rate": float(y[mask].mean()),
                }
            )
    return rows


def binary_metrics(
    y_true: np.ndarray,
    y_score: np.ndarray,
    baseline_score: np.ndarray | None = None,
    n_bins: int = 10,
) -> dict:
    """JSON-serialisable metrics; ``ece`` uses ``n_bins`` equal-width bins weighted by count.

    NaN baseline scores are filled with the positive rate of ``y_true`` before computing
    the baseline AUCs.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, s = _check(y_true, y_score)
    _check_probs(s, "y_score")
    p = np.clip(s, _EPS, 1.0 - _EPS)
    table = calibration_table(y, s, n_bins)
    out: dict[str, Any] = {
        "n": int(y.size),
        "positive_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1.0 - p))),
        "brier": float(np.mean((s - y) ** 2)),
        "ece": float(sum(r["n"] * abs(r["mean_score"] - r["observed_rate"]) for r in table) / y.size),
        "mean_score": float(s.mean()),
    }
    if baseline_score is not None:
        b = _fill_baseline(y, baseline_score)
        out["baseline_roc_auc"] = float(roc_auc_score(y, b))
        out["baseline_pr_auc"] = float(average_precision_score(y, b))
        out["auc_lift"] = out["roc_auc"] - out["baseline_roc_auc"]
    return out


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, (float, np.floating)) else str(v)


def metrics_markdown(metrics: dict) -> str:
    """Markdown ``| metric | value |`` table, floats to 4 decimals."""
    lines = ["| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in metrics.items()]
    return "\n".join(lines) + "\n"


def _html_table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(
    out_dir: StoragePath,
    title: str,
    y_true: Any,
    y_score: Any,
    baseline_score: Any,
    feature_importance: dict[str, float],
    metrics: dict,
    context: dict,
) -> dict[str, Path]:
    """Write ROC, calibration and feature-importance PNGs plus a self-contained report.html."""
    y, s = _check(y_true, y_score)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = calibration_table(y, s, 10)
    pngs = _plots(y, s, baseline_score, feature_importance, metrics, table)
    paths: dict[str, Path] = {}
    for name, data in pngs.items():
        paths[name] = out_dir / f"{name}.png"
        write_atomic(paths[name], data)
    paths["html"] = out_dir / "report.html"
    write_atomic(paths["html"], _page(title, context, metrics, table, pngs).encode("utf-8"))
    return paths


def _plots(
    y: np.ndarray,
    s: np.ndarray,
    baseline_score: Any,
    feature_importance: dict[str, float],
    metrics: dict,
    table: list[dict],
) -> dict[str, bytes]:
    """The report's PNGs: ROC, calibration and feature importance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    def draw_roc(fig: Any) -> None:
        ax = fig.add_subplot()
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"model (AUC {metrics.get('roc_auc', float('nan')):.4f})")
        if baseline_score is not None:
            bfpr, btpr, _ = roc_curve(y, _fill_baseline(y, baseline_score))
            ax.plot(bfpr, btpr, label=f"baseline (AUC {metrics.get('baseline_roc_auc', float('nan')):.4f})")
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="chance")
        ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC")
        ax.legend(loc="lower right")

    def draw_calibration(fig: Any) -> None:
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        top.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
        top.plot([r["mean_score"] for r in table], [r["observed_rate"] for r in table], "o-", label="model")
        top.set(ylabel="Observed rate", title="Calibration")
        top.legend(loc="upper left")
        bottom.hist(s, bins=np.linspace(0.0, 1.0, 11), color="grey")
        bottom.set(xlabel="Predicted score", ylabel="Count")

    def draw_importance(fig: Any) -> None:
        ax = fig.add_subplot()
        top = sorted(feature_importance.items(), key=lambda kv: (-kv[1], kv[0]))[:20][::-1]
        ax.barh([k for k, _ in top], [v for _, v in top])
        ax.set(xlabel="Importance (gain)", title="Top features")

    pngs: dict[str, bytes] = {}
    drawers = {"roc": draw_roc, "calibration": draw_calibration, "feature_importance": draw_importance}
    # Fixed margins, not a layout engine: constrained layout measured every label again and cost ~40 % of a
    # report; the importance plot leaves room for feature names.
    margins = {"left": 0.11, "right": 0.97, "top": 0.93, "bottom": 0.11}
    lefts = {"feature_importance": 0.36}
    # Default style so user matplotlibrc settings cannot change the output bytes.
    with plt.style.context("default"):
        for name, draw in drawers.items():
            fig = plt.figure(figsize=(7, 5))
            fig.subplots_adjust(**{**margins, "left": lefts.get(name, margins["left"])})
            try:
                draw(fig)
                buf = io.BytesIO()
                # No Software/timestamp metadata: bytes depend only on the plotted data.
                fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
                pngs[name] = buf.getvalue()
            finally:
                plt.close(fig)
    return pngs


def _page(title: str, context: dict, metrics: dict, table: list[dict], pngs: dict[str, bytes]) -> str:
    """The self-contained HTML report, PNGs inlined."""
    cal_rows = [[r["bin_lower"], r["bin_upper"], r["n"], r["mean_score"], r["observed_rate"]] for r in table]
    imgs = "".join(
        f'<h2>{html.escape(n)}</h2><img alt="{html.escape(n)}" '
        f'src="data:image/png;base64,{base64.b64encode(d).decode("ascii")}">'
        for n, d in pngs.items()
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}img{max-width:100%}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<h2>Context</h2>{_html_table(['key', 'value'], [[k, v] for k, v in context.items()])}"
        f"<h2>Metrics</h2>{_html_table(['metric', 'value'], [[k, v] for k, v in metrics.items()])}"
        "<h2>Calibration</h2>"
        f"{_html_table(['bin_lower', 'bin_upper', 'n', 'mean_score', 'observed_rate'], cal_rows)}"
        f"{imgs}</body></html>\n"
    )
