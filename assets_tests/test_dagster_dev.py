"""Under `dagster dev` (webserver + daemon), days dropped into the landing zone flow through with no clicks.

A corrupt day gives a failed run and an alert line while the next day still flows, and an asset left
without new data turns stale and raises a freshness alert. Everything is observed the way a user
would: through the webserver's GraphQL API and the alerts file.
"""

import json
from datetime import date

import polars as pl
import pytest

from ai_platform.landing import LocalZone, day_name
from ai_platform.tools.replay import replay
from dev_server import DagsterDev

pytestmark = pytest.mark.heavy

D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)
TIMEOUT = 600
SENSORS = ("landing_zone", "retraining", "alert_on_run_failure", "alert_on_failed_check", "alert_on_stale_asset")


def day_flow_policies() -> set[str]:
    """The assets a landed day refreshes (the landing job's selection, resolved on the loaded Definitions' asset
    graph) that carry a freshness policy: every one of them is materialized by the days and left without new
    data once the last day has flowed, so every one must turn stale and alert."""
    from ai_platform.definitions import defs
    from ai_platform.jobs import landing_job
    from ai_platform.ml.specs import specs

    graph = defs.resolve_asset_graph()
    return {k.to_user_string() for k in landing_job(specs()).selection.resolve(graph) if graph.get(k).freshness_policy}


def alert_lines(home) -> list[dict]:
    path = home / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def stale_assets(home) -> set[str]:
    return {a["asset"] for a in alert_lines(home) if a["kind"] == "freshness"}


def test_days_flow_a_corrupt_day_alerts_and_stale_assets_alert(tmp_path, dagster_home):
    home, data = dagster_home, tmp_path / "data"
    zone = LocalZone(data / "landing")
    env = {
        "AI_PLATFORM_DATA_DIR": str(data),
        "AI_PLATFORM_DAY_SECONDS": "20",  # live mode, one day every 20 s: daily assets fail freshness after 1 min
        "FRESHNESS_DAEMON_INTERVAL_SECONDS": "5",
        "AI_PLATFORM_LGBM_THREADS": "1",
    }
    with DagsterDev(home, env) as dev:
        assert {name: dev.sensor_status(name) for name in SENSORS} == dict.fromkeys(SENSORS, "RUNNING")
        replay(zone, D1, D1)
        dev.wait_for(
            lambda: "2013-01-01" in dev.materialized_partitions(["flight_features"]), TIMEOUT, what="day 1 features"
        )
        assert "2013-01-01" in dev.materialized_partitions(["raw", "weather"])

        replay(zone, D2, D2, with_reference=False)
        flights = zone.path(day_name("flights", D2))
        flights.write_text(pl.read_csv(flights, infer_schema=False).with_columns(dep_delay=pl.lit("late")).write_csv())
        failed = dev.wait_for(
            lambda: [
                r for r in dev.runs() if r["status"] == "FAILURE" and r["tags"].get("dagster/partition") == "2013-01-02"
            ],
            TIMEOUT,
            what="the failed run of the corrupt day",
        )
        alert = dev.wait_for(
            lambda: [a for a in alert_lines(home) if a["kind"] == "run_failure"], TIMEOUT, what="a run failure alert"
        )[0]
        assert alert["partition"] == "2013-01-02" and alert["run_id"] == failed[0]["runId"]
        assert "flights/2013-01-02.csv: column 'dep_delay' expects" in alert["reason"]
        assert alert["url"].endswith(f"/runs/{failed[0]['runId']}")

        replay(zone, D3, D3, with_reference=False)
        dev.wait_for(
            lambda: "2013-01-03" in dev.materialized_partitions(["flight_features"]), TIMEOUT, what="day 3 features"
        )
        assert "2013-01-02" not in dev.materialized_partitions(["raw", "flights"])
        missing = dev.wait_for(
            lambda: [
                a for a in alert_lines(home) if a["kind"] == "check_failed" and "latest_day_arrived" in a["summary"]
            ],
            TIMEOUT,
            what="the latest_day_arrived alert naming the missing day",
        )
        assert "2013-01-02" in missing[0]["reason"]

        expected = day_flow_policies()
        dev.wait_for(
            lambda: expected <= stale_assets(home), TIMEOUT, what=f"a freshness alert for each of {sorted(expected)}"
        )
        assert stale_assets(home) == expected  # nothing else: after three days no weekly model has a partition
