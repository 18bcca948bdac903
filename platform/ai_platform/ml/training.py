"""Loading a window of features from the lake, training a LightGBM model and scoring with it.

lightgbm is imported inside the functions: importing it costs Dagster's definition load time.
"""

from __future__ import annotations

import functools
import json
import platform as _platform
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from ai_platform import lake, settings
from ai_platform.files import FileVersion, file_version, read_version, sha256, write_atomic
from ai_platform.ml import cores
from ai_platform.ml.spec import ModelSpec
from ai_platform.storage import StoragePath


def columns(spec: ModelSpec) -> list[str]:
    """The columns of its features model a spec reads: the flight's keys, label, features and baseline."""
    baseline = [spec.baseline] if spec.baseline else []
    return list(dict.fromkeys(["flight_id", "flight_date", spec.label, *spec.features, *baseline]))


def load_days(spec: ModelSpec, window: list[date]) -> tuple[pl.DataFrame, dict[str, str]]:
    """The spec's columns of the days in `window` and each day file's checksum (its data version)."""
    frames, versions = [], {}
    for day in window:
        path = lake.features_day_path(spec.features_model, day)
        try:
            file = file_version(path)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path}: features of {day} are not in the lake; materialize {spec.features_model} for that day"
            ) from None
        frame, versions[day.isoformat()] = _read_day(file, tuple(columns(spec)))
        frames.append(frame)
    return pl.concat(frames, how="vertical_relaxed"), versions


# A range run trains week after week on windows that overlap by all but a week (49 of flight_delay's 56 days): the
# days read for one week serve the next. Keyed by the file's version, so a rewritten day is read again.
@functools.lru_cache(maxsize=64)
def _read_day(file: FileVersion, cols: tuple[str, ...]) -> tuple[pl.DataFrame, str]:
    data = read_version(file)
    return pl.read_parquet(data, columns=list(cols)), sha256(data)


def labelled(spec: ModelSpec, df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(pl.col(spec.label).is_not_null())


def vocabulary(spec: ModelSpec, df: pl.DataFrame) -> dict[str, list[str]]:
    """Category codes learnt from the training data; unseen values score as missing."""
    return {c: sorted(df[c].drop_nulls().unique().to_list()) for c in spec.categorical}


def category_codes(vocab: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    """Per categorical feature, each value's code: its place in the vocabulary (a value not in it is missing)."""
    return {name: {v: i for i, v in enumerate(values)} for name, values in vocab.items()}


def matrix(spec: ModelSpec, df: pl.DataFrame, vocab: dict[str, list[str]]) -> np.ndarray:
    codes = category_codes(vocab)
    cols = []
    for name in spec.features:
        if name in codes:
            cols.append(df[name].replace_strict(codes[name], default=None, return_dtype=pl.Float64))
        else:
            cols.append(df[name].cast(pl.Float64))
    return pl.DataFrame(cols).to_numpy().astype(np.float64, copy=False)


def matrix_of_columns(spec: ModelSpec, columns: dict[str, list], codes: dict[str, dict[str, int]]) -> np.ndarray:
    """`matrix` of rows given as Python columns (None: missing), without building a DataFrame: the scoring
    service's requests, where building one cost more than the rest of the request. `codes`: `category_codes`."""
    cols = [[codes[n].get(v) for v in columns[n]] if n in codes else columns[n] for n in spec.features]
    return np.ascontiguousarray(np.array(cols, dtype=np.float64).T)  # None -> NaN


@dataclass
class Trained:
    booster: object  # lightgbm.Booster
    best_iteration: int
    valid_auc: float
    params: dict


def training_params(spec: ModelSpec) -> dict:
    """The LightGBM parameters a model is trained with (and its card records). The thread count is not one of
    them: it is the machine's (see `threads`), and trees are the same for any count (`deterministic`)."""
    return {**spec.params, "seed": spec.seed, "deterministic": True, "force_row_wise": True}


@contextmanager
def threads():
    """LightGBM's threads for a block: `cores.lgbm_threads()`, set through OpenMP rather than a parameter, so
    that the saved model (which lists its parameters) is the same file on machines with other core counts."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=cores.lgbm_threads(), user_api="openmp"):
        yield


def fit(spec: ModelSpec, train: pl.DataFrame, valid_from: date, vocab: dict[str, list[str]]) -> Trained:
    """Boost on the days before `valid_from` and stop where the AUC of the days from `valid_from` on (the window's
    last, most recent days) stops improving. With `spec.refit`, train again on the whole window for that many
    rounds (the most recent days then count too: delays drift); otherwise the model is the booster at its best round.

    One binned dataset serves every part (LightGBM subsets share the window's bins and cost no second binning).
    """
    import lightgbm as lgb

    params = training_params(spec)
    is_valid = (train["flight_date"] >= valid_from).to_numpy()
    window = lgb.Dataset(
        matrix(spec, train, vocab),
        train[spec.label].to_numpy(),
        feature_name=list(spec.features),
        categorical_feature=[spec.features.index(c) for c in spec.categorical],
        params=params,
    )
    with threads():
        window.construct()
        probe = lgb.train(
            {**params, "metric": "auc"},
            window.subset(np.flatnonzero(~is_valid)),
            num_boost_round=spec.max_rounds,
            valid_sets=[window.subset(np.flatnonzero(is_valid))],
            callbacks=[lgb.early_stopping(spec.early_stopping_rounds, verbose=False)],
        )
        best = max(1, probe.best_iteration)
        if spec.refit:
            final = lgb.train(params, window, num_boost_round=best)
        else:
            final = lgb.Booster(model_str=probe.model_to_string(num_iteration=best))
    return Trained(final, best, float(probe.best_score["valid_0"]["auc"]), params)


def load_model(path: StoragePath):
    """A model saved in LightGBM's text format (never a pickle), as a lightgbm.Booster."""
    import lightgbm as lgb

    return lgb.Booster(model_str=path.read_text())


def predict(booster, spec: ModelSpec, df: pl.DataFrame, vocab: dict[str, list[str]]) -> np.ndarray:
    if booster.feature_name() != list(spec.features):
        raise ValueError(f"the model's features differ from spec {spec.name}'s")
    # One thread: a day's or a week's rows score in milliseconds, less than probing for idle cores (0.1 s).
    return booster.predict(matrix(spec, df, vocab), num_threads=1)


def feature_importance(booster) -> dict[str, float]:
    """Total gain per feature."""
    return dict(zip(booster.feature_name(), booster.feature_importance("gain").tolist(), strict=True))


def model_dir(spec: ModelSpec, week: str) -> StoragePath:
    return settings.models_dir() / spec.name / week


def save(
    spec: ModelSpec, week: str, trained: Trained, card: dict, profile: dict
) -> tuple[dict[str, StoragePath], dict]:
    """The model in LightGBM's text format, its model card (JSON) and the reference profile of its training
    data (for drift monitoring), each written atomically.

    Returns the paths and the card as written.
    """
    import lightgbm as lgb

    out = model_dir(spec, week)
    paths = {"model": out / "model.txt", "card": out / "model_card.json", "profile": out / "profile.json"}
    model_bytes = trained.booster.model_to_string().encode()
    write_atomic(paths["model"], model_bytes)
    card = {
        **card,
        "model_file_sha256": sha256(model_bytes),
        "libraries": {
            "lightgbm": lgb.__version__,
            "polars": pl.__version__,
            "numpy": np.__version__,
            "python": _platform.python_version(),
        },
    }
    write_atomic(paths["card"], json.dumps(card, indent=2, sort_keys=True).encode())
    write_atomic(paths["profile"], json.dumps(profile, sort_keys=True).encode())
    return paths, card


def load_card(spec: ModelSpec, week: str) -> dict:
    path = model_dir(spec, week) / "model_card.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no model for week {week}; materialize ml/{spec.name}/model for it")
    return json.loads(path.read_text())
