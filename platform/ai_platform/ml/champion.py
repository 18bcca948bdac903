"""ml/<spec>/champion: the weekly promotion decision, and rollbacks by config (see `registry`)."""

from datetime import timedelta

import dagster as dg
import pydantic

from ai_platform.automation.policies import eager_condition
from ai_platform.ml import evaluation, keys, registry, training, versions
from ai_platform.ml.spec import ModelSpec
from ai_platform.partitions import days, parse_day


class ChampionConfig(dg.Config):
    rollback_to: str | None = pydantic.Field(
        default=None,
        description="Serve this model version (a week, e.g. 2013-03-05) from this decision on, whatever the gate "
        "says. It must be this week's model or an earlier one. Recorded in the audit log and kept on re-runs.",
    )
    reason: str = pydantic.Field(default="", description="Why (required with rollback_to; goes to the audit log).")


def scored_on_week(spec: ModelSpec, version: str, week: str) -> registry.Candidate:
    """Model `version` scored on the days of `week` (the challenger's own, unseen by both)."""
    start = parse_day(week)
    return scored_on_days(spec, version, days(start, start + timedelta(days=spec.eval_days)))


def scored_on_days(spec: ModelSpec, version: str, eval_days: list) -> registry.Candidate:
    """Model `version` scored on `eval_days`."""
    df, _ = training.load_days(spec, eval_days)
    test = training.labelled(spec, df)
    card = training.load_card(spec, version)
    booster = training.load_model(training.model_dir(spec, version) / "model.txt")
    m = evaluation.binary_metrics(
        test[spec.label].to_numpy(), training.predict(booster, spec, test, card["categorical_vocabulary"])
    )
    return registry.Candidate(version, m["roc_auc"], m["log_loss"], m["ece"], card["features"] == list(spec.features))


def challenger(spec: ModelSpec, week: str) -> registry.Candidate:
    """The version `week` (a week or an off-cycle version) as evaluated on its own unseen days."""
    m = evaluation.load_metrics(spec.name, week)
    card = training.load_card(spec, week)
    return registry.Candidate(week, m["roc_auc"], m["log_loss"], m["ece"], card["features"] == list(spec.features))


def _history_table(decisions: list[dict], last: int = 12) -> str:
    rows = [
        f"| {d['week']} | {d['action']} | {d['champion'] or '-'} | {d['effective_from']} | {d['reason']} |"
        for d in decisions[-last:]
    ]
    return "| week | action | champion | serves from | reason |\n|---|---|---|---|---|\n" + "\n".join(rows)


def build_champion_asset(
    spec: ModelSpec, weeks: dg.WeeklyPartitionsDefinition, model_key: dg.AssetKey, evaluation_key: dg.AssetKey
) -> dg.AssetsDefinition:
    key = keys.champion(spec.name)

    @dg.asset(
        key=key,
        partitions_def=weeks,
        deps=[
            model_key,
            evaluation_key,
            dg.AssetDep(
                key,
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
                ),
            ),
        ],
        group_name="ml",
        kinds={"python"},
        automation_condition=eager_condition(),
        description=(
            "Which model version serves, decided each week: the week's new model (challenger) replaces the "
            "champion only if, on the challenger's own unseen week, its AUC is higher by at least "
            f"{spec.promote_min_auc_gain} and its log loss not worse by more than {spec.promote_max_logloss_increase}, "
            f"with AUC >= {spec.auc_floor}, calibration error <= {spec.ece_ceiling} and the spec's features. "
            "The decision serves from the week after. Rollback: materialize a week with config `rollback_to`."
        ),
    )
    def champion(context: dg.AssetExecutionContext, config: ChampionConfig) -> dg.MaterializeResult:
        if config.rollback_to and len(context.partition_keys) > 1:
            raise dg.Failure("rollback_to applies to one decision: materialize a single week with it")
        # Each decision compares with the champion the previous one left: a range is decided in order.
        return versions.each_partition(context, lambda week: decide(week, config, context.run.run_id))

    def decide(week: str, config: ChampionConfig, run_id: str) -> dg.MaterializeResult:
        all_weeks = weeks.get_partition_keys()
        earlier = all_weeks[: all_weeks.index(week)]
        # The champion this decision replaces: the earlier week's, or an off-cycle one taking effect by then.
        prior = registry.decision_week_for(registry.effective_from(week), earlier, registry.offcycle_decisions(spec))
        previous = registry.load_decision(spec, prior)["champion"] if prior else None
        asked = (
            {"to": config.rollback_to, "reason": config.reason}
            if config.rollback_to
            else registry.rollbacks(spec).get(week)
        )
        if asked:
            if asked["to"] not in [*earlier, week]:
                raise dg.Failure(f"rollback_to {asked['to']!r}: not a model version up to {week} (versions are weeks)")
            if not asked["reason"].strip():
                raise dg.Failure("a rollback needs a reason (config `reason`), for the audit log")
            target = scored_on_week(spec, asked["to"], week)
            if not target.features_match:
                raise dg.Failure(f"model {asked['to']} cannot serve: its features differ from the spec's")
            if config.rollback_to:
                registry.record_rollback(spec, week, asked["to"], asked["reason"])
            decision = registry.rollback(
                week, asked["to"], previous, asked["reason"], {"rolled_back_to": target.__dict__}
            )
        else:
            incumbent = scored_on_week(spec, previous, week) if previous else None
            decision = registry.decide(spec, week, challenger(spec, week), incumbent)
        registry.save_decision(spec, decision, run_id)
        return versions.decision_result(
            decision,
            history=dg.MetadataValue.md(_history_table(registry.history(spec))),
            history_file=dg.MetadataValue.path(str(registry.registry_dir(spec) / "champion_history.json")),
        )

    return champion
