"""/api/v1/places and zones by place: which zones hold a place, narrowest first."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from msgspec import Struct

from api.http.auth import ANY_ROLE
from api.http.routes.common import principal_of
from geo.gazetteer import Locality
from incidents.errors import InvalidField
from incidents.zones.store import Located, ZoneService, check_query

MAX_PLACES = 20


class PlaceOut(Struct):
    name: str
    lat: float
    lon: float
    admin1: str | None
    kind: str
    # Where the entry comes from: "geonames:<id>", "curated: <reference>", "cod:<pcode>".
    source: str


class HoldingZone(Struct):
    """A zone holding a place: its id (for /zones/{id}/risk), name, kind and area."""

    zone_id: str
    code: str
    name: str
    kind: str
    area_km2: float


class PlaceZonesOut(Struct):
    place: PlaceOut
    # Narrowest first (town circle, cercle, région, border belt, country).
    zones: list[HoldingZone]


class PlacesOut(Struct):
    query: str
    places: list[PlaceZonesOut]


def place_out(place: Locality) -> PlaceOut:
    return PlaceOut(
        name=place.name,
        lat=round(place.lat, 5),
        lon=round(place.lon, 5),
        admin1=place.admin1,
        kind=place.kind,
        source=place.source,
    )


def holding_zones(located: Located) -> list[HoldingZone]:
    return [
        HoldingZone(z.id, z.code, z.name_fr, z.kind, round(area, 3))
        for z, area in zip(located.zones, located.areas_km2, strict=True)
    ]


@get(
    "/api/v1/places",
    guards=[ANY_ROLE],
    tags=["zones"],
    summary="Places by name, each with the zones holding it",
    description="`q`: a place name (accents, case and small typos ignored), at most 100 "
    "characters. Up to `limit` (1-20, default 5) places of the gazetteer (packaged GeoNames "
    "extract and places imported with `sentinelle places import`), best first; each lists the "
    "zones you may see that hold it, narrowest first: the first is the one "
    "`GET /api/v1/zones/{name}/risk` answers for.",
)
async def search_places(
    request: Request[Any, Any, Any],
    zone_service: NamedDependency[ZoneService],
    q: FromQuery[str],
    limit: FromQuery[int] = 5,
) -> PlacesOut:
    text = check_query(q)
    if not 1 <= limit <= MAX_PLACES:
        raise InvalidField("limit", f"limit is between 1 and {MAX_PLACES}")
    viewer = principal_of(request)
    found = await zone_service.places_named(text, viewer, limit=limit)
    return PlacesOut(
        query=text,
        places=[PlaceZonesOut(place_out(p), holding_zones(located)) for p, located in found],
    )


ROUTES = [search_places]
