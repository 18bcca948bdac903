"""What defines a model: its features table, label, features, window, LightGBM parameters and thresholds.

A plain, validated description: `ml.component.ModelComponent` loads one from each model's YAML file and wires it
into the code location; everything else (training, scoring, monitoring, `make run`) reads it.
"""

from collections.abc import Mapping
from datetime import date, timedelta
from difflib import get_close_matches
from typing import Any, Literal

import dagster as dg
import pydantic

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
    # 63 bins instead of LightGBM's 255: histograms cost a quarter, and out-of-time AUC did not move.
    "max_bin": 63,
    "verbosity": -1,
}


class ModelSpec(dg.Model):
    """A LightGBM binary classifier trained weekly on a dbt features model, with its evaluation, champion,
    daily predictions and monitoring."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    name: str  # asset keys are ml/<name>/... and monitoring/<name>/...
    features_model: str  # the dbt model (exported to the lake per day) that holds features and label
    label: str  # a 0/1 column of features_model; rows where it is null are not labelled
    features: tuple[str, ...]
    categorical: tuple[str, ...] = ()
    baseline: str | None = None  # a feature used as a score to beat (e.g. a historical delay rate)
    description: str = ""
    owners: tuple[str, ...] = ()  # of every asset of the spec, e.g. team:ml or someone@example.com
    # Training window: the `window_weeks` weeks before the model's week ("trailing"), or every day
    # since the data's start ("expanding"; then window_weeks is the history the first model needs), at
    # most `max_window_weeks` weeks (so that training time and memory stop growing with years of history).
    window: Literal["trailing", "expanding"] = "trailing"
    window_weeks: int = pydantic.Field(8, ge=1)
    max_window_weeks: int | None = pydantic.Field(None, ge=1)
    early_stopping_days: int = pydantic.Field(7, ge=1)  # the window's last days, held out to pick the rounds
    # Then train again on the whole window, those days included, for the rounds picked: twice the training time,
    # which paid on an 8-week window (its last week is an eighth of it) and not on a year's.
    refit: bool = True
    eval_days: int = pydantic.Field(7, ge=1, le=7)  # the model's own week, never seen in training
    max_rounds: int = pydantic.Field(1000, ge=1)
    early_stopping_rounds: int = pydantic.Field(50, ge=1)
    seed: int = 42
    params: dict[str, Any] = pydantic.Field(default_factory=dict, validate_default=True)  # over DEFAULT_PARAMS
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
    # A drift or realized-quality breach on day D trains an off-cycle version on the days up to D, evaluated on
    # the `breach_eval_days` days after D (unseen) through the same gate; if promoted it serves from then on.
    breach_eval_days: int = pydantic.Field(3, ge=1, le=7)

    @pydantic.field_validator("params")
    @classmethod
    def _over_defaults(cls, params: dict[str, Any]) -> dict[str, Any]:
        return {**DEFAULT_PARAMS, **params}

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> "ModelSpec":
        problems = []
        if missing := sorted(set(self.categorical) - set(self.features)):
            problems.append(f"categorical features not in features: {missing}")
        if self.label in self.features:
            problems.append(f"the label {self.label!r} cannot be a feature")
        if repeated := sorted({f for f in self.features if self.features.count(f) > 1}):
            problems.append(f"features listed twice: {repeated}")
        if self.max_window_weeks is not None and (
            self.window != "expanding" or self.max_window_weeks < self.window_weeks
        ):
            problems.append("max_window_weeks caps an expanding window and must be at least window_weeks")
        if self.early_stopping_days >= self.window_weeks * 7:
            problems.append(f"early_stopping_days ({self.early_stopping_days}) must be shorter than the window")
        if self.params["objective"] != "binary":
            problems.append(f"params.objective must be 'binary' (the evaluation's), not {self.params['objective']!r}")
        if problems:
            raise ValueError(f"spec {self.name}: " + "; ".join(problems))
        return self

    def training_start(self, week_start: date, data_start: date) -> date:
        """First day the model of the week starting `week_start` trains on (its window ends the day before)."""
        if self.window == "expanding":
            if self.max_window_weeks is None:
                return data_start
            return max(data_start, week_start - timedelta(weeks=self.max_window_weeks))
        return week_start - timedelta(weeks=self.window_weeks)

    def check_columns(self, manifest: Mapping[str, Any]) -> None:
        """Raise if the features model is not a lake-exported dbt model declaring every column the spec uses."""
        nodes = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
        node = nodes.get(self.features_model)
        if node is None:
            raise ValueError(
                f"spec {self.name}: features_model {self.features_model!r} is not a dbt model "
                f"(models: {sorted(nodes)}); add it under dbt_project/models/"
            )
        if node["config"].get("meta", {}).get("lake_export") != "daily":
            raise ValueError(
                f"spec {self.name}: dbt model {self.features_model} is not exported to the lake: give it "
                "meta={'lake_export': 'daily', 'partition_column': ..., 'lookback_days': ...} in its config()"
            )
        columns = set(node["columns"])
        used = [("label", self.label), *(("feature", f) for f in self.features)]
        used += [("baseline", self.baseline)] if self.baseline else []
        unknown = [
            f"{role} {column!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            for role, column in used
            if column not in columns
            for close in [get_close_matches(column, columns, n=1)]
        ]
        if unknown:
            raise ValueError(
                f"spec {self.name}: not a column of dbt model {self.features_model} "
                f"(its columns in the dbt YAML): {', '.join(unknown)}"
            )
