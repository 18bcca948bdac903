"""The fixes of library bugs the platform applies (ai_platform/upstream_fixes.py) restore the behaviour users need."""

import dagster as dg
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext

import ai_platform.definitions  # noqa: F401  (the code location applies the fixes when it loads)
from ai_platform.features.assets import DUCKDB_POOL


def test_a_step_blocked_on_a_pool_slot_sleeps_until_its_next_claim_instead_of_spinning(instance):
    storage = instance.event_log_storage
    storage.set_concurrency_slots(DUCKDB_POOL, 1)
    assert storage.claim_concurrency_slot(DUCKDB_POOL, "the-run-holding-the-slot", "flights_dbt").is_claimed
    run = instance.create_run_for_job(dg.GraphDefinition(name="waiting").to_job())

    with InstanceConcurrencyContext(instance, run) as concurrency:
        assert not concurrency.claim(DUCKDB_POOL, "flights_dbt")
        # The executor's loop sleeps this long before it asks again (Dagster's claim back-off starts at 1 s);
        # unpatched, it is never above 0 and the loop spins.
        assert 0.5 < concurrency.interval_to_next_pending_claim_check() <= 15
