"""Raw layer: landing files -> validated, typed Parquet in the lake (group `raw`)."""

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg

from ai_platform import alerts, lake, quarantine, settings, storage
from ai_platform.automation.policies import daily_policy
from ai_platform.files import sha256
from ai_platform.landing import LandingName, LandingResource, LandingZone, day_name, reference_name
from ai_platform.partitions import DAILY, parse_day
from ai_platform.raw import quality
from ai_platform.raw.ingest import IngestError, parse
from ai_platform.raw.quality import Finding
from ai_platform.raw.schemas import DAILY_SCHEMAS, REFERENCE_SCHEMAS, TableSchema
from ai_platform.retries import TRANSIENT_ERRORS
from ai_platform.storage import StoragePath

GROUP = "raw"
OWNERS = ["team:data-engineering"]


def kinds() -> set[str]:
    """The UI's icons: polars reads the landing file (from S3 when the landing zone is there), Parquet in the lake."""
    return {"polars", "parquet", *(["s3"] if settings.landing_uri().startswith("s3://") else [])}


def column_schema(schema: TableSchema) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name, str(dtype), constraints=dg.TableColumnConstraints(nullable=name not in schema.required)
            )
            for name, dtype in schema.columns.items()
        ]
    )


@dataclass(frozen=True)
class Ingested:
    record: dict  # source, sha256, rows, path, rewritten
    findings: dict[str, Finding]  # the data-quality checks on the file's rows


def ingest(schema: TableSchema, zone: LandingZone, name: LandingName, target: StoragePath) -> Ingested:
    """Ingest one landing file into one lake file, or quarantine it when a blocking check fails.

    An unchanged source is not rewritten; its checks are evaluated again on the lake's copy."""
    source = zone.uri_of(name)
    try:
        data = zone.read(name)
    except FileNotFoundError:
        raise IngestError(f"{source}: the landing file is missing (replay the day, or drop the file there)") from None
    except PermissionError as e:
        raise IngestError(str(e)) from None
    checksum = sha256(data)
    previous = lake.source_of(target)
    if previous and previous["sha256"] == checksum:
        df = storage.read_parquet(target)
        findings = {quality.SCHEMA_MATCHES: None, **quality.evaluate(schema.name, df, name.day)}
        return Ingested({**previous, "rewritten": False}, findings)
    try:
        df = parse(data, source, schema)
        findings = {quality.SCHEMA_MATCHES: None, **quality.evaluate(schema.name, df, name.day)}
    except IngestError as e:
        findings = {quality.SCHEMA_MATCHES: str(e)}
    failures = quality.blocking_failures(findings, schema.name)
    if failures:
        reason = "; ".join(
            f if check == quality.SCHEMA_MATCHES else f"{source}: {check}: {f}" for check, f in failures.items()
        )
        kept = quarantine.keep(name, source, data, reason)
        raise IngestError(f"{reason}\n  kept in {kept}; land a corrected file to recover the day", findings)
    record = {"source": source, "sha256": checksum, "rows": df.height, "path": str(target)}
    lake.write_parquet(df, target, source=record)
    return Ingested({**record, "rewritten": True}, findings)


def check_specs(schema: TableSchema) -> list[dg.AssetCheckSpec]:
    key = ["raw", schema.name]
    return [
        dg.AssetCheckSpec(quality.SCHEMA_MATCHES, asset=key, description=quality.SCHEMA_DESCRIPTION, blocking=True)
    ] + [
        dg.AssetCheckSpec(c.name, asset=key, description=c.description, blocking=c.blocking)
        for c in quality.CHECKS[schema.name]
    ]


def check_results(schema: TableSchema, per_file: dict[str, dict[str, Finding]]) -> list[dg.AssetCheckResult]:
    """One result per check for the run's files (days): it fails if it failed on any of them."""
    blocking = {quality.SCHEMA_MATCHES} | {c.name for c in quality.CHECKS[schema.name] if c.blocking}
    results = []
    for spec in check_specs(schema):
        checked = {k: f[spec.name] for k, f in per_file.items() if spec.name in f}
        failing = {k: msg for k, msg in checked.items() if msg}
        metadata = {"files_checked": len(checked), alerts.FAILING_METADATA: sorted(failing)}
        if len(checked) < len(per_file):
            metadata["not_evaluated"] = dg.MetadataValue.text(
                "files that did not parse: " + ", ".join(sorted(set(per_file) - set(checked)))
            )
        if failing:
            rows = "\n".join(f"| {k} | {msg.replace('|', '/')} |" for k, msg in sorted(failing.items())[:30])
            metadata["problems"] = dg.MetadataValue.md("| file | problem |\n|---|---|\n" + rows)
        results.append(
            dg.AssetCheckResult(
                check_name=spec.name,
                passed=not failing,
                severity=dg.AssetCheckSeverity.ERROR if spec.name in blocking else dg.AssetCheckSeverity.WARN,
                metadata=metadata,
            )
        )
    return results


def _file_result(r: dict, checks: list[dg.AssetCheckResult]) -> dg.MaterializeResult:
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
        check_results=checks,
    )


def _daily_asset(schema: TableSchema) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", schema.name],
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        freshness_policy=daily_policy(),
        group_name=GROUP,
        owners=OWNERS,
        kinds=kinds(),
        description=(
            f"The day's `{schema.name}/<date>.csv` from the landing zone, validated against an explicit "
            f"schema and written to the lake as Parquet. Data version = SHA-256 of the landing file."
        ),
        metadata={"dagster/column_schema": column_schema(schema)},
        check_specs=check_specs(schema),
        retry_policy=TRANSIENT_ERRORS,
    )
    def _asset(context: dg.AssetExecutionContext, landing: LandingResource) -> Iterator:
        zone = landing.zone()
        done, failed, findings = [], [], {}
        for key in context.partition_keys:
            day = parse_day(key)
            try:
                r = ingest(schema, zone, day_name(schema.name, day), lake.raw_day_path(schema.name, day))
                done.append((key, r.record))
                findings[key] = r.findings
            except IngestError as e:
                failed.append((key, str(e)))
                if e.findings:
                    findings[key] = e.findings
        if failed:
            yield from check_results(schema, findings)
            raise dg.Failure(
                description=(
                    f"{len(failed)} of {len(context.partition_keys)} day(s) of {schema.name} could not be ingested:\n"
                    + "\n".join(f"- {msg}" for _, msg in failed)
                ),
                metadata={"failed_days": [k for k, _ in failed]},
                allow_retries=False,
            )
        if len(done) == 1:
            yield _file_result(done[0][1], check_results(schema, findings))
            return
        table = "| day | rows | sha256 | rewritten |\n|---|---|---|---|\n" + "\n".join(
            f"| {k} | {r['rows']} | {r['sha256'][:12]} | {r['rewritten']} |" for k, r in done
        )
        yield dg.MaterializeResult(
            metadata={
                "days": len(done),
                "rows_in_run": sum(r["rows"] for _, r in done),
                "days_rewritten": sum(r["rewritten"] for _, r in done),
                "per_day": dg.MetadataValue.md(table),
            },
            check_results=check_results(schema, findings),
        )

    return _asset


def _reference_asset(schema: TableSchema) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", schema.name],
        group_name=GROUP,
        owners=OWNERS,
        kinds=kinds(),
        description=f"Reference table `{schema.name}.csv` from the landing zone, validated and written to the lake.",
        metadata={"dagster/column_schema": column_schema(schema)},
        check_specs=check_specs(schema),
        retry_policy=TRANSIENT_ERRORS,
    )
    def _asset(context: dg.AssetExecutionContext, landing: LandingResource) -> Iterator:
        try:
            r = ingest(schema, landing.zone(), reference_name(schema.name), lake.raw_reference_path(schema.name))
        except IngestError as e:
            yield from check_results(schema, {"reference": e.findings} if e.findings else {})
            raise dg.Failure(description=str(e), allow_retries=False) from None
        yield _file_result(r.record, check_results(schema, {"reference": r.findings}))

    return _asset


daily_assets = [_daily_asset(s) for s in DAILY_SCHEMAS.values()]
reference_assets = [_reference_asset(s) for s in REFERENCE_SCHEMAS.values()]
assets = [*daily_assets, *reference_assets]
resources = {"landing": LandingResource()}
