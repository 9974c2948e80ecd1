"""Answers of 500 bytes and more leave gzip-compressed when the client accepts it (pages, assets,
API), smaller ones and clients that do not ask stay plain, and CSV exports are still neutralised
once compressed (the CSV middleware runs outside the compression)."""

from __future__ import annotations

import csv
import io

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Factory, incident_payload

GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}


async def test_a_page_and_an_api_answer_are_gzipped_small_ones_are_not(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    caller = await factory.caller("reporter")
    page = await client.get("/web/sign-in", headers=GZIP)
    assert page.status_code == 200
    assert page.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in page.headers["vary"].lower()
    assert "<form" in page.text  # decoded by the client: a real gzip stream
    schema = await client.get("/schema/openapi.json", headers=GZIP)
    assert schema.headers["content-encoding"] == "gzip"
    assert int(schema.headers["content-length"]) < len(schema.content) / 3
    for _ in range(3):
        await client.post("/api/v1/incidents", json=incident_payload(), headers=caller.headers)
    listed = await client.get("/api/v1/incidents", headers={**GZIP, **caller.headers})
    assert listed.headers["content-encoding"] == "gzip"
    assert len(listed.json()["features"]) == 3
    health = await client.get("/api/v1/health", headers=GZIP)
    assert len(health.content) < 500
    assert "content-encoding" not in health.headers
    plain = await client.get("/web/sign-in", headers=PLAIN)
    assert "content-encoding" not in plain.headers
    assert "<form" in plain.text


async def test_a_gzipped_csv_export_is_still_neutralised(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    admin = await factory.caller("admin")
    for formula in ('=HYPERLINK("http://x","y")', "+1+1", "@SUM(A1)"):
        payload = incident_payload(description=formula)
        answer = await client.post("/api/v1/incidents", json=payload, headers=admin.headers)
        assert answer.status_code == 201, answer.text
    response = await client.get(
        "/api/v1/incidents", params={"format": "csv"}, headers={**GZIP, **admin.headers}
    )
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    # The length sent is the compressed one, and the body decodes as the whole CSV.
    assert int(response.headers["content-length"]) < len(response.content)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3
    assert all(r["description"].startswith("'") for r in rows)


async def test_a_static_file_is_kept_by_the_browser_and_revalidated_api_answers_are_not(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    first = await client.get("/web/static/app.js", headers=GZIP)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-cache"  # kept, asked about before each use
    etag = first.headers["etag"]
    again = await client.get("/web/static/app.js", headers={**GZIP, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["x-content-type-options"] == "nosniff"
    changed = await client.get("/web/static/app.js", headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200
    assert changed.content == first.content
    caller = await factory.caller("reporter")
    api = await client.get("/api/v1/incidents", headers=caller.headers)
    assert api.headers["cache-control"] == "no-store"
