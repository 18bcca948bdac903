from pathlib import Path

import polars as pl
import pytest

from ai_platform.raw.ingest import IngestError, parse
from ai_platform.raw.schemas import FLIGHTS
from ai_platform.tools.replay import read_source

SRC = Path("landing/flights/2013-01-07.csv")


@pytest.fixture(scope="module")
def day_csv() -> bytes:
    flights = read_source("flights").filter((pl.col("month") == "1") & (pl.col("day") == "7"))
    return flights.write_csv().encode()


def test_a_good_day_parses_to_the_explicit_schema(day_csv):
    df = parse(day_csv, SRC, FLIGHTS)
    assert df.height == 933
    assert dict(df.schema) == FLIGHTS.columns
    assert df["arr_delay"].null_count() > 0  # "NA" became null, not an error


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda text: b"", "the file is empty"),
        (lambda text: text.replace(b",distance,", b",dist,", 1), "missing: distance; unexpected: dist"),
        (lambda text: text.replace(b",1617,", b",far,", 1), "column 'distance' expects Int32 but line 2 has 'far'"),
        (lambda text: text + b"\xff\xfe\n", "not UTF-8"),
    ],
)
def test_bad_files_fail_with_a_message_naming_file_and_problem(day_csv, mutate, message):
    with pytest.raises(IngestError) as err:
        parse(mutate(day_csv), SRC, FLIGHTS)
    assert str(SRC) in str(err.value)
    assert message in str(err.value)
