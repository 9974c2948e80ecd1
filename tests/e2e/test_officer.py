"""The officer console in a real browser (Debian's chromium, a phone-sized screen) against a real
server: verify an incident, a stale version refused, a held SMS published, a broadcast with its
SMS preview and its live delivery view to a local receiver, French and English, with and
without JavaScript. Then the attacks through HTTP: a reporter, another organisation's officer
and the platform operator change nothing, see no one else's broadcast and learn no masked value;
a form without its CSRF token changes nothing."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from api.settings import Settings
from incidents.db import Database
from incidents.intake.service import set_intake_secret
from tests.alert_receivers import http_receiver
from tests.e2e.test_alerts_delivery import dispatcher_for
from tests.e2e.web import PHONE, Recorder, fits_the_phone, sign_in
from tests.factories import DIEMA, GAO, Caller, Factory, incident_payload

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
STRANGER = "+22366000111"
LONG_TEXT = (
    "Axe Diéma-Nioro fermé jusqu'à nouvel ordre après une attaque armée près de Fassoudébé : "
    "ne circulez pas, restez à la base et attendez les consignes de votre point focal sécurité."
)


async def shot(page: Page, name: str) -> None:
    """The README's screenshots (SENTINELLE_SCREENSHOTS=1): the page as a phone shows it."""
    if os.environ.get("SENTINELLE_SCREENSHOTS"):
        await page.screenshot(path=str(SHOTS / f"officer-{name}.png"), full_page=True)


async def no_overflow(page: Page) -> None:
    await fits_the_phone(page)


# ------------------------------------------------------------------------------ API helpers


async def report(live_url: str, caller: Caller, **extra: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        answer = await http.post(
            "/api/v1/incidents", json=incident_payload(**extra), headers=caller.headers
        )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def incident(live_url: str, caller: Caller, incident_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        answer = await http.get(f"/api/v1/incidents/{incident_id}", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["properties"])


async def held_sms(live_url: str, db: Database, org_id: uuid.UUID, text: str) -> str:
    async with db.transaction() as session:
        secret = await set_intake_secret(session, org_id, now=datetime.now(UTC))
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        answer = await http.post(
            "/api/v1/intake/sms",
            json={"sender": STRANGER, "text": text, "received_at": datetime.now(UTC).isoformat()},
            params={"secret": secret},
        )
    assert answer.json()["status"] == "held", answer.text
    return str(answer.json()["held_id"])


async def held_states(live_url: str, officer: Caller) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        states = {}
        for state in ("held", "published", "discarded"):
            answer = await http.get(
                "/api/v1/intake/held", params={"state": state}, headers=officer.headers
            )
            assert answer.status_code == 200, answer.text
            states.update({h["id"]: state for h in answer.json()["items"]})
    return states


async def subscribe(live_url: str, officer: Caller, channel: str) -> None:
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        answer = await http.post(
            "/api/v1/subscriptions",
            json={"name": "Base Diéma", "channels": [channel], "area": {"zones": ["town_diema"]}},
            headers=officer.headers,
        )
    assert answer.status_code == 201, answer.text


async def alert_codes(live_url: str, caller: Caller) -> list[str]:
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        answer = await http.get("/api/v1/alerts", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return [a["code"] for a in answer.json()["items"]]


@pytest.fixture(name="officer")
async def fx_officer(factory: Factory) -> Caller:
    return await factory.caller("officer")


@pytest.fixture(name="no_js")
async def fx_no_js(
    browser: Browser, live_url: str, requests_seen: Recorder
) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(
        viewport=PHONE, base_url=live_url, locale="fr-FR", java_script_enabled=False
    )
    context.on("request", lambda request: requests_seen.urls.append(request.url))
    yield context
    await context.close()
    assert all(u.startswith(live_url) for u in requests_seen.urls)


# ------------------------------------------------------------------------------ in the browser


async def test_an_officer_verifies_an_incident_on_a_phone_in_french(
    context: BrowserContext, live_url: str, factory: Factory, officer: Caller
) -> None:
    reporter = await factory.caller("reporter", org_id=officer.org_id)
    reported = await report(live_url, reporter, place_name="Diéma", description="Deux enlevés")
    # Another organisation's, kept to itself: listed only as its masked entry, with no button.
    other = await factory.caller("reporter")
    await report(live_url, other, type="ied", days_ago=2, sharing_level="amber_strict")
    page = await context.new_page()
    await sign_in(page, officer.token, "/web/officer")
    await expect(page.locator("h1")).to_have_text("Incidents partagés avec vous")
    item = page.locator(f"#incident-{reported['id']}")
    await expect(item).to_contain_text("Enlèvement")
    await expect(item.locator(".badge")).to_have_text("Signalé")
    masked = page.locator("#incidents li.masked")
    await expect(masked).to_contain_text("Engins explosifs")
    await expect(masked.locator("button")).to_have_count(0)
    await no_overflow(page)
    await shot(page, "incidents")
    await item.locator("button.verified").click()
    await expect(page.locator(f"#incident-{reported['id']} .badge")).to_have_text("Vérifié")
    assert (await incident(live_url, officer, reported["id"]))["status"] == "verified"
    await expect(page.locator("#nav-officer")).to_have_text("Console")


async def test_a_stale_version_is_refused_next_to_the_item_and_nothing_changes(
    context: BrowserContext, live_url: str, factory: Factory, officer: Caller
) -> None:
    reporter = await factory.caller("reporter", org_id=officer.org_id)
    reported = await report(live_url, reporter)
    page = await context.new_page()
    await sign_in(page, officer.token, "/web/officer")
    item = page.locator(f"#incident-{reported['id']}")
    await expect(item).to_be_visible()
    # Someone else changes it after the page was opened.
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        changed = await http.patch(
            f"/api/v1/incidents/{reported['id']}",
            json={"severity": 5},
            headers={**reporter.headers, "If-Match": '"1"'},
        )
    assert changed.status_code == 200, changed.text
    await item.locator("button.disputed").click()
    stale = page.locator(f"#incident-{reported['id']} .stale")
    await expect(stale).to_contain_text("Modifié depuis que vous l’avez ouvert — rechargez")
    after = await incident(live_url, officer, reported["id"])
    assert (after["status"], after["version"]) == ("reported", 2)


async def test_a_held_sms_is_published_after_saying_what_happened(
    context: BrowserContext, live_url: str, db: Database, officer: Caller
) -> None:
    held_id = await held_sms(live_url, db, officer.org_id, "Menaka probleme ce matin")
    page = await context.new_page()
    await sign_in(page, officer.token, "/web/officer/held")
    item = page.locator(f"#held-{held_id}")
    await expect(item).to_contain_text("Menaka probleme ce matin")
    await no_overflow(page)
    await shot(page, "held")
    await item.locator("button.publish").click()
    # The SMS does not say what happened: the error is by the type field, the place kept.
    await expect(page.locator(f"#type-{held_id}-error")).to_contain_text("ce qui s’est passé")
    await page.fill(f"#place-{held_id}", "Ménaka")
    await page.select_option(f"#type-{held_id}", "armed_attack")
    await page.locator(f"#held-{held_id} button.publish").click()
    await expect(page.locator("#done")).to_have_text("Publié comme incident.")
    assert (await held_states(live_url, officer))[held_id] == "published"


async def test_a_broadcast_warns_before_the_sms_is_cut_and_its_delivery_updates_live(
    context: BrowserContext,
    live_url: str,
    db: Database,
    settings: Settings,
    factory: Factory,
    officer: Caller,
) -> None:
    colleague = await factory.caller("officer", org_id=officer.org_id)
    with http_receiver() as receiver:
        await subscribe(live_url, colleague, receiver.url("diema"))
        page = await context.new_page()
        await sign_in(page, officer.token, "/web/officer/broadcast?lang=en")
        await expect(page.locator("h1")).to_have_text("Broadcast an alert")
        await page.select_option("#zone", "town_diema")
        await page.fill("#text_fr", "Axe Diéma-Nioro fermé")
        preview = page.locator('#preview .sms-preview[data-lang="fr"]')
        await expect(preview.locator(".sms")).to_have_text(
            re.compile(r"^Sentinelle: Axe Diéma-Nioro fermé")
        )
        await expect(preview).not_to_contain_text("Too long")
        await page.fill("#text_fr", LONG_TEXT)
        await expect(preview.locator(".warn-cut")).to_contain_text("Too long: the SMS will be cut")
        sms = await preview.locator(".sms").text_content()
        assert sms is not None
        assert len(sms) <= 160
        await expect(page.locator("#preview-button")).to_be_hidden()
        await no_overflow(page)
        await page.click("#send-broadcast")
        await page.wait_for_url("**/web/officer/broadcasts/**")
        await page.evaluate("window.sameDocument = true")
        await expect(page.locator("h1")).to_have_text("Delivery of your broadcast")
        recipients = page.locator('[data-key="org-0.recipients"]')
        await expect(recipients).to_have_text("1")
        await expect(page.locator('[data-key="org-0.delivered"]')).to_have_text("0")
        report = await dispatcher_for(db, settings).drain()
        assert report.delivered == 1
        assert len(receiver.wait_for(1, timeout_s=5)) == 1
    await expect(page.locator('[data-key="org-0.delivered"]')).to_have_text("1", timeout=15_000)
    await expect(page.locator('[data-key="sub-0.sent"]')).to_have_text("1")
    [code] = await alert_codes(live_url, colleague)
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        acked = await http.post(f"/api/v1/alerts/{code}/ack", headers=colleague.headers)
    assert acked.status_code == 200, acked.text
    await expect(page.locator('[data-key="org-0.acknowledged"]')).to_have_text("1", timeout=15_000)
    assert await page.evaluate("window.sameDocument") is True  # updated without a reload
    await no_overflow(page)


async def test_the_core_actions_work_without_javascript(
    no_js: BrowserContext, live_url: str, db: Database, factory: Factory, officer: Caller
) -> None:
    reporter = await factory.caller("reporter", org_id=officer.org_id)
    reported = await report(live_url, reporter)
    rejected = await held_sms(live_url, db, officer.org_id, "ATTAQUE Menaka 3 morts")
    published = await held_sms(live_url, db, officer.org_id, "ENLEVEMENT Diema 2 staff")
    await subscribe(live_url, officer, "json://127.0.0.1:9/hook")
    page = await no_js.new_page()
    await sign_in(page, officer.token, "/web/officer")
    await page.locator(f"#incident-{reported['id']} button.verified").click()
    await expect(page.locator(f"#incident-{reported['id']} .badge")).to_have_text("Vérifié")
    assert (await incident(live_url, officer, reported["id"]))["status"] == "verified"

    await page.click("#tab-held")
    await page.locator(f"#held-{rejected} button.reject").click()
    await expect(page.locator("#done")).to_have_text("Rejeté.")
    assert (await held_states(live_url, officer))[rejected] == "discarded"
    await page.locator(f"#held-{published} button.publish").click()
    await expect(page.locator("#done")).to_have_text("Publié comme incident.")
    assert (await held_states(live_url, officer))[published] == "published"

    await page.click("#tab-broadcast")
    await page.fill("#text_fr", LONG_TEXT)
    await page.click("#send-broadcast")  # no area chosen: the error by the field, text kept
    await expect(page.locator("#zone-error")).to_have_text("Choisissez la zone.")
    await expect(page.locator("#text_fr")).to_have_value(LONG_TEXT)
    await page.select_option("#zone", "town_diema")
    await page.click("#preview-button")
    await expect(page.locator('.sms-preview[data-lang="fr"] .warn-cut')).to_contain_text(
        "Trop long"
    )
    await expect(page.locator("#zone")).to_have_value("town_diema")
    await shot(page, "broadcast")
    await page.fill("#text_fr", "Axe Diéma-Nioro fermé")
    await page.click("#send-broadcast")
    await page.wait_for_url("**/web/officer/broadcasts/**")
    await expect(page.locator("h1")).to_have_text("Distribution de votre diffusion")
    await expect(page.locator("#refresh")).to_be_visible()
    await expect(page.locator('[data-key="org-0.recipients"]')).to_have_text("1")
    await shot(page, "delivery")
    await page.click("#refresh")
    await expect(page.locator("h1")).to_have_text("Distribution de votre diffusion")


async def test_every_console_page_in_english_and_french(
    context: BrowserContext, officer: Caller
) -> None:
    page = await context.new_page()
    await sign_in(page, officer.token, "/web/officer")
    titles = {
        "/web/officer": ("Incidents shared with you", "Incidents partagés avec vous"),
        "/web/officer/held": ("SMS waiting for review", "SMS en attente de vérification"),
        "/web/officer/broadcast": ("Broadcast an alert", "Diffuser une alerte"),
    }
    for path, (english, french) in titles.items():
        await page.goto(f"{path}?lang=en")
        await expect(page.locator("h1")).to_have_text(english)
        await no_overflow(page)
        await page.goto(f"{path}?lang=fr")
        await expect(page.locator("h1")).to_have_text(french)


async def test_a_reporter_is_refused_in_their_language_and_no_session_goes_to_sign_in_and_back(
    context: BrowserContext, factory: Factory, officer: Caller
) -> None:
    page = await context.new_page()
    await page.goto("/web/officer/held")
    await page.wait_for_url("**/web/sign-in?next=/web/officer/held")
    await page.fill("#token", officer.token)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/web/officer/held")
    await page.click("#logout")
    reporter = await factory.caller("reporter")
    await sign_in(page, reporter.token, "/web/report")
    answer = await page.goto("/web/officer?lang=en")
    assert answer is not None
    assert answer.status == 403
    await expect(page.locator("h1")).to_have_text("Not allowed")
    await page.goto("/web/officer?lang=fr")
    await expect(page.locator("h1")).to_have_text("Accès refusé")
    await expect(page.locator("#nav-officer")).to_have_count(0)


# ------------------------------------------------------------------------------ attacks (HTTP)


class WebUser:
    """A browser session through plain HTTP: the session cookie and the page's CSRF token."""

    def __init__(self, http: httpx.AsyncClient, csrf: str) -> None:
        self.http = http
        self.csrf = csrf


async def web_user(live_url: str, caller: Caller) -> WebUser:
    http = httpx.AsyncClient(base_url=live_url, timeout=30, follow_redirects=False)
    form = await http.get("/web/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    signed = await http.post(
        "/web/sign-in", data={"csrf": csrf.group(1), "token": caller.token, "next": "/web/report"}
    )
    assert signed.status_code == 303, signed.text
    page = await http.get("/web/report")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    return WebUser(http, token.group(1))


@pytest.fixture(name="web")
async def fx_web(live_url: str) -> AsyncIterator[Any]:
    users: list[WebUser] = []

    async def make(caller: Caller) -> WebUser:
        user = await web_user(live_url, caller)
        users.append(user)
        return user

    yield make
    for user in users:
        await user.http.aclose()


async def console_broadcast(user: WebUser) -> str:
    sent = await user.http.post(
        "/web/officer/broadcast",
        data={
            "csrf": user.csrf,
            "zone": "town_diema",
            "priority": "normal",
            "text_fr": "Axe fermé",
        },
    )
    assert sent.status_code == 303, sent.text
    return sent.headers["location"].rsplit("/", 1)[-1]


async def test_a_reporter_and_the_operator_cannot_verify_publish_broadcast_or_see_deliveries(
    live_url: str, db: Database, factory: Factory, officer: Caller, web: Any
) -> None:
    reporter = await factory.caller("reporter", org_id=officer.org_id)
    reported = await report(live_url, reporter)
    held_id = await held_sms(live_url, db, officer.org_id, "ATTAQUE Menaka 3 morts")
    broadcast_id = await console_broadcast(await web(officer))
    for caller in (reporter, await factory.operator()):
        user = await web(caller)
        paths = ("/web/officer", "/web/officer/held", "/web/officer/broadcast")
        for path in (*paths, f"/web/officer/broadcasts/{broadcast_id}"):
            assert (await user.http.get(path)).status_code == 403, path
        figures = await user.http.get(f"/web/officer/broadcasts/{broadcast_id}/figures")
        assert figures.status_code == 403
        for action, data in (
            (f"/web/officer/incidents/{reported['id']}/status", {"status": "verified"}),
            (f"/web/officer/held/{held_id}/publish", {"type": "armed_attack"}),
            (f"/web/officer/held/{held_id}/reject", {}),
            ("/web/officer/broadcast", {"zone": "town_diema", "text_fr": "x"}),
        ):
            answer = await user.http.post(action, data={"csrf": user.csrf, "version": "1", **data})
            assert answer.status_code == 403, action
    assert (await incident(live_url, officer, reported["id"]))["status"] == "reported"
    assert (await held_states(live_url, officer))[held_id] == "held"


async def test_another_organisations_officer_changes_nothing_and_sees_no_broadcast_of_ours(
    live_url: str, db: Database, factory: Factory, officer: Caller, web: Any
) -> None:
    reporter = await factory.caller("reporter", org_id=officer.org_id)
    # Shared with the network (green): the outsider sees it in full and may verify it; kept to
    # the organisation (amber_strict): the outsider sees only its masked entry.
    kept = await report(live_url, reporter, sharing_level="amber_strict", place_name="Fassoudébé")
    held_id = await held_sms(live_url, db, officer.org_id, "ATTAQUE Menaka 3 morts")
    ours = await web(officer)
    broadcast_id = await console_broadcast(ours)
    assert (await ours.http.get(f"/web/officer/broadcasts/{broadcast_id}")).status_code == 200
    outsider = await web(await factory.caller("officer"))
    verify = await outsider.http.post(
        f"/web/officer/incidents/{kept['id']}/status",
        data={"csrf": outsider.csrf, "status": "verified", "version": "1"},
    )
    assert verify.status_code == 404
    publish = await outsider.http.post(
        f"/web/officer/held/{held_id}/publish", data={"csrf": outsider.csrf}
    )
    assert publish.status_code == 404
    assert STRANGER not in (await outsider.http.get("/web/officer/held")).text
    view = await outsider.http.get(f"/web/officer/broadcasts/{broadcast_id}")
    assert view.status_code == 404
    assert "Axe fermé" not in view.text
    figures = await outsider.http.get(f"/web/officer/broadcasts/{broadcast_id}/figures")
    assert figures.status_code == 404
    assert (await incident(live_url, officer, kept["id"]))["status"] == "reported"
    assert (await held_states(live_url, officer))[held_id] == "held"


async def test_the_console_shows_a_masked_entry_as_the_api_does_and_no_more(
    live_url: str, factory: Factory, officer: Caller, web: Any
) -> None:
    reporter = await factory.caller("reporter", org_id=officer.org_id)
    outsider_caller = await factory.caller("officer")
    # Masked for the outsider; the newest of three, between two of the outsider's own.
    own_old = await report(live_url, outsider_caller, type="armed_attack", days_ago=3, at=GAO)
    kept = await report(
        live_url,
        reporter,
        type="kidnapping",
        days_ago=2,
        sharing_level="amber_strict",
        place_name="Fassoudébé",
        description="Le chauffeur Moussa enlevé",
    )
    own_new = await report(live_url, outsider_caller, type="theft", days_ago=1)
    outsider = await web(outsider_caller)
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        for params in (
            {},
            {"type": "kidnapping"},
            {"type": "abduction"},
            {"min_severity": "5"},
            {"zone": "town_diema"},
        ):
            page = await outsider.http.get("/web/officer", params=params)
            assert page.status_code == 200
            api = await http.get(
                "/api/v1/incidents", params=params, headers=outsider_caller.headers
            )
            assert api.status_code == 200, api.text
            features = api.json()["features"]
            shown = re.findall(r'<li (?:id="incident-([0-9a-f-]+)"|class="masked")', page.text)
            # The same entries in the same order: full ones by id, masked ones where they are.
            expected = ["" if f["properties"]["masked"] else f["id"] for f in features]
            assert shown == expected, params
            assert f"{len(features)} incidents" in page.text
    everything = (await outsider.http.get("/web/officer")).text
    for secret in (kept["id"], "Fassoudébé", "Moussa", "<strong>Enlèvement</strong>"):
        assert secret not in everything
    assert own_old["id"] in everything
    assert own_new["id"] in everything


async def test_a_form_without_its_csrf_token_changes_nothing(
    live_url: str, db: Database, factory: Factory, officer: Caller, web: Any
) -> None:
    reporter = await factory.caller("reporter", org_id=officer.org_id)
    reported = await report(live_url, reporter)
    held_id = await held_sms(live_url, db, officer.org_id, "ATTAQUE Menaka 3 morts")
    colleague = await factory.caller("officer", org_id=officer.org_id)
    await subscribe(live_url, colleague, "json://127.0.0.1:9/hook")
    user = await web(officer)
    for csrf in (None, "", "forged-token-of-thirty-two-chars-x"):
        extra = {} if csrf is None else {"csrf": csrf}
        for action, data in (
            (f"/web/officer/incidents/{reported['id']}/status", {"status": "verified"}),
            (f"/web/officer/held/{held_id}/publish", {"type": "armed_attack"}),
            (f"/web/officer/held/{held_id}/reject", {}),
            ("/web/officer/broadcast", {"zone": "town_diema", "text_fr": "x", "action": "send"}),
            ("/web/officer/broadcast/preview", {"text_fr": "x"}),
        ):
            answer = await user.http.post(action, data={"version": "1", **data, **extra})
            assert answer.status_code == 403, (action, csrf)
    assert (await incident(live_url, officer, reported["id"]))["status"] == "reported"
    assert (await held_states(live_url, officer))[held_id] == "held"
    assert await alert_codes(live_url, colleague) == []


async def test_another_organisations_custom_zone_does_not_exist_in_the_console(
    live_url: str, factory: Factory, officer: Caller, web: Any
) -> None:
    lon, lat = DIEMA[1], DIEMA[0]
    ring = [[lon - 0.2, lat - 0.2], [lon + 0.2, lat - 0.2], [lon + 0.2, lat + 0.2]]
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        drawn = await http.post(
            "/api/v1/zones",
            json={
                "name_fr": "Axe surveillé par A",
                "code": f"axe_a_{officer.org_id.hex[:8]}",
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            },
            headers=officer.headers,
        )
    assert drawn.status_code == 201, drawn.text
    zone_id = drawn.json()["id"]
    ours = await web(officer)
    assert "Axe surveillé par A" in (await ours.http.get("/web/officer/broadcast")).text
    outsider = await web(await factory.caller("officer"))
    for path in ("/web/officer", "/web/officer/broadcast"):
        assert "Axe surveillé par A" not in (await outsider.http.get(path)).text
    theirs = await outsider.http.get("/web/officer", params={"zone": zone_id})
    nothing = await outsider.http.get("/web/officer", params={"zone": "no_such_zone"})
    assert theirs.status_code == nothing.status_code == 200
    assert "Zone inconnue." in theirs.text
    assert theirs.text.replace(zone_id, "no_such_zone") == nothing.text.replace(
        zone_id, "no_such_zone"
    )
    sent = await outsider.http.post(
        "/web/officer/broadcast",
        data={"csrf": outsider.csrf, "zone": zone_id, "text_fr": "x", "action": "send"},
    )
    assert sent.status_code == 422
    assert "Choisissez la zone." in sent.text


def test_every_console_text_has_its_french_translation() -> None:
    """Each msgid the console uses (templates/officer, officer.py) is in the one catalogue (web.po),
    and French has a translation for it (English msgids are the English texts)."""
    from babel.messages.pofile import read_po

    web_dir = Path(__file__).resolve().parents[2] / "api" / "web"
    sources = [web_dir / "officer.py", *sorted((web_dir / "templates" / "officer").glob("*.html"))]
    used = set()
    for source in sources:
        text = source.read_text(encoding="utf-8")
        used |= {a or b for a, b in re.findall(r"""_\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""", text)}
    assert len(used) > 60
    french: dict[str, str] = {}
    english: set[str] = set()
    for name in ("web.po",):
        with (web_dir / "locale" / "fr" / "LC_MESSAGES" / name).open("rb") as fh:
            french.update({m.id: str(m.string) for m in read_po(fh) if isinstance(m.id, str)})
        with (web_dir / "locale" / "en" / "LC_MESSAGES" / name).open("rb") as fh:
            english |= {m.id for m in read_po(fh) if isinstance(m.id, str)}
    assert sorted(m for m in used if not french.get(m)) == []
    assert sorted(used - english) == []


async def test_the_preview_is_the_alerts_package_rendering_of_the_sms(
    officer: Caller, web: Any
) -> None:
    from alerts.core.render import render_broadcast
    from alerts.core.service import BROADCAST_PRIORITIES
    from api.web.officer import SAMPLE_CODE

    user = await web(officer)
    text = "Alerte 🚨 route coupée – être prudent €"
    answer = await user.http.post(
        "/web/officer/broadcast/preview",
        data={"csrf": user.csrf, "text_fr": text, "priority": "flash"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    [fr, en] = body["languages"]
    expected = render_broadcast(
        {"fr": text}, BROADCAST_PRIORITIES["flash"], language="fr", format="sms", code=SAMPLE_CODE
    ).body
    assert fr["sms"] == expected
    assert (fr["alphabet"], fr["typed_alphabet"], fr["changed"], fr["cut"]) == (
        "GSM-7",
        "UCS-2",
        True,
        False,
    )
    assert en["sms"].endswith(f"Reply OK {SAMPLE_CODE}")
    too_long = await user.http.post(
        "/web/officer/broadcast/preview",
        data={"csrf": user.csrf, "text_fr": LONG_TEXT, "text_en": "Road closed"},
    )
    languages = {p["lang"]: p for p in too_long.json()["languages"]}
    assert languages["fr"]["cut"] is True
    assert languages["fr"]["units"] <= 160
    assert languages["en"]["cut"] is False


async def test_the_delivery_view_of_an_api_broadcast_or_from_another_host_is_the_senders_only(
    live_url: str, settings: Settings, factory: Factory, officer: Caller, web: Any
) -> None:
    colleague = await factory.caller("officer", org_id=officer.org_id)
    await subscribe(live_url, colleague, "json://127.0.0.1:9/hook")
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        sent = await http.post(
            "/api/v1/alerts/broadcast",
            json={"area": {"zones": ["town_diema"]}, "message": {"fr": "Axe fermé"}},
            headers=officer.headers,
        )
    assert sent.status_code == 201, sent.text
    from_api = sent.json()["id"]
    ours = await web(colleague)
    from_console = await console_broadcast(ours)
    # Nothing is remembered by the console: the alerts in the database say who sent it.
    outsider = await web(await factory.caller("officer"))
    for broadcast_id in (from_api, from_console):
        view = await ours.http.get(f"/web/officer/broadcasts/{broadcast_id}")
        assert view.status_code == 200, view.text
        figures = (await ours.http.get(f"/web/officer/broadcasts/{broadcast_id}/figures")).json()
        assert figures["total"]["recipients"] == 1
        assert (
            await outsider.http.get(f"/web/officer/broadcasts/{broadcast_id}")
        ).status_code == 404
        gone = await outsider.http.get(f"/web/officer/broadcasts/{broadcast_id}/figures")
        assert gone.status_code == 404
    unknown = await ours.http.get(f"/web/officer/broadcasts/{uuid.uuid4()}")
    assert unknown.status_code == 404
