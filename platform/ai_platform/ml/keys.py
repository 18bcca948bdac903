"""A model's names in Dagster, all derived from its spec's name: its asset keys (`ml/<name>/...` and
`monitoring/<name>/...`) and its jobs; and the lag from a weekly decision to the days it serves. One place, so that
the asset graph, the jobs, `make run`, the sensors and the benches agree."""

from datetime import timedelta

import dagster as dg

DECISION_LAG = timedelta(days=7)  # the challenger's week must be over before it can be judged


def model(name: str) -> dg.AssetKey:
    return dg.AssetKey(["ml", name, "model"])


def evaluation(name: str) -> dg.AssetKey:
    return dg.AssetKey(["ml", name, "evaluation"])


def champion(name: str) -> dg.AssetKey:
    return dg.AssetKey(["ml", name, "champion"])


def predictions(name: str) -> dg.AssetKey:
    return dg.AssetKey(["ml", name, "predictions"])


def history_report(name: str) -> dg.AssetKey:
    return dg.AssetKey(["ml", name, "history_report"])


def offcycle(name: str, part: str) -> dg.AssetKey:
    """An off-cycle version's `model`, `evaluation` or `champion` asset."""
    return dg.AssetKey(["ml", name, f"offcycle_{part}"])


def offcycle_assets(name: str) -> list[dg.AssetKey]:
    """The off-cycle versions' model, evaluation and champion assets, in that order."""
    return [offcycle(name, part) for part in ("model", "evaluation", "champion")]


def feature_drift(name: str) -> dg.AssetKey:
    return dg.AssetKey(["monitoring", name, "feature_drift"])


def realized_quality(name: str) -> dg.AssetKey:
    return dg.AssetKey(["monitoring", name, "realized_quality"])


def train_job(name: str) -> str:
    return f"train_and_evaluate_{name}"


def serve_job(name: str) -> str:
    return f"predict_and_monitor_{name}"


def offcycle_job(name: str) -> str:
    return f"offcycle_{name}"


def history_job(name: str) -> str:
    return f"model_history_{name}"


def serving_dep(champion_key: dg.AssetKey) -> dg.AssetDep:
    """A day's dependency on the champion decision in effect that day: the one of the week containing the day
    DECISION_LAG before it."""
    lag = -DECISION_LAG.days
    return dg.AssetDep(
        champion_key,
        partition_mapping=dg.TimeWindowPartitionMapping(
            start_offset=lag, end_offset=lag, allow_nonexistent_upstream_partitions=True
        ),
    )
