"""The composition root: create_app(settings) builds the whole Sentinelle API."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Redirect

from api.http.auth import TokenCache, auth_middleware
from api.http.context import AppContext
from api.http.errors import EXCEPTION_HANDLERS
from api.settings import Settings
from incidents.db import Database, create_engine
from incidents.records.service import IncidentService
from incidents.records.validation import Rules

# Each area module exposes ROUTES and may define configure(ctx: AppContext) to wire itself in.
AREAS = (
    "api.http.routes.health",
    "api.http.routes.incidents",
    "api.http.routes.admin",
    "api.http.routes.zones",
    "api.http.routes.alerts",
    "api.http.routes.sharing",
    "api.http.routes.intake",
    "api.http.routes.skill",
)


@get("/", include_in_schema=False)
async def index(request: Request[Any, Any, Any]) -> Redirect:
    return Redirect(path="/schema")


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> Litestar:
    settings = settings or Settings()
    db = db or Database(create_engine(settings.database_url))
    rules = Rules(clock_skew=timedelta(seconds=settings.clock_skew_seconds))
    ctx = AppContext(
        settings=settings, db=db, incidents=IncidentService(db, rules=rules, observers=[])
    )
    ctx.state.update(
        settings=settings,
        db=db,
        incidents=ctx.incidents,
        token_cache=TokenCache(settings.token_cache_seconds),
    )
    for name in AREAS:
        module = importlib.import_module(name)
        configure = getattr(module, "configure", None)
        if configure is not None:
            configure(ctx)
        ctx.route_handlers += list(getattr(module, "ROUTES", []))

    async def shutdown() -> None:
        for hook in ctx.on_shutdown:
            await hook()
        await db.dispose()

    openapi = OpenAPIConfig(
        title="Sentinelle API",
        version="0.1.0",
        description=(
            "Security incidents and access risk for humanitarian NGOs and CSOs in Mali and the "
            "Sahel. Authenticate with `Authorization: Bearer <token>`."
        ),
        components=Components(
            security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer")}
        ),
        security=[{"BearerToken": []}],
        render_plugins=[SwaggerRenderPlugin(path="/swagger"), ScalarRenderPlugin()],
    )
    return Litestar(
        route_handlers=[index, *ctx.route_handlers],
        middleware=[*ctx.middleware, auth_middleware()],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=openapi,
        state=State(ctx.state),
        on_startup=list(ctx.on_startup),
        on_shutdown=[shutdown],
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )
