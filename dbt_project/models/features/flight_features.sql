{%- set history_days = 56 -%}
{{
    config(
        unique_key='flight_date',
        meta={'lake_export': 'daily', 'partition_column': 'flight_date', 'lookback_days': history_days},
    )
}}
{#-
  One row per scheduled flight of the partition window, with features known before its scheduled
  departure: the published schedule of its day, weather at the origin at the scheduled hour (a
  forecast proxy), plane attributes, and outcome history strictly before its day. Label columns
  (label_*) are outcomes and never features.
-#}
{%- set grains = {
    'route': ['origin', 'dest'],
    'carrier': ['carrier'],
    'origin': ['origin'],
    'dest': ['dest'],
    'flight': ['carrier', 'flight'],
    'tail': ['tailnum'],
    'origin_hour': ['origin', 'sched_dep_hour'],
    'origin_carrier': ['origin', 'carrier'],
    'dest_carrier': ['dest', 'carrier'],
} -%}
{%- set windows = [
    ('route', 7), ('route', 28), ('carrier', 1), ('carrier', 7), ('carrier', 28),
    ('origin', 1), ('origin', 7), ('dest', 7), ('dest', 28), ('flight', 28), ('tail', 7),
    ('origin_hour', 28), ('origin_carrier', 7), ('origin_carrier', 28), ('dest_carrier', 28),
    ('route', 56), ('flight', 56), ('dest_carrier', 56), ('origin_hour', 56),
] -%}

with history as (
    select *
    from {{ ref('stg_flights') }}
    where
        flight_date >= {{ window_date('min_date') }} - interval {{ history_days }} day
        and flight_date < {{ window_date('max_date') }}
),

targets as (
    select * from history where {{ in_window('flight_date') }}
),

weather as (
    -- The window's days and the day before them. Literal bounds let DuckDB read only their files: joined
    -- on the flight's day alone, it reads and de-duplicates every day of history (10 years: 0.65 s a run).
    select *
    from {{ ref('stg_weather') }}
    where
        weather_date >= {{ window_date('min_date') }} - interval 1 day
        and weather_date < {{ window_date('max_date') }}
),

{% for name, keys in grains.items() %}
daily_{{ name }} as (
    select
        flight_date,
        {{ keys | join(', ') }},
        count(*) as n_flights,
        count(*) filter (where not is_cancelled) as n_departed,
        count(arr_delay) as n_arrived,
        count(*) filter (where arr_delay > 15) as n_delayed,
        count(*) filter (where is_cancelled) as n_cancelled,
        sum(dep_delay) as sum_dep_delay
    from history
    group by all
),
{% endfor %}

{% for name, days in windows %}
hist_{{ name }}_{{ days }} as (
    {{ trailing_history('daily_' ~ name, 'targets', grains[name], name, days) }}
),
{% endfor %}

weather_recent as (
    -- Observed at the origin in the 3 hours up to the scheduled hour, over the day so far (midnight up to the
    -- scheduled hour: weather that builds up delays during the day), and over the previous day.
    select
        t.flight_id,
        sum(w.precip) filter (where w.weather_date = t.flight_date and w.hour <= t.sched_dep_hour) as precip_today,
        count(*) filter (
            where w.weather_date = t.flight_date and w.hour <= t.sched_dep_hour and w.precip > 0
        ) as precip_hours_today,
        min(w.visib) filter (where w.weather_date = t.flight_date and w.hour <= t.sched_dep_hour) as min_visib_today,
        count(*) filter (
            where w.weather_date = t.flight_date and w.hour <= t.sched_dep_hour and w.visib < 3
        ) as low_visib_hours_today,
        max(w.wind_speed) filter (
            where w.weather_date = t.flight_date and w.hour <= t.sched_dep_hour
        ) as max_wind_speed_today,
        max(w.wind_gust) filter (
            where w.weather_date = t.flight_date and w.hour <= t.sched_dep_hour
        ) as max_wind_gust_today,
        any_value(w.pressure) filter (
            where w.weather_date = t.flight_date and w.hour = t.sched_dep_hour - 3
        ) as pressure_3h_before,
        sum(w.precip) filter (
            where w.weather_date = t.flight_date and w.hour between t.sched_dep_hour - 3 and t.sched_dep_hour
        ) as precip_3h,
        min(w.visib) filter (
            where w.weather_date = t.flight_date and w.hour between t.sched_dep_hour - 3 and t.sched_dep_hour
        ) as min_visib_3h,
        max(w.wind_gust) filter (
            where w.weather_date = t.flight_date and w.hour between t.sched_dep_hour - 3 and t.sched_dep_hour
        ) as max_wind_gust_3h,
        sum(w.precip) filter (where w.weather_date = t.flight_date - 1) as precip_prev_day,
        min(w.visib) filter (where w.weather_date = t.flight_date - 1) as min_visib_prev_day,
        max(w.wind_speed) filter (where w.weather_date = t.flight_date - 1) as max_wind_speed_prev_day
    from targets as t
    left join weather as w
        on t.origin = w.origin
        and w.weather_date between t.flight_date - 1 and t.flight_date
    group by t.flight_id
),

schedule as (
    -- Congestion from the published schedule (cancelled flights included: they were scheduled).
    select
        flight_id,
        count(*) over (partition by flight_date, origin, sched_dep_hour) as origin_hour_scheduled,
        count(*) over (partition by flight_date, origin) as origin_day_scheduled,
        count(*) over (partition by flight_date, dest) as dest_day_scheduled,
        count(*) over (partition by flight_date, carrier) as carrier_day_scheduled,
        case when tailnum is not null then count(*) over (partition by flight_date, tailnum) end
            as tail_day_legs,
        case
            when tailnum is not null
                then row_number() over (partition by flight_date, tailnum order by sched_dep_time, flight_id)
        end as tail_leg_number,
        -- Scheduled minutes since the plane's previous NYC departure that day: a tight rotation.
        case
            when tailnum is not null
                then (sched_dep_hour * 60 + sched_dep_minute) - lag(sched_dep_hour * 60 + sched_dep_minute) over (
                    partition by flight_date, tailnum order by sched_dep_time, flight_id
                )
        end as tail_prev_departure_gap_min
    from targets
)

select
    t.flight_id,
    t.flight_date,
    t.carrier,
    t.flight,
    t.tailnum,
    t.origin,
    t.dest,
    t.route,
    -- schedule and calendar
    t.distance,
    t.sched_dep_hour,
    t.sched_dep_hour * 60 + t.sched_dep_minute as sched_dep_minute_of_day,
    (t.sched_arr_time // 100) * 60 + t.sched_arr_time % 100 as sched_arr_minute_of_day,
    isodow(t.flight_date) as day_of_week,
    month(t.flight_date) as month,
    dayofyear(t.flight_date) as day_of_year,
    s.origin_hour_scheduled,
    s.origin_day_scheduled,
    s.dest_day_scheduled,
    s.carrier_day_scheduled,
    s.tail_day_legs,
    s.tail_leg_number,
    s.tail_prev_departure_gap_min,
    -- weather at the origin at the scheduled hour
    w.temp,
    w.dewp,
    w.humid,
    w.wind_dir,
    w.wind_speed,
    w.wind_gust,
    w.precip,
    w.pressure,
    w.visib,
    w.temp - w.dewp as dewpoint_spread,
    w.pressure - wr.pressure_3h_before as pressure_change_3h,
    wr.precip_3h,
    wr.min_visib_3h,
    wr.max_wind_gust_3h,
    wr.precip_today,
    wr.precip_hours_today,
    wr.min_visib_today,
    wr.low_visib_hours_today,
    wr.max_wind_speed_today,
    wr.max_wind_gust_today,
    wr.precip_prev_day,
    wr.min_visib_prev_day,
    wr.max_wind_speed_prev_day,
    -- plane
    year(t.flight_date) - p.plane_year as plane_age,
    p.seats,
    p.engines,
    -- outcome history strictly before the flight's day
    {% for name, days in windows %}
    h_{{ name }}_{{ days }}.{{ name }}_flights_{{ days }}d,
    h_{{ name }}_{{ days }}.{{ name }}_delay_rate_{{ days }}d,
    h_{{ name }}_{{ days }}.{{ name }}_cancel_rate_{{ days }}d,
    h_{{ name }}_{{ days }}.{{ name }}_mean_dep_delay_{{ days }}d,
    {% endfor %}
    greatest(
        {% for name, days in windows %}
        h_{{ name }}_{{ days }}.{{ name }}_{{ days }}d_max_day{{ ',' if not loop.last }}
        {% endfor %}
    ) as history_max_day,
    -- labels (outcomes of this flight)
    case when t.arr_delay is not null then (t.arr_delay > 15)::integer end as label_arr_delayed,
    case when t.dep_delay is not null then (t.dep_delay > 30)::integer end as label_dep_delayed_30,
    t.arr_delay as label_arr_delay_minutes,
    t.is_cancelled::integer as label_cancelled
from targets as t
inner join schedule as s using (flight_id)
inner join weather_recent as wr using (flight_id)
left join weather as w
    on t.origin = w.origin and t.flight_date = w.weather_date and t.sched_dep_hour = w.hour
left join {{ ref('stg_planes') }} as p
    on t.tailnum = p.tailnum
{% for name, days in windows %}
left join hist_{{ name }}_{{ days }} as h_{{ name }}_{{ days }}
    on t.flight_date = h_{{ name }}_{{ days }}.flight_date
    {% for k in grains[name] %}
    and t.{{ k }} = h_{{ name }}_{{ days }}.{{ k }}
    {% endfor %}
{% endfor %}
