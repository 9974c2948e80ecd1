"""Validation, repair and conversion of user-supplied GeoJSON geometries (RFC 7946, lon/lat)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

__all__ = [
    "GEOMETRY_TYPES",
    "BBox",
    "GeometryError",
    "bbox",
    "from_wkb",
    "parse_geojson_geometry",
    "point_from_lat_lon",
    "point_geojson",
    "repair_polygon",
    "swap_lon_lat",
    "to_geojson",
    "to_wkb",
]

BBox = tuple[float, float, float, float]

GEOMETRY_TYPES = (
    "Point",
    "LineString",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
)

SWAPPED_HINT = "coordinates look like [lat, lon]; GeoJSON wants [lon, lat]: swap the two values"


class GeometryError(ValueError):
    """A geometry the user must fix; ``field`` points at the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- parsing -------------------------------------------------------------------------------


def base_geometry(geom: shapely.Geometry) -> BaseGeometry:
    """The geometry as the Python class every shapely geometry is (the typing stubs' `Geometry`
    is the C base class, without attributes such as ``geom_type`` or ``__geo_interface__``)."""
    if not isinstance(geom, BaseGeometry):
        raise TypeError(f"not a shapely geometry: {type(geom).__name__}")
    return geom


def _number(value: Any, field: str) -> float:
    # bool is an int subclass; true/false in a coordinate is always a client bug.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GeometryError(field, f"expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise GeometryError(field, "expected a finite number")
    return number


def _position(value: Any, field: str) -> tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise GeometryError(field, "expected a position [longitude, latitude]")
    if not 2 <= len(value) <= 3:
        raise GeometryError(
            field, f"a position has 2 numbers [longitude, latitude], got {len(value)}"
        )
    lon = _number(value[0], f"{field}[0]")
    lat = _number(value[1], f"{field}[1]")
    if len(value) == 3:
        _number(value[2], f"{field}[2]")  # altitude is accepted and dropped
    if abs(lat) > 90:
        if abs(lon) <= 90 and abs(lat) <= 180:
            raise GeometryError(field, SWAPPED_HINT)
        raise GeometryError(f"{field}[1]", f"latitude {lat} is outside -90..90")
    if abs(lon) > 180:
        raise GeometryError(f"{field}[0]", f"longitude {lon} is outside -180..180")
    return lon, lat


def _list(value: Any, field: str, what: str) -> Sequence[Any]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise GeometryError(field, f"expected an array of {what}")
    if len(value) == 0:
        raise GeometryError(field, f"empty geometry: give at least one {what[:-1]}")
    return value


def _positions(value: Any, field: str) -> list[tuple[float, float]]:
    items = _list(value, field, "positions")
    return [_position(p, f"{field}[{i}]") for i, p in enumerate(items)]


def _line(value: Any, field: str) -> list[tuple[float, float]]:
    pts = _positions(value, field)
    if len(pts) < 2:
        raise GeometryError(field, "a LineString needs at least 2 positions")
    return pts


def _ring(value: Any, field: str) -> list[tuple[float, float]]:
    pts = _positions(value, field)
    if len(pts) < 4:
        raise GeometryError(
            field, f"a polygon ring needs at least 4 positions (first = last), got {len(pts)}"
        )
    if pts[0] != pts[-1]:
        raise GeometryError(
            field, "polygon ring is not closed: repeat the first position as the last one"
        )
    return pts


def _polygon(value: Any, field: str) -> shapely.Polygon:
    rings = _list(value, field, "rings")
    parsed = [_ring(r, f"{field}[{i}]") for i, r in enumerate(rings)]
    return shapely.Polygon(parsed[0], parsed[1:])


def _build(obj: Any, field: str) -> shapely.Geometry:
    if not isinstance(obj, Mapping):
        raise GeometryError(
            field, "expected a GeoJSON geometry object with 'type' and 'coordinates'"
        )
    gtype = obj.get("type")
    if gtype == "Feature":
        raise GeometryError(
            f"{field}.type", "expected a geometry, got a Feature: send its 'geometry'"
        )
    if gtype == "GeometryCollection":
        raise GeometryError(
            f"{field}.type",
            "GeometryCollection is not supported: send one geometry or a Multi* geometry",
        )
    if gtype not in GEOMETRY_TYPES:
        raise GeometryError(f"{field}.type", f"type must be one of {', '.join(GEOMETRY_TYPES)}")
    if "coordinates" not in obj:
        raise GeometryError(f"{field}.coordinates", "missing 'coordinates'")
    coords = obj["coordinates"]
    cf = f"{field}.coordinates"
    if gtype == "Point":
        return shapely.Point(_position(coords, cf))
    if gtype == "LineString":
        return shapely.LineString(_line(coords, cf))
    if gtype == "Polygon":
        return _polygon(coords, cf)
    items = _list(coords, cf, "members")
    if gtype == "MultiPoint":
        return shapely.MultiPoint([_position(p, f"{cf}[{i}]") for i, p in enumerate(items)])
    if gtype == "MultiLineString":
        return shapely.MultiLineString([_line(ln, f"{cf}[{i}]") for i, ln in enumerate(items)])
    return shapely.MultiPolygon([_polygon(p, f"{cf}[{i}]") for i, p in enumerate(items)])


def swap_lon_lat(geom: shapely.Geometry) -> shapely.Geometry:
    """The same geometry with x and y exchanged (to test a [lat, lon] mix-up)."""
    return shapely.transform(geom, lambda xy: xy[:, ::-1])


def _check_service_area(geom: shapely.Geometry, field: str, service_area: BBox | None) -> None:
    if service_area is None:
        return
    area = shapely.box(*service_area)
    if area.intersects(geom):
        return
    minx, _, maxx, _ = shapely.bounds(geom)
    if max(abs(minx), abs(maxx)) > 90:
        return  # cannot be a latitude, so the swap is not a valid geometry
    if area.covers(swap_lon_lat(geom)):
        raise GeometryError(field, SWAPPED_HINT)


def parse_geojson_geometry(
    obj: Any,
    *,
    field: str = "geometry",
    max_vertices: int = 10_000,
    service_area: BBox | None = None,
) -> shapely.Geometry:
    """Validate a GeoJSON geometry object and return it as a shapely geometry.

    Raises GeometryError naming the offending field (e.g. ``geometry.coordinates[0][3]``).

    >>> parse_geojson_geometry({"type": "Point", "coordinates": [-8.0, 12.65]}).wkt
    'POINT (-8 12.65)'
    """
    geom = _build(obj, field)
    n = int(shapely.get_num_coordinates(geom))
    if n > max_vertices:
        raise GeometryError(
            f"{field}.coordinates",
            f"too many vertices ({n} > {max_vertices}): simplify the geometry",
        )
    if shapely.get_type_id(geom) in (3, 6) and not shapely.is_valid(geom):
        reason = shapely.is_valid_reason(geom)
        raise GeometryError(
            f"{field}.coordinates",
            f"invalid polygon ({reason}): rings must not cross themselves or each other",
        )
    _check_service_area(geom, field, service_area)
    return geom


def _coordinate(value: Any, field: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            raise GeometryError(field, f"expected a decimal number, got {value!r}") from None
    return _number(value, field)


def point_from_lat_lon(lat: Any, lon: Any, *, service_area: BBox | None = None) -> shapely.Point:
    """A WGS84 point from separate latitude and longitude values (numbers or numeric strings)."""
    y = _coordinate(lat, "lat")
    x = _coordinate(lon, "lon")
    if abs(y) > 90:
        if abs(x) <= 90 and abs(y) <= 180:
            raise GeometryError(
                "lat", f"latitude {y} is outside -90..90; latitude and longitude look swapped"
            )
        raise GeometryError("lat", f"latitude {y} is outside -90..90")
    if abs(x) > 180:
        raise GeometryError("lon", f"longitude {x} is outside -180..180")
    if service_area is not None:
        minx, miny, maxx, maxy = service_area
        outside = not (minx <= x <= maxx and miny <= y <= maxy)
        if outside and minx <= y <= maxx and miny <= x <= maxy:
            raise GeometryError(
                "lat",
                "latitude and longitude look swapped: the swapped point is in the service area",
            )
    return shapely.Point(x, y)


# --- repair --------------------------------------------------------------------------------


def _polygonal_parts(geom: shapely.Geometry) -> list[shapely.Polygon]:
    parts = shapely.get_parts(geom)
    out: list[shapely.Polygon] = []
    for part in parts:
        tid = shapely.get_type_id(part)
        if tid == 3:
            out.append(part)
        elif tid in (6, 7):
            out.extend(_polygonal_parts(part))
    return [p for p in out if not p.is_empty and p.area > 0]


def repair_polygon(
    geom: shapely.Geometry, *, field: str = "geometry"
) -> tuple[shapely.Geometry, list[str]]:
    """Make a (multi)polygon valid for zone import; return it with what was repaired.

    Raises GeometryError if nothing polygonal is left.
    """
    report: list[str] = []
    if shapely.get_type_id(geom) not in (3, 6, 7):
        raise GeometryError(
            field, f"expected a Polygon or MultiPolygon, got {base_geometry(geom).geom_type}"
        )
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)
        report.append("dropped altitude (z) values")
    if not shapely.is_valid(geom):
        report.append(f"was invalid ({shapely.is_valid_reason(geom)}); repaired with make_valid")
        geom = shapely.make_valid(geom)
    parts = _polygonal_parts(geom)
    dropped = int(shapely.get_num_geometries(geom)) - len(parts)
    if shapely.get_type_id(geom) == 7 and dropped > 0:
        report.append(f"dropped {dropped} non-polygonal part(s) (lines or points)")
    if not parts:
        raise GeometryError(field, "no polygon area left after repair: check the geometry")
    result: shapely.Geometry = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    return result, report


# --- conversions ---------------------------------------------------------------------------


def to_wkb(geom: shapely.Geometry) -> bytes:
    """Well-known binary (2D, no SRID) for storage."""
    return bytes(shapely.to_wkb(geom, output_dimension=2))


def from_wkb(data: bytes) -> shapely.Geometry:
    return shapely.from_wkb(data)


def _rounded(value: Any, ndigits: int) -> Any:
    if isinstance(value, float | int | np.floating):
        return round(float(value), ndigits)
    return [_rounded(v, ndigits) for v in value]


def to_geojson(geom: shapely.Geometry, *, ndigits: int = 6) -> dict[str, Any]:
    """A GeoJSON geometry dict with list coordinates rounded to ``ndigits`` (6 ≈ 0.1 m).

    Polygons come out as RFC 7946 §3.1.6 asks: exterior rings counter-clockwise, holes
    clockwise. A valid polygon is snap-rounded to the same grid first, so that rounding cannot
    make it self-intersecting (a narrow neck may split it into a MultiPolygon; a polygon smaller
    than the grid is kept as it was). An invalid one is left as given: repairing is the caller's
    decision (`repair_polygon`).
    """
    doc = dict(mapping(base_geometry(_rfc7946_polygons(geom, ndigits))))
    if "coordinates" in doc:
        doc["coordinates"] = _rounded(doc["coordinates"], ndigits)
    return doc


def _rfc7946_polygons(geom: shapely.Geometry, ndigits: int) -> shapely.Geometry:
    if shapely.get_type_id(geom) not in (3, 6, 7):
        return geom
    if shapely.get_type_id(geom) in (3, 6) and shapely.is_valid(geom):
        # Plain rounding keeps the vertices as given; snap-rounding (which may start a ring
        # elsewhere) only where plain rounding would break a valid polygon.
        rounded = shapely.remove_repeated_points(
            shapely.transform(geom, lambda xy: np.round(xy, ndigits))
        )
        if shapely.is_valid(rounded):
            geom = rounded
        else:
            snapped = shapely.set_precision(geom, 10.0**-ndigits)
            if not shapely.is_empty(snapped) and shapely.get_type_id(snapped) in (3, 6):
                geom = snapped
    return shapely.orient_polygons(geom, exterior_cw=False)


def point_geojson(lon: float, lat: float, *, ndigits: int = 6) -> dict[str, Any]:
    """Same as ``to_geojson`` of a 2D point, without building the mapping (hot on imports)."""
    return {
        "type": "Point",
        "coordinates": [round(float(lon), ndigits), round(float(lat), ndigits)],
    }


def bbox(geom: shapely.Geometry) -> BBox:
    """(minlon, minlat, maxlon, maxlat)."""
    minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(geom))
    return minx, miny, maxx, maxy
