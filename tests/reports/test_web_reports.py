"""/web/reports: the weekly report in the browser for a signed-in user, the link in the
navigation, and a bad week said in the page's language."""

from __future__ import annotations

import re

from litestar.testing import AsyncTestClient

from tests.factories import Factory

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def _sign_in(client: AsyncTestClient, token: str) -> None:
    form = await client.get("/web/sign-in")
    match = CSRF.search(form.text)
    assert match is not None
    signed = await client.post(
        "/web/sign-in",
        data={"csrf": match.group(1), "token": token, "next": "/web/report"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


async def test_the_report_page_needs_a_session_then_shows_the_report(
    client: AsyncTestClient, factory: Factory
) -> None:
    anonymous = await client.get("/web/reports", follow_redirects=False)
    assert anonymous.status_code == 303
    planner = await factory.caller("planner")
    await _sign_in(client, planner.token)
    home = await client.get("/web/report?lang=fr")
    assert 'href="/web/reports"' in home.text
    page = await client.get("/web/reports?lang=fr")
    assert page.status_code == 200, page.text
    assert "Rapport de situation hebdomadaire" in page.text
    assert 'class="map"' in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    bad = await client.get("/web/reports?lang=fr&from=2026-01-01&to=2026-06-30")
    assert bad.status_code == 422
    assert "92 jours" in bad.text
    assert 'class="map"' in bad.text  # last week's report, with the reason above it
