{#- The outcome-history features, shared by flight_features (per flight, as of its day) and online_features (per
    entity, as of the day after the newest one): `grains` names each grouping and its key columns, `windows` lists
    the (grain, days) trailing windows; macros/trailing_history.sql computes each. -#}
{% macro history_grains() %}
    {{ return({
        'route': ['origin', 'dest'],
        'carrier': ['carrier'],
        'origin': ['origin'],
        'dest': ['dest'],
        'flight': ['carrier', 'flight'],
        'tail': ['tailnum'],
        'origin_hour': ['origin', 'sched_dep_hour'],
        'origin_carrier': ['origin', 'carrier'],
        'dest_carrier': ['dest', 'carrier'],
    }) }}
{% endmacro %}

{% macro history_windows() %}
    {{ return([
        ('route', 7), ('route', 28), ('carrier', 1), ('carrier', 7), ('carrier', 28),
        ('origin', 1), ('origin', 7), ('dest', 7), ('dest', 28), ('flight', 28), ('tail', 7),
        ('origin_hour', 28), ('origin_carrier', 7), ('origin_carrier', 28), ('dest_carrier', 28),
        ('route', 56), ('flight', 56), ('dest_carrier', 56), ('origin_hour', 56),
    ]) }}
{% endmacro %}

{#- The daily outcome counts of a grain, from `history` (stg_flights rows): what trailing_history sums. -#}
{% macro daily_outcomes(history, keys) %}
    select
        flight_date,
        {{ keys | join(', ') }},
        count(*) as n_flights,
        count(*) filter (where not is_cancelled) as n_departed,
        count(arr_delay) as n_arrived,
        count(*) filter (where arr_delay > 15) as n_delayed,
        count(*) filter (where is_cancelled) as n_cancelled,
        sum(dep_delay) as sum_dep_delay
    from {{ history }}
    group by all
{% endmacro %}
