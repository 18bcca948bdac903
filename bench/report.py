"""The benchmark table: every figure `make bench` measured (data/bench/*.json) beside its target.

Usage: `.venv/bin/python bench/report.py` (the last step of `make bench`); writes data/bench/report.md too.
"""

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "data" / "bench"


def _load(name: str) -> dict | None:
    path = BENCH / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def rows() -> list[tuple[str, str, str]]:
    """(figure, value, target) rows for whatever was measured."""
    out = []
    if year := _load("full_year"):
        out += [
            ("full-year job, wall", f"{year['wall_s']:.0f} s", ""),
            ("full-year job, outside the work", f"{year['outside_work_share']:.0%}", "≤ 30%"),
            ("full-year job, peak RSS", f"{year['peak_rss_mb']:.0f} MB", ""),
        ]
        work = year["work_s"]
        out += [(f"  {k}: steps / work", f"{v:.1f} s / {work.get(k, 0):.1f} s", "") for k, v in year["layer_s"].items()]
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
