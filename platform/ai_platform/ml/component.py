"""A model in the code location: its spec, loaded from `ai_platform/defs/<name>/defs.yaml`
(`type: ai_platform.ml.component.ModelComponent`, the spec's fields under `attributes:`), wired into its assets,
checks, jobs and breach sensor. The one place a model is wired: a new model needs a YAML file, no Python."""

import dagster as dg

from ai_platform.automation.breach_retrain import build_breach_retrain_sensor
from ai_platform.features.manifest import manifest
from ai_platform.jobs import model_jobs
from ai_platform.ml import keys
from ai_platform.ml.assets import build_history_report_asset, build_model_assets
from ai_platform.ml.champion import build_champion_asset
from ai_platform.ml.offcycle import build_offcycle_assets
from ai_platform.ml.predictions import build_predictions_asset
from ai_platform.ml.spec import ModelSpec
from ai_platform.monitoring.assets import build_monitoring_assets
from ai_platform.partitions import weekly


def model_assets(spec: ModelSpec) -> list[dg.AssetsDefinition]:
    """Every asset of a model: the weekly model and its evaluation, the champion decision, the daily predictions
    and monitoring, the off-cycle versions a breach brings, and the model history report."""
    weeks = weekly(spec.window_weeks)
    model, evaluation = build_model_assets(spec)
    champion = build_champion_asset(spec, weeks, model.key, evaluation.key)
    predictions = build_predictions_asset(spec, weeks, champion.key)
    monitoring = build_monitoring_assets(spec, weeks, champion.key, predictions.key)
    offcycle = build_offcycle_assets(spec)
    report = build_history_report_asset(spec, evaluation.key, champion.key, monitoring[0].key, offcycle[-1].key)
    return [model, evaluation, champion, predictions, *monitoring, *offcycle, report]


class ModelComponent(dg.Component, ModelSpec, dg.Resolvable):
    """A model spec as a Dagster component: its definitions, every asset owned by the spec's owners."""

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        try:
            self.check_columns(manifest())
        except ValueError as e:
            raise ValueError(f"{context.path / 'defs.yaml'}: {e}") from None
        defs = dg.Definitions(
            assets=model_assets(self),
            jobs=model_jobs(self),
            sensors=[build_breach_retrain_sensor(self, keys.offcycle_job(self.name))],
        )
        return defs.map_asset_specs(func=lambda spec: spec.replace_attributes(owners=list(self.owners)))
