"""Features layer: the dbt project's models as daily-partitioned assets (group `features`).

dbt builds into the DuckDB warehouse; models flagged `meta.lake_export: daily` are then exported
to the lake as one Parquet file per day, which is how Python reads them (DuckDB has one writer).
"""

import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from dagster_dbt import DagsterDbtCliRuntimeError, DagsterDbtTranslator, dbt_assets

from ai_platform import lake, settings
from ai_platform.automation.policies import daily_policy
from ai_platform.features.check_descriptions import describe_test
from ai_platform.features.dbt_cli import DbtCli, dbt_cli
from ai_platform.features.manifest import ensure_manifest, is_lake_export, is_snapshot_export, lake_exports, manifest
from ai_platform.features.project import dbt_project
from ai_platform.files import write_atomic
from ai_platform.partitions import DAILY, days
from ai_platform.retries import TRANSIENT_ERRORS
from ai_platform.serving import snapshot as online_snapshot

GROUP = "features"
SERVING_GROUP = "serving"  # models under models/serving/: what the scoring service reads (ai_platform/serving)
DUCKDB_POOL = "duckdb"
# What DuckDB says when another process holds the warehouse file's lock.
DUCKDB_LOCKED = "Could not set lock on file"
LAKE_EXPORT_SECONDS = "lake_export_s"
PARTIAL_PARSE = "partial_parse.msgpack"  # dbt's parse state, which dagster-dbt copies into each invocation's folder
DBT_RUNS = "dbt_runs"  # the invocations' target folders, beside the warehouse


class Translator(DagsterDbtTranslator):
    """dbt models in group `features` (those under models/serving/ in `serving`); owners come from dbt's
    `meta.dagster.owners` (dbt_project.yml)."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if unique_id.startswith("model."):
            node = manifest["nodes"][unique_id]
            group = SERVING_GROUP if SERVING_GROUP in node["fqn"][1:-1] else GROUP
            spec = spec.replace_attributes(group_name=group, freshness_policy=daily_policy())
            if is_lake_export(node) or is_snapshot_export(node):
                spec = spec.merge_attributes(kinds={"parquet"})
        return spec

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=describe_test(manifest["nodes"][unique_id]))


def partition_window(start: date, end: date) -> dict[str, str]:
    """The partition window [start, end) dbt builds: only real dates reach dbt's SQL."""
    if not (isinstance(start, date) and isinstance(end, date)) or end <= start:
        raise ValueError(f"invalid partition window [{start}, {end})")
    return {"min_date": start.isoformat(), "max_date": end.isoformat()}


def invocation_folder(context: dg.AssetExecutionContext, start: date, end: date) -> Path:
    """A dbt invocation's own target folder, holding the run's partition window (partition_window.csv). It lives
    beside the data directory's warehouse, like the parse state, not in the dbt project that every data directory
    shares: a failed or killed build keeps its folder there for reading.

    The window goes to dbt as a file its macro reads at run time, not as --vars: dbt parses the whole
    project again whenever --vars change (~3 s a run), and a file leaves its partial parsing intact.
    """
    folder = settings.warehouse_path().parent / DBT_RUNS / f"{context.run_id}-{uuid.uuid4().hex[:8]}"
    window = partition_window(start, end)
    write_atomic(
        folder / "partition_window.csv", f"min_date,max_date\n{window['min_date']},{window['max_date']}\n".encode()
    )
    if parse_state().exists():  # dagster-dbt then keeps it (it copies the project's own only into an empty folder)
        shutil.copyfile(parse_state(), folder / PARTIAL_PARSE)
    return folder


def parse_state() -> Path:
    """dbt's parse state for this data directory, kept beside its warehouse. dbt parses the whole project again
    (~1.3 of a one-day build's 4 CPU-seconds) when its profile changed, and the warehouse path in the profile is
    the data directory's: one state shared by data directories (the project's target/) was parsed afresh each
    time another data directory ran dbt, e.g. tests side by side."""
    return settings.warehouse_path().parent / PARTIAL_PARSE


def keep_partial_parse(invocation_target: Path) -> None:
    """Make the invocation's parse state the next invocation's start, so that it re-parses only what changed."""
    state = invocation_target / PARTIAL_PARSE
    if state.exists():
        write_atomic(parse_state(), state.read_bytes())


# Days read from the warehouse per query: a year of flight_features in one query held 1.4 GB in this process.
EXPORT_CHUNK_DAYS = 7


def export_days(model: str, partition_column: str, start: date, end: date) -> int:
    """Copy the days [start, end) of `model` from the warehouse into the lake; returns rows exported."""
    import duckdb

    rows = 0
    window = days(start, end)
    with duckdb.connect(settings.warehouse_database(), read_only=True) as con:
        for i in range(0, len(window), EXPORT_CHUNK_DAYS):
            chunk = window[i : i + EXPORT_CHUNK_DAYS]
            table = con.sql(
                f'select * from main."{model}" where "{partition_column}" >= ? and "{partition_column}" <= ? '
                "order by all",
                params=[chunk[0], chunk[-1]],
            ).to_arrow_table()
            df = pl.from_arrow(table)
            by_day = df.partition_by(partition_column, as_dict=True)
            for day in chunk:
                lake.write_parquet(by_day.get((day,), df.head(0)), lake.features_day_path(model, day))
            rows += df.height
    return rows


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=Translator(),
    pool=DUCKDB_POOL,
    retry_policy=TRANSIENT_ERRORS,
)
def flights_dbt(context: dg.AssetExecutionContext, dbt: DbtCli) -> Iterator:
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    settings.export_for_dbt()
    settings.warehouse_path().parent.mkdir(parents=True, exist_ok=True)
    invocation = dbt.cli(["build"], context=context, target_path=invocation_folder(context, start, end))
    try:
        yield from invocation.stream()
    except DagsterDbtCliRuntimeError as e:
        if DUCKDB_LOCKED in str(e):
            raise  # another process holds the warehouse: transient, the retry policy runs the step again
        raise dg.Failure(description=str(e), allow_retries=False) from None  # a failing test or model: not retried
    keep_partial_parse(invocation.target_path)
    # Each invocation writes its own target folder (~2 MB): keep it only when the build failed (stream() raised).
    shutil.rmtree(invocation.target_path, ignore_errors=True)
    for export in lake_exports(manifest()):
        if dg.AssetKey(export.model) in context.selected_asset_keys:
            t = time.perf_counter()
            rows = export_days(export.model, export.partition_column, start, end)
            yield dg.AssetObservation(
                asset_key=export.model,
                description=f"exported to the lake for [{start}, {end})",
                metadata={"rows_exported": rows, LAKE_EXPORT_SECONDS: time.perf_counter() - t},
            )
    for node in filter(is_snapshot_export, manifest()["nodes"].values()):
        if dg.AssetKey(node["name"]) in context.selected_asset_keys:
            exported = online_snapshot.export(node["name"])
            yield dg.AssetObservation(
                asset_key=node["name"],
                description="exported to the lake" if exported else "empty: nothing exported",
                metadata={
                    "as_of": str(exported[0]),
                    "rows_exported": exported[1],
                    "path": str(online_snapshot.snapshot_path(exported[0])),
                }
                if exported
                else {},
            )


assets = [flights_dbt]
resources = {"dbt": dbt_cli()}
