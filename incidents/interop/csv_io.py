"""Plain CSV import and export with Sentinelle's own column names, and upload format detection.

One column set (`CSV_COLUMNS`) for every CSV Sentinelle writes: the API's `format=csv` and the
CLI's `sentinelle incidents export --format csv`. Columns are the API's JSON names, with
`lat`/`lon` for a point and `impact_<field>` for the impact counts (`impact_killed`, ...,
`impact_aid_workers_affected`); booleans are `true`/`false`. A non-point geometry is written as
GeoJSON text in `geometry`. `id`, `category`, `version`, `reported_at`, `admin1` and `admin2` are
written on export and ignored on import (the server owns them). A row without coordinates but
with a known `place_name` is placed on that locality (location_precision "locality").
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

from incidents.interop.rows import (
    UTF8_ADVICE,
    CsvStream,
    ImportFormatError,
    IncidentInput,
    PlaceFinder,
    RowError,
    RowResult,
    column_problems,
    default_gazetteer,
    empty_impact,
    iso_utc,
    neutralised_row,
    parse_bool,
    parse_count,
    parse_float,
    parse_when,
    point,
    restore_cell,
    severity_for,
)
from incidents.records.model import (
    IMPACT_FIELDS,
    LocationPrecision,
    Perpetrator,
    Reliability,
    SharingLevel,
    SourceType,
    Status,
    TimePrecision,
)
from incidents.taxonomy.catalogue import TYPES, UnknownCodeError, get_type

IMPACT_COLUMNS = (*(f"impact_{f}" for f in IMPACT_FIELDS), "impact_aid_workers_affected")
CSV_COLUMNS = (
    "id",
    "type",
    "category",
    "occurred_at",
    "time_precision",
    "lat",
    "lon",
    "location_precision",
    "place_name",
    "admin1",
    "admin2",
    "severity",
    *IMPACT_COLUMNS,
    "perpetrator",
    "actor",
    "description",
    "source_type",
    "reliability",
    "credibility",
    "status",
    "sharing_level",
    "external_id",
    "version",
    "reported_at",
    "geometry",
)
REQUIRED_COLUMNS = ("type", "occurred_at")
# `category` follows from the type; a masked row carries only the category.
EXPORT_ONLY_COLUMNS = frozenset({"id", "category", "admin1", "admin2", "version", "reported_at"})

_CHOICES: dict[str, tuple[str, ...]] = {
    "time_precision": tuple(TimePrecision),
    "location_precision": tuple(LocationPrecision),
    "perpetrator": tuple(Perpetrator),
    "source_type": tuple(SourceType),
    "reliability": tuple(Reliability),
    "status": tuple(Status),
    "sharing_level": tuple(SharingLevel),
}


# ---------------------------------------------------------------------------- import


def check_header(columns: Sequence[str]) -> None:
    """Refuse, before any row is read, a header with missing, unknown or repeated columns."""
    problems = column_problems(columns, required=REQUIRED_COLUMNS, known=CSV_COLUMNS)
    lowered = {c.strip().lower() for c in columns}
    if not ({"lat", "lon"} <= lowered or "geometry" in lowered or "place_name" in lowered):
        problems.append("no location columns: give lat and lon, geometry or place_name")
    if problems:
        raise ImportFormatError(
            "header",
            "; ".join(problems) + ". Expected columns: " + ", ".join(CSV_COLUMNS),
        )


def csv_to_incidents(
    fileobj: IO[Any] | Iterable[Any], *, gazetteer: PlaceFinder | None = None
) -> Iterator[RowResult]:
    """One RowResult per data row of a Sentinelle CSV (comma or semicolon separated), streamed.

    Raises ImportFormatError before the first row when the header is wrong.
    """
    stream = CsvStream(fileobj)
    check_header(stream.header)
    yield from rows_to_results(stream, [c.strip().lower() for c in stream.header], gazetteer)


def rows_to_results(
    stream: CsvStream, columns: Sequence[str | None], gazetteer: PlaceFinder | None
) -> Iterator[RowResult]:
    """Rows of `stream` as incidents; `columns` gives our name for each position (None: skip)."""
    for record in stream.records():
        if record.undecodable:
            yield RowResult(record.row_number, None, f"the row is not UTF-8 text; {UTF8_ADVICE}")
            continue
        if any(v.strip() for v in record.values[len(columns) :]):
            yield RowResult(
                record.row_number,
                None,
                f"the row has {len(record.values)} values for {len(columns)} columns",
            )
            continue
        # A cell our export neutralised for spreadsheets ('=...) is read back as its text.
        row = {
            name: restore_cell(value)
            for name, value in zip(columns, record.values, strict=False)
            if name is not None
        }
        try:
            yield RowResult(record.row_number, fields_to_incident(row, gazetteer=gazetteer))
        except RowError as exc:
            yield RowResult(record.row_number, None, exc.message, exc.field)


def _value(fields: Mapping[str, Any], name: str) -> Any:
    value = fields.get(name)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def fields_to_incident(
    fields: Mapping[str, Any], *, gazetteer: PlaceFinder | None = None
) -> IncidentInput:
    """An incident input dict from flat fields (strings from CSV/HXL or JSON values).

    `impact` may be a nested mapping or `impact_<field>` columns. Raises RowError naming the
    field at fault.
    """
    try:
        itype = get_type(str(_value(fields, "type") or ""))
    except UnknownCodeError as exc:
        raise RowError("type", str(exc)) from None
    occurred_raw = _value(fields, "occurred_at")
    if occurred_raw is None:
        raise RowError("occurred_at", "the date is empty; give it as 2024-03-14T06:30:00Z")
    incident: IncidentInput = {
        "type": itype.code,
        "occurred_at": iso_utc(parse_when(str(occurred_raw), "occurred_at")),
    }
    for name in _CHOICES:
        value = _value(fields, name)
        if value is None:
            continue
        text = str(value).lower() if name != "reliability" else str(value).upper()
        if text not in _CHOICES[name]:
            raise RowError(name, f"'{value}' is not one of {', '.join(_CHOICES[name])}")
        incident[name] = text
    incident.update(_location(fields, incident.get("location_precision"), gazetteer))

    given = fields.get("impact")
    nested: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    impact = empty_impact()
    for name in IMPACT_FIELDS:
        raw = nested.get(name) if name in nested else _value(fields, f"impact_{name}")
        impact[name] = parse_count(raw, f"impact_{name}")
    raw_aid = (
        nested.get("aid_workers_affected")
        if "aid_workers_affected" in nested
        else _value(fields, "impact_aid_workers_affected")
    )
    impact["aid_workers_affected"] = parse_bool(raw_aid, "impact_aid_workers_affected")
    incident["impact"] = impact

    severity = _value(fields, "severity")
    if severity is None:
        incident["severity"] = severity_for(itype.default_severity, impact)
    else:
        incident["severity"] = _int_in(severity, "severity", 1, 5)
    credibility = _value(fields, "credibility")
    if credibility is not None:
        incident["credibility"] = _int_in(credibility, "credibility", 1, 6)
    for name in ("actor", "description", "external_id"):
        value = _value(fields, name)
        if value is not None:
            incident[name] = str(value)
    return incident


def _int_in(value: Any, field: str, low: int, high: int) -> int:
    number = parse_float(value, field)
    if number != int(number) or not low <= number <= high:
        raise RowError(field, f"'{value}' must be a whole number from {low} to {high}")
    return int(number)


def _location(
    fields: Mapping[str, Any], precision: str | None, gazetteer: PlaceFinder | None
) -> IncidentInput:
    lat, lon = _value(fields, "lat"), _value(fields, "lon")
    geometry = _value(fields, "geometry")
    place_name = _value(fields, "place_name")
    found: IncidentInput = {}
    if place_name is not None:
        found["place_name"] = str(place_name)
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            raise RowError("lat" if lat is None else "lon", "give both lat and lon, or neither")
        found["geometry"] = point(parse_float(lon, "lon"), parse_float(lat, "lat"), field="lat")
        found["location_precision"] = precision or "exact"
        return found
    if geometry is not None:
        found["geometry"] = _geometry(geometry)
        found["location_precision"] = precision or "exact"
        return found
    if place_name is None:
        raise RowError("location", "no lat/lon, no geometry and no place_name; give one of them")
    places = gazetteer if gazetteer is not None else default_gazetteer()
    locality = places.lookup(str(place_name))
    if locality is None:
        raise RowError(
            "place_name", f"unknown place '{place_name}'; add lat and lon or use a nearby town"
        )
    found["geometry"] = point(locality.lon, locality.lat, field="place_name")
    found["location_precision"] = precision or "locality"
    found["place_name"] = locality.name
    return found


_GEOMETRY_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
}


def _geometry(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RowError("geometry", 'is not GeoJSON text like {"type": "Point", ...}') from None
    if not isinstance(value, Mapping) or value.get("type") not in _GEOMETRY_TYPES:
        raise RowError("geometry", "must be a GeoJSON geometry (Point, Polygon, ...)")
    if not isinstance(value.get("coordinates"), list) or not value["coordinates"]:
        raise RowError("geometry", "has no coordinates")
    if value["type"] == "Point":
        lon, lat = value["coordinates"][:2]
        return point(parse_float(lon, "geometry"), parse_float(lat, "geometry"))
    return dict(value)


# ---------------------------------------------------------------------------- export


def incident_to_fields(incident: Mapping[str, Any]) -> dict[str, str]:
    """Flat string fields (CSV_COLUMNS) for an incident dict (input or API output)."""
    out = dict.fromkeys(CSV_COLUMNS, "")
    for name in CSV_COLUMNS:
        value = incident.get(name)
        if value is not None and not isinstance(value, Mapping | list):
            out[name] = _cell(value)
    geometry = incident.get("geometry")
    if isinstance(geometry, Mapping) and geometry.get("type") == "Point":
        out["lon"], out["lat"] = (_cell(c) for c in geometry["coordinates"][:2])
        out["geometry"] = ""
    elif isinstance(geometry, Mapping):
        out["geometry"] = json.dumps(geometry, separators=(",", ":"))
    impact = incident.get("impact") or {}
    for name in (*IMPACT_FIELDS, "aid_workers_affected"):
        if name in impact:
            out[f"impact_{name}"] = _cell(impact[name])
    if not out["category"] and out["type"] in TYPES:
        out["category"] = TYPES[out["type"]].category
    return out


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat") and hasattr(value, "tzinfo"):
        return iso_utc(value)
    if hasattr(value, "value"):  # enums
        return str(value.value)
    return str(value)


def incidents_to_csv(incidents: Iterable[Mapping[str, Any]]) -> Iterator[list[str]]:
    """Header, then one row per incident, for `csv.writer(...).writerows(...)`; streamed.

    Text cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) get a
    leading `'` (the OWASP CSV injection rule); numbers stay numbers."""
    yield list(CSV_COLUMNS)
    for incident in incidents:
        fields = incident_to_fields(incident)
        yield neutralised_row(fields[c] for c in CSV_COLUMNS)


def write_csv(incidents: Iterable[Mapping[str, Any]], fileobj: IO[str]) -> int:
    """Write the CSV to a text file opened with newline=""; returns the number of incidents."""
    writer = csv.writer(fileobj)
    rows = incidents_to_csv(incidents)
    writer.writerow(next(rows))
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


# ---------------------------------------------------------------------------- detection


def detect_format(first_bytes: bytes, filename: str = "") -> str:
    """ "acled", "hxl", "geojson" or "csv" from the start of an upload and its name.

    Raises ImportFormatError for spreadsheets and other files that are not text exports.
    """
    name = filename.lower()
    if name.endswith((".xlsx", ".xls", ".ods")) or first_bytes.startswith(
        (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
    ):
        raise ImportFormatError(
            "file", "spreadsheets are not imported directly; save the sheet as CSV UTF-8"
        )
    text = first_bytes.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")) or name.endswith((".geojson", ".json")):
        return "geojson"
    lines = stripped.splitlines()
    if not lines:
        raise ImportFormatError("file", "the file is empty")
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    rows = list(csv.reader(lines[:25], delimiter=delimiter))
    header = {cell.strip().lower() for cell in rows[0]} if rows else set()
    if {"event_id_cnty", "event_type", "sub_event_type"} <= header:
        return "acled"
    if any(_is_hashtag_row(row) for row in rows):
        return "hxl"
    return "csv"


def _is_hashtag_row(row: Sequence[str]) -> bool:
    cells = [c.strip() for c in row if c.strip()]
    return bool(cells) and all(c.startswith("#") for c in cells)
