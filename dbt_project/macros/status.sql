{#- A departure's delay in minutes as known at minute `known_at` of its day: its dep_delay if it had left by then,
    otherwise the minutes it had been waiting (it was at least that late; a cancelled flight never left). Null if it
    was scheduled after `known_at`. `dep_delay`, `scheduled`, `known_at`: SQL expressions (minutes after midnight). -#}
{% macro known_delay(dep_delay, scheduled, known_at) -%}
    case
        when {{ scheduled }} <= {{ known_at }}
            then least(coalesce({{ dep_delay }}, {{ known_at }} - {{ scheduled }}), {{ known_at }} - {{ scheduled }})
    end
{%- endmacro %}
