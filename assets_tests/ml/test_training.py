"""Training itself, on generated rows: the model file depends on the data only, never on the machine."""

import subprocess
import sys
import time
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from ai_platform import settings
from ai_platform.ml import cores, training
from ai_platform.ml.spec import ModelSpec

SPEC = ModelSpec(
    name="generated",
    features_model="generated_features",
    label="label",
    features=("signal", "noise", "kind"),
    categorical=("kind",),
    window_weeks=3,
    max_rounds=300,
    early_stopping_rounds=10,
)
FIRST = date(2013, 1, 1)


def _window(days: int = 21, per_day: int = 1000, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = days * per_day
    signal = rng.normal(size=n)
    return pl.DataFrame(
        {
            "flight_date": [FIRST + timedelta(days=i // per_day) for i in range(n)],
            "signal": signal,
            "noise": rng.normal(size=n),
            "kind": rng.choice(["a", "b", "c"], n),
            "label": (signal + rng.normal(scale=2.0, size=n) > 0).astype(int),
        }
    )


def _train(df: pl.DataFrame) -> training.Trained:
    return training.fit(SPEC, df, FIRST + timedelta(days=14), training.vocabulary(SPEC, df))


@pytest.mark.parametrize("other", ["1", "3"])
def test_the_model_file_is_the_same_whatever_the_thread_count(monkeypatch, other):
    df = _window()
    monkeypatch.setenv(settings.LGBM_THREADS_ENV, "2")
    reference = _train(df).booster.model_to_string()
    monkeypatch.setenv(settings.LGBM_THREADS_ENV, other)
    assert _train(df).booster.model_to_string() == reference
    assert "[num_threads: 0]" in reference  # the machine's thread count is not written into the model


def test_the_model_is_the_booster_at_the_round_early_stopping_chose():
    trained = _train(_window())
    assert 1 <= trained.best_iteration < SPEC.max_rounds
    assert trained.booster.num_trees() == trained.best_iteration
    assert trained.valid_auc > 0.6  # the signal is learnt
    assert "num_threads" not in trained.params


def test_refit_learns_from_the_early_stopping_days_too():
    """In the window's last week (the early-stopping days) only `noise` predicts the label: a refit model uses it."""
    df = _window().with_columns(
        label=pl.when(pl.col("flight_date") >= FIRST + timedelta(days=14))
        .then((pl.col("noise") > 0).cast(pl.Int64))
        .otherwise(pl.col("label"))
    )
    valid_from, vocab = FIRST + timedelta(days=14), training.vocabulary(SPEC, df)
    refit = training.fit(SPEC, df, valid_from, vocab)
    probe_only = training.fit(SPEC.model_copy(update={"refit": False}), df, valid_from, vocab)
    assert training.feature_importance(refit.booster)["noise"] > 0
    assert (
        training.feature_importance(probe_only.booster)["noise"]
        < training.feature_importance(refit.booster)["noise"] / 10
    )


def test_training_leaves_a_core_to_a_cpu_bound_process_beside_it(monkeypatch):
    monkeypatch.delenv(settings.LGBM_THREADS_ENV, raising=False)
    cores.busy_elsewhere()  # starts the measurement
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        assert cores.busy_elsewhere() >= 0.5  # the spinner's core, whatever else the machine runs
        assert cores.lgbm_threads() <= max(1, cores.physical() - 1)
    finally:
        spinner.kill()
        spinner.wait()


def test_an_explicit_thread_count_wins(monkeypatch):
    monkeypatch.setenv(settings.LGBM_THREADS_ENV, "3")
    assert cores.lgbm_threads() == 3


def test_a_day_rewritten_in_the_lake_is_read_again_not_served_from_the_cache(tmp_path, monkeypatch):
    from ai_platform import lake
    from ai_platform.files import sha256

    monkeypatch.setenv(settings.DATA_DIR_ENV, str(tmp_path))
    df = _window(days=2, per_day=50).with_columns(flight_id=pl.int_range(pl.len()))
    days = [FIRST, FIRST + timedelta(days=1)]
    for day in days:
        lake.write_parquet(df.filter(pl.col("flight_date") == day), lake.features_day_path(SPEC.features_model, day))
    first, versions = training.load_days(SPEC, days)
    assert first.height == 100 and training.load_days(SPEC, days)[1] == versions

    path = lake.features_day_path(SPEC.features_model, days[1])
    corrected = df.filter(pl.col("flight_date") == days[1]).with_columns(label=1 - pl.col("label"))
    lake.write_parquet(corrected, path)
    again, new_versions = training.load_days(SPEC, days)

    assert new_versions == {**versions, days[1].isoformat(): sha256(path.read_bytes())} != versions
    assert again["label"].to_list() == first["label"].to_list()[:50] + corrected["label"].to_list()
