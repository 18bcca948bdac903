"""Jobs by layer. dbt and LightGBM assets stay in separate jobs: mixed backfill policies in one job
make Dagster fall back to one partition per run (see EXAMPLES.md)."""

import dagster as dg

from ai_platform.ml.specs import SPECS

reference_job = dg.define_asset_job(
    "reference_tables",
    selection=dg.AssetSelection.groups("raw") - dg.AssetSelection.assets(["raw", "flights"], ["raw", "weather"]),
    description="Ingest the reference tables (planes, airports, airlines).",
)

daily_job = dg.define_asset_job(
    "daily_ingest_and_features",
    selection=dg.AssetSelection.assets(["raw", "flights"], ["raw", "weather"]) | dg.AssetSelection.groups("features"),
    description="Ingest a range of days and build their dbt features, as one run.",
)

landing_job = dg.define_asset_job(
    "landing_refresh",
    selection=dg.AssetSelection.groups("raw", "features"),
    description=(
        "What the landing sensor launches: the raw partitions of the files that landed and the features "
        "downstream of them (each run selects its subset)."
    ),
)

model_jobs = [
    dg.define_asset_job(
        f"train_and_evaluate_{spec.name}",
        selection=dg.AssetSelection.key_prefixes(["ml", spec.name]),
        description=f"Train and evaluate the {spec.name} model of a week.",
    )
    for spec in SPECS
]

jobs = [reference_job, daily_job, landing_job, *model_jobs]
