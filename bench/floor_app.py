"""The HTTP floor: a bare Litestar handler that decodes a msgspec body and answers 201."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Litestar, post


class Body(msgspec.Struct):
    """The fields a client always sends; the rest of the incident is accepted and ignored."""

    type: str
    occurred_at: datetime
    lat: float | None = None
    lon: float | None = None
    severity: int | None = None
    place_name: str | None = None
    description: str | None = None
    source_type: str | None = None
    reliability: str | None = None
    credibility: int | None = None


class Created(msgspec.Struct):
    type: str


@post("/api/v1/incidents", status_code=201)
async def report(data: Body) -> Created:
    return Created(type=data.type)


def create_floor_app() -> Litestar:
    return Litestar(route_handlers=[report], debug=False)
