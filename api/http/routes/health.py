"""GET /api/v1/health (live: the process and its database answer) and GET /api/v1/ready (ready
to serve: database, schema at head, a dispatcher beating), both without a token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from msgspec import Struct

from api.bootstrap import Container
from api.checks import FAIL, NOT_READY, readiness
from api.http.errors import problem, request_language
from incidents import vocabulary
from incidents.db import Database


class Health(Struct):
    status: str
    database: str


class ReadyCheck(Struct):
    name: str
    status: str


class Ready(Struct):
    status: str
    checks: list[ReadyCheck]


@get("/api/v1/health", tags=["health"], summary="Service and database health")
async def health(db: NamedDependency[Database]) -> Response[Health]:
    ok = await db.ping()
    return Response(
        Health(status="ok" if ok else "degraded", database="reachable" if ok else "unreachable"),
        status_code=200 if ok else 503,
    )


@get(
    "/api/v1/ready",
    tags=["health"],
    summary="Ready to serve: database, migrations at head, alert dispatcher beating",
    description=(
        "200 when the database answers, its schema is at this version's head and an alert "
        "dispatcher has beaten within SENTINELLE_READY_HEARTBEAT_SECONDS; otherwise 503 "
        "problem+json naming what is not ready and what to do. For load balancers: route "
        "traffic only to ready workers, restart those not live (/api/v1/health)."
    ),
    opt={"exclude_from_auth": True},
)
async def ready(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    checks = await readiness(
        container.db, container.settings, container.schema, now=datetime.now(UTC)
    )
    listed = [ReadyCheck(c.name, c.status) for c in checks]
    failing = [c for c in checks if c.status == FAIL]
    if not failing:
        return Response(Ready("ready", listed), headers={"Cache-Control": "no-store"})
    language = request_language(request)
    reasons = "; ".join(vocabulary.translate_message(c.detail, language) for c in failing)
    response = problem(
        503,
        NOT_READY.format(reasons=reasons),
        language=language,
        checks=[
            {
                "name": c.name,
                "status": c.status,
                **(
                    {"detail": vocabulary.translate_message(c.detail, language)}
                    if c.status == FAIL
                    else {}
                ),
            }
            for c in checks
        ],
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Retry-After"] = "5"
    return response


ROUTES = [health, ready]
