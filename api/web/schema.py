"""The /schema UI from this server: Swagger UI's files vendored under static/vendor/swagger-ui
(from the npm package swagger-ui-dist, Apache-2.0), so the docs render with no internet."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.openapi.plugins import OpenAPIRenderPlugin, SwaggerRenderPlugin

VENDOR = "/web/static/vendor/swagger-ui"


def local_render_plugins(
    plugins: Sequence[OpenAPIRenderPlugin],
) -> list[OpenAPIRenderPlugin]:
    """Swagger UI first (the page /schema opens), on local files; the other UIs load theirs from
    CDNs, so they are left out."""
    paths = [
        p for plugin in plugins if isinstance(plugin, SwaggerRenderPlugin) for p in plugin.paths
    ]
    return [
        SwaggerRenderPlugin(
            path=paths or ["/swagger"],
            js_url=f"{VENDOR}/swagger-ui-bundle.js",
            css_url=f"{VENDOR}/swagger-ui.css",
            standalone_preset_js_url=f"{VENDOR}/swagger-ui-standalone-preset.js",
            favicon='<link rel="icon" href="data:,">',
        )
    ]
