select
    tailnum,
    year as plane_year,
    type as plane_type,
    manufacturer,
    engines,
    seats
from {{ source('raw', 'planes') }}
