{#- lookback_days: its rows are flight_features rows of the same day, which read 56 earlier days. -#}
{{
    config(
        unique_key='flight_date',
        meta={'lake_export': 'daily', 'partition_column': 'flight_date', 'lookback_days': 56},
    )
}}
{#-
  Features of the late_departure model (platform/ai_platform/defs/late_departure/defs.yaml): will the
  flight leave more than 30 minutes after its scheduled departure? Only what is known before the
  scheduled departure, taken from flight_features; the label comes from dep_delay, null when cancelled.
-#}
select
    flight_id,
    flight_date,
    -- schedule
    carrier,
    origin,
    dest,
    distance,
    sched_dep_hour,
    sched_dep_minute_of_day,
    sched_arr_minute_of_day,
    day_of_week,
    origin_hour_scheduled,
    origin_day_scheduled,
    dest_day_scheduled,
    carrier_day_scheduled,
    tail_day_legs,
    tail_leg_number,
    tail_prev_departure_gap_min,
    -- the day's departures so far, an hour before the scheduled departure
    tail_prev_leg_known_dep_delay,
    origin_departures_so_far,
    origin_late_share_so_far,
    origin_known_dep_delay_so_far,
    origin_carrier_late_share_so_far,
    -- weather at the origin
    temp,
    dewp,
    humid,
    wind_dir,
    wind_speed,
    wind_gust,
    precip,
    pressure,
    visib,
    precip_3h,
    min_visib_3h,
    max_wind_gust_3h,
    precip_prev_day,
    min_visib_prev_day,
    max_wind_speed_prev_day,
    -- plane
    plane_age,
    seats,
    engines,
    -- departure history strictly before the flight's day
    carrier_mean_dep_delay_1d,
    carrier_mean_dep_delay_7d,
    carrier_mean_dep_delay_28d,
    carrier_cancel_rate_7d,
    origin_mean_dep_delay_1d,
    origin_mean_dep_delay_7d,
    origin_cancel_rate_1d,
    origin_hour_delay_rate_28d,
    origin_hour_mean_dep_delay_28d,
    origin_hour_mean_dep_delay_56d,
    origin_carrier_mean_dep_delay_7d,
    origin_carrier_mean_dep_delay_28d,
    route_mean_dep_delay_28d,
    flight_mean_dep_delay_28d,
    flight_mean_dep_delay_56d,
    tail_mean_dep_delay_7d,
    -- label (an outcome of this flight, never a feature)
    label_dep_delayed_30
from {{ ref('flight_features') }}
where {{ in_window('flight_date') }}
