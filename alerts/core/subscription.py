"""Alert subscriptions: who wants to hear about what, where, how and when."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from geo.geometry import GeometryError, base_geometry, parse_geojson_geometry
from geo.measure import buffer_km
from incidents.records.model import Status
from incidents.taxonomy.catalogue import UnknownCodeError, expand_codes

Language: TypeAlias = Literal["fr", "en"]
MessageFormat: TypeAlias = Literal["sms", "full"]

LANGUAGES: tuple[Language, ...] = ("fr", "en")
FORMATS: tuple[MessageFormat, ...] = ("sms", "full")
MAX_RADIUS_KM = 500.0
# Bounds on what one subscription may ask for (each answered 422 naming the field). Area
# geometries are bounded by geo.geometry.parse_geojson_geometry (10,000 vertices).
MAX_CHANNELS = 10
MAX_CHANNEL_CHARS = 2000
MAX_ZONES = 50
MAX_TYPES = 100
MAX_QUIET_HOURS_CHARS = 32
# Buffering a route costs vertices times corridor width (a self-crossing 10,000-vertex track
# takes minutes): the same bounds as route assessment (incidents.assessment).
MAX_ROUTE_VERTICES = 1_000
MAX_CORRIDOR_KM = 50.0
DEFAULT_CORRIDOR_KM = 10.0
DEFAULT_STATUSES: frozenset[str] = frozenset({Status.REPORTED.value, Status.VERIFIED.value})
LEVELS = range(1, 6)
SEVERITIES = range(1, 6)


class SubscriptionError(ValueError):
    """A subscription field the user must fix; `field` is a dotted path like "area.radius_km"."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- areas -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZonesArea:
    """One or more administrative or operational zones, by id."""

    zones: tuple[str, ...]
    kind: Literal["zones"] = field(default="zones", init=False)

    def to_geometry(self, zone_geometries: Mapping[str, BaseGeometry]) -> BaseGeometry:
        parts = []
        for i, zone_id in enumerate(self.zones):
            geom = zone_geometries.get(zone_id)
            if geom is None:
                raise SubscriptionError(
                    f"area.zones[{i}]",
                    f"unknown zone {zone_id!r}; choose a zone id from the list of zones",
                )
            parts.append(geom)
        return shapely.union_all(parts)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "zones": list(self.zones)}


@dataclass(frozen=True, slots=True)
class GeometryArea:
    """A polygon drawn by the user (GeoJSON Polygon or MultiPolygon, WGS84)."""

    geojson: Mapping[str, Any]
    geometry: BaseGeometry = field(compare=False, repr=False)
    kind: Literal["geometry"] = field(default="geometry", init=False)

    def to_geometry(self, zone_geometries: Mapping[str, BaseGeometry]) -> BaseGeometry:
        return self.geometry

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "geometry": dict(self.geojson)}


@dataclass(frozen=True, slots=True)
class PointArea:
    """A circle around a place of work: centre (lat, lon) and radius in kilometres."""

    lat: float
    lon: float
    radius_km: float
    kind: Literal["point"] = field(default="point", init=False)

    def to_geometry(self, zone_geometries: Mapping[str, BaseGeometry]) -> BaseGeometry:
        return base_geometry(geodesic_circles([self.lat], [self.lon], [self.radius_km])[0])

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "lat": self.lat, "lon": self.lon, "radius_km": self.radius_km}


@dataclass(frozen=True, slots=True)
class RouteArea:
    """A corridor along a road the organisation travels (GeoJSON LineString, WGS84)."""

    geojson: Mapping[str, Any]
    line: LineString = field(compare=False, repr=False)
    corridor_km: float = DEFAULT_CORRIDOR_KM
    kind: Literal["route"] = field(default="route", init=False)

    def to_geometry(self, zone_geometries: Mapping[str, BaseGeometry]) -> BaseGeometry:
        return base_geometry(buffer_km(self.line, self.corridor_km))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "route": dict(self.geojson), "corridor_km": self.corridor_km}


Area: TypeAlias = ZonesArea | GeometryArea | PointArea | RouteArea
AREA_KINDS = ("zones", "geometry", "point", "route")

CIRCLE_SEGMENTS = 64
_GEOD = pyproj.Geod(ellps="WGS84")


def geodesic_circles(
    lats: npt.ArrayLike, lons: npt.ArrayLike, radii_km: npt.ArrayLike
) -> npt.NDArray[np.object_]:
    """Polygons approximating geodesic circles (WGS84), all computed in one vectorised call.

    Used for point areas instead of a per-area projected buffer: building a local projection
    costs tens of milliseconds per new centre, which adds up to minutes for 100,000 areas.
    """
    lat, lon, radius = (
        np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (lats, lons, radii_km)
    )
    n = len(lat)
    # Decreasing azimuths walk the ring counter-clockwise, as RFC 7946 wants for exteriors.
    azimuths = -np.linspace(0.0, 360.0, CIRCLE_SEGMENTS, endpoint=False)
    x, y, _ = _GEOD.fwd(
        np.repeat(lon, CIRCLE_SEGMENTS),
        np.repeat(lat, CIRCLE_SEGMENTS),
        np.tile(azimuths, n),
        np.repeat(radius * 1000.0, CIRCLE_SEGMENTS),
    )
    ring = np.stack([x, y], axis=-1).reshape(n, CIRCLE_SEGMENTS, 2)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    polygons: npt.NDArray[np.object_] = np.asarray(
        shapely.polygons(shapely.linearrings(ring)), dtype=object
    )
    return polygons


def area_geometries(
    areas: Sequence[Area], zone_geometries: Mapping[str, BaseGeometry]
) -> list[BaseGeometry]:
    """`area.to_geometry(zone_geometries)` for many areas, with point areas done in one batch."""
    result: list[BaseGeometry | None] = [None] * len(areas)
    points = [(i, a) for i, a in enumerate(areas) if isinstance(a, PointArea)]
    if points:
        circles = geodesic_circles(
            [a.lat for _, a in points], [a.lon for _, a in points], [a.radius_km for _, a in points]
        )
        for (i, _), circle in zip(points, circles, strict=True):
            result[i] = circle
    for i, area in enumerate(areas):
        if result[i] is None:
            result[i] = area.to_geometry(zone_geometries)
    return [g for g in result if g is not None]


def _number(obj: Mapping[str, Any], key: str, field: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SubscriptionError(f"{field}.{key}", "give a number")
    return float(value)


def _distance(
    obj: Mapping[str, Any],
    key: str,
    field: str,
    default: float | None,
    maximum: float = MAX_RADIUS_KM,
) -> float:
    if key not in obj and default is not None:
        return default
    if key not in obj:
        raise SubscriptionError(f"{field}.{key}", "give a distance in kilometres")
    km = _number(obj, key, field)
    if not 0 < km <= maximum:
        raise SubscriptionError(
            f"{field}.{key}", f"give a distance greater than 0 and at most {maximum:g} km"
        )
    return km


def _infer_kind(obj: Mapping[str, Any], field: str) -> str:
    present = [
        kind
        for kind, keys in (
            ("zones", ("zones",)),
            ("geometry", ("geometry",)),
            ("point", ("lat", "lon", "radius_km")),
            ("route", ("route",)),
        )
        if any(k in obj for k in keys)
    ]
    if len(present) != 1:
        raise SubscriptionError(
            f"{field}.kind",
            "give exactly one area: zones, geometry, point (lat, lon, radius_km) or route",
        )
    return present[0]


def area_from_json(obj: Any, field: str = "area") -> Area:
    """Validate a JSON area; errors name the offending field, e.g. "area.radius_km"."""
    if not isinstance(obj, Mapping) or not obj:
        raise SubscriptionError(
            field, "give an area: zones, geometry, point (lat, lon, radius_km) or route"
        )
    kind = obj.get("kind")
    if kind is None:
        kind = _infer_kind(obj, field)
    if kind not in AREA_KINDS:
        raise SubscriptionError(f"{field}.kind", f"choose one of {', '.join(AREA_KINDS)}")

    if kind == "zones":
        zones = obj.get("zones")
        if not isinstance(zones, list) or not zones:
            raise SubscriptionError(f"{field}.zones", "give a non-empty list of zone ids")
        if len(zones) > MAX_ZONES:
            raise SubscriptionError(
                f"{field}.zones",
                f"give at most {MAX_ZONES} zones; split the area into several "
                "subscriptions or draw it as one geometry",
            )
        for i, zone_id in enumerate(zones):
            if not isinstance(zone_id, str) or not zone_id.strip():
                raise SubscriptionError(f"{field}.zones[{i}]", "give a zone id (text)")
        return ZonesArea(tuple(dict.fromkeys(z.strip() for z in zones)))

    if kind == "geometry":
        geometry = _geometry(obj.get("geometry"), f"{field}.geometry", ("Polygon", "MultiPolygon"))
        return GeometryArea(obj["geometry"], geometry)

    if kind == "point":
        lat = _number(obj, "lat", field)
        lon = _number(obj, "lon", field)
        if not -90 <= lat <= 90:
            raise SubscriptionError(f"{field}.lat", "give a latitude between -90 and 90")
        if not -180 <= lon <= 180:
            raise SubscriptionError(f"{field}.lon", "give a longitude between -180 and 180")
        return PointArea(lat, lon, _distance(obj, "radius_km", field, None))

    line = _geometry(obj.get("route"), f"{field}.route", ("LineString",))
    assert isinstance(line, LineString)
    vertices = int(shapely.get_num_coordinates(line))
    if vertices > MAX_ROUTE_VERTICES:
        raise SubscriptionError(
            f"{field}.route.coordinates",
            f"a route has at most {MAX_ROUTE_VERTICES} vertices ({vertices} given): simplify "
            "the track (one point every few hundred metres is plenty)",
        )
    return RouteArea(
        obj["route"],
        line,
        _distance(obj, "corridor_km", field, DEFAULT_CORRIDOR_KM, MAX_CORRIDOR_KM),
    )


def _geometry(obj: Any, field: str, allowed: tuple[str, ...]) -> BaseGeometry:
    if not isinstance(obj, Mapping):
        raise SubscriptionError(field, f"give a GeoJSON {' or '.join(allowed)}")
    try:
        geometry = base_geometry(parse_geojson_geometry(obj, field=field))
    except GeometryError as exc:
        raise SubscriptionError(exc.field, exc.message) from exc
    if geometry.geom_type not in allowed:
        raise SubscriptionError(
            field, f"give a GeoJSON {' or '.join(allowed)}, not a {geometry.geom_type}"
        )
    if geometry.is_empty:
        raise SubscriptionError(field, "the geometry is empty; draw the area again")
    return geometry


# --- quiet hours -------------------------------------------------------------------------------

_QUIET_FORM = '"HH:MM-HH:MM", e.g. "22:00-06:00"'
_QUIET_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local times (Africa/Bamako by default) between which only flash alerts are sent."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start


def parse_quiet_hours(text: str, field: str = "quiet_hours") -> QuietHours:
    """Parse "22:00-06:00" (start-end, local time; may cross midnight)."""
    if isinstance(text, str) and len(text) > MAX_QUIET_HOURS_CHARS:
        raise SubscriptionError(field, f"give quiet hours in the form {_QUIET_FORM}")
    match = _QUIET_HOURS.match(text) if isinstance(text, str) else None
    if match is None:
        raise SubscriptionError(field, f"give quiet hours in the form {_QUIET_FORM}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise SubscriptionError(field, f"give real times in the form {_QUIET_FORM}")
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        raise SubscriptionError(field, "start and end are the same; give two different times")
    return QuietHours(start, end)


# --- subscriptions -----------------------------------------------------------------------------


@dataclass(slots=True)
class Subscription:
    """One user's standing request for alerts. Empty `types` means every incident type."""

    id: uuid.UUID
    owner_user_id: uuid.UUID
    owner_org_id: uuid.UUID | None
    channels: list[str]
    area: Area
    types: frozenset[str] = frozenset()
    min_severity: int = 1
    statuses: frozenset[str] = DEFAULT_STATUSES
    min_level: int = 4
    language: Language = "fr"
    format: MessageFormat = "full"
    quiet_hours: QuietHours | None = None
    paused: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "owner_user_id": str(self.owner_user_id),
            "owner_org_id": None if self.owner_org_id is None else str(self.owner_org_id),
            "channels": list(self.channels),
            "area": self.area.to_json(),
            "types": sorted(self.types),
            "min_severity": self.min_severity,
            "statuses": sorted(self.statuses),
            "min_level": self.min_level,
            "language": self.language,
            "format": self.format,
            "quiet_hours": None if self.quiet_hours is None else str(self.quiet_hours),
            "paused": self.paused,
        }


def parse_types(codes: Iterable[Any], field: str = "types") -> frozenset[str]:
    """Type or category codes -> the set of type codes; empty means every type."""
    if isinstance(codes, str | bytes) or not isinstance(codes, Iterable):
        raise SubscriptionError(field, "give a list of incident type or category codes")
    codes = list(codes)
    if len(codes) > MAX_TYPES:
        raise SubscriptionError(
            field,
            f"give at most {MAX_TYPES} type or category codes (a category code stands for "
            "all its types)",
        )
    result: set[str] = set()
    for i, code in enumerate(codes):
        if not isinstance(code, str):
            raise SubscriptionError(f"{field}[{i}]", "give an incident type or category code")
        try:
            result |= expand_codes([code], field=f"{field}[{i}]")
        except UnknownCodeError as exc:
            hint = (
                "did you mean " + " or ".join(repr(s) for s in exc.suggestions) + "?"
                if exc.suggestions
                else "see the list of incident types and categories"
            )
            raise SubscriptionError(
                f"{field}[{i}]", f"unknown incident type or category {code!r}; {hint}"
            ) from exc
    return frozenset(result)


def parse_statuses(values: Iterable[Any], field: str = "statuses") -> frozenset[str]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise SubscriptionError(field, "give a list of statuses")
    allowed = [s.value for s in Status]
    values = list(values)
    if len(values) > len(allowed):
        raise SubscriptionError(field, f"give each status once: {', '.join(allowed)}")
    result = set()
    for i, value in enumerate(values):
        if value not in allowed:
            raise SubscriptionError(f"{field}[{i}]", f"choose one of {', '.join(allowed)}")
        result.add(str(value))
    if not result:
        raise SubscriptionError(field, "choose at least one status, e.g. reported and verified")
    return frozenset(result)


def _level(value: Any, field: str, allowed: range) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise SubscriptionError(field, f"give a whole number from {allowed[0]} to {allowed[-1]}")
    return int(value)


def _choice(value: Any, field: str, allowed: Sequence[str]) -> Any:
    if value not in allowed:
        raise SubscriptionError(field, f"choose one of {', '.join(allowed)}")
    return value


def subscription_from_json(
    obj: Any,
    *,
    id: uuid.UUID,
    owner_user_id: uuid.UUID,
    owner_org_id: uuid.UUID | None,
    validate_channel: Callable[[str, str], None] | None = None,
) -> Subscription:
    """Validate a JSON subscription body. `validate_channel(url, field)` checks each channel URL
    (pass `alerts.channels.validate_channel_url`; kept injectable so this module needs no Apprise).
    """
    if not isinstance(obj, Mapping):
        raise SubscriptionError("body", "give a JSON object")
    channels = obj.get("channels")
    if not isinstance(channels, list) or not channels:
        raise SubscriptionError("channels", "give at least one channel address")
    if len(channels) > MAX_CHANNELS:
        raise SubscriptionError(
            "channels",
            f"give at most {MAX_CHANNELS} channel addresses; add a second subscription for more",
        )
    for i, url in enumerate(channels):
        if not isinstance(url, str) or not url.strip():
            raise SubscriptionError(f"channels[{i}]", "give a channel address (text)")
        if len(url) > MAX_CHANNEL_CHARS:
            raise SubscriptionError(
                f"channels[{i}]",
                f"give a channel address of at most {MAX_CHANNEL_CHARS} characters",
            )
        if validate_channel is not None:
            validate_channel(url.strip(), f"channels[{i}]")
    quiet = obj.get("quiet_hours")
    return Subscription(
        id=id,
        owner_user_id=owner_user_id,
        owner_org_id=owner_org_id,
        channels=[url.strip() for url in channels],
        area=area_from_json(obj.get("area"), "area"),
        types=parse_types(obj.get("types", [])),
        min_severity=_level(obj.get("min_severity", 1), "min_severity", SEVERITIES),
        statuses=parse_statuses(obj.get("statuses", sorted(DEFAULT_STATUSES))),
        min_level=_level(obj.get("min_level", 4), "min_level", LEVELS),
        language=_choice(obj.get("language", "fr"), "language", LANGUAGES),
        format=_choice(obj.get("format", "full"), "format", FORMATS),
        quiet_hours=None if quiet in (None, "") else parse_quiet_hours(str(quiet)),
        paused=_flag(obj.get("paused", False), "paused"),
    )


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise SubscriptionError(field, "give true or false")
    return value
