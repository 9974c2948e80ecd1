"""Subscriptions, the organisation admin page and the alert links, in a real browser (phone-sized,
French and English, with and without JavaScript) against a real server; then the attacks on their
forms over plain HTTP: wrong role, other organisation, operator, no CSRF token, another user's
subscription, a forged link signature. Nothing may change when a request is refused."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar
from playwright.async_api import Browser, BrowserContext, Page, expect

from alerts.delivery.channels import AppriseNotifier, ChannelPolicy
from alerts.delivery.dispatcher import DispatchConfig, Dispatcher
from alerts.delivery.keys import LinkSigner, secret_keys
from alerts.delivery.secrets import SecretBox
from alerts.outbox.writer import OutboxConfig
from api.http.app import container_of
from api.settings import Settings
from incidents.db import Database
from tests.alert_receivers import HttpReceiver, http_receiver
from tests.e2e.web import PHONE, Recorder, fits_the_phone, sign_in
from tests.factories import DIEMA, Caller, Factory

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SHOTS = os.environ.get("SENTINELLE_SCREENSHOTS")  # a folder: the README's pictures are taken


async def shot(page: Page, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / f"account-{name}.png"), full_page=True)


def dispatcher_for(db: Database, settings: Settings) -> Dispatcher:
    keys = secret_keys(settings)
    return Dispatcher(
        db,
        AppriseNotifier(timeout_s=5, policy=ChannelPolicy.from_settings("", "127.0.0.1")),
        SecretBox(keys),
        config=DispatchConfig.from_settings(settings),
        outbox=OutboxConfig(public_url=settings.public_url, signer=LinkSigner(keys)),
        worker_id="test",
    )


async def api(
    live_url: str, caller: Caller, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        return await http.request(method, path, headers=caller.headers, **kwargs)


async def subscriptions_of(live_url: str, caller: Caller) -> list[dict[str, Any]]:
    answer = await api(live_url, caller, "GET", "/api/v1/subscriptions")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def alerts_of(live_url: str, caller: Caller) -> dict[str, Any]:
    answer = await api(live_url, caller, "GET", "/api/v1/alerts")
    assert answer.status_code == 200, answer.text
    listing: dict[str, Any] = answer.json()
    return listing


async def send_test_alert(
    live_url: str, caller: Caller, receiver: HttpReceiver, language: str = "fr"
) -> str:
    """A subscription of `caller` to the local receiver, and the code of a test alert."""
    made = await api(
        live_url,
        caller,
        "POST",
        "/api/v1/subscriptions",
        json={
            "channels": [receiver.url("ack")],
            "area": {"zones": ["town_diema"]},
            "language": language,
        },
    )
    assert made.status_code == 201, made.text
    sent = await api(live_url, caller, "POST", f"/api/v1/subscriptions/{made.json()['id']}/test")
    assert sent.status_code == 201, sent.text
    code: str = sent.json()["code"]
    return code


def ack_path(app: Litestar, code: str) -> str:
    """The acknowledgement link of a message (OutboxConfig.ack_link), as a path."""
    return f"/web/alerts/ack/{code}?sig={container_of(app).link_signer.sign(code)}"


def test_every_text_of_these_pages_is_in_french_and_english() -> None:
    from babel.messages.extract import extract_from_file

    from api.web import i18n

    here = Path(__file__).resolve().parents[2] / "api" / "web"
    ids: set[str] = set()
    for template in (here / "templates" / "account").glob("*.html"):
        for _line, message, _comments, _context in extract_from_file(
            "jinja2.ext:babel_extract", str(template)
        ):
            ids.add(message if isinstance(message, str) else message[0])
    for _line, message, _comments, _context in extract_from_file(
        "python", str(here / "account.py")
    ):
        ids.add(message if isinstance(message, str) else message[0])
    assert len(ids) > 100
    same_in_french = {"Message", "Zone", "Administration", "Admin", "organisation", "Cercles"}
    french = i18n.translations("fr")
    untranslated = sorted(i for i in ids if french.gettext(i) == i and i not in same_in_french)
    assert untranslated == []
    english = {m for m in ids if i18n.translations("en").gettext(m) != m}
    assert english == set()  # English msgids: the English catalogue says them as they are


# ------------------------------------------------------------------------------ subscriptions


async def test_subscribe_to_a_zone_and_around_a_place_test_send_and_delete_on_a_phone_in_french(
    context: BrowserContext, live_url: str, reporter: Caller, db: Database, settings: Settings
) -> None:
    page = await context.new_page()
    await sign_in(page, reporter.token, "/web/subscriptions")
    await expect(page.locator("h1")).to_have_text("Abonnements")
    await expect(page.locator("#no-subscription")).to_be_visible()
    with http_receiver() as receiver:
        # A zone from the list; the other area fields are hidden (JavaScript on).
        await page.check("input[name=area_kind][value=zone]")
        await expect(page.locator("#place")).to_be_hidden()
        await page.select_option("#zone", "town_diema")
        await page.fill("#new_channel", receiver.url("zone"))
        await shot(page, "subscriptions")
        await page.click("#subscribe")
        await expect(page.locator("#done")).to_have_text("Abonnement créé.")

        # A circle around a place typed with the type-ahead, on the channel already used.
        await page.check("input[name=area_kind][value=circle]")
        await page.locator("#place").press_sequentially("Diém")
        await expect(page.locator("#places option").first).to_have_attribute("value", "Diéma")
        await page.fill("#place", "Diéma")
        await page.fill("#radius_km", "20")
        await page.locator("details", has_text="Enlèvement et détention").locator("summary").click()
        await page.check("input[name=types][value=kidnapping]")
        await page.select_option("#min_severity", "3")
        await expect(page.locator("#channel option").first).to_contain_text("json://")
        await page.fill("#quiet_from", "22:00")
        await page.fill("#quiet_to", "06:00")
        await page.click("#subscribe")
        await expect(page.locator("#done")).to_have_text("Abonnement créé.")
        await fits_the_phone(page)

        subs = await subscriptions_of(live_url, reporter)
        assert next(s["area"] for s in subs) == {"zones": ["town_diema"]}
        assert subs[0]["name"].startswith("Diéma")  # the zone's name when none is given
        circle = subs[1]
        centre = circle["area"]["point"]  # the gazetteer's Diéma
        assert abs(centre["lat"] - DIEMA[0]) + abs(centre["lon"] - DIEMA[1]) < 0.05
        assert circle["area"]["radius_km"] == 20
        assert circle["types"] == ["kidnapping"]
        assert circle["min_severity"] == 3
        assert circle["quiet_hours"] == "22:00-06:00"
        assert circle["owner"] == "user"
        assert circle["channels"] == subs[0]["channels"]
        assert circle["name"] == "Diéma (20 km)"

        # Test-send the circle: the result shows, then the delivery once the message is out.
        item = page.locator(f"#sub-{circle['id']}")
        await expect(item).to_contain_text("Cercle de 20 km")
        await expect(item).to_contain_text("Enlèvement")
        await item.locator("button.test").click()
        await expect(page.locator("#test-result")).to_contain_text("Message d'essai")
        await expect(page.locator("#test-result .delivery")).to_contain_text("en attente d'envoi")
        report = await dispatcher_for(db, settings).drain()
        assert report.delivered == 1
        arrived = await asyncio.to_thread(receiver.wait_for, 1, 10.0)
        assert len(arrived) == 1
        assert "Message d'essai" in arrived[0].body["message"]
        await page.click("#test-refresh")
        await expect(page.locator("#test-result .delivery")).to_contain_text("délivré")
        await shot(page, "subscriptions-tested")

    await page.locator(f"#sub-{circle['id']} button.delete").click()
    await expect(page.locator("#done")).to_have_text("Abonnement supprimé.")
    await expect(page.locator(f"#sub-{circle['id']}")).to_have_count(0)
    assert [s["id"] for s in await subscriptions_of(live_url, reporter)] == [subs[0]["id"]]


async def test_without_javascript_errors_show_by_the_field_in_english_and_keep_what_was_typed(
    browser: Browser, live_url: str, reporter: Caller, requests_seen: Recorder
) -> None:
    context = await browser.new_context(
        viewport=PHONE, base_url=live_url, java_script_enabled=False
    )
    context.on("request", lambda request: requests_seen.urls.append(request.url))
    try:
        page = await context.new_page()
        await sign_in(page, reporter.token, "/web/subscriptions")
        await page.goto("/web/subscriptions?lang=en")
        await expect(page.locator("h1")).to_have_text("Subscriptions")
        await page.check("input[name=area_kind][value=circle]")
        await page.fill("#place", "Nullepartville")
        await page.fill("#radius_km", "900")
        await page.fill("#new_channel", "ftp://files.example.org/x")
        await page.fill("#name", "Bureau de Diéma")
        await page.click("#subscribe")
        await expect(page.locator("#place-error")).to_contain_text("Unknown place")
        await expect(page.locator("#radius_km-error")).to_contain_text("at most 500 km")
        await expect(page.locator("#place")).to_have_value("Nullepartville")
        await expect(page.locator("#name")).to_have_value("Bureau de Diéma")
        await expect(page.locator("input[name=area_kind][value=circle]")).to_be_checked()
        await fits_the_phone(page)
        # The place and radius fixed, the service refuses the address: said by the channel.
        await page.fill("#place", "Diéma")
        await page.fill("#radius_km", "15")
        await page.click("#subscribe")
        await expect(page.locator("#channel-error")).to_contain_text("This address was refused")
        await expect(page.locator("#new_channel")).to_have_value("ftp://files.example.org/x")
        assert await subscriptions_of(live_url, reporter) == []
        with http_receiver() as receiver:
            await page.fill("#new_channel", receiver.url("nojs"))
            await page.click("#subscribe")
            await expect(page.locator("#done")).to_have_text("Subscription created.")
        [made] = await subscriptions_of(live_url, reporter)
        assert made["name"] == "Bureau de Diéma"
        assert made["language"] == "en"
    finally:
        await context.close()
    assert all(u.startswith(live_url) for u in requests_seen.urls)


async def test_a_route_and_a_polygon_are_subscribed_by_place_names_and_coordinates(
    context: BrowserContext, live_url: str, reporter: Caller
) -> None:
    page = await context.new_page()
    await sign_in(page, reporter.token, "/web/subscriptions")
    with http_receiver() as receiver:
        await page.check("input[name=area_kind][value=route]")
        await page.locator("#route_places").press_sequentially("Mopti → Douen")
        await expect(page.locator("#route-list option").first).to_have_attribute(
            "value", "Mopti → Douentza"
        )
        await page.fill("#route_places", "Mopti → Douentza → Gao")
        await page.fill("#corridor_km", "5")
        await page.fill("#new_channel", receiver.url("route"))
        await page.click("#subscribe")
        await expect(page.locator("#done")).to_be_visible()
        await page.check("input[name=area_kind][value=polygon]")
        await page.fill("#polygon", "14.60, -9.30\n14.60, -9.05\n14.45, -9.05")
        await page.click("#subscribe")
        await expect(page.locator("#done")).to_be_visible()
    route, polygon = await subscriptions_of(live_url, reporter)
    assert len(route["area"]["route"]["coordinates"]) == 3
    assert route["area"]["corridor_km"] == 5
    assert route["name"] == "Mopti → Douentza → Gao"
    ring = polygon["area"]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] == [-9.30, 14.60]


# ------------------------------------------------------------------------------ admin


async def test_an_admin_issues_a_token_shown_once_then_revokes_it(
    context: BrowserContext, live_url: str, factory: Factory
) -> None:
    admin = await factory.caller("admin")
    page = await context.new_page()
    await sign_in(page, admin.token, "/web/admin")
    await expect(page.locator("h1")).to_have_text("Administration")
    await page.fill("#token-name", "Awa Traoré")
    await page.select_option("#token-role", "reporter")
    await page.click("#issue-token")
    token = (await page.locator("#secret-value").text_content() or "").strip()
    assert token.startswith("stl_")
    assert token not in page.url
    await expect(page.locator("#new-secret")).to_contain_text("Awa Traoré (rapporteur)")
    await fits_the_phone(page)
    await shot(page, "admin")
    assert (
        await api(
            live_url,
            Caller(token, admin.user_id, admin.org_id, admin.role),
            "GET",
            "/api/v1/alerts",
        )
    ).status_code == 200
    # Shown once: a reload (the address after the redirect) does not show it again.
    await page.reload()
    await expect(page.locator("#new-secret")).to_have_count(0)
    assert token not in await page.content()
    user = page.locator("li.user", has_text="Awa Traoré")
    await user.locator("button.revoke").click()
    await expect(page.locator("#done")).to_have_text("Jeton révoqué : il ne fonctionne plus.")
    await expect(page.locator("li.user", has_text="Awa Traoré")).to_contain_text("révoqué")
    gone = Caller(token, admin.user_id, admin.org_id, admin.role)
    assert (await api(live_url, gone, "GET", "/api/v1/alerts")).status_code == 401


async def test_an_admin_rotates_the_intake_secret_shown_once(
    context: BrowserContext, live_url: str, factory: Factory
) -> None:
    admin = await factory.caller("admin")
    page = await context.new_page()
    await sign_in(page, admin.token, "/web/admin")
    await page.goto("/web/admin?lang=en")
    await expect(page.locator("#rotate-intake")).to_have_text("Create the secret")
    await page.click("#rotate-intake")
    first = (await page.locator("#secret-value").text_content() or "").strip()
    assert first.startswith("sik_")
    await page.click("#rotate-intake")
    second = (await page.locator("#secret-value").text_content() or "").strip()
    assert second.startswith("sik_")
    assert second != first
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        old = await http.post(
            "/api/v1/intake/kobo", json={}, headers={"X-Sentinelle-Intake-Secret": first}
        )
        new = await http.post(
            "/api/v1/intake/kobo", json={}, headers={"X-Sentinelle-Intake-Secret": second}
        )
    assert old.status_code == 403
    assert new.status_code != 403


async def test_an_invitation_is_accepted_and_another_withdrawn_from_the_admin_pages(
    browser: Browser, context: BrowserContext, live_url: str, factory: Factory
) -> None:
    owner = await factory.caller("admin")
    invited = await factory.caller("admin")
    other = await factory.caller("admin")
    made = await api(
        live_url,
        owner,
        "POST",
        "/api/v1/trust-networks",
        json={"name": "Réseau Kayes", "org_ids": [str(invited.org_id), str(other.org_id)]},
    )
    assert made.status_code == 201, made.text
    network_id = made.json()["id"]

    page = await context.new_page()
    await sign_in(page, invited.token, "/web/admin")
    received = page.locator("li.invitation", has_text="Réseau Kayes")
    await expect(received).to_contain_text("en attente")
    await shot(page, "admin-invitation")
    await received.locator("button.accept").click()
    await expect(page.locator("#done")).to_contain_text("Invitation acceptée")
    await expect(page.locator("li.invitation", has_text="Réseau Kayes")).to_contain_text("acceptée")
    networks = await api(live_url, invited, "GET", "/api/v1/trust-networks")
    assert [n["id"] for n in networks.json()] == [network_id]

    other_context = await browser.new_context(viewport=PHONE, base_url=live_url)
    try:
        owner_page = await other_context.new_page()
        await sign_in(owner_page, owner.token, "/web/admin")
        await owner_page.goto("/web/admin?lang=en")
        pending = owner_page.locator("li.invitation", has_text="pending")
        await expect(pending).to_have_count(1)
        await pending.locator("button.withdraw").click()
        await expect(owner_page.locator("#done")).to_have_text("Invitation withdrawn.")
    finally:
        await other_context.close()
    states = await api(live_url, other, "GET", "/api/v1/trust-network-invitations")
    assert [i["state"] for i in states.json()] == ["withdrawn"]


# ------------------------------------------------------------------------------ alert links


async def test_the_link_of_a_message_acknowledges_without_a_session_and_get_changes_nothing(
    context: BrowserContext, live_url: str, app: Litestar, reporter: Caller
) -> None:
    with http_receiver() as receiver:
        code = await send_test_alert(live_url, reporter, receiver)
    page = await context.new_page()
    answer = await page.goto(ack_path(app, code))
    assert answer is not None
    assert answer.status == 200
    await expect(page.locator("#alert-code")).to_have_text(code)
    await expect(page.locator("#ack-button")).to_have_text("Accuser réception")
    await expect(page.locator("#to-inbox")).to_have_count(0)
    await fits_the_phone(page)
    await shot(page, "ack")
    assert (await alerts_of(live_url, reporter))[
        "acknowledged"
    ] == 0  # opening is not acknowledging
    await page.click("#ack-button")
    await expect(page.locator("#ack-done")).to_have_text("Réception confirmée. Merci.")
    listing = await alerts_of(live_url, reporter)
    assert listing["acknowledged"] == 1
    assert listing["items"][0]["acknowledged_by"] is None  # by the link: nobody signed in
    await page.goto(ack_path(app, code) + "&lang=en")
    await expect(page.locator("#ack-done")).to_have_text("This alert was already acknowledged.")


async def test_with_a_session_the_link_acknowledges_as_the_user_and_leads_to_the_inbox(
    context: BrowserContext, live_url: str, app: Litestar, reporter: Caller
) -> None:
    with http_receiver() as receiver:
        code = await send_test_alert(live_url, reporter, receiver)
    page = await context.new_page()
    await sign_in(page, reporter.token, "/web/alerts")
    await page.goto(ack_path(app, code) + "&lang=en")
    await expect(page.locator("#ack-button")).to_have_text("Acknowledge receipt")
    await page.click("#ack-button")
    await expect(page.locator("#ack-done")).to_have_text("Receipt acknowledged. Thank you.")
    listing = await alerts_of(live_url, reporter)
    assert listing["items"][0]["acknowledged_by"] == str(reporter.user_id)
    await page.click("#to-inbox")
    await page.wait_for_url(f"**/web/alerts?code={code}")
    await expect(page.locator(f"#alert-{code}")).to_contain_text("Acknowledged")


async def test_without_javascript_the_link_acknowledges_and_a_tampered_one_is_refused(
    browser: Browser, live_url: str, app: Litestar, reporter: Caller
) -> None:
    with http_receiver() as receiver:
        code = await send_test_alert(live_url, reporter, receiver)
    context = await browser.new_context(
        viewport=PHONE, base_url=live_url, java_script_enabled=False
    )
    try:
        page = await context.new_page()
        tampered = ack_path(app, code)[:-4] + "0000"
        answer = await page.goto(tampered)
        assert answer is not None
        assert answer.status == 403
        await expect(page.locator("#ack-invalid")).to_contain_text("n'est pas valide")
        await expect(page.locator("#ack-button")).to_have_count(0)
        await shot(page, "ack-invalid")
        assert (await alerts_of(live_url, reporter))["acknowledged"] == 0
        await page.goto(ack_path(app, code))
        await page.click("#ack-button")
        await expect(page.locator("#ack-done")).to_be_visible()
    finally:
        await context.close()
    assert (await alerts_of(live_url, reporter))["acknowledged"] == 1


async def test_the_link_opens_in_the_language_the_alert_was_written_in(
    context: BrowserContext, live_url: str, app: Litestar, reporter: Caller
) -> None:
    with http_receiver() as receiver:
        code = await send_test_alert(live_url, reporter, receiver, language="en")
    page = await context.new_page()  # a phone that never chose a language
    await page.goto(ack_path(app, code))
    await expect(page.locator("#ack-button")).to_have_text("Acknowledge receipt")
    assert "lang=en" in page.url
    assert (await alerts_of(live_url, reporter))["acknowledged"] == 0


# ------------------------------------------------------------------------------ attacks (HTTP)


@asynccontextmanager
async def web_client(live_url: str, caller: Caller) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """An HTTP client signed in as `caller` through the sign-in page, and its CSRF token."""
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        yield await _signed_in(http, caller)


async def _signed_in(http: httpx.AsyncClient, caller: Caller) -> tuple[httpx.AsyncClient, str]:
    form = await http.get("/web/sign-in")
    match = CSRF.search(form.text)
    assert match is not None
    signed = await http.post(
        "/web/sign-in",
        data={"csrf": match.group(1), "token": caller.token, "next": "/web/subscriptions"},
    )
    assert signed.status_code == 303, signed.text
    page = await http.get("/web/subscriptions")
    assert page.status_code == 200
    match = CSRF.search(page.text)
    assert match is not None
    return http, match.group(1)


async def token_ids(live_url: str, admin: Caller) -> list[str]:
    answer = await api(live_url, admin, "GET", "/api/v1/tokens")
    assert answer.status_code == 200, answer.text
    return [t["id"] for t in answer.json()]


async def test_a_new_token_is_never_in_an_address_nor_a_cookie_in_clear_and_only_its_session_sees_it(
    live_url: str, factory: Factory
) -> None:
    admin = await factory.caller("admin")
    async with (
        web_client(live_url, admin) as (http, csrf),
        web_client(live_url, admin) as (other, _other_csrf),
    ):
        issued = await http.post(
            "/web/admin/tokens", data={"csrf": csrf, "role": "planner", "name": "Moussa"}
        )
        assert issued.status_code == 303
        headers = str(issued.headers.multi_items())
        # The same cookie in another session of the same admin shows nothing.
        stolen = {k: v for k, v in http.cookies.items() if k != "stl_session"}
        seen_elsewhere = await other.get("/web/admin", cookies=stolen)
        assert seen_elsewhere.status_code == 200
        assert 'id="secret-value"' not in seen_elsewhere.text
        shown = await http.get(issued.headers["location"])
        match = re.search(r'id="secret-value">(stl_[^<]+)<', shown.text)
        assert match is not None
        assert match.group(1) not in headers  # not in the address, not in a cookie in clear
        assert "Moussa" not in headers
        again = await http.get(issued.headers["location"])
        assert match.group(1) not in again.text
    planner = Caller(match.group(1), admin.user_id, admin.org_id, admin.role)
    assert (await api(live_url, planner, "GET", "/api/v1/alerts")).status_code == 200


async def test_a_reporter_cannot_open_the_admin_page_nor_post_its_forms(
    live_url: str, factory: Factory
) -> None:
    admin = await factory.caller("admin")
    reporter = await factory.caller("reporter", org_id=admin.org_id)
    before = await token_ids(live_url, admin)
    async with web_client(live_url, reporter) as (http, csrf):
        page = await http.get("/web/admin")
        assert page.status_code == 403
        assert "administrateurs" in page.text
        assert "admin test" not in page.text
        issued = await http.post(
            "/web/admin/tokens", data={"csrf": csrf, "role": "admin", "name": "x"}
        )
        assert issued.status_code == 403
        assert "stl_" not in issued.text
        revoked = await http.post(f"/web/admin/tokens/{before[0]}/revoke", data={"csrf": csrf})
        assert revoked.status_code == 403
        rotated = await http.post("/web/admin/intake-secret", data={"csrf": csrf})
        assert rotated.status_code == 403
        assert "sik_" not in rotated.text
    assert await token_ids(live_url, admin) == before
    assert (await api(live_url, admin, "GET", "/api/v1/alerts")).status_code == 200
    audit = await api(live_url, admin, "GET", "/api/v1/audit", params={"action": "authz.denied"})
    knocks = [e for e in audit.json()["entries"] if e["actor_user_id"] == str(reporter.user_id)]
    assert len(knocks) == 4  # the page and the three forms, each recorded with who knocked
    assert {e["target_id"] for e in knocks} == {"/web/admin"}


async def test_another_organisations_admin_cannot_revoke_a_token_nor_see_the_users(
    live_url: str, factory: Factory
) -> None:
    admin = await factory.caller("admin")
    member = await factory.caller("officer", org_id=admin.org_id)
    stranger = await factory.caller("admin")
    listed = await api(live_url, admin, "GET", "/api/v1/tokens")
    [member_token] = [t["id"] for t in listed.json() if t["user_id"] == str(member.user_id)]
    async with web_client(live_url, stranger) as (http, csrf):
        page = await http.get("/web/admin")
        assert page.status_code == 200
        assert str(member.user_id) not in page.text
        assert "officer test" not in page.text
        for token_id in await token_ids(live_url, admin):
            refused = await http.post(f"/web/admin/tokens/{token_id}/revoke", data={"csrf": csrf})
            assert refused.status_code == 404
    assert member_token in await token_ids(live_url, admin)
    assert (await api(live_url, member, "GET", "/api/v1/alerts")).status_code == 200
    assert (await api(live_url, admin, "GET", "/api/v1/alerts")).status_code == 200


async def test_the_operator_sees_no_organisations_tokens(live_url: str, factory: Factory) -> None:
    admin = await factory.caller("admin")
    operator = await factory.operator()
    async with web_client(live_url, operator) as (http, csrf):
        page = await http.get("/web/admin")
        assert page.status_code == 403
        assert "admin test" not in page.text
        for token_id in await token_ids(live_url, admin):
            assert token_id not in page.text
            refused = await http.post(f"/web/admin/tokens/{token_id}/revoke", data={"csrf": csrf})
            assert refused.status_code == 403
    assert (await api(live_url, admin, "GET", "/api/v1/alerts")).status_code == 200


async def test_an_invitation_is_answered_only_by_the_invited_organisation(
    live_url: str, factory: Factory
) -> None:
    owner = await factory.caller("admin")
    invited = await factory.caller("admin")
    stranger = await factory.caller("admin")
    made = await api(
        live_url,
        owner,
        "POST",
        "/api/v1/trust-networks",
        json={"name": "Réseau Ségou", "org_ids": [str(invited.org_id)]},
    )
    assert made.status_code == 201, made.text
    [invitation] = (await api(live_url, invited, "GET", "/api/v1/trust-network-invitations")).json()
    async with web_client(live_url, stranger) as (http, csrf):
        page = await http.get("/web/admin")
        assert "Réseau Ségou" not in page.text
        for action in ("accept", "decline", "withdraw"):
            answer = await http.post(
                f"/web/admin/invitations/{invitation['id']}/{action}", data={"csrf": csrf}
            )
            assert answer.status_code == 404
    async with web_client(live_url, invited) as (http, csrf):
        answer = await http.post(
            f"/web/admin/invitations/{invitation['id']}/withdraw", data={"csrf": csrf}
        )
        assert answer.status_code == 303
        assert "error=other" in answer.headers["location"]
    [after] = (await api(live_url, invited, "GET", "/api/v1/trust-network-invitations")).json()
    assert after["state"] == "pending"


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    live_url: str, factory: Factory, reporter: Caller
) -> None:
    admin = await factory.caller("admin")
    before = await token_ids(live_url, admin)
    async with web_client(live_url, admin) as (http, _csrf):
        for data in ({"role": "reporter", "name": "x"}, {"csrf": "x" * 43, "role": "reporter"}):
            refused = await http.post("/web/admin/tokens", data=data)
            assert refused.status_code == 403
            assert "stl_" not in refused.text
        refused = await http.post(f"/web/admin/tokens/{before[0]}/revoke", data={})
        assert refused.status_code == 403
        refused = await http.post(
            "/web/subscriptions",
            data={"area_kind": "zone", "zone": "town_diema", "new_channel": "json://127.0.0.1/x"},
        )
        assert refused.status_code == 403
    assert await token_ids(live_url, admin) == before
    assert await subscriptions_of(live_url, admin) == []
    with http_receiver() as receiver:
        code = await send_test_alert(live_url, reporter, receiver)
    [sub] = await subscriptions_of(live_url, reporter)
    async with web_client(live_url, reporter) as (http, _csrf):
        assert (
            await http.post(f"/web/subscriptions/{sub['id']}/delete", data={})
        ).status_code == 403
        assert (await http.post(f"/web/subscriptions/{sub['id']}/test", data={})).status_code == 403
    assert [s["id"] for s in await subscriptions_of(live_url, reporter)] == [sub["id"]]
    assert [a["code"] for a in (await alerts_of(live_url, reporter))["items"]] == [code]


async def test_an_officer_subscribes_the_organisation_and_a_reporter_may_not_change_it(
    live_url: str, factory: Factory
) -> None:
    officer = await factory.caller("officer")
    reporter = await factory.caller("reporter", org_id=officer.org_id)
    with http_receiver() as receiver:
        form = {
            "area_kind": "zone",
            "zone": "town_diema",
            "channel": "new",
            "new_channel": receiver.url("org"),
            "owner": "organisation",
            "min_severity": "2",
        }
        async with web_client(live_url, officer) as (http, csrf):
            made = await http.post("/web/subscriptions", data={**form, "csrf": csrf})
            assert made.status_code == 303, made.text
        [sub] = await subscriptions_of(live_url, officer)
        assert sub["owner"] == "organisation"
        async with web_client(live_url, reporter) as (http, csrf):
            listed = await http.get("/web/subscriptions")
            assert f'id="sub-{sub["id"]}"' in listed.text  # seen by the members
            assert f"/web/subscriptions/{sub['id']}/delete" not in listed.text  # not offered
            refused = await http.post(f"/web/subscriptions/{sub['id']}/delete", data={"csrf": csrf})
            assert refused.status_code == 403
            own = await http.post("/web/subscriptions", data={**form, "csrf": csrf})
            assert own.status_code == 422
            assert 'id="owner-error"' in own.text
    assert [s["id"] for s in await subscriptions_of(live_url, officer)] == [sub["id"]]


async def test_another_users_subscription_is_not_found_and_unchanged(
    live_url: str, factory: Factory, reporter: Caller
) -> None:
    colleague = await factory.caller("reporter", org_id=reporter.org_id)
    with http_receiver() as receiver:
        await send_test_alert(live_url, reporter, receiver)
        [sub] = await subscriptions_of(live_url, reporter)
        async with web_client(live_url, colleague) as (http, csrf):
            for action in ("delete", "test"):
                answer = await http.post(
                    f"/web/subscriptions/{sub['id']}/{action}", data={"csrf": csrf}
                )
                assert answer.status_code == 404
            missing = await http.post(
                f"/web/subscriptions/{uuid.uuid4()}/delete", data={"csrf": csrf}
            )
            assert missing.status_code == 404
    assert [s["id"] for s in await subscriptions_of(live_url, reporter)] == [sub["id"]]
    assert (await alerts_of(live_url, reporter))["alerts"] == 1  # no test sent for the colleague


async def test_a_forged_link_signature_is_refused_and_acknowledges_nothing(
    live_url: str, app: Litestar, reporter: Caller
) -> None:
    with http_receiver() as receiver:
        code = await send_test_alert(live_url, reporter, receiver)
    real = ack_path(app, code).split("sig=")[1]
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        for sig in ("0" * 32, "", real[:-1], real.upper() + "é", "x" * 500):
            got = await http.get(f"/web/alerts/ack/{code}", params={"sig": sig})
            assert got.status_code == 403
            posted = await http.post(f"/web/alerts/ack/{code}", data={"sig": sig})
            assert posted.status_code == 403
            assert "pas valide" in posted.text
        # A real signature of another code does not open this one.
        other = container_of(app).link_signer.sign("ZZZZ")
        assert (await http.post(f"/web/alerts/ack/{code}", data={"sig": other})).status_code == 403
    assert (await alerts_of(live_url, reporter))["acknowledged"] == 0
