"""Feature drift by Population Stability Index (PSI) against a JSON-serialisable profile of the training data.

Every feature gets one bucket per bin (numeric) or category (categorical) plus a bucket for nulls; NaN counts as
null. PSI = sum over buckets of (actual - expected) * ln(actual / expected).
"""

from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

OTHER = "__other__"
MAX_CATEGORIES = 20


def _numeric(s: pl.Series) -> pl.Series:
    return s.cast(pl.Float64).fill_nan(None)


def _sorted_values(s: pl.Series) -> np.ndarray:
    return np.sort(s.drop_nulls().to_numpy())


def _bin_counts(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Counts per bin [e_i, e_i+1) of sorted `values`; values outside the edges land in the outer bins."""
    below = np.searchsorted(values, edges[1:-1], side="left")
    return np.diff(np.concatenate(([0], below, [values.size])))


def _category_counts(s: pl.Series, categories: list[str]) -> np.ndarray:
    top = categories[:-1]
    idx = (
        s.drop_nulls()
        .cast(pl.String)
        .replace_strict(top, range(len(top)), default=len(top), return_dtype=pl.Int64)
        .to_numpy()
    )
    return np.bincount(idx, minlength=len(categories))


def _numeric_profile(s: pl.Series, bins: int, n: int) -> dict:
    s = _numeric(s)
    values = _sorted_values(s)
    # "lower" quantiles from exact integer positions: edges are observed values, identical on every platform.
    edges = np.unique(values[np.arange(bins + 1) * (values.size - 1) // bins]).tolist() if values.size else []
    counts = _bin_counts(values, edges)
    return {"kind": "numeric", "edges": edges, "expected": (counts / n).tolist(), "null": s.null_count() / n}


def _categorical_profile(s: pl.Series, n: int) -> dict:
    counts = (
        s.drop_nulls()
        .cast(pl.String)
        .alias("value")
        .value_counts()
        .filter(pl.col("value") != OTHER)
        .sort(["count", "value"], descending=[True, False])
    )
    categories = [*counts["value"].head(MAX_CATEGORIES).to_list(), OTHER]
    expected = _category_counts(s, categories) / n
    return {"kind": "categorical", "categories": categories, "expected": expected.tolist(), "null": s.null_count() / n}


def _check_columns(df: pl.DataFrame, features: Iterable[str]) -> None:
    missing = sorted(set(features) - set(df.columns))
    if missing:
        raise ValueError(f"features missing from the data: {missing}")
    if df.height == 0:
        raise ValueError("the data has no rows")


def reference_profile(
    df: pl.DataFrame, features: Sequence[str], categorical: Sequence[str] = (), bins: int = 10
) -> dict:
    """Per-feature expected bucket shares of `df`: quantile bins for numeric features, top categories otherwise."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    stray = sorted(set(categorical) - set(features))
    if stray:
        raise ValueError(f"categorical features not in features: {stray}")
    _check_columns(df, features)
    n = df.height
    profiles = {
        name: _categorical_profile(df[name], n) if name in categorical else _numeric_profile(df[name], bins, n)
        for name in sorted(set(features))
    }
    return {"rows": n, "features": profiles}


def _actual_shares(feature: dict, s: pl.Series) -> np.ndarray:
    if feature["kind"] == "categorical":
        counts = _category_counts(s, feature["categories"])
    else:
        s = _numeric(s)
        counts = _bin_counts(_sorted_values(s), feature["edges"])
    return np.append(counts, s.null_count()) / s.len()


def psi(profile: dict, df: pl.DataFrame, epsilon: float = 1e-4) -> dict[str, float]:
    """PSI of each profiled feature of `df`; bucket shares are floored at `epsilon`."""
    features = profile["features"]
    _check_columns(df, features)
    result = {}
    for name, feature in features.items():
        expected = np.maximum(np.append(feature["expected"], feature["null"]), epsilon)
        actual = np.maximum(_actual_shares(feature, df[name]), epsilon)
        result[name] = float(np.sum((actual - expected) * np.log(actual / expected)))
    return result


def drift_table(psis: dict[str, float], threshold: float, top: int = 15) -> str:
    """Markdown table of the `top` features by PSI, highest first, flagged "drift" above `threshold`."""
    ranked = sorted(psis.items(), key=lambda item: (-item[1], item[0]))[: max(top, 0)]
    rows = [f"| {name} | {value:.4f} | {'drift' if value > threshold else 'ok'} |" for name, value in ranked]
    return "\n".join(["| feature | PSI | status |", "| --- | ---: | --- |", *rows])


def daily_psi_quantile(
    profile: dict, df: pl.DataFrame, day_column: str, days: Sequence, q: float = 0.95
) -> dict[str, float]:
    """Per feature, the `q`-quantile of the PSI of single days of `df` against `profile`: how far an ordinary
    day already moves. Day-level features (weather, yesterday's delay rates) move a lot every day."""
    per_day = [psi(profile, part) for d in days if (part := df.filter(pl.col(day_column) == d)).height]
    return {name: float(np.quantile([p[name] for p in per_day], q)) for name in profile["features"]}
