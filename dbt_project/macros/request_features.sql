{#- The features computed from a flight's own request: its schedule and the hourly weather at its origin (vars
    `request_features` in dbt_project.yml, their one definition). flight_features computes them in SQL from these
    macros; the scoring service evaluates the same definitions on a request (ai_platform/serving/features.py). -#}
{% macro weather_hours(hours) %}
    {%- set conditions = {
        'at_hour': 'w.weather_date = t.flight_date and w.hour = t.sched_dep_hour',
        'last_3h': 'w.weather_date = t.flight_date and w.hour between t.sched_dep_hour - 3 and t.sched_dep_hour',
        'day_so_far': 'w.weather_date = t.flight_date and w.hour <= t.sched_dep_hour',
        'prev_day': 'w.weather_date = t.flight_date - 1',
    } -%}
    {%- if hours not in conditions -%}
        {{ exceptions.raise_compiler_error("request_features: unknown hours '" ~ hours ~ "'") }}
    {%- endif -%}
    {{ return(conditions[hours]) }}
{% endmacro %}

{#- One weather feature of a flight `t` over the weather rows `w` of its origin (its day and the day before). -#}
{% macro weather_feature(d) %}
    {%- set hours = weather_hours(d.get('hours', 'at_hour')) -%}
    {%- if d.agg in ('sum', 'min', 'max') -%}
        {{ d.agg }}(w.{{ d.of }}) filter (where {{ hours }})
    {%- elif d.agg == 'count' and 'above' in d -%}
        count(*) filter (where {{ hours }} and w.{{ d.of }} > {{ d.above }})
    {%- elif d.agg == 'count' and 'below' in d -%}
        count(*) filter (where {{ hours }} and w.{{ d.of }} < {{ d.below }})
    {%- elif d.agg == 'value' -%}
        any_value(w.{{ d.of }}) filter (where {{ hours }})
    {%- elif d.agg == 'difference' -%}
        any_value(w.{{ d.of[0] }} - w.{{ d.of[1] }}) filter (where {{ hours }})
    {%- elif d.agg == 'change' -%}
        any_value(w.{{ d.of }}) filter (where {{ hours }}) - any_value(w.{{ d.of }}) filter (
            where w.weather_date = t.flight_date and w.hour = t.sched_dep_hour - {{ d.hours_back }}
        )
    {%- else -%}
        {{ exceptions.raise_compiler_error("request_features: unknown aggregate in " ~ d) }}
    {%- endif -%}
{% endmacro %}

{#- The schedule and calendar features of flight `t` (its day: `t.flight_date`), as select expressions. -#}
{% macro schedule_features(t) %}
    {%- set defs = var('request_features') -%}
    {%- for name, column in defs.clock.items() %}
    ({{ t }}.{{ column }} // 100) * 60 + {{ t }}.{{ column }} % 100 as {{ name }},
    {%- endfor %}
    {%- for name, part in defs.calendar.items() %}
    {{ part }}({{ t }}.flight_date) as {{ name }},
    {%- endfor %}
{%- endmacro %}

{#- The features of flight `t`'s plane (`plane`: its stg_planes row) that depend on the flight's day. -#}
{% macro plane_features(t, plane) %}
    {%- for name, column in var('request_features').years_since.items() %}
    year({{ t }}.flight_date) - {{ plane }}.{{ column }} as {{ name }},
    {%- endfor %}
{%- endmacro %}
