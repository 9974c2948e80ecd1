"""Geodesic and local-metric measures: distances, areas, buffers and positions along routes."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from shapely.ops import substring

__all__ = [
    "bbox_around",
    "buffer_km",
    "cut_line_km",
    "distance_to_line_km",
    "geodesic_area_km2",
    "geodesic_distance_km",
    "geodesic_length_km",
    "local_transformers",
]

GEOD = pyproj.Geod(ellps="WGS84")
_WGS84 = pyproj.CRS.from_epsg(4326)
# Conservative lower bounds of the length of one degree on the WGS84 ellipsoid.
_KM_PER_DEG_LAT_MIN = 110.57
_KM_PER_DEG_LON_EQUATOR = 111.32

FloatArray = npt.NDArray[np.float64]
_G = TypeVar("_G", bound=shapely.Geometry)


def geodesic_distance_km(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> FloatArray:
    """Geodesic (WGS84 ellipsoid) distances in km; arrays broadcast, scalars give a 0-d array.

    >>> round(float(geodesic_distance_km(0, 0, 1, 0)), 3)
    111.319
    """
    arrays = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (lon1, lat1, lon2, lat2))
    )
    shape = arrays[0].shape
    x1, y1, x2, y2 = (np.ascontiguousarray(a).ravel() for a in arrays)
    _, _, dist = GEOD.inv(x1, y1, x2, y2)
    return np.asarray(dist, dtype=np.float64).reshape(shape) / 1000.0


def geodesic_area_km2(geom: shapely.Geometry) -> float:
    """Area on the ellipsoid in km² (0 for points and lines)."""
    if shapely.is_empty(geom) or shapely.get_dimensions(geom) < 2:
        return 0.0
    area, _ = GEOD.geometry_area_perimeter(geom)
    return abs(float(area)) / 1e6


def geodesic_length_km(geom: shapely.Geometry) -> float:
    """Length on the ellipsoid in km (perimeter for polygons, 0 for points)."""
    if shapely.is_empty(geom) or shapely.get_dimensions(geom) < 1:
        return 0.0
    return float(GEOD.geometry_length(geom)) / 1000.0


@lru_cache(maxsize=256)
def local_transformers(lon: float, lat: float) -> tuple[pyproj.Transformer, pyproj.Transformer]:
    """(to_metric, to_wgs84) for an azimuthal equidistant projection centred on (lon, lat).

    Callers round the centre (0.1°) so transformers are reused across nearby geometries.
    """
    aeqd = pyproj.CRS.from_proj4(
        f"+proj=aeqd +lat_0={lat} +lon_0={lon} +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    )
    fwd = pyproj.Transformer.from_crs(_WGS84, aeqd, always_xy=True)
    inv = pyproj.Transformer.from_crs(aeqd, _WGS84, always_xy=True)
    return fwd, inv


def _centre(geom: shapely.Geometry) -> tuple[float, float]:
    minx, miny, maxx, maxy = shapely.bounds(geom)
    return round((minx + maxx) / 2, 1), round((miny + maxy) / 2, 1)


def _apply(geom: _G, transformer: pyproj.Transformer) -> _G:
    def fn(xy: FloatArray) -> FloatArray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fn)


def buffer_km(geom: shapely.Geometry, km: float, *, quad_segs: int = 16) -> shapely.Geometry:
    """Metric buffer of ``km`` kilometres, computed in a local azimuthal equidistant projection.

    Exact for a point (a geodesic circle up to the polygon approximation); for long geometries the
    error grows with distance from the centre (about 0.4 % at 1,000 km).
    """
    if km < 0:
        raise ValueError("buffer distance must be zero or positive")
    fwd, inv = local_transformers(*_centre(geom))
    metric = shapely.buffer(_apply(geom, fwd), km * 1000.0, quad_segs=quad_segs)
    return _apply(metric, inv)


def corridor_km(line: shapely.LineString, km: float, *, quad_segs: int = 16) -> shapely.Geometry:
    """The same area as ``buffer_km(line, km)``, as the union of each segment's buffer.

    GEOS buffers a whole line by noding it against itself, which takes tens of seconds for a
    route that doubles back on itself many times; the union of round-capped segment buffers is
    the same shape (round joins) at a fraction of the cost, whatever the route's shape.
    """
    if km < 0:
        raise ValueError("buffer distance must be zero or positive")
    fwd, inv = local_transformers(*_centre(line))
    coords = np.asarray(_apply(line, fwd).coords, dtype=np.float64)[:, :2]
    if len(coords) < 3:
        return buffer_km(line, km, quad_segs=quad_segs)
    segments = shapely.linestrings(np.stack([coords[:-1], coords[1:]], axis=1))
    metric = shapely.union_all(shapely.buffer(segments, km * 1000.0, quad_segs=quad_segs))
    return _apply(metric, inv)


def bbox_around(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """(minlon, minlat, maxlon, maxlat) covering the geodesic circle, with a small margin.

    Near a pole, or where the box would cross the antimeridian, longitudes span -180..180.
    """
    margin = 1.01
    dlat = radius_km * margin / _KM_PER_DEG_LAT_MIN
    minlat, maxlat = max(lat - dlat, -90.0), min(lat + dlat, 90.0)
    widest = max(abs(minlat), abs(maxlat))
    if widest >= 89.0:
        return -180.0, minlat, 180.0, maxlat
    dlon = radius_km * margin / (_KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(widest)))
    if dlon >= 180.0 or lon - dlon < -180.0 or lon + dlon > 180.0:
        return -180.0, minlat, 180.0, maxlat
    return lon - dlon, minlat, lon + dlon, maxlat


def _line_frame(
    line: shapely.LineString,
) -> tuple[pyproj.Transformer, pyproj.Transformer, shapely.LineString, float]:
    """Projected route and the factor from projected metres to geodesic km along it."""
    fwd, inv = local_transformers(*_centre(line))
    metric = _apply(line, fwd)
    projected = float(metric.length)
    scale = geodesic_length_km(line) / projected if projected > 0 else 1e-3
    return fwd, inv, metric, scale


def distance_to_line_km(
    line: shapely.LineString, lons: npt.ArrayLike, lats: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """For each point: (distance from the route in km, position along the route in km).

    Vectorised: points are projected into an azimuthal equidistant frame centred on the route.
    Positions along the route are scaled to the route's geodesic length.
    """
    if shapely.get_type_id(line) != 1 or line.is_empty:
        raise ValueError("a route must be a non-empty LineString")
    fwd, _, metric, scale = _line_frame(line)
    x, y = fwd.transform(np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64))
    points = shapely.points(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    distance = np.asarray(shapely.distance(metric, points), dtype=np.float64) / 1000.0
    along = np.asarray(shapely.line_locate_point(metric, points), dtype=np.float64) * scale
    return distance, along


def cut_line_km(line: shapely.LineString, segment_km: float) -> list[shapely.LineString]:
    """Cut a route into consecutive segments of about ``segment_km`` (all the same length)."""
    if segment_km <= 0:
        raise ValueError("segment length must be positive")
    if shapely.get_type_id(line) != 1 or line.is_empty:
        raise ValueError("a route must be a non-empty LineString")
    _, inv, metric, scale = _line_frame(line)
    total_km = metric.length * scale
    n = max(1, round(total_km / segment_km))
    step = metric.length / n
    out: list[shapely.LineString] = []
    for i in range(n):
        piece = substring(metric, i * step, (i + 1) * step)
        if not isinstance(piece, shapely.LineString):  # a Point: the route has no length
            raise ValueError("a route must have a length")
        out.append(_apply(piece, inv))
    # Keep the original end points exactly (projection round trips move them by ~1e-9°).
    first, last = line.coords[0], line.coords[-1]
    out[0] = shapely.LineString([first, *out[0].coords[1:]])
    out[-1] = shapely.LineString([*out[-1].coords[:-1], last])
    return out
