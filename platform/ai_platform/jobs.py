"""Jobs by layer. dbt and LightGBM assets stay in separate jobs where they backfill differently: mixed
backfill policies in one job make Dagster fall back to one partition per run (see EXAMPLES.md); the
landing job mixes them only among daily assets that all backfill as a single run."""

from datetime import date, timedelta

import dagster as dg

from ai_platform.ml import keys
from ai_platform.ml.predictions import ready_to_serve
from ai_platform.ml.spec import ModelSpec
from ai_platform.ml.specs import specs
from ai_platform.partitions import days, weekly


def weekly_keys(spec: ModelSpec) -> list[dg.AssetKey]:
    return [keys.model(spec.name), keys.evaluation(spec.name), keys.champion(spec.name)]


def serving_keys(spec: ModelSpec) -> list[dg.AssetKey]:
    """The daily assets that use the champion: predictions and monitoring."""
    return [
        keys.predictions(spec.name),
        keys.feature_drift(spec.name),
        keys.realized_quality(spec.name),
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


def landing_job(specs: list[ModelSpec]):
    """What the landing sensor launches, for the models `specs`."""
    return dg.define_asset_job(
        "landing_refresh",
        selection=dg.AssetSelection.groups("raw", "features", "serving")
        | dg.AssetSelection.assets(*(k for spec in specs for k in serving_keys(spec))),
        description=(
            "What the landing sensor launches: the raw partitions of the files that landed, the features "
            "downstream of them, and their predictions and monitoring (each run selects its subset)."
        ),
    )


def model_jobs(spec: ModelSpec) -> list:
    """The jobs of one spec (part of its component's definitions)."""
    return [
        dg.define_asset_job(
            keys.train_job(spec.name),
            selection=dg.AssetSelection.assets(*weekly_keys(spec)),
            description=f"Train and evaluate the {spec.name} model of a week (or of each week of a range, in order), "
            "then decide the champion.",
        ),
        dg.define_asset_job(
            keys.serve_job(spec.name),
            selection=dg.AssetSelection.assets(*serving_keys(spec)),
            description=f"Score a range of days with the {spec.name} champion of each day and monitor them.",
        ),
        dg.define_asset_job(
            keys.offcycle_job(spec.name),
            selection=dg.AssetSelection.assets(*keys.offcycle_assets(spec.name)),
            description=f"Train, evaluate and decide an off-cycle {spec.name} version after a breach "
            "(partition offcycle-<day>).",
        ),
        dg.define_asset_job(
            keys.history_job(spec.name),
            selection=dg.AssetSelection.assets(keys.history_report(spec.name)),
            description=f"Render the {spec.name} model history report.",
        ),
    ]


def serving_ready(first: date, last: date) -> list[dg.AssetKey]:
    """The predictions and monitoring of the specs whose champion decisions for [first, last] are made."""
    span = days(first, last + timedelta(days=1))
    return [
        key
        for spec in specs()
        if all(ready_to_serve(spec, weekly(spec.window_weeks), d) for d in span)
        for key in serving_keys(spec)
    ]
