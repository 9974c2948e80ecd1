"""Geometry, measures, place names and zones for Sentinelle (pure: no database, no web)."""

from geo.gazetteer import Gazetteer, Locality, UnknownPlaceError, normalize_name
from geo.geometry import (
    BBox,
    GeometryError,
    bbox,
    from_wkb,
    parse_geojson_geometry,
    point_from_lat_lon,
    repair_polygon,
    swap_lon_lat,
    to_geojson,
    to_wkb,
)
from geo.index import ZoneIndex, assign_points_loop
from geo.measure import (
    bbox_around,
    buffer_km,
    cut_line_km,
    distance_to_line_km,
    geodesic_area_km2,
    geodesic_distance_km,
    geodesic_length_km,
)
from geo.parse import LocationParseError, parse_location
from geo.zones import (
    ZONE_KINDS,
    Zone,
    default_zones,
    detect_cod_fields,
    mali_outline,
    zones_from_geojson,
)

# Rough box around Mali (minlon, minlat, maxlon, maxlat) for lat/lon mix-up detection.
MALI_SERVICE_AREA: BBox = (-12.5, 10.0, 4.5, 25.1)

__all__ = [
    "MALI_SERVICE_AREA",
    "ZONE_KINDS",
    "BBox",
    "Gazetteer",
    "GeometryError",
    "Locality",
    "LocationParseError",
    "UnknownPlaceError",
    "Zone",
    "ZoneIndex",
    "assign_points_loop",
    "bbox",
    "bbox_around",
    "buffer_km",
    "cut_line_km",
    "default_zones",
    "detect_cod_fields",
    "distance_to_line_km",
    "from_wkb",
    "geodesic_area_km2",
    "geodesic_distance_km",
    "geodesic_length_km",
    "mali_outline",
    "normalize_name",
    "parse_geojson_geometry",
    "parse_location",
    "point_from_lat_lon",
    "repair_polygon",
    "swap_lon_lat",
    "to_geojson",
    "to_wkb",
    "zones_from_geojson",
]
