"""What defines a model: its features table, label, features, window and LightGBM parameters.

One spec -> one set of ML assets (see `ml.assets.build_model_assets`), so a new model needs a spec,
not new Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

DEFAULT_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 200,
    "feature_fraction": 0.7,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "max_cat_to_onehot": 4,
    "verbosity": -1,
}


@dataclass(frozen=True)
class ModelSpec:
    name: str  # asset keys are ml/<name>/...
    features_model: str  # the dbt model (exported to the lake per day) that holds features and label
    label: str  # a 0/1 column of features_model; rows where it is null are not labelled
    features: tuple[str, ...]
    categorical: tuple[str, ...] = ()
    baseline: str | None = None  # a feature used as a score to beat (e.g. a historical delay rate)
    description: str = ""
    # Training window: the `window_weeks` weeks before the model's week ("trailing"), or every day
    # since the data's start ("expanding"; then window_weeks is the history the first model needs).
    window: Literal["trailing", "expanding"] = "trailing"
    window_weeks: int = 8
    early_stopping_days: int = 7  # the window's last days, held out to pick the number of rounds
    eval_days: int = 7  # the model's own week, never seen in training
    max_rounds: int = 1000
    early_stopping_rounds: int = 50
    seed: int = 42
    params: dict = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    auc_floor: float = 0.60  # evaluation check: warn below this out-of-time AUC
    # Promotion gate: a challenger replaces the champion only if, on the challenger's own (unseen) week,
    # its AUC is higher by at least this margin and its log loss not worse by more than this tolerance,
    # and it passes the floor above and the calibration ceiling.
    promote_min_auc_gain: float = 0.0
    promote_max_logloss_increase: float = 0.002
    ece_ceiling: float = 0.10
    # Monitoring: a day drifts when one of the champion's `drift_top_features` most important features has a
    # population stability index (against the champion's training window) above both `drift_psi_threshold`
    # and `drift_tolerance` times what an ordinary day of the window already reached (its 95th percentile).
    drift_psi_threshold: float = 0.25
    drift_tolerance: float = 3.0
    drift_top_features: int = 20

    def __post_init__(self) -> None:
        missing = set(self.categorical) - set(self.features)
        if missing:
            raise ValueError(f"spec {self.name}: categorical features not in features: {sorted(missing)}")
        if self.label in self.features:
            raise ValueError(f"spec {self.name}: the label {self.label!r} cannot be a feature")
        if self.window not in ("trailing", "expanding"):
            raise ValueError(f"spec {self.name}: window must be 'trailing' or 'expanding', not {self.window!r}")
        if self.early_stopping_days >= self.window_weeks * 7:
            raise ValueError(f"spec {self.name}: early_stopping_days must be shorter than the window")

    def training_start(self, week_start: date, data_start: date) -> date:
        """First day the model of the week starting `week_start` trains on (its window ends the day before)."""
        if self.window == "expanding":
            return data_start
        return week_start - timedelta(weeks=self.window_weeks)
