"""The report page's "aid workers affected" box and its unchosen sharing level: an abduction of
our staff sent without a chosen level is red (the kidnapping protocol) and names the reporter's
organisation's officers; an explicit choice is kept; others still see it masked."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import BrowserContext, Page, expect

from tests.e2e.web import fits_the_phone, sign_in
from tests.factories import Caller, Factory
from tests.http.test_web_vocabulary import sign_in as web_sign_in

SECRET = "Deux collègues enlevés près du marché"


async def write_abduction(page: Page, *, staff: bool) -> None:
    await page.select_option("#type", "kidnapping")
    await page.check("input[name=when][value=yesterday]")
    await page.fill("#place", "Diéma")
    await page.fill("#abducted", "2")
    if staff:
        await page.check("#aid_workers_affected")
    await page.fill("#narrative", SECRET)


async def incidents_seen(live_url: str, caller: Caller) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.get(f"{live_url}/api/v1/incidents", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return [f["properties"] for f in answer.json()["features"]]


async def test_an_abduction_of_our_staff_sent_with_the_default_level_is_red_for_our_officers(
    context: BrowserContext, live_url: str, reporter: Caller, factory: Factory
) -> None:
    officer = await factory.caller("officer", org_id=reporter.org_id)
    colleague = await factory.caller("reporter", org_id=reporter.org_id)
    outsider = await factory.caller("officer")
    operator = await factory.operator()
    page = await context.new_page()
    await sign_in(page, reporter.token)
    await fits_the_phone(page)
    # Nothing chosen by default; the default is explained in French.
    unchosen = page.locator("input[name=sharing_level][value='']")
    await expect(unchosen).to_be_checked()
    form = page.locator("#report-form")
    await expect(form).to_contain_text("ambre, ou rouge pour un enlèvement de notre personnel")
    await expect(form).to_contain_text("Des membres de notre personnel sont touchés")
    await write_abduction(page, staff=True)
    await page.click("#send")
    await expect(page.locator("#queue-status")).to_have_text("Signalement reçu. Merci.")

    (mine,) = await incidents_seen(live_url, reporter)
    assert mine["sharing_level"] == "red"
    assert mine["impact"]["aid_workers_affected"] is True
    # The organisation's officer is named by the protocol and reads it in full...
    (for_officer,) = await incidents_seen(live_url, officer)
    assert for_officer["description"] == SECRET
    # ...nobody else does: a colleague, another organisation, the operator.
    for caller in (colleague, outsider, operator):
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.get(f"{live_url}/api/v1/incidents", headers=caller.headers)
        assert SECRET not in answer.text
        assert str(reporter.user_id) not in answer.text


async def test_an_explicit_level_is_kept_and_no_box_means_amber(
    context: BrowserContext, live_url: str, reporter: Caller
) -> None:
    page = await context.new_page()
    await sign_in(page, reporter.token)
    await write_abduction(page, staff=True)
    await page.check("input[name=sharing_level][value=amber_strict]")
    await page.click("#send")
    await expect(page.locator("#queue-status")).to_have_text("Signalement reçu. Merci.")
    await page.goto("/web/report")
    await write_abduction(page, staff=False)  # not our staff, level left unchosen
    await page.click("#send")
    await expect(page.locator("#queue-status")).to_have_text("Signalement reçu. Merci.")
    levels = sorted(p["sharing_level"] for p in await incidents_seen(live_url, reporter))
    assert levels == ["amber", "amber_strict"]


async def test_without_javascript_the_box_and_the_default_reach_the_service(
    client: AsyncTestClient[Litestar], reporter: Caller, factory: Factory
) -> None:
    officer = await factory.caller("officer", org_id=reporter.org_id)
    csrf = await web_sign_in(client, reporter, "/web/report")
    form = (await client.get("/web/report")).text
    assert 'name="aid_workers_affected"' in form
    staff = {"csrf": csrf, "type": "kidnapping", "when": "today", "place": "Diéma"}
    sent = await client.post(
        "/web/report",
        data={**staff, "abducted": "1", "aid_workers_affected": "1", "narrative": SECRET},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    bad = await client.post("/web/report", data={**staff, "sharing_level": "x"})
    assert bad.status_code == 422
    assert 'id="sharing_level-error"' in bad.text
    listed = await client.get("/api/v1/incidents", headers=officer.headers)
    (seen,) = [f["properties"] for f in listed.json()["features"]]
    assert seen["sharing_level"] == "red"
    assert seen["description"] == SECRET
