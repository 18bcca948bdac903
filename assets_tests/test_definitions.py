"""What the asset graph tells a user about every asset and check: what it is, who owns it, what it is made of."""

import json
import os
import subprocess
import sys

import dagster as dg

from ai_platform import settings
from ai_platform.definitions import defs

GROUPS = {"raw", "features", "serving", "ml", "monitoring"}


def test_every_asset_has_a_description_owners_a_group_and_kinds():
    graph = defs.resolve_asset_graph()
    gaps = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        missing = [
            name
            for name, present in (
                ("description", bool(node.description)),
                ("owners", bool(node.owners)),
                ("group", node.group_name in GROUPS),
                ("kinds", bool(node.kinds)),
            )
            if not present
        ]
        if missing:
            gaps[key.to_user_string()] = missing
    assert gaps == {}


def test_every_asset_check_has_a_description():
    graph = defs.resolve_asset_graph()
    undescribed = sorted(str(k) for k in graph.asset_check_keys if not graph.get_check_spec(k).description)
    assert undescribed == []


def test_raw_and_dbt_assets_show_their_team_and_technology():
    graph = defs.resolve_asset_graph()
    raw, staging, features = (
        graph.get(dg.AssetKey.from_user_string(k)) for k in ("raw/flights", "stg_planes", "flight_features")
    )
    assert raw.owners == ["team:data-engineering"] and raw.kinds == {"polars", "parquet"}
    assert staging.owners == features.owners == ["team:analytics-engineering"]
    assert staging.kinds == {"dbt", "duckdb"}
    assert features.kinds == {"dbt", "duckdb", "parquet"}  # exported to the lake


def test_dbt_tests_are_described_in_words_from_their_arguments_or_yaml():
    graph = defs.resolve_asset_graph()

    def description(asset: str, check: str) -> str:
        return graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey(asset), check)).description

    assert description("flight_features", "unique_flight_features_flight_id") == "No two rows share a `flight_id`."
    assert description("stg_flights", "accepted_values_stg_flights_origin__EWR__JFK__LGA") == (
        "`origin` is one of EWR, JFK, LGA."
    )
    assert description("flight_features", "value_between_flight_features_distance__6000__1") == (
        "`distance` lies between 1 and 6000 (nulls aside)."
    )
    assert description("flight_features", "assert_history_strictly_before_flight_day").startswith("Leakage guard:")


def test_raw_assets_show_s3_when_the_landing_zone_is_on_s3():
    """The kinds are part of the definitions: a fresh code location with an S3 landing zone (no server needed)."""
    probe = (
        "import json; from ai_platform.definitions import defs; import dagster as dg; "
        "g = defs.resolve_asset_graph(); "
        "print(json.dumps(sorted(g.get(dg.AssetKey(['raw', 'flights'])).kinds)))"
    )
    env = {**os.environ, settings.LANDING_URI_ENV: "s3://landing-bucket/zone", "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-4000:]
    assert json.loads(out.stdout.splitlines()[-1]) == ["parquet", "polars", "s3"]
