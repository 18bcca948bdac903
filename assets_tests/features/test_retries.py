"""Transient errors are retried with back-off; DuckDB's file lock held by another process is one."""

import threading
from datetime import date

import dagster as dg
import duckdb

from ai_platform import lake, settings
from ai_platform.replay import replay
from runs import materialize_days, materialize_reference

DAY = date(2013, 1, 2)


def test_the_dbt_step_waits_out_a_warehouse_lock_held_by_another_process(zone, data_dir, instance):
    replay(zone, date(2013, 1, 1), DAY)
    materialize_reference(instance)
    settings.warehouse_path().parent.mkdir(parents=True, exist_ok=True)
    holder = duckdb.connect(str(settings.warehouse_path()))  # the test process holds the single-writer lock
    retried = threading.Event()

    def release_after_first_retry():
        while not retried.wait(0.2):
            for run in instance.get_runs():
                if instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY):
                    retried.set()
        holder.close()

    releaser = threading.Thread(target=release_after_first_retry, daemon=True)
    releaser.start()
    result = materialize_days(instance, DAY, DAY)
    retried.set()
    releaser.join(timeout=30)

    assert result.success
    (retry,) = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert "Could not set lock on file" in str(retry.event_specific_data.error)
    assert lake.features_day_path("flight_features", DAY).exists()
