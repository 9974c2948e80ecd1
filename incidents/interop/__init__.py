"""Converters between incidents and outside formats: ACLED, HXL, GeoJSON, CSV, CAP.

All are pure: no database, no HTTP, no clock (callers pass `now`). Importers stream
`RowResult`s (an incident input dict with the API's JSON names, or the reason a row was refused)
and raise `ImportFormatError` before the first row when the file as a whole cannot be read.

May import: risk, zones, records, identity, sharing, audit, taxonomy, incidents.db,
incidents.errors and geo; not intake. The converters (acled, cap, csv_io, geojson_io, hxl,
rows) are pure; `importer` and `service` use the database.
"""

from incidents.interop.acled import acled_deleted_ids, acled_to_incidents, incidents_to_acled
from incidents.interop.cap import alert_to_cap, cap_atom_index
from incidents.interop.csv_io import (
    csv_to_incidents,
    detect_format,
    incidents_to_csv,
    write_csv,
)
from incidents.interop.geojson_io import geojson_to_incidents, incidents_to_geojson, write_geojson
from incidents.interop.hxl import hxl_to_incidents, incidents_to_hxl
from incidents.interop.rows import ImportFormatError, IncidentInput, RowError, RowResult

__all__ = [
    "ImportFormatError",
    "IncidentInput",
    "RowError",
    "RowResult",
    "acled_deleted_ids",
    "acled_to_incidents",
    "alert_to_cap",
    "cap_atom_index",
    "csv_to_incidents",
    "detect_format",
    "geojson_to_incidents",
    "hxl_to_incidents",
    "incidents_to_acled",
    "incidents_to_csv",
    "incidents_to_geojson",
    "incidents_to_hxl",
    "write_csv",
    "write_geojson",
]
