"""GET /api/v1/health: is the service up and its database reachable (no token needed)."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency
from msgspec import Struct

from incidents.db import Database


class Health(Struct):
    status: str
    database: str


@get("/api/v1/health", tags=["health"], summary="Service and database health")
async def health(db: NamedDependency[Database]) -> Response[Health]:
    ok = await db.ping()
    return Response(
        Health(status="ok" if ok else "degraded", database="reachable" if ok else "unreachable"),
        status_code=200 if ok else 503,
    )


ROUTES = [health]
