"""Which features a spec needs: rank them by gain in its Jan-Jun weekly models, then train with the top N.

Each weekly model is trained as the platform trains it (`training.fit`, the spec's window, parameters and early
stopping) and scored on its own unseen week. Features are ranked by their share of each model's total gain,
averaged over the weeks before July only, so that Jul-Dec stays a holdout; then the spec with its top N features
(in rank order: feature_fraction samples by position) is trained again on the same weeks. Prints mean and worst
out-of-time AUC and the CPU seconds of the fits per variant; writes data/bench/feature_selection_<spec>.json.

Reads the year's feature files of bench/training.py's lake (data/bench/training/base/data; `make bench` builds it).
Usage: `.venv/bin/python bench/feature_selection.py flight_delay [--top 25,35] [--holdout]`.
"""

import argparse
import json
import os
import time
from datetime import timedelta
from pathlib import Path

from training import FIRST_HALF_END  # the weeks before it choose features and parameters (bench/training.py)

REPO = Path(__file__).resolve().parents[1]
LAKE = REPO / "data" / "bench" / "training" / "base" / "data"


def weekly_models(spec, year, weeks: list[str]) -> dict:
    """Train the spec's model of each week; its AUC on the week, the share of gain per feature, CPU seconds."""
    import numpy as np
    import polars as pl
    from sklearn.metrics import roc_auc_score

    from ai_platform.ml import training
    from ai_platform.partitions import START_DATE, parse_day

    aucs, gains, cpu = [], {}, 0.0
    for week in weeks:
        start = parse_day(week)
        in_days = (pl.col("flight_date") >= spec.training_start(start, START_DATE)) & (pl.col("flight_date") < start)
        train = training.labelled(spec, year.filter(in_days))
        test = training.labelled(
            spec, year.filter(pl.col("flight_date").is_between(start, start + timedelta(days=spec.eval_days - 1)))
        )
        vocab = training.vocabulary(spec, train)
        t0 = time.process_time()
        model = training.fit(spec, train, start - timedelta(days=spec.early_stopping_days), vocab)
        cpu += time.process_time() - t0
        aucs.append(
            float(roc_auc_score(test[spec.label].to_numpy(), training.predict(model.booster, spec, test, vocab)))
        )
        gain = training.feature_importance(model.booster)
        total = sum(gain.values()) or 1.0
        for name, value in gain.items():
            gains[name] = gains.get(name, 0.0) + value / total / len(weeks)
    return {"mean_auc": float(np.mean(aucs)), "min_auc": float(np.min(aucs)), "cpu_s": cpu, "gain": gains}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("spec")
    parser.add_argument("--top", default="25", help="comma-separated feature counts to try")
    parser.add_argument("--holdout", action="store_true", help="also train and report the Jul-Dec weeks")
    args = parser.parse_args()
    os.environ.setdefault("AI_PLATFORM_DATA_DIR", str(LAKE))

    import polars as pl

    from ai_platform import lake
    from ai_platform.ml import training
    from ai_platform.ml.specs import spec as load_spec
    from ai_platform.partitions import END_DATE, START_DATE, days
    from ai_platform.tools.pipeline import weeks_in_data

    spec = load_spec(args.spec)
    files = [lake.features_day_path(spec.features_model, d) for d in days(START_DATE, END_DATE)]
    if not all(f.exists() for f in files):
        raise SystemExit(f"the year's {spec.features_model} files are not all in the lake at {LAKE}: run make bench")
    year = pl.concat([pl.read_parquet(f, columns=training.columns(spec)) for f in files], how="vertical_relaxed")
    halves = {"jan_jun": [w for w in weeks_in_data(spec, END_DATE) if w < FIRST_HALF_END]}
    if args.holdout:
        halves["jul_dec"] = [w for w in weeks_in_data(spec, END_DATE) if w >= FIRST_HALF_END]

    base = weekly_models(spec, year, halves["jan_jun"])
    rank = sorted(base["gain"], key=lambda name: -base["gain"][name])
    variants = {f"all {len(spec.features)}": spec.features, **{f"top {n}": rank[: int(n)] for n in args.top.split(",")}}
    results = {}
    for label, features in variants.items():
        variant = spec.model_copy(
            update={"features": features, "categorical": [c for c in spec.categorical if c in features]}
        )
        results[label] = {"features": features}
        for half, weeks in halves.items():
            found = base if (label.startswith("all") and half == "jan_jun") else weekly_models(variant, year, weeks)
            results[label][half] = {k: v for k, v in found.items() if k != "gain"}
            print(
                f"{spec.name} {label:>7} {half}: mean AUC {found['mean_auc']:.4f}, worst {found['min_auc']:.4f}, "
                f"fit CPU {found['cpu_s']:.1f} s ({len(weeks)} weeks)",
                flush=True,
            )
    out = REPO / "data" / "bench" / f"feature_selection_{spec.name}.json"
    out.write_text(json.dumps({"rank": rank, "variants": results}, indent=2))


if __name__ == "__main__":
    main()
