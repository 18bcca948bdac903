"""The scoring service's HTTP API (FastAPI): GET /health, GET /models, POST /models/{spec}/predict."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import numpy as np
from fastapi import FastAPI, HTTPException, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from ai_platform.ml import training
from ai_platform.serving.features import feature_columns
from ai_platform.serving.state import Holder

MAX_FLIGHTS = 10_000
Hour = Annotated[int, Field(ge=0, le=23)]
ClockTime = Annotated[int, Field(ge=0, le=2459, description="hhmm, local time")]
Count = Annotated[int, Field(ge=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HourlyWeather(Strict):
    """The weather at an origin in one local hour (observed, or forecast for the hours to come)."""

    date: dt.date
    hour: Hour
    temp: float | None = None
    dewp: float | None = None
    humid: float | None = None
    wind_dir: float | None = None
    wind_speed: float | None = None
    wind_gust: float | None = None
    precip: float | None = None
    pressure: float | None = None
    visib: float | None = None


class Flight(Strict):
    """A scheduled flight, as its published schedule gives it (no outcome)."""

    flight_date: dt.date
    carrier: str = Field(min_length=1)
    flight: int = Field(ge=0)
    tailnum: str | None = None
    origin: str = Field(min_length=3, max_length=4)
    dest: str = Field(min_length=3, max_length=4)
    distance: float = Field(gt=0)
    sched_dep_time: ClockTime
    sched_arr_time: ClockTime
    # Congestion of the flight's day, counted from the published schedule (cancelled flights included).
    origin_hour_scheduled: Count
    origin_day_scheduled: Count
    dest_day_scheduled: Count
    carrier_day_scheduled: Count
    tail_day_legs: Count | None = None
    tail_leg_number: Count | None = None
    tail_prev_departure_gap_min: int | None = None
    # The day's departures as they stood an hour (dbt var status_lead_minutes) before this flight's scheduled
    # departure, from the caller's operations feed: flight_features' columns of the same names. None: unknown.
    tail_prev_leg_known_dep_delay: int | None = None
    origin_departures_so_far: Count | None = None
    origin_late_share_so_far: float | None = Field(None, ge=0, le=1)
    origin_known_dep_delay_so_far: float | None = None
    origin_carrier_late_share_so_far: float | None = Field(None, ge=0, le=1)


class PredictRequest(Strict):
    flights: list[Flight] = Field(min_length=1, max_length=MAX_FLIGHTS)
    # Per origin, its hourly weather: the day before the flights' day and their day up to the scheduled hour.
    weather: dict[str, list[HourlyWeather]]


def _unprocessable(field: list, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ["body", *field], "msg": message, "input": None}])


def weather_records(request: PredictRequest) -> dict[str, dict]:
    out = {}
    for origin, hours in request.weather.items():
        records = {}
        for i, h in enumerate(hours):
            key = (h.date, h.hour)
            if key in records:
                raise _unprocessable(["weather", origin, i], f"a second record for {h.date} hour {h.hour}")
            records[key] = h.__dict__
        out[origin] = records
    return out


def create_app(holder: Holder) -> FastAPI:
    app = FastAPI(title="ai-platform scoring", description="Scores scheduled flights with each model's champion.")

    @app.get("/health")
    def health() -> dict:
        state = holder.current
        return {
            "status": "ok" if state.snapshot and all(m.version for m in state.models.values()) else "degraded",
            "features_as_of": state.snapshot.as_of.isoformat() if state.snapshot else None,
            "models": {name: m.version for name, m in state.models.items()},
        }

    @app.get("/models")
    def models() -> list[dict]:
        state = holder.current
        return [
            {
                "name": name,
                "description": m.spec.description,
                "champion_version": m.version,
                "decision_week": m.decision_week,
                "features_as_of": state.snapshot.as_of.isoformat() if state.snapshot else None,
                "features": list(m.spec.features),
                **({"not_serving": m.reason} if m.reason else {}),
            }
            for name, m in state.models.items()
        ]

    # On the event loop, not in FastAPI's thread pool: scoring is short and CPU-bound (it holds the GIL), so a
    # thread per request only adds a hand-off to each one.
    @app.post("/models/{spec}/predict")
    async def predict(spec: str, request: PredictRequest) -> Response:
        state = holder.current  # one state for the whole request, whatever the watcher swaps meanwhile
        served = state.models.get(spec)
        if served is None:
            raise HTTPException(404, f"unknown model spec {spec!r}; known: {', '.join(sorted(state.models))}")
        if served.version is None:
            raise HTTPException(503, f"{spec} cannot score yet: {served.reason}")
        as_of = state.snapshot.as_of
        for i, f in enumerate(request.flights):
            if f.flight_date <= as_of:
                raise _unprocessable(
                    ["flights", i, "flight_date"],
                    f"{f.flight_date} is not after {as_of}, the last day of the online features (their history "
                    "would include the flight's own day)",
                )
            if f.origin not in request.weather:
                raise _unprocessable(["weather", f.origin], f"no hourly weather for origin {f.origin} (flights[{i}])")
        columns = feature_columns(request.flights, weather_records(request), state.snapshot, served.spec.features)
        scores = served.booster.predict(training.matrix_of_columns(served.spec, columns, served.codes), num_threads=1)
        body = {
            "model": spec,
            "model_version": served.version,
            "decision_week": served.decision_week,
            "features_as_of": as_of.isoformat(),
            "scores": np.asarray(scores, dtype=np.float64).tolist(),
        }
        return Response(json.dumps(body), media_type="application/json")

    return app
