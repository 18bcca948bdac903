-- Hourly weather by origin and local hour; one row per (origin, day, hour).
select
    origin,
    make_date(year, month, day) as weather_date,
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
qualify row_number() over (partition by origin, year, month, day, hour order by time_hour) = 1
