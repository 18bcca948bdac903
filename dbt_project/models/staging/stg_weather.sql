-- Hourly weather by origin and local hour; one row per (origin, day, hour).
-- The day is the lake folder's hive `date` (as in stg_flights): a filter on weather_date prunes files.
select
    origin,
    "date" as weather_date,
    hour,
    temp,
    dewp,
    humid,
    wind_dir,
    wind_speed,
    wind_gust,
    precip,
    pressure,
    visib
from {{ source('raw', 'weather') }}
qualify row_number() over (partition by origin, "date", hour order by time_hour) = 1
