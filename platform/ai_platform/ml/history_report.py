"""Champion/challenger history over the weeks: AUC and drift PNGs plus a standalone HTML report.

matplotlib is imported inside functions so that importing this module stays cheap.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ai_platform.files import write_atomic
from ai_platform.ml.evaluation import _html_table, metrics_markdown
from ai_platform.ml.registry import version_day
from ai_platform.storage import StoragePath

_MISSING = "—"
_TOP_FEATURES = 15
_MAX_TICKS = 12
_DECISION_HEADER = ["week", "action", "champion", "previous", "effective from", "reason"]
_TICK_LABELS = {"rotation": 40, "ha": "right", "rotation_mode": "anchor"}
_MARKERS = {"promote": ("tab:green", "^"), "rollback": ("tab:red", "v")}


def _series(weeks: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if w.get(key) is None else w[key] for w in weeks], dtype=float)


def _cell(v: Any) -> Any:
    return _MISSING if v is None else v


def _summary(weeks: list[dict], decisions: list[dict]) -> dict[str, Any]:
    ordered = sorted(decisions, key=lambda d: d["effective_from"])
    actions = [d["action"] for d in ordered]
    champion = ordered[-1]["champion"] if ordered else (weeks[-1].get("champion") if weeks else None)
    out: dict[str, Any] = {
        "weeks": len(weeks),
        "promotions": actions.count("promote"),
        "rollbacks": actions.count("rollback"),
        "current champion": champion,
    }
    for role in ("challenger", "champion", "baseline"):
        s = _series(weeks, f"{role}_auc")
        s = s[np.isfinite(s)]
        out[f"mean {role} AUC"] = float(s.mean()) if s.size else None
    return out


def _decision_rows(decisions: list[dict]) -> list[list[Any]]:
    return [
        [_cell(d.get(k)) for k in ("week", "action", "champion", "previous", "effective_from", "reason")]
        for d in sorted(decisions, key=lambda d: d["effective_from"])
    ]


def history_markdown(weeks: list[dict], decisions: list[dict]) -> str:
    """Key numbers and the last 10 decisions as Markdown, for Dagster UI metadata."""
    text = metrics_markdown({k: _cell(v) for k, v in _summary(weeks, decisions).items()})
    if not weeks:
        text += "\n_No models yet._\n"
    rows = _decision_rows(decisions)[-10:]
    if rows:
        lines = ["| " + " | ".join(_DECISION_HEADER) + " |", "|" + " --- |" * len(_DECISION_HEADER)]
        lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in r) + " |" for r in rows]
        text += "\n" + "\n".join(lines) + "\n"
    return text


def _tick_every(n: int) -> int:
    return -(-n // _MAX_TICKS)


def _message(fig: Any, text: str) -> None:
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=16, color="grey")


def _draw_auc(fig: Any, weeks: list[dict], decisions: list[dict]) -> None:
    if not weeks:
        _message(fig, "no models yet")
        return
    ax = fig.add_subplot()
    x = [version_day(w["week"]) for w in weeks]
    challenger, champion, baseline = (_series(weeks, f"{r}_auc") for r in ("challenger", "champion", "baseline"))
    ax.plot(x, challenger, "o-", color="tab:blue", lw=1.2, ms=5, label="challenger (new model, its own week)")
    # Small markers keep a week visible when both its neighbours are gaps.
    ax.plot(x, champion, "s-", color="tab:orange", lw=2.5, ms=3, label="champion (serving model, same days)")
    ax.plot(x, baseline, "d--", color="grey", lw=1.5, ms=3, label="baseline")

    index = {w["week"]: i for i, w in enumerate(weeks)}
    for action, (colour, marker) in _MARKERS.items():
        chosen = [d for d in decisions if d["action"] == action]
        if not chosen:
            continue
        # A promotion is drawn on the challenger that won, a rollback on the champion that was dropped.
        series = challenger if action == "promote" else champion
        pts = []
        for d in chosen:
            ax.axvline(version_day(d["week"]), color=colour, alpha=0.35, lw=1, zorder=0)
            i = index.get(d["week"])
            if i is not None and np.isfinite(series[i]):
                pts.append((x[i], series[i]))
                if action == "rollback":
                    ax.annotate(
                        f"back to {d['champion']}",
                        pts[-1],
                        xytext=(0, -18),
                        textcoords="offset points",
                        ha="center",
                        fontsize=8,
                        color=colour,
                        bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1},
                    )
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            ls="none",
            marker=marker,
            ms=11,
            color=colour,
            markeredgecolor="black",
            label=f"{action} ({len(chosen)})",
        )

    ax.set_xlim(x[0] - timedelta(days=4), x[-1] + timedelta(days=4))
    step = _tick_every(len(x))
    ax.set_xticks(x[::step], [w["week"] for w in weeks][::step], **_TICK_LABELS)
    ax.margins(y=0.15)
    ax.grid(axis="y", alpha=0.3)
    ax.set(xlabel="Week", ylabel="ROC AUC", title="Weekly AUC: challenger vs serving champion")
    fig.legend(loc="outside lower center", ncols=5, fontsize="small")


def _draw_drift(fig: Any, drift: list[dict], threshold: float, measure: str) -> None:
    features = sorted({f for d in drift for f in d["psi"]})
    if not features:
        _message(fig, "no drift measurements yet")
        return
    import matplotlib
    from matplotlib.colors import TwoSlopeNorm

    by_day = {date.fromisoformat(d["day"]): d["psi"] for d in drift}
    start = min(by_day)
    # A column per calendar day, so days without a measurement show up as grey gaps.
    days = [start + timedelta(days=i) for i in range((max(by_day) - start).days + 1)]
    row = {f: i for i, f in enumerate(features)}
    grid = np.full((len(features), len(days)), np.nan)
    for day, psi in by_day.items():
        for f, v in psi.items():
            grid[row[f], (day - start).days] = v
    peak = np.where(np.isnan(grid), -np.inf, grid).max(axis=1)
    top = sorted(range(len(features)), key=lambda i: (-peak[i], features[i]))[:_TOP_FEATURES]
    grid = grid[top]

    finite = grid[np.isfinite(grid)]
    vmax = max(2 * threshold, float(finite.max()) if finite.size else 0.0)
    # Green below the threshold, red above, whatever the largest value is.
    norm = TwoSlopeNorm(vmin=0.0, vcenter=threshold, vmax=vmax)
    cmap = matplotlib.colormaps["RdYlGn_r"].with_extremes(bad="lightgrey")
    ax = fig.add_subplot()
    # Cell borders only while cells are wide enough; otherwise they drown the colours.
    mesh = ax.pcolormesh(grid, cmap=cmap, norm=norm, edgecolors="white", linewidth=0.5 if len(days) <= 31 else 0)
    ax.set_yticks(np.arange(len(top)) + 0.5, [features[i] for i in top])
    ax.invert_yaxis()
    step = _tick_every(len(days))
    ax.set_xticks(np.arange(0, len(days), step) + 0.5, [d.isoformat() for d in days[::step]], **_TICK_LABELS)
    shown = f"top {len(top)} of {len(features)} features" if len(features) > len(top) else f"{len(top)} features"
    ax.set(xlabel="Day (grey: not measured)", title=f"Feature drift ({measure} per day), {shown} by maximum")
    cbar = fig.colorbar(mesh, ax=ax, extend="max" if np.isposinf(grid).any() else "neither")
    cbar.ax.axhline(threshold, color="black", lw=2)
    cbar.set_label(f"{measure} (black line: threshold {threshold:g})")


def _png(draw: Callable[[Any], None], figsize: tuple[float, float]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Default style so user matplotlibrc settings cannot change the output bytes.
    with plt.style.context("default"):
        fig = plt.figure(figsize=figsize, layout="constrained")
        try:
            draw(fig)
            buf = io.BytesIO()
            # No Software/timestamp metadata: bytes depend only on the plotted data.
            fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
            return buf.getvalue()
        finally:
            plt.close(fig)


def write_history_report(
    out_dir: StoragePath,
    title: str,
    weeks: list[dict],
    decisions: list[dict],
    drift: list[dict],
    drift_threshold: float,
    measure: str = "PSI",
) -> dict[str, Path]:
    """Write auc_history.png, drift.png and a self-contained report.html; returns their paths.

    `drift` holds per day a value per feature (`psi`), named `measure` and judged against `drift_threshold`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_features = len({f for d in drift for f in d["psi"]})
    pngs = {
        "auc": _png(lambda fig: _draw_auc(fig, weeks, decisions), (10, 5.5)),
        "drift": _png(
            lambda fig: _draw_drift(fig, drift, drift_threshold, measure),
            (10, 2 + 0.35 * min(n_features, _TOP_FEATURES)),
        ),
    }
    paths = {"auc": out_dir / "auc_history.png", "drift": out_dir / "drift.png", "html": out_dir / "report.html"}
    for name, data in pngs.items():
        write_atomic(paths[name], data)

    summary = _summary(weeks, decisions)
    summary["days monitored"] = len(drift)
    summary[f"days with a feature {measure} > {drift_threshold:g}"] = sum(
        any(v > drift_threshold for v in d["psi"].values()) for d in drift
    )
    action = {d["week"]: d["action"] for d in decisions}
    auc_rows = [
        [w["week"], _cell(w.get("champion"))]
        + [_cell(w.get(f"{r}_auc")) for r in ("challenger", "champion", "baseline")]
        + [_cell(action.get(w["week"]))]
        for w in weeks
    ]
    auc_header = ["week", "champion", "challenger AUC", "champion AUC", "baseline AUC", "decision"]
    decision_rows = _decision_rows(decisions)
    imgs = "".join(
        f'<h2>{html.escape(h)}</h2><img alt="{html.escape(h)}" '
        f'src="data:image/png;base64,{base64.b64encode(pngs[n]).decode("ascii")}">'
        for n, h in (("auc", "AUC history"), ("drift", "Feature drift"))
    )
    page = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}img{max-width:100%}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        + ("" if weeks else "<p>No models yet.</p>")
        + f"<h2>Key numbers</h2>{_html_table(['metric', 'value'], [[k, _cell(v)] for k, v in summary.items()])}"
        + imgs
        + "<h2>Decisions</h2>"
        + (_html_table(_DECISION_HEADER, decision_rows) if decision_rows else "<p>No decisions yet.</p>")
        + (f"<h2>Weekly AUC</h2>{_html_table(auc_header, auc_rows)}" if auc_rows else "")
        + "</body></html>\n"
    )
    write_atomic(paths["html"], page.encode("utf-8"))
    return paths
