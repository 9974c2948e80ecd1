"""The HTTP app: create_app(settings) builds the services (api.bootstrap) and serves them.

Route modules only declare handlers (`ROUTES`); a handler receives what it needs through
Litestar's dependency injection, by parameter name (see `DEPENDENCIES`). The protective
middleware (security headers, CORS, CSV neutralising, edge input checks, body limits, rate
limits, audit) and authentication are installed here, whatever routes are mounted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Litestar, Request, get
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Redirect

from api import web
from api.bootstrap import Container, build
from api.http import hardening
from api.http.auth import auth_middleware
from api.http.errors import EXCEPTION_HANDLERS
from api.http.metrics import Observability
from api.http.routes import (
    admin,
    alerts,
    events,
    health,
    incidents,
    intake,
    missions,
    openrosa,
    reports,
    sharing,
    skill,
    zones,
)
from api.settings import Settings
from incidents.db import Database

# Every area's handlers, in this order.
AREAS = (
    health,
    incidents,
    events,
    admin,
    zones,
    alerts,
    sharing,
    intake,
    openrosa,
    skill,
    missions,
    reports,
)

# Handler parameter name -> the Container field it receives. Read on every request, so a test
# may replace a field of `app.state.container`.
DEPENDENCIES = {
    "settings": "settings",
    "db": "db",
    "incident_service": "incidents",
    "event_service": "events",
    "zone_service": "zones",
    "risk_service": "risk",
    "sharing_service": "sharing",
    "alert_service": "alerts",
    "intake_service": "intake",
    "token_cache": "token_cache",
    "zone_filter": "zone_filter",
    "exporter": "exporter",
    "skill": "skill",
    "missions_service": "missions",
}


@get("/", include_in_schema=False)
async def index(request: Request[Any, Any, Any]) -> Redirect:
    """The front door: the web pages (the API's documentation is at /schema)."""
    return Redirect(path="/web")


def _field(container: Container, name: str) -> Callable[[], Any]:
    def provide() -> Any:
        return getattr(container, name)

    return provide


def dependencies(container: Container) -> dict[str, Provide]:
    provided = {
        key: Provide(_field(container, name), sync_to_thread=False)
        for key, name in DEPENDENCIES.items()
    }
    provided["container"] = Provide(lambda: container, sync_to_thread=False)
    return provided


def container_of(app: Litestar) -> Container:
    """The services an app was built with (tests, scripts)."""
    container: Container = app.state.container
    return container


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    container: Container | None = None,
) -> Litestar:
    container = container or build(settings, db)
    settings = container.settings
    observed = Observability.of(container)
    route_handlers: list[Any] = [index, *observed.routes]
    for area in AREAS:
        route_handlers += area.ROUTES

    async def redact_logs() -> None:
        hardening.install_log_redaction()

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
    app = Litestar(
        route_handlers=route_handlers,
        dependencies={**dependencies(container), **observed.dependencies},
        middleware=[
            *hardening.edge_middleware(settings, container.db),
            auth_middleware(container.db, container.token_cache, container.trust_lookup),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=openapi,
        state=State({"container": container}),
        on_startup=[redact_logs, container.startup],
        on_shutdown=[container.shutdown],
        request_max_body_size=settings.max_body_bytes,
        # gzip for answers of 500 bytes and more (pages, assets, API); a streamed answer is
        # flushed chunk by chunk; a handler opts out with opt={"no_compression": True}.
        compression_config=CompressionConfig(
            backend="gzip",
            minimum_size=500,
            gzip_compress_level=6,
            exclude_opt_key="no_compression",
        ),
        # The web pages (api/web): templates, static files, the /schema UI served locally.
        plugins=[web.WebPlugin()],
        debug=False,
    )
    # Request id, access line and request metrics around everything (unknown paths included).
    app.asgi_handler = observed.wrap(app.asgi_handler)
    return app
