{#- The partition window [min_date, max_date) as SQL date literals; rejects anything but a date.
    A Dagster run writes its window to partition_window.csv in the invocation's target folder (so that
    dbt's partial parsing, which starts over whenever --vars change, keeps working); by hand, the vars
    min_date/max_date (dbt_project.yml) give it. `window`: a partition_window() already read (reading it costs two
    queries). -#}
{% macro window_date(name, window=none) %}
    {%- set value = (partition_window() if window is none else window).get(name) or var(name) | string -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ exceptions.raise_compiler_error("partition window " ~ name ~ " must be a YYYY-MM-DD date, got " ~ value) }}
    {%- endif -%}
    date '{{ value }}'
{%- endmacro %}

{% macro partition_window() %}
    {%- if not execute -%}{{ return({}) }}{%- endif -%}
    {%- set path = flags.TARGET_PATH ~ '/partition_window.csv' -%}
    {%- set found = run_query("select count(*) from glob('" ~ path ~ "')").columns[0].values()[0] -%}
    {%- if found == 0 -%}{{ return({}) }}{%- endif -%}
    {%- set row = run_query("select min_date::varchar, max_date::varchar from read_csv('" ~ path ~ "', all_varchar=true)").rows[0] -%}
    {{ return({'min_date': row[0], 'max_date': row[1]}) }}
{%- endmacro %}

{% macro in_window(column) %}
    {%- set window = partition_window() %}
    {{ column }} >= {{ window_date('min_date', window) }} and {{ column }} < {{ window_date('max_date', window) }}
{%- endmacro %}
