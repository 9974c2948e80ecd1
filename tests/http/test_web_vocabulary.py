"""The pages through HTTP: level names from the one vocabulary, refusals of the service in the
page's language, and a decimal comma typed in the report form."""

from __future__ import annotations

import re

from litestar.testing import AsyncTestClient

from incidents import vocabulary
from tests.factories import Caller, Factory, incident_payload

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def sign_in(client: AsyncTestClient, caller: Caller, page: str) -> str:
    form = await client.get("/web/sign-in")
    match = CSRF.search(form.text)
    assert match is not None
    signed = await client.post(
        "/web/sign-in",
        data={"csrf": match.group(1), "token": caller.token, "next": page},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    opened = await client.get(page)
    assert opened.status_code == 200, opened.text
    found = CSRF.search(opened.text)
    assert found is not None
    return found.group(1)


async def test_the_zone_page_names_the_level_as_the_api_and_the_catalogue_do(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    for _ in range(3):
        made = await client.post(
            "/api/v1/incidents", json=incident_payload(), headers=reporter.headers
        )
        assert made.status_code == 201, made.text
    planner = await factory.caller("planner")
    risk = await client.get("/api/v1/zones/town_diema/risk", headers=planner.headers)
    assert risk.status_code == 200, risk.text
    code = risk.json()["level_code"]
    assert risk.json()["level_label"] == vocabulary.level_label(code, "fr")
    assert risk.json()["level_label_en"] == vocabulary.level_label(code, "en")
    await sign_in(client, planner, "/web/zones/town_diema")
    for lang in ("fr", "en"):
        page = await client.get(f"/web/zones/town_diema?lang={lang}")
        assert page.status_code == 200
        assert vocabulary.level_label(code, lang) in page.text
        trend = vocabulary.trend_label(risk.json()["trend"], lang)
        assert f">{trend}<" in page.text
        lowest = vocabulary.level_label("low", lang)
        highest = vocabulary.level_label("extreme", lang)
        assert f"1 ({lowest})" in page.text
        assert f"5 ({highest})" in page.text


async def test_the_report_form_reads_a_decimal_comma(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    csrf = await sign_in(client, reporter, "/web/report")
    sent = await client.post(
        "/web/report",
        data={
            "csrf": csrf,
            "type": "kidnapping",
            "when": "today",
            "lat": "14,62",
            "lon": "-9,18",
            "sharing_level": "amber",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    listed = await client.get("/api/v1/incidents", headers=reporter.headers)
    coordinates = [f["geometry"]["coordinates"] for f in listed.json()["features"]]
    assert coordinates == [[-9.18, 14.62]]
