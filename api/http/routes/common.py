"""Small helpers shared by the route modules: the clock, the caller, query-parameter parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request

from incidents.errors import InvalidField
from incidents.identity.accounts import Principal


def utcnow() -> datetime:
    return datetime.now(UTC)


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    user = request.user
    assert isinstance(user, Principal)
    return user


def parse_floats(value: str, count: int, field: str, form: str) -> list[float]:
    parts = [p.strip() for p in value.split(",")]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise InvalidField(field, f"{field} must be {form}, e.g. {form}") from None
    if len(numbers) != count:
        raise InvalidField(field, f"{field} must be {count} numbers: {form}")
    return numbers


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = parse_floats(value, 4, "bbox", "minLon,minLat,maxLon,maxLat")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180):
        raise InvalidField(
            "bbox", "bbox longitudes must be within -180..180 (order minLon,minLat,maxLon,maxLat)."
        )
    if not (-90 <= miny <= 90 and -90 <= maxy <= 90):
        raise InvalidField(
            "bbox", "bbox latitudes must be within -90..90 (order minLon,minLat,maxLon,maxLat)."
        )
    if minx > maxx or miny > maxy:
        raise InvalidField(
            "bbox", "bbox minimum must not exceed its maximum: minLon,minLat,maxLon,maxLat."
        )
    return minx, miny, maxx, maxy


def parse_lat_lon(value: str, field: str = "near") -> tuple[float, float]:
    lat, lon = parse_floats(value, 2, field, "lat,lon")
    if not -90 <= lat <= 90:
        raise InvalidField(field, f"latitude {lat} is outside -90..90; {field} is lat,lon.")
    if not -180 <= lon <= 180:
        raise InvalidField(field, f"longitude {lon} is outside -180..180; {field} is lat,lon.")
    return lat, lon


def parse_codes(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
