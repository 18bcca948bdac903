"""The models the platform ships."""

from ai_platform.ml.spec import ModelSpec

_HISTORY = [
    f"{grain}_{stat}_{days}d"
    for grain, days in [
        ("route", 7), ("route", 28), ("carrier", 1), ("carrier", 7), ("carrier", 28), ("origin", 1),
        ("origin", 7), ("dest", 7), ("dest", 28), ("flight", 28), ("tail", 7), ("origin_hour", 28),
    ]
    for stat in ("flights", "delay_rate", "cancel_rate", "mean_dep_delay")
]

FLIGHT_DELAY = ModelSpec(
    name="flight_delay",
    description="Will the flight arrive more than 15 minutes late? (known before scheduled departure)",
    features_model="flight_features",
    label="label_arr_delayed",
    features=(
        "carrier", "origin", "dest", "distance", "sched_dep_hour", "sched_dep_minute_of_day",
        "sched_arr_minute_of_day", "day_of_week", "origin_hour_scheduled",
        "origin_day_scheduled", "dest_day_scheduled", "carrier_day_scheduled", "tail_day_legs",
        "tail_leg_number", "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip",
        "pressure", "visib", "plane_age", "seats", "engines", *_HISTORY,
    ),
    categorical=("carrier", "origin", "dest"),
    baseline="route_delay_rate_28d",
)

SPECS = [FLIGHT_DELAY]
