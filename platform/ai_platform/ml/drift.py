"""Feature drift by Population Stability Index (PSI) against a JSON-serialisable profile of the training data.

Every feature gets one bucket per bin (numeric) or category (categorical) plus a bucket for nulls; NaN counts as
null. PSI = sum over buckets of (actual - expected) * ln(actual / expected).
"""

from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

OTHER = "__other__"
MAX_CATEGORIES = 20


def _numeric(df: pl.DataFrame, names: Sequence[str]) -> np.ndarray:
    """The columns as one float matrix (one column per name), null and NaN both as NaN."""
    if not names:
        return np.empty((df.height, 0))
    return df.select(pl.col(n).cast(pl.Float64).fill_nan(None) for n in names).to_numpy(order="fortran")


def _bin_counts(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Counts per bin [e_i, e_i+1) of sorted `values`; values outside the edges land in the outer bins."""
    below = np.searchsorted(values, edges[1:-1], side="left")
    return np.diff(np.concatenate(([0], below, [values.size])))


def _category_index(s: pl.Series, categories: list[str]) -> np.ndarray:
    """Each value's bucket: its category's position, OTHER's for the rest, len(categories) for null."""
    top = categories[:-1]
    index = s.cast(pl.String).replace_strict(top, range(len(top)), default=len(top), return_dtype=pl.Int64)
    return np.where(s.is_null().to_numpy(), len(categories), index.to_numpy())


def _numeric_profile(column: np.ndarray, bins: int, n: int) -> dict:
    values = np.sort(column[~np.isnan(column)])
    # "lower" quantiles from exact integer positions: edges are observed values, identical on every platform.
    edges = np.unique(values[np.arange(bins + 1) * (values.size - 1) // bins]).tolist() if values.size else []
    counts = _bin_counts(values, edges)
    return {"kind": "numeric", "edges": edges, "expected": (counts / n).tolist(), "null": (n - values.size) / n}


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
    expected = np.bincount(_category_index(s, categories), minlength=len(categories) + 1)[:-1] / n
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
    names = sorted(set(features))
    numeric = [f for f in names if f not in categorical]
    matrix = _numeric(df, numeric)
    profiles = {f: _numeric_profile(matrix[:, i], bins, n) for i, f in enumerate(numeric)}
    profiles |= {f: _categorical_profile(df[f], n) for f in names if f in categorical}
    return {"rows": n, "features": dict(sorted(profiles.items()))}


def _shares(buckets: np.ndarray, size: int, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group (row), the share of its values in each of `size` buckets."""
    counts = np.bincount(groups * size + buckets, minlength=n_groups * size).reshape(n_groups, size)
    return counts / counts.sum(axis=1, keepdims=True)


def _psi_by_group(
    profile: dict, df: pl.DataFrame, groups: np.ndarray, n_groups: int, epsilon: float
) -> list[dict[str, float]]:
    """PSI of each profiled feature within each group of rows (`groups`: each row's group, 0 .. n_groups - 1)."""
    features = profile["features"]
    _check_columns(df, features)
    numeric = [f for f, p in features.items() if p["kind"] == "numeric"]
    matrix = _numeric(df, numeric)
    columns = {f: i for i, f in enumerate(numeric)}
    result: list[dict[str, float]] = [{} for _ in range(n_groups)]
    for name, feature in features.items():
        if feature["kind"] == "categorical":
            buckets = _category_index(df[name], feature["categories"])
        else:
            values = matrix[:, columns[name]]
            interior = feature["edges"][1:-1]
            buckets = np.where(np.isnan(values), len(interior) + 1, np.searchsorted(interior, values, side="right"))
        expected = np.maximum(np.append(feature["expected"], feature["null"]), epsilon)
        actual = np.maximum(_shares(buckets, expected.size, groups, n_groups), epsilon)
        for g, value in enumerate(np.sum((actual - expected) * np.log(actual / expected), axis=1)):
            result[g][name] = float(value)
    return result


def psi(profile: dict, df: pl.DataFrame, epsilon: float = 1e-4) -> dict[str, float]:
    """PSI of each profiled feature of `df`; bucket shares are floored at `epsilon`."""
    return _psi_by_group(profile, df, np.zeros(df.height, dtype=np.int64), 1, epsilon)[0]


def psi_by_day(
    profile: dict, df: pl.DataFrame, day_column: str, days: Sequence, epsilon: float = 1e-4
) -> dict[object, dict[str, float]]:
    """`psi` of each of `days` that has rows in `df`, computed in one pass over them."""
    present = [d for d in days if d in set(df[day_column].unique().to_list())]
    rows = df.filter(pl.col(day_column).is_in(present))
    index = {d: i for i, d in enumerate(present)}
    groups = rows[day_column].replace_strict(index, return_dtype=pl.Int64).to_numpy()
    per_day = _psi_by_group(profile, rows, groups, len(present), epsilon) if present else []
    return dict(zip(present, per_day, strict=True))


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
    per_day = list(psi_by_day(profile, df, day_column, days).values())
    return {name: float(np.quantile([p[name] for p in per_day], q)) for name in profile["features"]}
