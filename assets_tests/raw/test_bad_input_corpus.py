"""The bad-input corpus: each broken landing file gets its own clear outcome, and none stops the other days.

Outcomes: `quarantined` (the run fails naming the file and the problem, the bytes are kept in the quarantine,
the lake keeps nothing of it, the blocking check fails with severity ERROR), `warned` (the file reaches the
lake and a non-blocking check fails with severity WARN), `ignored` (the name is refused before any path is
built; nothing is read).
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from ai_platform import lake, quarantine, settings
from ai_platform.automation.landing_sensor import Cursor, look
from ai_platform.files import sha256
from ai_platform.landing import Entry, LocalZone, day_name
from ai_platform.tools.replay import replay
from conftest import instance_overrides
from instance_dirs import instance_dir
from runs import materialize_reference

HISTORY = (date(2013, 1, 1), date(2013, 1, 14))  # two clean weeks: the row-count check has its trailing weeks
FIRST_CASE_DAY = date(2013, 1, 15)


def _csv(data: bytes) -> pl.DataFrame:
    return pl.read_csv(data, infer_schema=False)


def _set(column: str, value: str, row: int = 0) -> Callable[[bytes], bytes]:
    def mutate(data: bytes) -> bytes:
        df = _csv(data)
        values = df[column].to_list()
        values[row] = value
        return df.with_columns(pl.Series(column, values)).write_csv().encode()

    return mutate


def _truncate_last_line(data: bytes) -> bytes:
    return data.rstrip(b"\n")[: data.rstrip(b"\n").rfind(b",") - 3]  # cut mid-way through the last row


@dataclass(frozen=True)
class Case:
    id: str
    table: str
    mutate: Callable[[bytes], bytes]
    outcome: str  # quarantined | warned
    check: str  # the check that fails
    message: str  # what the failure says


CORPUS = [
    Case("empty file", "flights", lambda d: b"", "quarantined", "schema_matches", "the file is empty"),
    Case(
        "header only",
        "flights",
        lambda d: d.split(b"\n", 1)[0] + b"\n",
        "quarantined",
        "has_rows",
        "the file has a header but no rows",
    ),
    Case(
        "wrong column name",
        "flights",
        lambda d: d.replace(b",distance,", b",dist,", 1),
        "quarantined",
        "schema_matches",
        "missing: distance; unexpected: dist",
    ),
    Case(
        "missing column",
        "weather",
        lambda d: _csv(d).drop("visib").write_csv().encode(),
        "quarantined",
        "schema_matches",
        "missing: visib",
    ),
    Case(
        "extra column",
        "flights",
        lambda d: _csv(d).with_columns(comment=pl.lit("x")).write_csv().encode(),
        "quarantined",
        "schema_matches",
        "unexpected: comment",
    ),
    Case(
        "wrong type",
        "flights",
        _set("dep_delay", "late", row=3),
        "quarantined",
        "schema_matches",
        "column 'dep_delay' expects Int32 but line 5 has 'late'",
    ),
    Case("truncated last line", "flights", _truncate_last_line, "quarantined", "keys_not_null", "'time_hour' is empty"),
    Case(
        "non-UTF-8 bytes",
        "weather",
        lambda d: d.replace(b"EWR", b"EW\xe9", 1),
        "quarantined",
        "schema_matches",
        "not UTF-8 text",
    ),
    Case(
        "duplicated rows",
        "flights",
        lambda d: d + d.split(b"\n", 2)[1] + b"\n",
        "quarantined",
        "no_duplicate_flights",
        "rows share the key (carrier, flight, origin, sched_dep_time)",
    ),
    Case(
        "rows of another day",
        "flights",
        _set("day", "3", row=10),
        "quarantined",
        "rows_belong_to_day",
        "rows of another day than",
    ),
    Case(
        "empty key",
        "flights",
        _set("carrier", "", row=2),
        "quarantined",
        "keys_not_null",
        "'carrier' is empty: 1 row(s), first on line 4",
    ),
    Case(
        "absurd distance",
        "flights",
        _set("distance", "-17"),
        "quarantined",
        "values_in_range",
        "distance must be > 0: 1 row(s), first on line 2",
    ),
    Case(
        "absurd clock time",
        "flights",
        _set("dep_time", "2575"),
        "quarantined",
        "values_in_range",
        "dep_time must be a time 0001..2400",
    ),
    Case(
        "impossible humidity",
        "weather",
        _set("humid", "180.5"),
        "quarantined",
        "values_in_range",
        "humid must be 0..100 %",
    ),
    Case("implausible wind", "weather", _set("wind_speed", "350"), "warned", "plausible_values", "wind_speed usually"),
    Case(
        "unknown carrier",
        "flights",
        lambda d: _csv(d).with_columns(carrier=pl.lit("ZZ")).write_csv().encode(),
        "warned",
        "references_known",
        "100.0% of carrier values are not in airlines.carrier",
    ),
]


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    """Clean history in the lake, and one landed day per corpus case after it."""
    root = tmp_path_factory.mktemp("corpus")
    last = FIRST_CASE_DAY + timedelta(days=len(CORPUS) - 1)
    with (
        pytest.MonkeyPatch.context() as mp,
        instance_dir(root) as home,
        dg.instance_for_test(temp_dir=str(home), overrides=instance_overrides()) as instance,
    ):
        mp.setenv(settings.DATA_DIR_ENV, str(root / "data"))
        mp.delenv(settings.LANDING_URI_ENV, raising=False)
        zone = LocalZone(Path(settings.landing_uri()))
        replay(zone, HISTORY[0], last)
        materialize_reference(instance)
        result = _raw_run(instance, ["flights", "weather"], HISTORY[0], HISTORY[1])
        assert result.success
        yield zone, instance


def _raw_run(instance, tables: list[str], first: date, last: date) -> dg.ExecuteInProcessResult:
    from ai_platform.definitions import defs
    from ai_platform.partitions import range_tags

    return defs.resolve_job_def("daily_ingest_and_features").execute_in_process(
        instance=instance,
        tags=range_tags(first, last),
        asset_selection=[dg.AssetKey(["raw", t]) for t in tables],
        raise_on_error=False,
    )


def _evaluation(result: dg.ExecuteInProcessResult, table: str, check: str):
    (found,) = [e for e in result.get_asset_check_evaluations() if e.asset_check_key.name == check]
    assert found.asset_key == dg.AssetKey(["raw", table])
    return found


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_each_bad_file_gets_its_outcome(landed, case):
    zone, instance = landed
    day = FIRST_CASE_DAY + timedelta(days=CORPUS.index(case))
    name = day_name(case.table, day)
    bad = case.mutate(zone.read(name))
    zone.path(name).write_bytes(bad)
    neighbours = {p: p.read_bytes() for p in lake.raw_day_path(case.table, day).parents[1].rglob("*.parquet")}

    result = _raw_run(instance, [case.table], day, day)

    evaluation = _evaluation(result, case.table, case.check)
    assert not evaluation.passed
    problems = evaluation.metadata["problems"].value
    assert case.message in problems, problems
    assert zone.read(name) == bad  # the landing zone is never modified
    target = lake.raw_day_path(case.table, day)
    if case.outcome == "quarantined":
        assert not result.success
        assert evaluation.severity == dg.AssetCheckSeverity.ERROR
        (failure,) = result.get_step_failure_events()
        message = str(failure.step_failure_data.error)
        assert str(zone.path(name)) in message and case.message in message
        assert "land a corrected file to recover the day" in message
        assert not any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)  # bad data: no retry
        kept = quarantine.quarantine_dir() / case.table / day.isoformat() / f"{sha256(bad)}.csv"
        assert kept.read_bytes() == bad
        assert case.message in json.loads(kept.with_suffix(".json").read_text())["reason"]
        assert not target.exists()
    else:
        assert result.success
        assert evaluation.severity == dg.AssetCheckSeverity.WARN
        assert lake.source_of(target)["sha256"] == sha256(bad)
    # No other day's lake file was touched.
    assert all(p.read_bytes() == data for p, data in neighbours.items())


def test_a_range_with_a_bad_day_keeps_the_good_days(landed):
    zone, instance = landed
    first = FIRST_CASE_DAY + timedelta(days=len(CORPUS) - 2)
    bad_day, good_day = first, first + timedelta(days=1)
    zone.path(day_name("weather", bad_day)).write_bytes(b"")
    result = _raw_run(instance, ["weather"], bad_day, good_day)
    assert not result.success
    assert lake.source_of(lake.raw_day_path("weather", good_day))["sha256"] == sha256(
        zone.read(day_name("weather", good_day))
    )
    evaluation = _evaluation(result, "weather", "schema_matches")
    assert evaluation.metadata["failing"].value == [bad_day.isoformat()]


@pytest.mark.parametrize(
    "name, why",
    [
        ("flights/2014-01-01.csv", "outside the partitions"),
        ("weather/2012-12-31.csv", "outside the partitions"),
        ("flights/2013-02-30.csv", "not a date"),
        ("flights/../../etc/passwd.csv", "not a landing file name"),
        ("flights/..%2f..%2fsecret.csv", "not a landing file name"),
        ("rawfiles/2013-01-01.csv", "is not a daily table"),
    ],
)
def test_a_bad_name_is_refused_before_any_path_is_built(data_dir, zone, name, why):
    class Listing(LocalZone):  # a zone listing the name as S3 would (a folder cannot hold most of these)
        def list(self) -> list[Entry]:
            return [Entry(name, 1.0, "1")]

        def read(self, name):
            raise AssertionError(f"{name} was read")

    tick = look(Listing(zone.root), Cursor())
    assert tick.changes == [] and why in tick.ignored[name]


def test_a_symlink_out_of_the_landing_zone_is_not_read(data_dir, zone, instance, tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("carrier,name\nZZ,Secret Air\n")
    (zone.root).mkdir(parents=True, exist_ok=True)
    os.symlink(outside, zone.root / "airlines.csv")
    from ai_platform.definitions import defs

    result = defs.resolve_job_def("reference_tables").execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(["raw", "airlines"])], raise_on_error=False
    )
    assert not result.success
    message = str(result.get_step_failure_events()[0].step_failure_data.error)
    assert "points outside the landing zone" in message
    assert not lake.raw_reference_path("airlines").exists()
