"""The scoring service started for real over a pipeline run: errors, parity with the batch predictions, and a
new snapshot and a new champion picked up without a restart or a failed request."""

import threading
import time
from datetime import date, timedelta

import polars as pl
import pytest

from ai_platform.ml import registry
from ai_platform.ml.predictions import predictions_path
from ai_platform.ml.specs import spec
from ai_platform.tools.replay_requests import requests_for
from processes import free_port
from runs import LAKE_UNTIL, copy_of_lake
from serving_process import serving

pytestmark = pytest.mark.heavy  # the session's weeks of pipeline, then the service under load

SPEC = spec("flight_delay")
# Three decided weeks: 2013-02-26 serves from 03-05, 03-05 from 03-12, and the decision of 03-12 from 03-19.
LAST, HELD_OUT, DECISION = LAKE_UNTIL, LAKE_UNTIL + timedelta(days=1), "2013-03-12"


@pytest.fixture(scope="module")
def running(session_lake, tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    with copy_of_lake(session_lake, root) as (_, instance):
        with serving(root / "data", free_port(), root / "serve.log") as client:
            yield client, instance


def wait_for(client, predicate, what: str, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        models = {m["name"]: m for m in client.get("/models").json()}
        if predicate(models[SPEC.name]):
            return models[SPEC.name]
        time.sleep(0.2)
    raise AssertionError(f"the service did not pick up {what} in {seconds} s: {models[SPEC.name]}")


def body(day: date, n: int | None = None) -> tuple[list[str], dict]:
    ids, flights, weather = requests_for(day)
    return ids[:n], {"flights": flights[:n], "weather": weather}


def test_models_and_health_name_the_champion_and_its_features(running):
    client, _ = running
    (model,) = [m for m in client.get("/models").json() if m["name"] == SPEC.name]
    decision = registry.load_decision(SPEC, DECISION)
    assert model["champion_version"] == decision["champion"] and model["decision_week"] == DECISION
    assert model["features_as_of"] == LAST.isoformat() and model["features"] == list(SPEC.features)
    assert client.get("/health").json()["models"][SPEC.name] == decision["champion"]


def test_bad_requests_get_a_4xx_naming_the_field(running):
    client, _ = running
    _, good = body(HELD_OUT, 1)
    assert client.post("/models/no_such_model/predict", json=good).status_code == 404
    assert "no_such_model" in client.post("/models/no_such_model/predict", json=good).json()["detail"]

    def error_loc(flight_change=None, drop=None, **top):
        flight = {**good["flights"][0], **(flight_change or {})}
        if drop:
            del flight[drop]
        r = client.post(f"/models/{SPEC.name}/predict", json={**good, "flights": [flight], **top})
        assert r.status_code == 422, r.text
        return [e["loc"] for e in r.json()["detail"]]

    assert ["body", "flights", 0, "carrier"] in error_loc(drop="carrier")
    assert ["body", "flights", 0, "sched_dep_time"] in error_loc({"sched_dep_time": "soon"})
    assert ["body", "flights", 0, "sched_dep_time"] in error_loc({"sched_dep_time": 2500})
    assert ["body", "flights", 0, "gate"] in error_loc({"gate": "B12"})
    assert ["body", "flights", 0, "flight_date"] in error_loc({"flight_date": LAST.isoformat()})  # its own history
    origin = good["flights"][0]["origin"]
    assert ["body", "weather", origin] in error_loc(weather={})
    assert ["body", "flights"] in error_loc(flights=[])


def test_every_flight_of_a_held_out_day_scores_as_the_batch_predictions(running, tmp_path):
    client, instance = running
    ids, request = body(HELD_OUT)
    batch = client.post(f"/models/{SPEC.name}/predict", json=request)
    assert batch.status_code == 200, batch.text
    singles = [
        client.post(f"/models/{SPEC.name}/predict", json={"flights": [f], "weather": request["weather"]}).json()
        for f in request["flights"][:50]
    ]
    online = dict(zip(ids, batch.json()["scores"], strict=True))

    # Then the batch pipeline scores the same day (and publishes its snapshot, which the service picks up).
    from ai_platform.definitions import defs
    from ai_platform.tools.pipeline import run
    from ai_platform.tools.progress import Reporter

    run(defs, [SPEC], until=HELD_OUT, instance=instance, out=Reporter.quiet())
    offline = pl.read_parquet(predictions_path(SPEC, HELD_OUT))
    assert offline["model_version"][0] == batch.json()["model_version"]
    assert sorted(offline["flight_id"]) == sorted(ids)  # every flight of the day, no more
    diffs = [abs(online[i] - s) for i, s in offline.select("flight_id", "score").iter_rows()]
    assert max(diffs) <= 1e-9, f"{sum(d > 1e-9 for d in diffs)} of {len(diffs)} flights differ, max {max(diffs)}"
    assert [s["scores"][0] for s in singles] == batch.json()["scores"][:50]

    wait_for(client, lambda m: m["features_as_of"] == HELD_OUT.isoformat(), "the new snapshot")
    _, stale = body(HELD_OUT, 1)
    assert client.post(f"/models/{SPEC.name}/predict", json=stale).status_code == 422  # its day is history now


def test_every_feature_computed_online_equals_flight_features_of_the_held_out_day(running):
    """Feature by feature, not only the scores: what the service builds for each flight of the held-out day (from
    the snapshot of the day before) equals flight_features' row of it (built by the batch run just before)."""
    from ai_platform import lake
    from ai_platform.serving import snapshot
    from ai_platform.serving.app import PredictRequest, weather_records
    from ai_platform.serving.features import feature_columns

    ids, request = body(HELD_OUT)
    parsed = PredictRequest(**request)
    batch = pl.read_parquet(lake.features_day_path("flight_features", HELD_OUT))
    not_online = {"flight_id", "flight_date", "route", "history_max_day"}
    names = [c for c in batch.columns if c not in not_online and not c.startswith("label_")]
    text = ["carrier", "tailnum", "origin", "dest"]
    snap = snapshot.load(snapshot.snapshot_path(LAST))
    columns = feature_columns(parsed.flights, weather_records(parsed), snap, names)
    online = pl.DataFrame(
        columns, schema={n: pl.String if n in text else pl.Float64 for n in names}, strict=False
    ).with_columns(flight_id=pl.Series(ids))
    batch = batch.select("flight_id", *[pl.col(c).cast(pl.String if c in text else pl.Float64) for c in names])
    joined = batch.join(online, on="flight_id", suffix="_online")
    assert joined.height == batch.height == online.height
    differing = {}
    for c in names:
        a, b = joined[c], joined[f"{c}_online"]
        same_null = (a.is_null() == b.is_null()).all()
        same = same_null and (
            (a == b).fill_null(True).all() if c in text else ((a - b).abs() <= 1e-9).fill_null(True).all()
        )
        if not same:
            differing[c] = joined.filter(a.ne_missing(b)).select("flight_id", c, f"{c}_online").head(3).rows()
    assert differing == {}


def test_a_champion_swap_under_load_fails_no_request(running):
    client, _ = running
    week = DECISION
    decision = registry.load_decision(SPEC, week)
    current = decision["champion"]
    other = "2013-02-26" if current == "2013-03-05" else "2013-03-05"
    _, request = body(HELD_OUT + timedelta(days=1), 20)
    statuses, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            statuses.append(client.post(f"/models/{SPEC.name}/predict", json=request).status_code)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        time.sleep(1)
        registry.save_decision(SPEC, registry.rollback(week, other, current, "test: swap", {}), run_id="test")
        wait_for(client, lambda m: m["champion_version"] == other, "the new champion")
        time.sleep(1)
    finally:
        stop.set()
        worker.join()
    after = client.post(f"/models/{SPEC.name}/predict", json=request).json()
    assert after["model_version"] == other
    assert statuses and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
