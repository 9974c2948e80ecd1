"""A repeat visit loads the vendored libraries from the browser's cache; the pages' own script and
style sheet are revalidated (they change with every release and hold nothing about anyone)."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient


async def test_vendored_libraries_are_kept_a_week_the_pages_own_files_are_revalidated(
    client: AsyncTestClient[Litestar],
) -> None:
    for path in (
        "/web/static/vendor/leaflet/leaflet.js",
        "/web/static/vendor/swagger-ui/swagger-ui.css",
    ):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        assert "max-age=604800" in answer.headers["cache-control"], path
    own = await client.get("/web/static/app.js")
    assert own.status_code == 200
    assert own.headers["cache-control"] == "no-cache"
    missing = await client.get("/web/static/vendor/leaflet/nothing.js")
    assert missing.status_code == 404
