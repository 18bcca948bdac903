"""The benchmark table: every figure `make bench` measured (data/bench/*.json) beside its target.

Usage: `.venv/bin/python bench/report.py` (the last step of `make bench`); writes data/bench/report.md too.
"""

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "data" / "bench"
# The full-year job's ml + monitoring layers before the training work of issue 15: this bench at fb3193b, run on
# 2026-12-04 beside the changes' own run (2 cores, quiet machine): wall 742.7 s, ml 612.4 s, monitoring 26.2 s.
BEFORE_ML_S = 612.4 + 26.2
TARGET_AUC = {"flight_delay": "≥ 0.730 / ≥ 0.620", "late_departure": "≥ 0.739 / ≥ 0.617"}


def _load(name: str) -> dict | None:
    path = BENCH / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def rows() -> list[tuple[str, str, str]]:
    """(figure, value, target) rows for whatever was measured."""
    out = []
    if year := _load("full_year"):
        out += [
            ("full-year job (make run, cold), wall", f"{year['wall_s']:.0f} s", "≤ 240 s"),
            ("full-year job, outside the work", f"{year['outside_work_share']:.0%}", "≤ 30%"),
            ("full-year job, peak RSS", f"{year['peak_rss_mb']:.0f} MB", "≤ 1,536 MB"),
        ]
        ml = year["models_and_serving_wall_s"]
        out.append(("full-year job, ML layer (ml + monitoring), wall", f"{ml:.0f} s", f"≤ {BEFORE_ML_S / 5:.0f} s"))
        work = year["work_s"]
        out += [(f"  {k}: steps / work", f"{v:.1f} s / {work.get(k, 0):.1f} s", "") for k, v in year["layer_s"].items()]
    if train := _load("training"):
        out += [
            ("ML of the year, all specs (bench/training.py)", f"{train['ml_quiet_s']:.0f} s", ""),
            ("  beside one CPU-bound process", f"{train['busy_over_quiet']:.2f}× quiet", "≤ 2.5×"),
        ]
        for name, f in train["specs"].items():
            out += [
                (f"{name}: platform training / plain LightGBM", f"{f['platform_training_over_floor']:.2f}", "≤ 1.2"),
                (
                    f"  mean / worst weekly AUC ({f['weeks']} weeks)",
                    f"{f['mean_auc']:.3f} / {f['min_auc']:.3f}",
                    TARGET_AUC.get(name, ""),
                ),
                (
                    "  Jan-Jun / Jul-Dec mean AUC",
                    f"{f['mean_auc_jan_jun']:.3f} / {f['mean_auc_jul_dec']:.3f}",
                    "",
                ),
                (
                    "  same model file with 1 thread; quiet vs busy",
                    f"{'yes' if f['last_model_identical_with_1_thread'] else 'NO'}; "
                    f"{f['models_identical_quiet_busy']}/{f['weeks']}",
                    "identical",
                ),
            ]
    if day := _load("incremental_day"):
        for h in day["histories"]:
            out += [
                (
                    f"incremental day after {h['history']} ({h['history_rows']:,} flights)",
                    f"{h['median_s']:.1f} s, peak RSS {h['peak_rss_mb']:.0f} MB",
                    "RSS ≤ 2 GB",
                ),
                ("  in-process run, raw → features → predictions", f"{h['to_predictions_s']:.1f} s", "≤ 5 s"),
            ]
        if len(day["histories"]) > 1:
            first, last = day["histories"][0], day["histories"][-1]
            ratio = last["median_s"] / first["median_s"]
            out.append((f"incremental day, {last['history']} / {first['history']}", f"{ratio:.2f}×", "≤ 1.2×"))
    if imp := _load("import_time"):
        out += [
            ("import ai_platform.definitions", f"{imp['median_s']:.2f} s", "≤ 1.5 s"),
            ("  its whole process (start, import, exit)", f"{imp['process_median_s']:.2f} s", ""),
        ]
    if latency := _load("sensor_latency"):
        medians = latency.get("median_s", {})
        out += [(f"file landed → {k} materialized (dagster dev)", f"{v:.1f} s", "") for k, v in medians.items()]
    return out


def main() -> None:
    table = [("figure", "value", "target"), *rows()]
    widths = [max(len(r[i]) for r in table) for i in range(3)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    text = "\n".join(lines) + f"\n({os.cpu_count()} CPUs)"
    print(text)
    BENCH.mkdir(parents=True, exist_ok=True)
    (BENCH / "report.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
