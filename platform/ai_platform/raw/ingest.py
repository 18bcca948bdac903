"""Turns one landing file into a typed table, or fails with a message naming the file and the problem."""

from __future__ import annotations

import io
from datetime import date

import polars as pl

from ai_platform.raw.schemas import TIMESTAMP, TableSchema

NULL_VALUES = ["NA", ""]


class IngestError(ValueError):
    """A landing file that cannot be ingested as it is; retrying will not help."""


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


def parse(data: bytes, source: str, schema: TableSchema, day: date | None = None) -> pl.DataFrame:
    """Parse and validate a landing file's bytes against `schema` (and, for daily tables, its day)."""
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
        if name in schema.required and column.null_count():
            row = int(column.is_null().arg_true()[0])
            raise IngestError(f"{source}: column {name!r} is empty on line {row + 2}; it is required")
        typed[name] = column
    out = pl.DataFrame(typed)

    if day is not None and out.height:
        wrong = out.filter((pl.col("year") != day.year) | (pl.col("month") != day.month) | (pl.col("day") != day.day))
        if wrong.height:
            first = wrong.row(0, named=True)
            raise IngestError(
                f"{source}: {wrong.height} of {out.height} rows belong to another day than {day} "
                f"(first: {first['year']}-{first['month']:02d}-{first['day']:02d})"
            )
    return out
