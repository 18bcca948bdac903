{%- set history_days = 56 -%}
{%- set status_lead_minutes = var('status_lead_minutes') -%}
{{
    config(
        unique_key='flight_date',
        meta={'lake_export': 'daily', 'partition_column': 'flight_date', 'lookback_days': history_days},
    )
}}
{#-
  One row per scheduled flight of the partition window, with features known before its scheduled
  departure: the published schedule of its day, weather at the origin at the scheduled hour (a
  forecast proxy), plane attributes, outcome history strictly before its day, and the day's departures
  as they stand an hour before its scheduled departure (status_lead_minutes). Label columns (label_*)
  are outcomes and never features.
-#}
{%- set grains = history_grains() -%}
{%- set windows = history_windows() -%}

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
    {{ daily_outcomes('history', keys) }}
),
{% endfor %}

{% for name, days in windows %}
hist_{{ name }}_{{ days }} as (
    {{ trailing_history('daily_' ~ name, 'targets', grains[name], name, days) }}
),
{% endfor %}

origin_hours as (
    -- All a flight's weather features depend on: its origin, day and scheduled hour. Computed per flight (~17
    -- flights each), the year's flight_features took 19-23 s to build instead of 12-14 s.
    select distinct
        origin,
        flight_date,
        sched_dep_hour
    from targets
),

weather_recent as (
    -- The weather at the origin over hours relative to the scheduled hour (vars request_features.weather):
    -- at it, the 3 hours up to it, the day so far (weather that builds up delays during the day), the day before.
    select
        t.origin,
        t.flight_date,
        t.sched_dep_hour,
        {%- for name, d in var('request_features').weather.items() %}
        {{ weather_feature(d) }} as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from origin_hours as t
    left join weather as w
        on t.origin = w.origin
        and w.weather_date between t.flight_date - 1 and t.flight_date
    group by t.origin, t.flight_date, t.sched_dep_hour
),

departures as (
    -- Each flight's scheduled minute of its day, and the moment its day-so-far features describe.
    select
        *,
        sched_dep_hour * 60 + sched_dep_minute as sched_minute,
        sched_dep_hour * 60 + sched_dep_minute - {{ status_lead_minutes }} as known_at
    from targets
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
        case when tailnum is not null then row_number() over plane_day end as tail_leg_number,
        -- Scheduled minutes since the plane's previous NYC departure that day: a tight rotation.
        case when tailnum is not null then sched_minute - lag(sched_minute) over plane_day end
            as tail_prev_departure_gap_min,
        -- The plane's previous NYC departure that day, as known status_lead_minutes before this one (see status).
        case
            when tailnum is not null
                then {{ known_delay('lag(dep_delay) over plane_day', 'lag(sched_minute) over plane_day', 'known_at') }}
        end as tail_prev_leg_known_dep_delay
    from departures
    window plane_day as (partition by flight_date, tailnum order by sched_dep_time, flight_id)
),

status as (
    -- The origin's departures of the day as they stand at `known_at`, status_lead_minutes before the flight's
    -- scheduled departure: those scheduled from 2 h to 16 min before that moment (each then late or not for
    -- sure), late if they left more than 15 min late or had not left by then (macros/status.sql).
    select
        t.flight_id,
        count(o.flight_id) as origin_departures_so_far,
        avg(({{ known_delay('o.dep_delay', 'o.sched_minute', 't.known_at') }} > 15)::integer)
            as origin_late_share_so_far,
        avg({{ known_delay('o.dep_delay', 'o.sched_minute', 't.known_at') }}) as origin_known_dep_delay_so_far,
        avg(
            case
                when o.carrier = t.carrier
                    then ({{ known_delay('o.dep_delay', 'o.sched_minute', 't.known_at') }} > 15)::integer
            end
        ) as origin_carrier_late_share_so_far
    from departures as t
    left join departures as o
        on t.flight_date = o.flight_date
        and t.origin = o.origin
        and o.sched_minute between t.known_at - 120 and t.known_at - 16
    group by t.flight_id
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
    {{- schedule_features('t') }}
    s.origin_hour_scheduled,
    s.origin_day_scheduled,
    s.dest_day_scheduled,
    s.carrier_day_scheduled,
    s.tail_day_legs,
    s.tail_leg_number,
    s.tail_prev_departure_gap_min,
    -- the day's departures so far, an hour before the scheduled departure
    s.tail_prev_leg_known_dep_delay,
    st.origin_departures_so_far,
    st.origin_late_share_so_far,
    st.origin_known_dep_delay_so_far,
    st.origin_carrier_late_share_so_far,
    -- weather at the origin (vars request_features.weather)
    {%- for name in var('request_features').weather %}
    wr.{{ name }},
    {%- endfor %}
    -- plane
    {{- plane_features('t', 'p') }}
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
left join weather_recent as wr
    on t.origin = wr.origin
    and t.flight_date = wr.flight_date
    and t.sched_dep_hour = wr.sched_dep_hour
inner join status as st using (flight_id)
left join {{ ref('stg_planes') }} as p
    on t.tailnum = p.tailnum
{% for name, days in windows %}
left join hist_{{ name }}_{{ days }} as h_{{ name }}_{{ days }}
    on t.flight_date = h_{{ name }}_{{ days }}.flight_date
    {% for k in grains[name] %}
    and t.{{ k }} = h_{{ name }}_{{ days }}.{{ k }}
    {% endfor %}
{% endfor %}
