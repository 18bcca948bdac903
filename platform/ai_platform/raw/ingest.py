"""Turns one landing file into a typed table, or fails with a message naming the file and the problem."""

from __future__ import annotations

import io

import polars as pl

from ai_platform.raw.schemas import TIMESTAMP, TableSchema

NULL_VALUES = ["NA", ""]


class IngestError(ValueError):
    """A landing file that cannot be ingested as it is; retrying will not help.

    `findings` holds the data-quality checks' outcome on the file when they ran (check name -> problem or None).
    """

    def __init__(self, message: str, findings: dict[str, str | None] | None = None):
        super().__init__(message)
        self.findings = findings or {}


def _first_bad(text: pl.Series, typed: pl.Series) -> tuple[int, str]:
    bad = text.is_not_null() & typed.is_null()
    row = int(bad.arg_true()[0])
    return row, text[row]


def _cast(name: str, column: pl.Series, dtype: pl.DataType) -> pl.Series:
    if dtype == TIMESTAMP:
        return column.str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC", strict=False)
    if dtype.is_integer():
        # "12.0" is not an integer column's value: go through Int64 so overflow is caught too.
        wide = column.cast(pl.Int64, strict=False)
        return wide.cast(dtype, strict=False)
    return column.cast(dtype, strict=False)


def parse(data: bytes, source: str, schema: TableSchema) -> pl.DataFrame:
    """Parse a landing file's bytes into `schema`'s columns and types (values are judged by raw/quality.py)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise IngestError(f"{source}: not UTF-8 text (byte {e.start}: {data[e.start : e.start + 1]!r})") from None
    if not text.strip():
        raise IngestError(f"{source}: the file is empty (expected a header line: {','.join(schema.columns)})")
    try:
        df = pl.read_csv(io.StringIO(text), infer_schema=False, null_values=NULL_VALUES)
    except pl.exceptions.PolarsError as e:
        raise IngestError(f"{source}: not a readable CSV file: {str(e).splitlines()[0]}") from None

    missing = [c for c in schema.columns if c not in df.columns]
    extra = [c for c in df.columns if c not in schema.columns]
    if missing or extra:
        raise IngestError(
            f"{source}: columns do not match the {schema.name} schema"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unexpected: {', '.join(extra)}" if extra else "")
        )

    typed = {}
    for name, dtype in schema.columns.items():
        column = _cast(name, df[name], dtype)
        if (df[name].is_not_null() & column.is_null()).any():
            row, value = _first_bad(df[name], column)
            raise IngestError(f"{source}: column {name!r} expects {dtype} but line {row + 2} has {value!r}")
        typed[name] = column
    return pl.DataFrame(typed)
