-- One row per scheduled flight, keyed by day, carrier, flight number and origin.
-- The day is the lake folder's hive `date` (the raw asset checks it equals year/month/day), so that a
-- filter on flight_date prunes the Parquet files read to the partition window.
select
    "date" as flight_date,
    strftime("date", '%Y%m%d') || '-' || carrier || '-' || flight::varchar || '-' || origin
        as flight_id,
    carrier,
    flight,
    tailnum,
    origin,
    dest,
    origin || '-' || dest as route,
    distance,
    hour as sched_dep_hour,
    minute as sched_dep_minute,
    sched_dep_time,
    sched_arr_time,
    -- Outcomes: known only after departure; never inputs of the same flight, and other flights' only as they
    -- stood before its departure (flight_features' `status`).
    dep_time,
    dep_delay,
    arr_time,
    arr_delay,
    air_time,
    dep_time is null as is_cancelled
from {{ source('raw', 'flights') }}
