"""What the page tests share: the app with the web pages, Debian's chromium through Playwright, a
phone-sized context that fails the test on any request to another host, sign-in through the page.
The fixtures are made available to tests/e2e by its conftest."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

import api.http.app as app_module
from api import web
from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database
from tests.factories import Caller, Factory


def create_web_app(settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch) -> Litestar:
    def litestar_with_pages(*args: Any, **kwargs: Any) -> Litestar:
        plugins = list(kwargs.pop("plugins", None) or [])
        if not any(isinstance(p, web.WebPlugin) for p in plugins):  # already wired: as is
            plugins.append(web.WebPlugin())
        return Litestar(*args, plugins=plugins, **kwargs)

    monkeypatch.setattr(app_module, "Litestar", litestar_with_pages)
    return create_app(settings, db=db)


CHROMIUM = os.environ.get("SENTINELLE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_PRESENT = Path(CHROMIUM).exists()
PHONE = {"width": 360, "height": 740}


@pytest.fixture(name="browser")
async def fx_browser() -> AsyncIterator[Browser]:
    if not CHROMIUM_PRESENT:
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does it)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        await browser.close()


class Recorder:
    def __init__(self) -> None:
        self.urls: list[str] = []


@pytest.fixture(name="requests_seen")
def fx_requests_seen() -> Recorder:
    return Recorder()


@pytest.fixture(name="context")
async def fx_context(
    browser: Browser, live_url: str, requests_seen: Recorder
) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport=PHONE, base_url=live_url, locale="fr-FR")
    context.on("request", lambda request: requests_seen.urls.append(request.url))
    yield context
    await context.close()
    foreign = [
        u for u in requests_seen.urls if not u.startswith(live_url) and not u.startswith("data:")
    ]
    assert foreign == [], f"requests to other hosts: {foreign}"


@pytest.fixture(name="reporter")
async def fx_reporter(factory: Factory) -> Caller:
    return await factory.caller("reporter")


async def sign_in(page: Page, token: str, path: str = "/web/report") -> None:
    await page.goto(path)
    await page.wait_for_url("**/web/sign-in**")
    await page.fill("#token", token)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"**{path}")


async def incident_count(live_url: str, caller: Caller) -> int:
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.get(f"{live_url}/api/v1/incidents", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return len(answer.json()["features"])


async def fits_the_phone(page: Page) -> None:
    """No sideways scrolling on a phone: measured once the page and its style sheets have
    loaded (measured earlier, under load, a page can look wider than it is), naming what
    sticks out when it fails."""
    await page.wait_for_load_state("load")
    width = await page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        wide = await page.evaluate(
            "Array.from(document.querySelectorAll('body *'))"
            f".filter(e => e.getBoundingClientRect().right > {PHONE['width']})"
            ".slice(0, 5).map(e => e.tagName + ' ' + (e.textContent || '').slice(0, 60))"
        )
        raise AssertionError(f"{page.url} is {width} px wide on a phone; sticking out: {wide}")
