{%- set history_days = 56 -%}
{{ config(meta={'lake_export': 'snapshot', 'as_of_column': 'as_of'}) }}
{#-
  The online features of the scoring service: per entity (route, carrier, origin, dest, flight, tail, origin-hour,
  origin-carrier, dest-carrier), its outcome history as a flight of the day after the partition window would see
  it in flight_features (the same macros: history_features.sql, trailing_history.sql), and per plane its
  attributes. `as_of` is the window's last day: nothing from a later day is read. One row per (grain, entity);
  `keys` names the grain's key columns, the other grains' columns are null.
-#}
{%- set grains = history_grains() -%}
{%- set windows = history_windows() -%}
{%- set next_day = window_date('max_date') -%}

with history as (
    select *
    from {{ ref('stg_flights') }}
    where flight_date >= {{ next_day }} - interval {{ history_days }} day and flight_date < {{ next_day }}
),

{% for name, keys in grains.items() %}
daily_{{ name }} as (
    {{ daily_outcomes('history', keys) }}
),

targets_{{ name }} as (
    select distinct {{ next_day }} as flight_date, {{ keys | join(', ') }} from history
),
{% endfor %}

{% for name, days in windows %}
hist_{{ name }}_{{ days }} as (
    {{ trailing_history('daily_' ~ name, 'targets_' ~ name, grains[name], name, days) }}
),
{% endfor %}

{% for name, keys in grains.items() %}
{%- set grain_windows = windows | selectattr(0, 'equalto', name) | map(attribute=1) | list %}
entity_{{ name }} as (
    select
        '{{ name }}' as grain,
        '{{ keys | join(",") }}' as keys,
        {% for k in keys %}
        t.{{ k }},
        {% endfor %}
        {% for days in grain_windows %}
        h_{{ days }}.{{ name }}_flights_{{ days }}d,
        h_{{ days }}.{{ name }}_delay_rate_{{ days }}d,
        h_{{ days }}.{{ name }}_cancel_rate_{{ days }}d,
        h_{{ days }}.{{ name }}_mean_dep_delay_{{ days }}d{% if not loop.last %},{% endif %}
        {% endfor %}
    from targets_{{ name }} as t
    {% for days in grain_windows %}
    left join hist_{{ name }}_{{ days }} as h_{{ days }}
        on t.{{ keys[0] }} is not distinct from h_{{ days }}.{{ keys[0] }}
        {% for k in keys[1:] %}
        and t.{{ k }} is not distinct from h_{{ days }}.{{ k }}
        {% endfor %}
    {% endfor %}
),
{% endfor %}

planes as (
    select
        'plane' as grain,
        'tailnum' as keys,
        tailnum,
        plane_year,
        seats,
        engines
    from {{ ref('stg_planes') }}
)

select cast({{ next_day }} - interval 1 day as date) as as_of, *
from (
    {% for name in grains %}
    select * from entity_{{ name }}
    union all by name
    {% endfor %}
    select * from planes
)
