{#- dbt's own macro (the relation a generic test reads), with two placeholders a test's `where` config may use:
    __min_date__ and __max_date__ become the partition window's dates (macros/partition_window.sql). A test of
    a staging view then reads the window's Parquet files, not every day of the lake's history. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if not where -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- if '__min_date__' in where or '__max_date__' in where -%}
        {%- set window = partition_window() -%}
        {%- set where = where | replace('__min_date__', window_date('min_date', window)) -%}
        {%- set where = where | replace('__max_date__', window_date('max_date', window)) -%}
    {%- endif -%}
    {{ return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') }}
{%- endmacro %}
