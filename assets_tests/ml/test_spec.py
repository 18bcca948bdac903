import dataclasses
from datetime import date

import pytest

from ai_platform.ml.specs import FLIGHT_DELAY


def test_a_spec_rejects_a_label_among_its_features():
    with pytest.raises(ValueError, match="label"):
        dataclasses.replace(FLIGHT_DELAY, features=(*FLIGHT_DELAY.features, FLIGHT_DELAY.label))


def test_a_spec_rejects_categoricals_that_are_not_features():
    with pytest.raises(ValueError, match="categorical"):
        dataclasses.replace(FLIGHT_DELAY, categorical=("tailnum",))


def test_no_outcome_is_a_feature():
    outcomes = {"dep_time", "dep_delay", "arr_time", "arr_delay", "air_time", "is_cancelled"}
    assert not outcomes & set(FLIGHT_DELAY.features)
    assert not [f for f in FLIGHT_DELAY.features if f.startswith("label_")]


@pytest.mark.parametrize(
    "window, expected",
    [("trailing", date(2013, 1, 8)), ("expanding", date(2013, 1, 1))],
)
def test_training_windows_end_the_day_before_the_models_week(window, expected):
    spec = dataclasses.replace(FLIGHT_DELAY, window=window, window_weeks=8)
    assert spec.training_start(date(2013, 3, 5), date(2013, 1, 1)) == expected
