import json
import math

import numpy as np
import polars as pl
import pytest

from ai_platform.ml.drift import OTHER, drift_table, psi, reference_profile
from ai_platform.tools.replay import read_source


def _frame(n: int, seed: int, shift: float = 0.0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "y": rng.exponential(2.0, n),
            "city": rng.choice(["ams", "ber", "cph", "dub"], n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


def _profile(df: pl.DataFrame) -> dict:
    return reference_profile(df, ["x", "y", "city"], categorical=["city"])


@pytest.fixture(scope="module")
def january() -> pl.DataFrame:
    return (
        read_source("flights")
        .filter(pl.col("month") == "1")
        .select(pl.col("day").cast(pl.Int32), pl.col("dep_delay", "distance").cast(pl.Float64, strict=False))
    )


def test_hand_computed_psi_with_out_of_range_values_and_nulls():
    profile = reference_profile(pl.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]}), ["a"], bins=2)
    assert profile["features"]["a"] == {
        "kind": "numeric",
        "edges": [1.0, 2.0, 4.0],
        "expected": [0.25, 0.75],
        "null": 0.0,
    }
    # 0 and 10 lie outside the edges and fall in the first and last bins; half the rows are null.
    value = psi(profile, pl.DataFrame({"a": [0.0, 10.0, None, None]}), epsilon=1e-4)["a"]
    expected = (0.25 - 0.75) * math.log(0.25 / 0.75) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert value == pytest.approx(expected)


def test_identical_data_has_zero_psi():
    df = _frame(5000, seed=0).with_columns(
        pl.when(pl.int_range(pl.len()) % 9 == 0).then(None).otherwise(pl.col("x")).alias("x"),
        pl.when(pl.int_range(pl.len()) % 13 == 0).then(None).otherwise(pl.col("city")).alias("city"),
    )
    assert psi(_profile(df), df) == pytest.approx({"x": 0.0, "y": 0.0, "city": 0.0}, abs=1e-12)


def test_same_distribution_is_small_and_shifted_is_large():
    profile = _profile(_frame(50_000, seed=1))
    same = psi(profile, _frame(2000, seed=2))
    assert max(same.values()) < 0.05
    shifted = psi(profile, _frame(2000, seed=3, shift=1.0))
    assert shifted["x"] > 0.25
    assert shifted["y"] < 0.05


def test_unseen_category_dominating_is_large_drift():
    profile = _profile(_frame(10_000, seed=4))
    assert profile["features"]["city"]["categories"] == ["ams", "ber", "cph", "dub", OTHER]
    day = _frame(1000, seed=5)
    new = day.with_columns(pl.when(pl.col("x") < 1.0).then(pl.lit("oslo")).otherwise(pl.col("city")).alias("city"))
    assert psi(profile, day)["city"] < 0.05
    assert psi(profile, new)["city"] > 1.0
    # Every unseen value shares the one "__other__" bucket.
    renamed = new.with_columns(pl.col("city").replace("oslo", "rome"))
    assert psi(profile, renamed)["city"] == psi(profile, new)["city"]


def test_rare_categories_pool_into_other():
    values = [f"c{i:02d}" for i in range(25) for _ in range(30 - i)]
    profile = reference_profile(pl.DataFrame({"c": values}), ["c"], categorical=["c"])["features"]["c"]
    assert profile["categories"] == [*(f"c{i:02d}" for i in range(20)), OTHER]
    assert profile["expected"][-1] == pytest.approx(sum(30 - i for i in range(20, 25)) / len(values))
    assert sum(profile["expected"]) + profile["null"] == pytest.approx(1.0)


def test_nulls_appearing_increase_psi():
    profile = _profile(_frame(20_000, seed=6))
    day = _frame(1000, seed=7)
    base = psi(profile, day)
    holes = pl.int_range(pl.len()) % 5 == 0
    with_nulls = psi(
        profile,
        day.with_columns(
            pl.when(holes).then(None).otherwise(pl.col("y")).alias("y"),
            pl.when(holes).then(None).otherwise(pl.col("city")).alias("city"),
        ),
    )
    assert with_nulls["y"] > base["y"] + 0.5
    assert with_nulls["city"] > base["city"] + 0.5
    assert with_nulls["x"] == base["x"]


def test_nan_counts_as_null():
    df = pl.DataFrame({"v": [1.0, 2.0, float("nan"), None]})
    assert reference_profile(df, ["v"])["features"]["v"]["null"] == 0.5


def test_constant_column_has_one_bin():
    profile = reference_profile(pl.DataFrame({"k": [3] * 100}), ["k"])
    assert profile["features"]["k"] == {"kind": "numeric", "edges": [3.0], "expected": [1.0], "null": 0.0}
    assert psi(profile, pl.DataFrame({"k": [3, 7, -1]}))["k"] == 0.0


def test_profile_is_deterministic_and_json_round_trips():
    df = _frame(3000, seed=8)
    profile = _profile(df)
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=9)
    assert json.dumps(_profile(shuffled)) == json.dumps(profile)
    assert list(profile["features"]) == ["city", "x", "y"]
    assert profile["rows"] == 3000

    restored = json.loads(json.dumps(profile))
    assert restored == profile
    day = _frame(500, seed=10, shift=0.3)
    assert psi(restored, day) == psi(profile, day)


def test_missing_features_raise():
    profile = _profile(_frame(100, seed=11))
    with pytest.raises(ValueError, match=r"\['city', 'y'\]"):
        psi(profile, _frame(100, seed=12).select("x"))
    with pytest.raises(ValueError, match="nope"):
        reference_profile(_frame(100, seed=12), ["x", "nope"])


def test_drift_table():
    table = drift_table({"a": 0.05, "b": 0.4, "c": 0.2, "d": 0.01}, threshold=0.1, top=3)
    assert table.splitlines() == [
        "| feature | PSI | status |",
        "| --- | ---: | --- |",
        "| b | 0.4000 | drift |",
        "| c | 0.2000 | drift |",
        "| a | 0.0500 | ok |",
    ]


def test_flights_january_day_is_stable_and_shifted_delays_drift(january):
    profile = reference_profile(january.filter(pl.col("day") <= 21), ["dep_delay", "distance"])
    # A calm day: dep_delay moves with the weather, and some late-January days exceed 0.1 on their own.
    day = january.filter(pl.col("day") == 23)
    calm = psi(profile, day)
    assert calm["dep_delay"] < 0.1
    assert calm["distance"] < 0.1
    late = psi(profile, day.with_columns(pl.col("dep_delay") + 60))
    assert late["dep_delay"] > 0.25
    assert late["distance"] == calm["distance"]
