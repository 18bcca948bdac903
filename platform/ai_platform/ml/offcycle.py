"""Off-cycle model versions: a drift or realized-quality breach on day D (see
`automation.breach_retrain`) adds the partition `offcycle-<D>` to these assets. Its model is trained on the
days up to D (the spec's window ending on D), evaluated on the `breach_eval_days` days after D, which it never
saw, and goes through the same champion gate against the champion serving those days. The decision is recorded
in the registry (decisions/offcycle-<D>.json, the audit log, the history report); a promoted version serves
from the day after its evaluation days until a later decision replaces it.
"""

from datetime import date, timedelta

import dagster as dg

from ai_platform.ml import keys, registry, versions
from ai_platform.ml.champion import challenger, scored_on_days
from ai_platform.ml.predictions import serving_version
from ai_platform.ml.spec import ModelSpec
from ai_platform.partitions import START_DATE, days, parse_day, weekly

GROUP = "ml"


def partitions(spec: ModelSpec) -> dg.DynamicPartitionsDefinition:
    return dg.DynamicPartitionsDefinition(name=f"{spec.name}_offcycle")


def version_name(day: date) -> str:
    return f"{registry.OFFCYCLE}{day.isoformat()}"


def breach_day(version: str) -> date:
    if not version.startswith(registry.OFFCYCLE):
        raise ValueError(f"{version!r} is not an off-cycle version ({registry.OFFCYCLE}<YYYY-MM-DD>)")
    return parse_day(version.removeprefix(registry.OFFCYCLE))


def training_days(spec: ModelSpec, day: date) -> list[date]:
    """The spec's training window ending on the breach day, included."""
    return days(spec.training_start(day + timedelta(days=1), START_DATE), day + timedelta(days=1))


def evaluation_days(spec: ModelSpec, day: date) -> list[date]:
    return days(day + timedelta(days=1), day + timedelta(days=1 + spec.breach_eval_days))


def build_offcycle_assets(spec: ModelSpec) -> list[dg.AssetsDefinition]:
    offcycle = partitions(spec)
    model_key, evaluation_key, champion_key = keys.offcycle_assets(spec.name)
    features = dg.AssetDep(spec.features_model, partition_mapping=dg.AllPartitionMapping())
    weeks = weekly(spec.window_weeks)

    @dg.asset(
        key=model_key,
        partitions_def=offcycle,
        deps=[features],
        group_name=GROUP,
        kinds={"lightgbm", "python"},
        description=f"An off-cycle {spec.name} model after a breach on day D (partition offcycle-<D>): trained on "
        "the spec's window ending on D.",
        check_specs=versions.model_checks(model_key),
    )
    def offcycle_model(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        version = context.partition_key
        return versions.train_version(spec, version, training_days(spec, breach_day(version)))

    @dg.asset(
        key=evaluation_key,
        partitions_def=offcycle,
        deps=[model_key, features],
        group_name=GROUP,
        kinds={"lightgbm", "html"},
        description=f"The off-cycle model scored on the {spec.breach_eval_days} days after its breach day, "
        "which it never saw.",
        check_specs=versions.evaluation_checks(spec, evaluation_key),
    )
    def offcycle_evaluation(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        version = context.partition_key
        return versions.evaluate_version(spec, version, evaluation_days(spec, breach_day(version)))

    @dg.asset(
        key=champion_key,
        partitions_def=offcycle,
        deps=[model_key, evaluation_key],
        group_name=GROUP,
        kinds={"python"},
        description="The promotion decision of the off-cycle version: the weekly gate, against the champion "
        "serving its evaluation days, on those days. It takes effect the day after them.",
    )
    def offcycle_champion(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        version = context.partition_key
        eval_days = evaluation_days(spec, breach_day(version))
        _, serving = serving_version(spec, weeks, eval_days[0])
        incumbent = scored_on_days(spec, serving, eval_days) if serving else None
        effective = eval_days[-1] + timedelta(days=1)
        decision = registry.decide(spec, version, challenger(spec, version), incumbent, effective)
        registry.save_decision(spec, decision, context.run.run_id)
        return versions.decision_result(decision)

    return [offcycle_model, offcycle_evaluation, offcycle_champion]
