"""The web pages (issue 12): server-rendered, French first, usable without JavaScript.

Imports api.bootstrap, api.settings, incidents, alerts and geo; never api.http (which mounts it).
Wiring, in api/http/app.py create_app: `plugins=[web.WebPlugin()]` in the Litestar(...) call.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from litestar import Response, get
from litestar.config.app import AppConfig
from litestar.datastructures import CacheControlHeader
from litestar.middleware.base import DefineMiddleware
from litestar.plugins import InitPluginProtocol
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.web import account, missions, officer, pages, planner, reports
from api.web.schema import local_render_plugins

HERE = Path(__file__).parent
STATIC = HERE / "static"
VENDOR_MAX_AGE = 7 * 86400
TEMPLATE_CONFIG = TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)


@get(f"{pages.PREFIX}/sw.js", opt=pages.OPT, include_in_schema=False)
async def service_worker() -> Response[bytes]:
    """The service worker, from /web/ so that its scope is the pages."""
    return Response(
        (STATIC / "sw.js").read_bytes(),
        media_type="text/javascript",
        headers={"cache-control": "no-cache", "content-security-policy": pages.PAGE_CSP},
    )


class PageHeadersMiddleware:
    """Keeps a page's own Content-Security-Policy: the API's `default-src 'none'` (added by
    api.http.hardening to every answer) would forbid the pages' script and style sheet.
    Outermost, it only touches answers under /web/ and /schema that carry a policy of their own."""

    API_CSP = b"default-src 'none'; frame-ancestors 'none'"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(pages.PREFIX + "/") and path != pages.PREFIX:
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                policies = [v for k, v in headers if k.lower() == b"content-security-policy"]
                if len(policies) > 1 and self.API_CSP in policies:
                    headers.remove((b"content-security-policy", self.API_CSP))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)


class WebPlugin(InitPluginProtocol):
    """Adds the pages, their templates and static files, and serves the /schema UI's assets from
    this server (no CDN)."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend(
            [
                *pages.ROUTES,
                *officer.ROUTES,
                *planner.ROUTES,
                *account.ROUTES,
                *missions.ROUTES,
                *reports.ROUTES,
                service_worker,
                # Vendored libraries (Leaflet, Swagger UI) change only with a release of
                # Sentinelle: kept a week, so a repeat visit of the map loads them from the cache.
                create_static_files_router(
                    path=f"{pages.PREFIX}/static/vendor",
                    directories=[STATIC / "vendor"],
                    opt=pages.OPT,
                    include_in_schema=False,
                    cache_control=CacheControlHeader(max_age=VENDOR_MAX_AGE, public=True),
                    send_as_attachment=False,
                    name="web-vendor",
                ),
                create_static_files_router(
                    path=f"{pages.PREFIX}/static",
                    directories=[STATIC],
                    opt=pages.OPT,
                    include_in_schema=False,
                    cache_control=None,
                    send_as_attachment=False,
                    name="web-static",
                ),
            ]
        )
        app_config.template_config = TEMPLATE_CONFIG
        app_config.middleware.insert(0, DefineMiddleware(PageHeadersMiddleware))
        if app_config.openapi_config is not None:
            # The copy resets root_schema_site and enabled_endpoints, which OpenAPIConfig fills in
            # itself after init: passed back in, they would read as the deprecated options set.
            app_config.openapi_config = dataclasses.replace(
                app_config.openapi_config,
                render_plugins=local_render_plugins(app_config.openapi_config.render_plugins),
                root_schema_site=None,
                enabled_endpoints=None,
            )
        return app_config


__all__ = ["TEMPLATE_CONFIG", "WebPlugin"]
