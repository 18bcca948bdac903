"""Raw layer: landing files -> validated, typed Parquet in the lake (group `raw`)."""

from pathlib import Path

import dagster as dg

from ai_platform import lake, quarantine
from ai_platform.automation.freshness import daily_policy
from ai_platform.files import sha256
from ai_platform.landing import LandingName, LandingResource, LandingZone, day_name, reference_name
from ai_platform.partitions import DAILY, parse_day
from ai_platform.raw.ingest import IngestError, parse
from ai_platform.raw.schemas import DAILY_SCHEMAS, REFERENCE_SCHEMAS, TableSchema

GROUP = "raw"


def column_schema(schema: TableSchema) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name, str(dtype), constraints=dg.TableColumnConstraints(nullable=name not in schema.required)
            )
            for name, dtype in schema.columns.items()
        ]
    )


def ingest(schema: TableSchema, zone: LandingZone, name: LandingName, target: Path) -> dict:
    """Ingest one landing file into one lake file; an unchanged source is not rewritten."""
    source = zone.uri_of(name)
    try:
        data = zone.read(name)
    except FileNotFoundError:
        raise IngestError(f"{source}: the landing file is missing (replay the day, or drop the file there)") from None
    checksum = sha256(data)
    previous = lake.source_of(target)
    if previous and previous["sha256"] == checksum:
        return {**previous, "rewritten": False}
    try:
        df = parse(data, source, schema, name.day)
    except IngestError as e:
        kept = quarantine.keep(name, source, data, str(e))
        raise IngestError(f"{e}\n  kept in {kept}; land a corrected file to recover the day") from None
    record = {"source": source, "sha256": checksum, "rows": df.height, "path": str(target)}
    lake.write_parquet(df, target, source=record)
    return {**record, "rewritten": True}


def _file_result(r: dict) -> dg.MaterializeResult:
    """One landing file's materialization: its rows, where it came from and went, its checksum."""
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": r["rows"],
            "source": dg.MetadataValue.url(r["source"]) if "://" in r["source"] else dg.MetadataValue.path(r["source"]),
            "sha256": r["sha256"],
            "path": dg.MetadataValue.path(r["path"]),
            "rewritten": r["rewritten"],
        },
        data_version=dg.DataVersion(r["sha256"]),
    )


def _daily_asset(schema: TableSchema) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", schema.name],
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        freshness_policy=daily_policy(),
        group_name=GROUP,
        kinds={"polars", "parquet"},
        description=(
            f"The day's `{schema.name}/<date>.csv` from the landing zone, validated against an explicit "
            f"schema and written to the lake as Parquet. Data version = SHA-256 of the landing file."
        ),
        metadata={"dagster/column_schema": column_schema(schema)},
    )
    def _asset(context: dg.AssetExecutionContext, landing: LandingResource) -> dg.MaterializeResult:
        zone = landing.zone()
        done, failed = [], []
        for key in context.partition_keys:
            day = parse_day(key)
            try:
                r = ingest(schema, zone, day_name(schema.name, day), lake.raw_day_path(schema.name, day))
                done.append((key, r))
            except IngestError as e:
                failed.append((key, str(e)))
        if failed:
            raise dg.Failure(
                description=(
                    f"{len(failed)} of {len(context.partition_keys)} day(s) of {schema.name} could not be ingested:\n"
                    + "\n".join(f"- {msg}" for _, msg in failed)
                ),
                metadata={"failed_days": [k for k, _ in failed]},
                allow_retries=False,
            )
        if len(done) == 1:
            return _file_result(done[0][1])
        table = "| day | rows | sha256 | rewritten |\n|---|---|---|---|\n" + "\n".join(
            f"| {k} | {r['rows']} | {r['sha256'][:12]} | {r['rewritten']} |" for k, r in done
        )
        return dg.MaterializeResult(
            metadata={
                "days": len(done),
                "rows_in_run": sum(r["rows"] for _, r in done),
                "days_rewritten": sum(r["rewritten"] for _, r in done),
                "per_day": dg.MetadataValue.md(table),
            }
        )

    return _asset


def _reference_asset(schema: TableSchema) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", schema.name],
        group_name=GROUP,
        kinds={"polars", "parquet"},
        description=f"Reference table `{schema.name}.csv` from the landing zone, validated and written to the lake.",
        metadata={"dagster/column_schema": column_schema(schema)},
    )
    def _asset(context: dg.AssetExecutionContext, landing: LandingResource) -> dg.MaterializeResult:
        try:
            r = ingest(schema, landing.zone(), reference_name(schema.name), lake.raw_reference_path(schema.name))
        except IngestError as e:
            raise dg.Failure(description=str(e), allow_retries=False) from None
        return _file_result(r)

    return _asset


daily_assets = [_daily_asset(s) for s in DAILY_SCHEMAS.values()]
reference_assets = [_reference_asset(s) for s in REFERENCE_SCHEMAS.values()]
assets = [*daily_assets, *reference_assets]
resources = {"landing": LandingResource()}
