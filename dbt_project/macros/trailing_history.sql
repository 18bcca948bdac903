{#-
  Delay history of a grouping (route, carrier, origin, ...) over the `days` days strictly before
  each target day: `daily` holds one row per (day, keys) with outcome counts.
  Returns one row per (target day, keys) with <prefix>_flights_<days>d, <prefix>_delay_rate_<days>d,
  <prefix>_cancel_rate_<days>d and the latest day it read (<prefix>_<days>d_max_day).
-#}
{% macro trailing_history(daily, targets, keys, prefix, days) %}
    select
        t.flight_date,
        {% for k in keys %}t.{{ k }},{% endfor %}
        sum(d.n_flights) as {{ prefix }}_flights_{{ days }}d,
        sum(d.n_delayed) / nullif(sum(d.n_arrived), 0) as {{ prefix }}_delay_rate_{{ days }}d,
        sum(d.n_cancelled) / nullif(sum(d.n_flights), 0) as {{ prefix }}_cancel_rate_{{ days }}d,
        sum(d.sum_dep_delay) / nullif(sum(d.n_departed), 0) as {{ prefix }}_mean_dep_delay_{{ days }}d,
        max(d.flight_date) as {{ prefix }}_{{ days }}d_max_day
    from (select distinct flight_date, {{ keys | join(', ') }} from {{ targets }}) as t
    left join {{ daily }} as d
        on {% for k in keys %}d.{{ k }} = t.{{ k }} and {% endfor %}
           d.flight_date >= t.flight_date - interval {{ days }} day
           and d.flight_date < t.flight_date
    group by all
{% endmacro %}
