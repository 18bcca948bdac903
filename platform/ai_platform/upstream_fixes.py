"""Fixes of bugs in the libraries we pin, applied by the code location (definitions.py) in every process that
loads it: the webserver's and daemon's code servers, each run worker, `make run`. Each names the version it was
found in; assets_tests/test_upstream_fixes.py shows the behaviour it restores. Remove one once its library's
fixed release is pinned."""

import time

from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext


def _seconds_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    # Dagster 1.13.27 (and 1.13.29) returns min(0, ...) here, never a positive wait, so the executor's loop never
    # sleeps while a step waits for a pool slot: each run blocked on the `duckdb` pool spun a whole core (measured:
    # 11-20 CPU-seconds in each of three one-day runs queued behind a fourth), slowing the run that holds the slot.
    if not self._pending_claims:
        return 0.0
    return max(0.0, min((ready - time.time() for ready in self._pending_timeouts.values()), default=0.0))


def apply() -> None:
    InstanceConcurrencyContext.interval_to_next_pending_claim_check = _seconds_to_next_pending_claim_check
