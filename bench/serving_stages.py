"""Where a scoring request's time goes, in-process: each stage of POST /models/{spec}/predict timed alone, and the
whole request through the app (FastAPI's routing and validation included) called as ASGI, without HTTP or client.

Less sensitive to a loaded machine than bench/serving.py's round trips (no client, no socket, no second
process), so it is the figure to compare changes by. The requests are bench/serving.py's (one flight of 2013-03-12
with its origin's 48 hourly weather records; 1,000 flights), over the data directory it builds (run it first).
Prints median and p99 per stage in microseconds. Usage: `.venv/bin/python bench/serving_stages.py [--work DIR]
[--single 2000] [--batches 50]`.
"""

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = "flight_delay"
DAY, NEXT = date(2013, 3, 12), date(2013, 3, 13)


def timed(fn, inputs: list, n: int) -> list[float]:
    out = []
    for i in range(n):
        x = inputs[i % len(inputs)]
        t = time.perf_counter()
        fn(x)
        out.append(time.perf_counter() - t)
    return out


def asgi_post(app, path: str):
    """A function that sends a body to the ASGI app as one POST request and returns the response's status."""

    async def call(raw: bytes) -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        messages = [{"type": "http.request", "body": raw, "more_body": False}]
        status = []

        async def receive():
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0]

    loop = asyncio.new_event_loop()

    def post(raw: bytes) -> int:
        status = loop.run_until_complete(call(raw))
        assert status == 200, status
        return status

    return post


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "data" / "bench" / "serving")
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()
    os.environ["AI_PLATFORM_DATA_DIR"] = str(args.work / "data")

    from ai_platform.ml import training
    from ai_platform.ml.specs import specs
    from ai_platform.serving.app import PredictRequest, create_app, weather_records
    from ai_platform.serving.features import feature_columns
    from ai_platform.serving.state import Holder
    from ai_platform.tools.replay_requests import requests_for

    _, flights, weather = requests_for(DAY)
    _, next_flights, next_weather = requests_for(NEXT)
    singles = [{"flights": [f], "weather": {f["origin"]: weather[f["origin"]]}} for f in flights]
    records = {o: list({(r["date"], r["hour"]): r for r in weather[o] + next_weather[o]}.values()) for o in weather}
    batch = {"flights": (flights + next_flights)[:1000], "weather": records}

    holder = Holder(specs())  # the state the service would load; its watcher is not started
    state = holder.current
    served = state.models[SPEC]
    post = asgi_post(create_app(holder), f"/models/{SPEC}/predict")

    def stages(bodies: list[dict], n: int) -> dict[str, list[float]]:
        raws = [json.dumps(b).encode() for b in bodies]
        parsed = [PredictRequest.model_validate_json(r) for r in raws]
        records = [weather_records(p) for p in parsed]
        columns = [
            feature_columns(p.flights, w, state.snapshot, served.spec.features)
            for p, w in zip(parsed, records, strict=True)
        ]
        matrices = [training.matrix_of_columns(served.spec, c, served.codes) for c in columns]
        scores = [served.booster.predict(m, num_threads=1).tolist() for m in matrices]
        pairs = list(zip(parsed, records, strict=True))
        return {
            "validate (json.loads, model_validate)": timed(
                lambda r: PredictRequest.model_validate(json.loads(r)), raws, n
            ),
            "validate (model_validate_json)": timed(PredictRequest.model_validate_json, raws, n),
            "weather records": timed(weather_records, parsed, n),
            "feature columns": timed(
                lambda pw: feature_columns(pw[0].flights, pw[1], state.snapshot, served.spec.features), pairs, n
            ),
            "matrix": timed(lambda c: training.matrix_of_columns(served.spec, c, served.codes), columns, n),
            "predict (1 thread)": timed(lambda m: served.booster.predict(m, num_threads=1), matrices, n),
            "response json": timed(lambda s: json.dumps({"model": SPEC, "scores": s}), scores, n),
            "whole request, ASGI (no HTTP)": timed(post, raws, n),
        }

    print(f"in-process stage times, load average {os.getloadavg()}")
    for title, bodies, n in [("single flight", singles[:500], args.single), ("batch of 1000", [batch], args.batches)]:
        for _ in range(min(n, 200)):  # warm-up
            post(json.dumps(bodies[0]).encode())
        print(f"{title} ({n} runs): median / p99, microseconds")
        for stage, times in stages(bodies, n).items():
            q = statistics.quantiles(times, n=100)
            print(f"  {stage:<40} {statistics.median(times) * 1e6:>10,.0f} {q[98] * 1e6:>10,.0f}")


if __name__ == "__main__":
    main()
