-- Leakage guard: no history feature of a flight may read its own day or a later one.
-- Only the partition window's rows are built by a run, so only they are checked (flat cost as history grows).
select
    flight_id,
    flight_date,
    history_max_day
from {{ ref('flight_features') }}
where history_max_day >= flight_date and {{ in_window('flight_date') }}
