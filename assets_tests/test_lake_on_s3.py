"""The lake, models, reports, registry and monitoring on S3 (AI_PLATFORM_LAKE_URI) on a real S3 server (SeaweedFS):
`make run`'s graph gives the same predictions and models as on local files, and writes none of them locally."""

from datetime import date
from pathlib import Path

import pytest

from ai_platform import settings
from ai_platform.files import sha256
from runs import LAKE_UNTIL, make_run_until

BUCKET = "lake-on-s3"
PREFIX = "platform"
# Past the first weekly model of flight_delay (8 weeks of training, its own week of evaluation) and days of its
# predictions (from 2013-03-05): every layer of the graph has run on S3.
UNTIL = date(2013, 3, 10)
assert UNTIL <= LAKE_UNTIL  # compared with the session's local lake


def _s3_files(client, under: str) -> dict[str, bytes]:
    """Objects under PREFIX/`under`, by their key below it."""
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/{under}/"):
        for obj in page.get("Contents", []):
            key = obj["Key"].removeprefix(f"{PREFIX}/{under}/")
            out[key] = client.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
    return out


def _local_files(folder: Path, pattern: str) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.glob(pattern)}


def _day(key: str) -> date:
    return date.fromisoformat(key.split("/")[0].removeprefix("date="))


@pytest.mark.heavy
def test_the_graph_on_an_s3_lake_gives_the_predictions_and_models_of_a_local_one(
    tmp_path, s3_server, session_lake, monkeypatch
):
    client = s3_server.client()
    client.create_bucket(Bucket=BUCKET)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(settings.LAKE_URI_ENV, f"s3://{BUCKET}/{PREFIX}")

    with make_run_until(tmp_path, UNTIL, ["flight_delay"]) as (summary, _):
        assert summary["champions"]["flight_delay"]["decisions"] >= 1

    predictions = {
        k: sha256(v)
        for k, v in _s3_files(client, "lake/predictions/flight_delay").items()
        if k.endswith("/data.parquet")
    }
    local = session_lake / "data" / "lake" / "predictions" / "flight_delay"
    expected = {k: sha256(v) for k, v in _local_files(local, "*/data.parquet").items() if _day(k) <= UNTIL}
    assert len(expected) >= 5
    assert predictions == expected

    models = {k: sha256(v) for k, v in _s3_files(client, "models/flight_delay").items() if k.endswith("model.txt")}
    local_models = session_lake / "data" / "models" / "flight_delay"
    assert (
        models
        and models.items() <= {k: sha256(v) for k, v in _local_files(local_models, "*/model.txt").items()}.items()
    )
    for shared in (
        "lake/raw/flights",
        "lake/features/flight_features",
        "registry/flight_delay",
        "reports/flight_delay",
    ):
        assert _s3_files(client, shared), f"nothing under s3://{BUCKET}/{PREFIX}/{shared}"

    # Only what stays per machine is local: the landing zone, the DuckDB warehouse and dbt's state.
    data = tmp_path / "data"
    assert sorted(p.name for p in data.iterdir() if p.is_dir()) == ["landing", "warehouse"]
