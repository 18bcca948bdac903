"""Breach episodes: consecutive failing days are one episode (one alert, one off-cycle version)."""

from datetime import date

from ai_platform.automation.breach_retrain import new_episodes
from ai_platform.ml import offcycle
from ai_platform.ml.specs import spec
from ai_platform.partitions import START_DATE

D = [date(2013, 3, d) for d in range(1, 20)]


def test_consecutive_breach_days_are_one_episode_and_a_gap_starts_a_new_one():
    assert new_episodes(set(), {D[4], D[5], D[6]}) == [D[4]]
    assert new_episodes({D[4], D[5], D[6]}, {D[7]}) == []  # the episode goes on
    assert new_episodes({D[4], D[5], D[6]}, {D[9], D[10]}) == [D[9]]  # a day without breach in between
    assert new_episodes({D[4]}, {D[4]}) == []  # the same day measured again


def test_an_offcycle_version_trains_up_to_the_breach_and_is_judged_on_the_days_after():
    flight_delay = spec("flight_delay")
    assert offcycle.breach_day(offcycle.version_name(D[13])) == D[13]
    assert offcycle.training_days(flight_delay, D[13])[-1] == D[13]
    assert offcycle.training_days(flight_delay, D[13])[0] == flight_delay.training_start(D[14], START_DATE)
    assert offcycle.evaluation_days(flight_delay, D[13]) == D[14:17]
