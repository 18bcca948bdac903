"""Jobs by layer. dbt and LightGBM assets stay in separate jobs where they backfill differently: mixed
backfill policies in one job make Dagster fall back to one partition per run (see EXAMPLES.md); the
landing job mixes them only among daily assets that all backfill as a single run."""

import dagster as dg

from ai_platform.ml import offcycle
from ai_platform.ml.spec import ModelSpec
from ai_platform.ml.specs import specs


def weekly_keys(spec: ModelSpec) -> list[dg.AssetKey]:
    return [dg.AssetKey(["ml", spec.name, name]) for name in ("model", "evaluation", "champion")]


def serving_keys(spec: ModelSpec) -> list[dg.AssetKey]:
    """The daily assets that use the champion: predictions and monitoring."""
    return [
        dg.AssetKey(["ml", spec.name, "predictions"]),
        dg.AssetKey(["monitoring", spec.name, "feature_drift"]),
        dg.AssetKey(["monitoring", spec.name, "realized_quality"]),
    ]


reference_job = dg.define_asset_job(
    "reference_tables",
    selection=dg.AssetSelection.groups("raw") - dg.AssetSelection.assets(["raw", "flights"], ["raw", "weather"]),
    description="Ingest the reference tables (planes, airports, airlines).",
)

daily_job = dg.define_asset_job(
    "daily_ingest_and_features",
    selection=dg.AssetSelection.assets(["raw", "flights"], ["raw", "weather"])
    | dg.AssetSelection.groups("features", "serving"),
    description="Ingest a range of days and build their features and the online snapshot, as one run.",
)

landing_job = dg.define_asset_job(
    "landing_refresh",
    selection=dg.AssetSelection.groups("raw", "features", "serving")
    | dg.AssetSelection.assets(*(k for spec in specs() for k in serving_keys(spec))),
    description=(
        "What the landing sensor launches: the raw partitions of the files that landed, the features "
        "downstream of them, and their predictions and monitoring (each run selects its subset)."
    ),
)


def model_jobs(spec: ModelSpec) -> list:
    """The jobs of one spec (part of its component's definitions)."""
    return [
        dg.define_asset_job(
            f"train_and_evaluate_{spec.name}",
            selection=dg.AssetSelection.assets(*weekly_keys(spec)),
            description=f"Train and evaluate the {spec.name} model of a week, then decide the champion.",
        ),
        dg.define_asset_job(
            f"predict_and_monitor_{spec.name}",
            selection=dg.AssetSelection.assets(*serving_keys(spec)),
            description=f"Score a range of days with the {spec.name} champion of each day and monitor them.",
        ),
        dg.define_asset_job(
            f"offcycle_{spec.name}",
            selection=dg.AssetSelection.assets(*offcycle.keys(spec)),
            description=f"Train, evaluate and decide an off-cycle {spec.name} version after a breach "
            "(partition offcycle-<day>).",
        ),
        dg.define_asset_job(
            f"model_history_{spec.name}",
            selection=dg.AssetSelection.assets(dg.AssetKey(["ml", spec.name, "history_report"])),
            description=f"Render the {spec.name} model history report.",
        ),
    ]


jobs = [reference_job, daily_job, landing_job]
