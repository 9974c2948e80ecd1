"""The web pages in a real browser (Debian's chromium through Playwright) against a real server:
sign-in and out, reporting on a phone-sized screen with and without JavaScript, offline and back,
acknowledging an alert, French and English; no request leaves the server's origin."""

from __future__ import annotations

import gzip

import httpx
from playwright.async_api import Browser, BrowserContext, Page, expect

from api.web import session as sessions
from incidents.db import Database
from tests.e2e.web import PHONE, Recorder, fits_the_phone, incident_count, sign_in
from tests.factories import DIEMA, Caller, Factory


async def fill_report(page: Page, *, place: str = "Diéma") -> None:
    await page.select_option("#type", "kidnapping")
    await page.check("input[name=when][value=yesterday]")
    await page.fill("#place", place)
    await page.fill("#killed", "0")
    await page.fill("#abducted", "2")
    await page.fill("#narrative", "Deux agents enlevés sur l'axe")


async def test_sign_in_then_logout_and_a_bad_token_is_refused_in_french(
    context: BrowserContext, reporter: Caller
) -> None:
    page = await context.new_page()
    await page.goto("/web/sign-in")
    await expect(page.locator("h1")).to_have_text("Se connecter")
    await page.fill("#token", "stl_not-a-real-token-at-all")
    await page.click("button[type=submit]")
    await expect(page.locator("#token-error")).to_contain_text("inconnu ou révoqué")
    await sign_in(page, reporter.token)
    cookie = next(c for c in await context.cookies() if c["name"] == sessions.COOKIE)
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert reporter.token not in cookie["value"]
    assert cookie["expires"] > 0  # a session with an expiry, not a browser-lifetime cookie
    await page.click("#logout")
    await page.wait_for_url("**/web/sign-in")
    assert not [c for c in await context.cookies() if c["name"] == sessions.COOKIE]
    await page.goto("/web/report")
    await page.wait_for_url("**/web/sign-in?next=/web/report")


async def test_an_expired_session_goes_to_sign_in_and_back_where_the_user_was(
    context: BrowserContext, reporter: Caller, db: Database
) -> None:
    page = await context.new_page()
    await sign_in(page, reporter.token, "/web/alerts")
    await sessions.store_for(db).delete_all()  # every session expires
    await page.goto("/web/alerts?code=X")
    await page.wait_for_url("**/web/sign-in?next=**")
    await page.fill("#token", reporter.token)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/web/alerts?code=X")


async def test_reporting_on_a_phone_without_javascript_shows_errors_by_the_field_and_keeps_the_text(
    browser: Browser, live_url: str, reporter: Caller, requests_seen: Recorder
) -> None:
    context = await browser.new_context(
        viewport=PHONE, base_url=live_url, java_script_enabled=False
    )
    context.on("request", lambda request: requests_seen.urls.append(request.url))
    try:
        page = await context.new_page()
        await sign_in(page, reporter.token)
        await fill_report(page, place="Nullepartville")
        await page.click("#send")
        await expect(page.locator("#place-error")).to_contain_text("Lieu inconnu")
        await expect(page.locator("#narrative")).to_have_value("Deux agents enlevés sur l'axe")
        await expect(page.locator("#abducted")).to_have_value("2")
        # Nothing sticks out of a 360 px screen.
        await fits_the_phone(page)
        await page.fill("#place", "Diéma")
        await page.click("#send")
        await expect(page.locator("#sent")).to_be_visible()
        assert await incident_count(live_url, reporter) == 1
    finally:
        await context.close()
    assert all(u.startswith(live_url) for u in requests_seen.urls)


async def test_reporting_with_javascript_on_a_phone_stores_one_incident(
    context: BrowserContext, live_url: str, reporter: Caller
) -> None:
    page = await context.new_page()
    await sign_in(page, reporter.token)
    await fits_the_phone(page)
    await fill_report(page)
    await page.click("#send")
    await expect(page.locator("#queue-status")).to_have_text("Signalement reçu. Merci.")
    assert await incident_count(live_url, reporter) == 1


async def test_a_report_written_offline_is_sent_once_when_the_connection_returns(
    context: BrowserContext, live_url: str, reporter: Caller
) -> None:
    page = await context.new_page()
    await sign_in(page, reporter.token)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await context.set_offline(True)
    await fill_report(page)
    await page.click("#send")
    await expect(page.locator("#queue-status")).to_contain_text("Pas de connexion")
    queued = await page.evaluate(
        """() => new Promise(ok => { const r = indexedDB.open('sentinelle', 1);
        r.onsuccess = () => { const q = r.result.transaction('queue').objectStore('queue').getAll();
        q.onsuccess = () => ok(q.result); }; })"""
    )
    assert len(queued) == 1
    assert queued[0]["key"]
    assert await incident_count(live_url, reporter) == 0
    # Offline, the page still opens (from the service worker's cache).
    await page.reload()
    await expect(page.locator("#report-form")).to_be_visible()
    await context.set_offline(False)
    await expect(page.locator("#queue-status")).to_have_text(
        "Signalement reçu. Merci.", timeout=20_000
    )
    assert await incident_count(live_url, reporter) == 1
    # The same report sent again (a retry after a lost answer) is stored once.
    again = await page.evaluate(
        """(item) => fetch(item.action, {method: 'POST', body: item.body,
        headers: {'Accept': 'application/json',
                  'Content-Type': 'application/x-www-form-urlencoded'}}).then(r => r.json())""",
        queued[0],
    )
    assert again["replayed"] is True
    assert await incident_count(live_url, reporter) == 1


async def test_quick_exit_clears_the_queue_the_caches_and_the_session(
    context: BrowserContext, reporter: Caller
) -> None:
    page = await context.new_page()
    await sign_in(page, reporter.token)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.click("#quick-exit")
    await page.wait_for_url("**/web/sign-in")
    assert not [c for c in await context.cookies() if c["name"] == sessions.COOKIE]
    assert await page.evaluate("caches.keys()") == []
    assert (
        await page.evaluate("navigator.serviceWorker.getRegistrations().then(r => r.length)") == 0
    )


async def test_an_alert_is_acknowledged_from_the_inbox(
    context: BrowserContext, live_url: str, factory: Factory
) -> None:
    planner, officer = await factory.caller("planner"), await factory.caller("officer")
    subscription = {
        "channels": ["json://127.0.0.1:9/hook"],
        "area": {"point": {"lat": DIEMA[0], "lon": DIEMA[1]}, "radius_km": 25},
    }
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        assert (
            await http.post("/api/v1/subscriptions", json=subscription, headers=planner.headers)
        ).status_code == 201
        answer = await http.post(
            "/api/v1/alerts/broadcast",
            json={"area": {"zones": ["town_diema"]}, "message": {"fr": "Axe fermé"}},
            headers=officer.headers,
        )
        assert answer.status_code == 201, answer.text
        code = (await http.get("/api/v1/alerts", headers=planner.headers)).json()["items"][0][
            "code"
        ]
    page = await context.new_page()
    await sign_in(page, planner.token, f"/web/alerts?code={code}")
    item = page.locator(f"#alert-{code}")
    await item.locator("button.ack").click()
    await expect(page.locator(f"#alert-{code}")).to_contain_text("Confirmée")
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        alert = (await http.get("/api/v1/alerts", headers=planner.headers)).json()["items"][0]
    assert alert["acknowledged"] is True


async def test_english_on_request_and_remembered(context: BrowserContext, reporter: Caller) -> None:
    page = await context.new_page()
    await page.goto("/web/sign-in?lang=en")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await page.fill("#token", reporter.token)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/web/report")
    await expect(page.locator("h1")).to_have_text("Report an incident")
    await expect(page.locator("#type option[value=kidnapping]")).to_have_text("Kidnapping")
    await page.goto("/web/report?lang=fr")
    await expect(page.locator("h1")).to_have_text("Signaler un incident")


async def test_schema_renders_with_no_internet(context: BrowserContext, live_url: str) -> None:
    page = await context.new_page()
    await page.goto("/schema")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Sentinelle API")


async def test_report_page_weight_on_first_load(
    context: BrowserContext, live_url: str, reporter: Caller
) -> None:
    """What a phone downloads the first time it opens the report page (docs/web.md)."""
    page = await context.new_page()
    await sign_in(page, reporter.token)
    sizes: dict[str, tuple[int, int]] = {}
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        cookies = {c["name"]: c["value"] for c in await context.cookies()}
        for path in ("/web/report", "/web/static/app.js", "/web/static/style.css", "/web/sw.js"):
            body = (await http.get(path, cookies=cookies)).content
            sizes[path] = (len(body), len(gzip.compress(body)))
    raw = sum(r for r, _ in sizes.values())
    compressed = sum(c for _, c in sizes.values())
    print(f"report page first load: {raw} bytes raw, {compressed} bytes gzip: {sizes}")
    assert compressed <= 100_000
    assert raw <= 100_000
