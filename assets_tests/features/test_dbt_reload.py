"""The dbt developer loop under `dagster dev`, on a copy of the dbt project (AI_PLATFORM_DBT_PROJECT_DIR).

A developer edits a model's SQL and YAML, or adds a model, and clicks "Reload definitions"
(GraphQL `reloadRepositoryLocation`): the asset graph shows the change, the new model with its
lineage, and the next run builds it. Runs that change no dbt file do not parse the project again.
"""

import shutil
import time
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from ai_platform import lake, settings
from ai_platform.tools.replay import replay
from dev_server import DagsterDev

pytestmark = pytest.mark.heavy

DAY = date(2013, 1, 1)
TIMEOUT = 600
NEW_MODEL = "flights_per_origin_day"
ENDED = {"SUCCESS", "FAILURE", "CANCELED"}

ASSET_QUERY = """
query Asset($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    __typename
    ... on AssetNode {
      description
      opVersion
      groupName
      kinds
      dependencyKeys { path }
      owners { __typename ... on TeamAssetOwner { team } }
      metadataEntries {
        label
        ... on TableSchemaMetadataEntry { schema { columns { name description } } }
      }
    }
  }
}
"""


def asset(dev: DagsterDev, key: str) -> dict | None:
    node = dev.graphql(ASSET_QUERY, {"path": [key]})["assetNodeOrError"]
    return node if node["__typename"] == "AssetNode" else None


def columns(node: dict) -> dict[str, str | None]:
    (schema,) = [e["schema"] for e in node["metadataEntries"] if e["label"] == "dagster/column_schema"]
    return {c["name"]: c["description"] for c in schema["columns"]}


def model_properties(project: Path, model: str) -> tuple[Path, dict, dict]:
    """The YAML file documenting `model`, its parsed content, and the model's entry in it."""
    for path in sorted((project / "models").rglob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        for entry in doc.get("models") or []:
            if entry["name"] == model:
                return path, doc, entry
    raise LookupError(f"{model} is documented in no YAML file under {project / 'models'}")


def test_edited_and_new_models_show_after_a_reload_and_runs_do_not_parse_dbt_again(
    tmp_path, dagster_home, data_dir, zone
):
    project = tmp_path / "dbt_project"
    shutil.copytree(
        settings.dbt_project_dir(),
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
    )
    manifest = project / "target" / "manifest.json"
    env = {
        settings.DBT_PROJECT_DIR_ENV: str(project),
        settings.DATA_DIR_ENV: str(data_dir),
        settings.LGBM_THREADS_ENV: "1",
    }
    with DagsterDev(dagster_home, env) as dev:
        before = asset(dev, "stg_planes")
        assert before["groupName"] == "features" and asset(dev, NEW_MODEL) is None
        assert "is_widebody" not in columns(before)
        parsed_at_load = manifest.stat().st_mtime_ns

        # Edit a model: a new column in its SQL, its description and the column's in its YAML.
        sql = project / "models" / "staging" / "stg_planes.sql"
        sql.write_text(f"select\n    *,\n    seats >= 200 as is_widebody\nfrom (\n{sql.read_text()}\n) as planes\n")
        path, doc, entry = model_properties(project, "stg_planes")
        entry["description"] = "Plane attributes by tail number, with a wide-body flag."
        entry.setdefault("columns", []).append({"name": "is_widebody", "description": "200 seats or more."})
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        # Add a model reading an existing one.
        (project / "models" / "features" / f"{NEW_MODEL}.sql").write_text(
            "{{ config(materialized='view') }}\n\n"
            "select\n    flight_date,\n    origin,\n    count(*) as scheduled_flights\n"
            "from {{ ref('stg_flights') }}\ngroup by flight_date, origin\n"
        )
        (project / "models" / "features" / f"{NEW_MODEL}.yml").write_text(
            yaml.safe_dump({"version": 2, "models": [{"name": NEW_MODEL, "description": "Scheduled flights per day."}]})
        )

        dev.reload_location()

        edited = asset(dev, "stg_planes")
        assert edited["opVersion"] != before["opVersion"]  # the UI marks the asset's code as changed
        assert edited["description"].startswith("Plane attributes by tail number, with a wide-body flag.")
        assert "seats >= 200 as is_widebody" in edited["description"]  # the SQL the UI shows is the new one
        assert columns(edited)["is_widebody"] == "200 seats or more."
        new = asset(dev, NEW_MODEL)
        assert new is not None, "the new model is not on the asset graph after the reload"
        assert new["dependencyKeys"] == [{"path": ["stg_flights"]}]
        assert new["groupName"] == "features" and {"dbt", "duckdb"} <= set(new["kinds"])
        assert new["owners"] == [{"__typename": "TeamAssetOwner", "team": "analytics-engineering"}]
        assert new["description"].startswith("Scheduled flights per day.")
        parsed_at_reload = manifest.stat().st_mtime_ns
        assert parsed_at_reload > parsed_at_load  # the reload parsed the changed project

        # A landing sensor tick plans with the definitions it started with, and it watches the zone for seconds: the
        # day lands once a tick that started after the reload has ended, so the next one plans with the new model.
        reloaded_at = time.time()
        dev.wait_for(
            lambda: any(t["timestamp"] > reloaded_at and t["endTimestamp"] for t in dev.sensor_ticks("landing_zone")),
            TIMEOUT,
            what="a landing sensor tick of the reloaded definitions",
        )
        # A day lands: the landing sensor's run builds every model, the new one included, with no dbt file changed.
        replay(zone, DAY, DAY)
        dev.wait_for(
            lambda: DAY.isoformat() in dev.materialized_partitions([NEW_MODEL]), TIMEOUT, what="the new model's day"
        )
        assert DAY.isoformat() in dev.materialized_partitions(["stg_planes"])
        dev.wait_for(  # the warehouse is read below: its dbt build must be over, not stopped with dagster dev
            lambda: all(r["status"] in ENDED for r in dev.runs()), TIMEOUT, what="the day's runs to end"
        )
        assert manifest.stat().st_mtime_ns == parsed_at_reload  # the run's processes loaded the manifest as it was

    # What the run built is the edited SQL and the new model.
    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as con:
        widebody_sql = "select count(*) filter (where is_widebody), count(*) from stg_planes"
        ((widebody, planes),) = con.sql(widebody_sql).fetchall()
        per_origin = dict(
            con.sql(f"select origin, scheduled_flights from {NEW_MODEL} where flight_date = ?", params=[DAY]).fetchall()
        )
    assert 0 < widebody < planes
    assert set(per_origin) == {"EWR", "JFK", "LGA"}
    assert sum(per_origin.values()) == pl.read_parquet(lake.raw_day_path("flights", DAY)).height
