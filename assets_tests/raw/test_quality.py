"""Data-quality checks that read other files than the landed day's."""

import dataclasses
from datetime import date

import polars as pl

from ai_platform import lake
from ai_platform.raw import quality
from ai_platform.raw.schemas import PLANES


def test_a_reloaded_reference_table_is_what_the_next_days_are_checked_against(data_dir):
    check = quality.references_known([quality.Reference("tailnum", PLANES, "tailnum", 0.0)])
    day = pl.DataFrame({"tailnum": ["N1", "N2"]})
    planes = lake.raw_reference_path("planes")

    lake.write_parquet(pl.DataFrame({"tailnum": ["N1"]}), planes)
    assert "50.0% of tailnum values are not in planes.tailnum" in check.evaluate(day, date(2013, 1, 1))
    assert "50.0%" in check.evaluate(day, date(2013, 1, 2))  # read once, same answer

    lake.write_parquet(pl.DataFrame({"tailnum": ["N1", "N2"]}), planes)  # raw/planes materialized again
    assert check.evaluate(day, date(2013, 1, 3)) is None


def test_a_header_only_file_blocks_unless_the_table_may_be_empty():
    header_only = pl.DataFrame({"tailnum": []}, schema={"tailnum": pl.String})
    strict = {c.name: c for c in quality.contract(PLANES, [])}
    assert strict["has_rows"].blocking
    assert "header but no rows" in strict["has_rows"].evaluate(header_only, None)

    lenient = quality.contract(dataclasses.replace(PLANES, may_be_empty=True), [quality.keys_not_null(PLANES)])
    assert [c.name for c in lenient] == ["keys_not_null"]
    assert all(c.evaluate(header_only, None) is None for c in lenient)
