"""ml/<spec>/predictions: every flight of a day scored by the champion in effect that day.

The champion of day D comes from the latest decision in effect on D (decided after its challenger's
week ended, so before D), and that model was trained on days before its own week: no prediction is
ever made by a model that saw its day.
"""

from datetime import date

import dagster as dg
import numpy as np
import polars as pl

from ai_platform import lake, settings
from ai_platform.automation.policies import eager_condition
from ai_platform.ml import keys, registry, training
from ai_platform.ml.spec import ModelSpec
from ai_platform.partitions import DAILY, parse_day


def predictions_path(spec: ModelSpec, day: date):
    return settings.lake_dir() / "predictions" / spec.name / f"date={day.isoformat()}" / "data.parquet"


def serving_version(spec: ModelSpec, weeks: dg.WeeklyPartitionsDefinition, day: date) -> tuple[str | None, str | None]:
    """(decision week, model version) serving `day`; (None, None) before the first decision takes effect."""
    week = registry.decision_week_for(day, weeks.get_partition_keys(), registry.offcycle_decisions(spec))
    return (week, registry.load_decision(spec, week)["champion"]) if week else (None, None)


def ready_to_serve(spec: ModelSpec, weeks: dg.WeeklyPartitionsDefinition, day: date) -> bool:
    """Whether the decision serving `day` is made (or none is due yet): its predictions can be computed."""
    week = registry.decision_week_for(day, weeks.get_partition_keys(), registry.offcycle_decisions(spec))
    return week is None or registry.decision_path(spec, week).exists()


def score_day(spec: ModelSpec, weeks: dg.WeeklyPartitionsDefinition, day: date, boosters: dict) -> dict:
    """Score the day's flights with its champion and write them to the lake; returns what was done."""
    week, version = serving_version(spec, weeks, day)
    if version is None:
        reason = "no decision in effect yet" if week is None else f"decision {week} has no champion"
        return {"day": day.isoformat(), "model_version": None, "rows": 0, "reason": reason}
    card = training.load_card(spec, version)
    if parse_day(card["training_window"][1]) >= day:  # cannot happen by construction; refuse rather than leak
        raise dg.Failure(f"model {version} was trained on days up to {card['training_window'][1]}, not before {day}")
    if version not in boosters:
        boosters[version] = training.load_model(training.model_dir(spec, version) / "model.txt")
    df, versions = training.load_days(spec, [day])
    scores = training.predict(boosters[version], spec, df, card["categorical_vocabulary"]) if df.height else []
    out = df.select("flight_id", "flight_date").with_columns(
        score=pl.Series(np.asarray(scores, dtype=np.float64)), model_version=pl.lit(version), decision_week=pl.lit(week)
    )
    lake.write_parquet(out, predictions_path(spec, day), source={"model_version": version, "features": versions})
    q = np.quantile(scores, [0.1, 0.5, 0.9]).tolist() if len(scores) else [None] * 3
    return {
        "day": day.isoformat(),
        "model_version": version,
        "decision_week": week,
        "rows": out.height,
        "score_mean": float(np.mean(scores)) if len(scores) else None,
        "score_p10": q[0],
        "score_p50": q[1],
        "score_p90": q[2],
    }


def build_predictions_asset(
    spec: ModelSpec, weeks: dg.WeeklyPartitionsDefinition, champion_key: dg.AssetKey
) -> dg.AssetsDefinition:
    @dg.asset(
        key=keys.predictions(spec.name),
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[
            dg.AssetKey(spec.features_model),
            keys.serving_dep(champion_key),  # the latest decision in effect on the day
        ],
        group_name="ml",
        kinds={"lightgbm", "parquet"},
        automation_condition=eager_condition(),
        description=(
            f"Every flight of the day scored by the {spec.name} champion in effect that day (promoted before it), "
            f"in the lake as Parquet: lake/predictions/{spec.name}/date=<day>/data.parquet (flight_id, score, "
            "model_version, decision_week). Days before the first promotion have none."
        ),
    )
    def predictions(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        boosters: dict = {}
        done = [score_day(spec, weeks, parse_day(k), boosters) for k in context.partition_keys]
        if len(done) == 1:
            d = done[0]
            return dg.MaterializeResult(
                metadata={
                    "dagster/row_count": d["rows"],
                    "model_version": d["model_version"] or "none",
                    **({"reason": d["reason"]} if "reason" in d else {}),
                    **{k: d[k] for k in ("score_mean", "score_p10", "score_p50", "score_p90") if d.get(k) is not None},
                },
                data_version=dg.DataVersion(d["model_version"] or "none"),
            )
        table = "| day | model | rows | mean score |\n|---|---|---|---|\n" + "\n".join(
            f"| {d['day']} | {d['model_version'] or '-'} | {d['rows']} | {d.get('score_mean') or 0:.3f} |" for d in done
        )
        return dg.MaterializeResult(
            metadata={
                "days": len(done),
                "rows_in_run": sum(d["rows"] for d in done),
                "models_used": ", ".join(sorted({d["model_version"] for d in done if d["model_version"]})) or "none",
                "per_day": dg.MetadataValue.md(table),
            }
        )

    return predictions
