"""Parsing of free-text locations as field reporters give them (decimal, DMS, MGRS, WKT...)."""

from __future__ import annotations

import json
import re

import mgrs
import shapely

from geo.geometry import BBox, GeometryError, parse_geojson_geometry, point_from_lat_lon, to_geojson

__all__ = ["ACCEPTED_FORMS", "LocationParseError", "parse_location"]

ACCEPTED_FORMS = (
    'decimal latitude, longitude: "14.54, -9.19" or "14.54 -9.19"',
    "degrees-minutes-seconds: 14°32'15\"N 9°11'30\"W (O for ouest is accepted)",
    "degrees and decimal minutes: N14 32.5 W9 11.2",
    "MGRS: 29PPP 1130 9413 (as on GPS units)",
    "WKT: POINT (-9.19 14.54)",
    'GeoJSON geometry: {"type": "Point", "coordinates": [-9.19, 14.54]}',
)

_DECIMAL = re.compile(r"^\s*([+-]?\d{1,3}(?:\.\d+)?)\s*(?:[,;]\s*|\s+)([+-]?\d{1,3}(?:\.\d+)?)\s*$")
_WKT = re.compile(
    r"^\s*(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|GEOMETRYCOLLECTION)\b",
    re.IGNORECASE,
)
_MGRS = re.compile(r"^(\d{1,2}[C-HJ-NP-X][A-HJ-NP-Z]{2})(\d*)$")
# Degree, minute and second marks people type, including look-alikes from phones and Word.
_MARKS = re.compile(r"deg|min|sec|''|[°º˚dm'′’‘`\"″”“]", re.IGNORECASE)
_HEMI = {"N": 1, "S": -1, "E": 1, "W": -1, "O": -1}


class LocationParseError(ValueError):
    """Text that is not a location in any accepted form; the message lists the forms."""

    def __init__(self, text: str, reason: str, field: str = "location") -> None:
        self.text = text
        self.reason = reason
        self.field = field
        forms = "; ".join(ACCEPTED_FORMS)
        super().__init__(f"{field}: {reason}. Accepted forms: {forms}")


def parse_location(
    text: str, *, field: str = "location", service_area: BBox | None = None
) -> tuple[shapely.Geometry, str]:
    """(geometry, format) for a location typed by a person.

    Formats: ``geojson``, ``wkt``, ``decimal`` (latitude first, as people write it), ``dms``,
    ``ddm`` (degrees and decimal minutes) and ``mgrs``. With ``service_area`` (minlon, minlat,
    maxlon, maxlat), a location outside it whose lat/lon swap falls inside it is rejected.

    >>> geom, fmt = parse_location("14.54, -9.19")
    >>> (geom.x, geom.y, fmt)
    (-9.19, 14.54, 'decimal')
    """
    if not isinstance(text, str) or not text.strip():
        raise LocationParseError(str(text), "empty location", field)
    stripped = text.strip()
    try:
        if stripped.startswith("{"):
            geom, fmt = _geojson(stripped, field), "geojson"
        elif _WKT.match(stripped):
            geom, fmt = _wkt(stripped, field), "wkt"
        elif m := _DECIMAL.match(stripped):
            geom, fmt = point_from_lat_lon(float(m.group(1)), float(m.group(2))), "decimal"
        elif _MGRS.match(compact := re.sub(r"\s+", "", stripped).upper()):
            geom, fmt = _mgrs(compact, text, field), "mgrs"
        else:
            geom, fmt = _dms(stripped, field)
        if service_area is not None:
            # Same rule as for GeoJSON input: outside the area but inside once swapped.
            parse_geojson_geometry(
                to_geojson(geom, ndigits=9), field=field, service_area=service_area
            )
        return geom, fmt
    except GeometryError as exc:
        raise LocationParseError(text, f"{exc.field}: {exc.message}", field) from exc


def _geojson(text: str, field: str) -> shapely.Geometry:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LocationParseError(text, f"not valid JSON ({exc.msg})", field) from None
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    return parse_geojson_geometry(obj, field=field)


def _wkt(text: str, field: str) -> shapely.Geometry:
    try:
        geom = shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise LocationParseError(text, f"not valid WKT ({exc})", field) from None
    # Re-validate through the GeoJSON rules: ranges, lat/lon order, empty and invalid shapes.
    return parse_geojson_geometry(to_geojson(geom, ndigits=9), field=field)


def _mgrs(compact: str, text: str, field: str) -> shapely.Geometry:
    digits = _MGRS.match(compact).group(2)  # type: ignore[union-attr]
    if len(digits) % 2 or len(digits) > 10:
        raise LocationParseError(
            text, "MGRS easting and northing need the same number of digits", field
        )
    try:
        lat, lon = mgrs.MGRS().toLatLon(compact)
    except Exception as exc:  # the C library raises bare exceptions for bad squares
        raise LocationParseError(text, f"not a valid MGRS reference ({exc})", field) from None
    return point_from_lat_lon(lat, lon)


def _dms(text: str, field: str) -> tuple[shapely.Geometry, str]:
    cleaned = _MARKS.sub(" ", text.replace(",", " ").upper())
    tokens = re.findall(r"\d+(?:\.\d+)?|[A-Z]+|\S", cleaned)
    if not tokens or any(not (t[0].isdigit() or t in _HEMI) for t in tokens):
        raise LocationParseError(text, "not a recognised location", field)
    prefix = tokens[0] in _HEMI
    groups: list[tuple[str, list[float]]] = []
    current: list[float] = []
    pending: str | None = None
    for tok in tokens:
        if tok in _HEMI:
            if prefix:
                if pending is not None:
                    groups.append((pending, current))
                pending, current = tok, []
            else:
                groups.append((tok, current))
                current = []
        else:
            current.append(float(tok))
    if prefix and pending is not None:
        groups.append((pending, current))
    elif current:
        raise LocationParseError(text, "each coordinate needs N/S or E/W (or O)", field)
    lat = lon = None
    fractional_minutes = False
    has_seconds = False
    for hemi, parts in groups:
        if not 1 <= len(parts) <= 3:
            raise LocationParseError(
                text, "write degrees, minutes and seconds, e.g. 14°32'15\"N", field
            )
        deg, minutes, seconds = (*parts, 0.0, 0.0)[:3]
        if minutes >= 60 or seconds >= 60:
            raise LocationParseError(text, "minutes and seconds must be below 60", field)
        if (len(parts) > 1 and deg != int(deg)) or (len(parts) > 2 and minutes != int(minutes)):
            raise LocationParseError(text, "only the last part may have decimals", field)
        fractional_minutes |= len(parts) == 2 and minutes != int(minutes)
        has_seconds |= len(parts) == 3
        value = _HEMI[hemi] * (deg + minutes / 60 + seconds / 3600)
        if hemi in "NS":
            if lat is not None:
                raise LocationParseError(text, "latitude given twice", field)
            lat = value
        else:
            if lon is not None:
                raise LocationParseError(text, "longitude given twice", field)
            lon = value
    if lat is None or lon is None:
        raise LocationParseError(text, "give both a latitude (N/S) and a longitude (E/W)", field)
    fmt = "ddm" if fractional_minutes and not has_seconds else "dms"
    return point_from_lat_lon(lat, lon), fmt
