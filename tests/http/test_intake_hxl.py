"""GET /api/v1/incidents?format=hxl: the page a viewer may see, as HXL-tagged CSV."""

from __future__ import annotations

import csv

from litestar import Litestar
from litestar.testing import AsyncTestClient

from incidents.interop import hxl_to_incidents
from tests.factories import GAO, Factory, incident_payload


async def test_hxl_page_reads_back_with_the_hxl_importer(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    body = incident_payload(type="ambush", at=GAO, impact={"killed": 2})
    made = await client.post("/api/v1/incidents", json=body, headers=reporter.headers)
    assert made.status_code == 201, made.text

    answer = await client.get(
        "/api/v1/incidents", params={"format": "hxl"}, headers=reporter.headers
    )

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(answer.text.splitlines()))
    assert "#event+type" in rows[1]
    assert rows[2][0] == made.json()["id"]
    [read_back] = list(hxl_to_incidents(answer.text.splitlines(keepends=True)))
    assert read_back.incident is not None
    assert read_back.incident["type"] == "ambush"
    assert read_back.incident["impact"]["killed"] == 2
