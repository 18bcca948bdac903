-- Leakage guard: no history feature of a flight may read its own day or a later one.
select
    flight_id,
    flight_date,
    history_max_day
from {{ ref('flight_features') }}
where history_max_day >= flight_date
