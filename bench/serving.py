"""The scoring service over loopback with a real HTTP client (httpx): single-flight latency, batch throughput,
and failed requests while the champion is swapped during a load run.

1. A data directory (reused when present, --work): the pipeline up to 2013-03-11 for flight_delay (two weekly
   models; the decision of week 2013-03-05 serves from 2013-03-12), with its online snapshot as of 2013-03-11.
2. `ai-platform serve` on a free port of 127.0.0.1.
3. Single flight: --single sequential requests of one flight of 2013-03-12 (with its origin's 48 hourly weather
   records) after a warm-up: p50 and p99 of the round trip.
4. Batches: requests of 1,000 flights (the 966 of 2013-03-12 and the first of 2013-03-13) in a row: flights/s.
5. Swap: --seconds of load (2 client threads sending single-flight requests) while the champion of week
   2013-03-05 is switched back and forth every 5 s by a rollback decision (the registry's files, as
   `ml/<spec>/champion` writes them); every non-200 answer or transport error counts as failed; then whether
   /models names the last swap's champion within 10 s. The decision is restored afterwards.

Prints the figures and writes data/bench/serving.json. Usage: `.venv/bin/python bench/serving.py
[--work DIR] [--single 2000] [--seconds 30]`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "assets_tests"))

import httpx  # noqa: E402

from processes import free_port  # noqa: E402
from serving_process import serving  # noqa: E402

SPEC = "flight_delay"
LAST, DAY, NEXT = date(2013, 3, 11), date(2013, 3, 12), date(2013, 3, 13)
WEEK = "2013-03-05"
OUT = REPO / "data" / "bench" / "serving.json"
BUILD = f"""
from datetime import date
from ai_platform.ml.specs import spec
from ai_platform.tools.code_location import load_definitions
from ai_platform.tools.pipeline import run
from ai_platform.tools.progress import Reporter
run(load_definitions(), [spec({SPEC!r})], until=date.fromisoformat({LAST.isoformat()!r}), out=Reporter.quiet())
"""


def build(work: Path) -> None:
    if (work / "data" / "lake" / "serving").exists():
        return
    print(f"building {work}: the pipeline up to {LAST} for {SPEC} (a few minutes)", flush=True)
    (work / "home").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AI_PLATFORM_DATA_DIR": str(work / "data"), "DAGSTER_HOME": str(work / "home")}
    env.pop("AI_PLATFORM_LANDING_URI", None)
    subprocess.run([sys.executable, "-c", BUILD], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "data" / "bench" / "serving")
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    build(args.work)
    os.environ["AI_PLATFORM_DATA_DIR"] = str(args.work / "data")

    from ai_platform.ml import registry
    from ai_platform.ml.specs import spec
    from ai_platform.tools.replay_requests import requests_for

    _, flights, weather = requests_for(DAY)
    _, next_flights, next_weather = requests_for(NEXT)
    url = f"/models/{SPEC}/predict"
    singles = [{"flights": [f], "weather": {f["origin"]: weather[f["origin"]]}} for f in flights]
    records = {o: list({(r["date"], r["hour"]): r for r in weather[o] + next_weather[o]}.values()) for o in weather}
    batch = {"flights": (flights + next_flights)[:1000], "weather": records}
    # Flights of 2013-03-12 are after the snapshot's day: the state the pipeline left is what is served.
    log = args.work / "serve.log"
    figures = {"load_average_at_start": os.getloadavg()}
    with serving(args.work / "data", free_port(), log, poll_seconds=1.0) as client:
        for body in singles[:200]:  # warm-up
            assert client.post(url, json=body).status_code == 200
        times = []
        for i in range(args.single):
            t = time.perf_counter()
            r = client.post(url, json=singles[i % len(singles)])
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
        q = statistics.quantiles(times, n=100)
        figures |= {"single_requests": len(times), "single_p50_ms": q[49] * 1e3, "single_p99_ms": q[98] * 1e3}

        client.post(url, json=batch)
        t, n = time.perf_counter(), 0
        while time.perf_counter() - t < 10:
            r = client.post(url, json=batch)
            assert r.status_code == 200 and len(r.json()["scores"]) == 1000, r.text
            n += 1
        figures |= {"batch_requests": n, "batch_flights_per_s": n * 1000 / (time.perf_counter() - t)}

        model = spec(SPEC)
        original = registry.load_decision(model, WEEK)
        versions = [original["champion"], "2013-02-26" if original["champion"] == WEEK else WEEK]
        ok, failed, swaps, stop = [0], [0], [], threading.Event()

        def load():
            with httpx.Client(base_url=str(client.base_url), timeout=60) as c:
                i = 0
                while not stop.is_set():
                    try:
                        good = c.post(url, json=singles[i % len(singles)]).status_code == 200
                    except httpx.HTTPError:
                        good = False
                    (ok if good else failed)[0] += 1
                    i += 1

        workers = [threading.Thread(target=load) for _ in range(2)]
        for w in workers:
            w.start()
        start = time.monotonic()
        try:
            while time.monotonic() - start < args.seconds:
                time.sleep(5)
                to, prev = versions[(len(swaps) + 1) % 2], versions[len(swaps) % 2]
                registry.save_decision(model, registry.rollback(WEEK, to, prev, "bench: swap", {}), run_id="bench")
                swaps.append(to)
            # The watcher picks a swap up at its next poll (every second): give it time rather than asking at once.
            deadline = time.monotonic() + 10
            while (seen := client.get("/models").json()[0]["champion_version"]) != swaps[-1]:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        finally:
            stop.set()
            for w in workers:
                w.join()
            registry.save_decision(model, original, run_id="bench: restore")
        figures |= {
            "swap_run_s": args.seconds,
            "swaps": len(swaps),
            "swap_requests_ok": ok[0],
            "swap_requests_failed": failed[0],
            "champion_after_last_swap_seen": seen == swaps[-1],
        }
    figures["load_average_at_end"] = os.getloadavg()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2))
    print(
        f"single flight: p50 {figures['single_p50_ms']:.2f} ms, p99 {figures['single_p99_ms']:.2f} ms "
        f"({figures['single_requests']} requests)\n"
        f"batches of 1000: {figures['batch_flights_per_s']:,.0f} flights/s ({figures['batch_requests']} requests)\n"
        f"champion swap: {figures['swaps']} swaps in {args.seconds:g} s of load, "
        f"{figures['swap_requests_failed']} failed of {ok[0] + failed[0]} requests\n"
        f"load average at start / end: {figures['load_average_at_start']} / {figures['load_average_at_end']}"
    )


if __name__ == "__main__":
    main()
