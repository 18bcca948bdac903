{#- The partition window [min_date, max_date) as SQL date literals; rejects anything but a date. -#}
{% macro window_date(name) %}
    {%- set value = var(name) | string -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a YYYY-MM-DD date, got " ~ value) }}
    {%- endif -%}
    date '{{ value }}'
{%- endmacro %}

{% macro in_window(column) %}
    {{ column }} >= {{ window_date('min_date') }} and {{ column }} < {{ window_date('max_date') }}
{%- endmacro %}
