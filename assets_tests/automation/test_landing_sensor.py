"""The landing sensor on a real folder and a real S3 server (SeaweedFS): what lands is what runs."""

import os
from datetime import date

import dagster as dg
import polars as pl
import pytest

from ai_platform import lake, landing, settings
from ai_platform.automation.landing_sensor import Cursor, cadence, look, watch
from ai_platform.files import sha256
from ai_platform.landing import Entry, LandingResource
from ai_platform.tools.replay import replay
from sensor_runs import execute, tick

D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)
FEATURES = dg.AssetKey("flight_features")


@pytest.fixture(params=["folder", "s3"])
def any_zone(request, data_dir, monkeypatch):
    """The landing zone as a local folder, or as a prefix in a bucket of a real S3 server."""
    if request.param == "folder":
        return landing.open_zone(settings.landing_uri())
    server = request.getfixturevalue("s3_server")
    bucket = f"landing-{os.getpid()}-{request.node.name.split('[')[0][-30:].replace('_', '-')}"
    server.client().create_bucket(Bucket=bucket)
    for k, v in server.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv(settings.LANDING_URI_ENV, f"s3://{bucket}/incoming")
    return landing.open_zone(settings.landing_uri())


def _put(zone, name: str, data: bytes) -> None:
    """Drop a file the way a user or a producer would: whole, even when the bytes are the same."""
    parsed = landing.parse_name(name)
    if isinstance(zone, landing.LocalZone):
        path = zone.path(parsed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    else:
        zone.client.put_object(Bucket=zone.bucket, Key=zone.key(parsed), Body=data)


def test_new_days_run_raw_and_features_then_nothing_until_something_changes(any_zone, data_dir, instance):
    replay(any_zone, D1, D2)

    requests, cursor = tick(instance)

    assert len(requests) == 1
    (run,) = requests
    assert run.tags["dagster/asset_partition_range_start"] == "2013-01-01"
    assert run.tags["dagster/asset_partition_range_end"] == "2013-01-02"
    assert {dg.AssetKey(["raw", "planes"]), dg.AssetKey(["raw", "flights"]), FEATURES} <= set(run.asset_selection)
    assert execute(instance, run).success
    assert instance.get_materialized_partitions(FEATURES) == {"2013-01-01", "2013-01-02"}

    assert tick(instance, cursor)[0] == []
    same = any_zone.read(landing.day_name("flights", D2))
    _put(any_zone, "flights/2013-01-02.csv", same)  # the same bytes dropped again
    assert tick(instance, cursor)[0] == []


def test_a_late_day_and_a_corrected_day_rebuild_the_days_whose_history_reads_them(zone, data_dir, instance):
    """On a folder only: which days a change rebuilds does not depend on the zone, and a rewritten object is
    detected on S3 by test_same_bytes_while_the_run_is_pending_and_a_revert_to_earlier_bytes."""
    replay(zone, D1, D3)
    requests, cursor = tick(instance)
    assert execute(instance, requests[0]).success
    before = {d: lake.source_of(lake.raw_day_path("flights", d))["sha256"] for d in (D1, D2, D3)}

    name = landing.day_name("flights", D2)
    corrected = pl.read_csv(zone.read(name), infer_schema=False).with_columns(dep_delay=pl.lit("600"))
    _put(zone, str(name), corrected.write_csv().encode())
    requests, cursor = tick(instance, cursor)

    (run,) = requests
    assert (run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]) == (
        "2013-01-02",
        "2013-01-03",
    )
    assert execute(instance, run).success
    after = {d: lake.source_of(lake.raw_day_path("flights", d))["sha256"] for d in (D1, D2, D3)}
    assert after[D1] == before[D1] and after[D3] == before[D3] and after[D2] != before[D2]
    day3 = pl.read_parquet(lake.features_day_path("flight_features", D3))
    assert day3["origin_mean_dep_delay_1d"].max() >= 500  # day 3's history now reads the corrected day 2


def test_same_bytes_while_the_run_is_pending_and_a_revert_to_earlier_bytes(any_zone, data_dir, instance):
    replay(any_zone, D1, D1)
    first, cursor = tick(instance)
    name = landing.day_name("weather", D1)
    original = any_zone.read(name)
    _put(any_zone, str(name), original)
    assert tick(instance, cursor)[0] == []  # already requested, not yet ingested: no second run
    assert execute(instance, first[0], raw_only=True).success

    _put(any_zone, str(name), original.replace(b"\n", b"\r\n"))
    (corrected,), cursor = tick(instance, cursor)
    assert execute(instance, corrected, raw_only=True).success
    _put(any_zone, str(name), original)
    (reverted,), cursor = tick(instance, cursor)

    assert len({first[0].run_key, corrected.run_key, reverted.run_key}) == 3
    assert execute(instance, reverted, raw_only=True).success
    assert lake.source_of(lake.raw_day_path("weather", D1))["sha256"] == sha256(original)


def test_a_day_waits_for_its_other_tables_before_its_features(zone, data_dir, instance):
    """On a folder only: what a half-landed day requests is planned from the zone's listing, whatever the zone."""
    replay(zone, D1, D1)
    requests, cursor = tick(instance)
    assert execute(instance, requests[0]).success
    flights = pl.read_csv(zone.read(landing.day_name("flights", D1)), infer_schema=False)
    _put(zone, "flights/2013-01-02.csv", flights.with_columns(day=pl.lit("2")).write_csv().encode())

    (raw_only,), cursor = tick(instance, cursor)
    assert raw_only.partition_key == "2013-01-02"
    assert raw_only.asset_selection == [dg.AssetKey(["raw", "flights"])]

    replay(zone, D2, D2)  # weather of day 2 lands (flights are left as they are... replay rewrites them)
    (run,), cursor = tick(instance, cursor)
    assert run.partition_key == "2013-01-02" and FEATURES in run.asset_selection


class LandsAfterFirstListing:
    """A zone on which `land()` runs right after the first listing: those files are new to the next look."""

    def __init__(self, zone: landing.LocalZone, land):
        self.zone, self.land, self.listings = zone, land, 0

    def list(self):
        entries = self.zone.list()
        self.listings += 1
        if self.listings == 1:
            self.land()
        return entries

    def read(self, name):
        return self.zone.read(name)


def test_a_tick_watches_the_zone_and_returns_once_a_day_has_landed(zone, data_dir):
    watched = LandsAfterFirstListing(zone, lambda: replay(zone, D1, D1))

    seen = watch(watched, Cursor(), every=0.01, for_s=600)

    assert watched.listings == 2  # the look after the day landed, not the whole window
    assert {str(c.name) for c in seen.changes} >= {"flights/2013-01-01.csv", "weather/2013-01-01.csv"}
    assert D1 in seen.complete


def test_a_tick_that_sees_part_of_a_day_waits_for_the_rest(zone, data_dir):
    """The reference tables and the day's flights are there, its weather lands next: one tick sees them all."""
    replay(zone, D1, D1)
    weather = zone.path(landing.day_name("weather", D1))
    data = weather.read_bytes()
    weather.unlink()
    watched = LandsAfterFirstListing(zone, lambda: weather.write_bytes(data))

    seen = watch(watched, Cursor(), every=0.01, for_s=600)

    assert watched.listings == 2
    assert {"planes.csv", "flights/2013-01-01.csv", "weather/2013-01-01.csv"} <= {str(c.name) for c in seen.changes}
    assert D1 in seen.complete


@pytest.mark.parametrize(("interval", "expected"), [("1", (4, 4)), ("2", (4, 3)), ("5", (4, 0)), ("30", (29, 0))])
def test_the_sensor_watches_between_the_daemons_loops_only_below_them(interval, expected, monkeypatch):
    """(minimum interval, seconds a tick watches): the daemon looks at sensors every 5 s at most."""
    monkeypatch.setenv(settings.SENSOR_INTERVAL_ENV, interval)
    assert cadence() == expected


def test_names_that_are_not_landing_files_are_reported_and_ignored(any_zone, data_dir, instance):
    replay(any_zone, D1, D1)
    requests, cursor = tick(instance)
    bad = ["notes.txt", "flights/2013-02-30.csv", "flights/2012-12-31.csv", "fuel/2013-01-02.csv", "planes.csv.bak"]
    for name in bad:
        if isinstance(any_zone, landing.LocalZone):
            (any_zone.root / name).parent.mkdir(parents=True, exist_ok=True)
            (any_zone.root / name).write_text("x")
        else:
            any_zone.client.put_object(Bucket=any_zone.bucket, Key=any_zone.prefix + name, Body=b"x")

    seen = look(any_zone, Cursor.parse(cursor))

    assert tick(instance, cursor)[0] == []
    assert seen.changes == []
    assert set(seen.ignored) == set(bad)
    assert "is outside the partitions" in seen.ignored["flights/2012-12-31.csv"]
    assert "is not a date" in seen.ignored["flights/2013-02-30.csv"]


@pytest.mark.parametrize(
    "name", ["../flights/2013-01-01.csv", "flights/../../etc/2013-01-01.csv", "/flights/2013-01-01.csv", "flights.csv"]
)
def test_names_that_could_leave_the_zone_are_rejected_before_any_path_is_built(name):
    with pytest.raises(ValueError, match="is not a landing file name"):
        landing.parse_name(name)


def test_a_file_written_in_the_same_second_as_the_last_one_seen_is_not_skipped():
    cursor = Cursor()
    a = Entry("flights/2013-01-01.csv", 100.0, "etag-a")
    b = Entry("weather/2013-01-01.csv", 100.0, "etag-b")
    assert cursor.new_entries([a]) == [a]
    cursor.advance([a])

    assert cursor.new_entries([a, b]) == [b]
    cursor.advance([a, b])
    a2 = Entry("flights/2013-01-01.csv", 100.0, "etag-a2")  # rewritten within the same second
    assert cursor.new_entries([a2, b]) == [a2]
    assert Cursor.parse(cursor.dump()) == cursor


def test_the_resource_reads_the_zone_from_the_environment(data_dir):
    assert LandingResource().zone().uri == settings.landing_uri()
