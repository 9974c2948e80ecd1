"""Page weights: the bytes a phone downloads for /web/report and /web/map, first load and repeat
visit, as the browser reports them, beside the budgets of issue 12.

Debian's chromium, driven by Playwright, opens the pages of a live `sentinelle` server (SQLite,
demo data loaded with `sentinelle demo`). Bytes are what went over the network, compressed:
the `encodedDataLength` of CDP's `Network.loadingFinished` for the page's requests (headers
included), plus the requests its service worker makes (its precache), from Playwright's
request sizes. A response taken from the browser's or the service worker's cache counts 0.
"First load" is a browser with an empty cache (signed in through another window); "repeat
visit" opens the page again in the same window.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import harness

CHROMIUM = os.environ.get("SENTINELLE_CHROMIUM", "/usr/bin/chromium")
PHONE: Any = {"width": 360, "height": 740}  # a Playwright ViewportSize
# Issue 12: the report page ≤ 100 KB first load, the map page ≤ 400 KB with its library and
# zone geometry (KB = 1,000 bytes, as the page tests count).
PAGES = (("/web/report", "reporter", 100_000), ("/web/map", "planner", 400_000))
DEMO_INCIDENTS = 400


@dataclass
class Transfer:
    """Bytes received per URL during one load."""

    page: dict[str, int] = field(default_factory=dict)  # request id -> bytes
    urls: dict[str, str] = field(default_factory=dict)  # request id -> url
    cached: set[str] = field(default_factory=set)  # served from a cache: 0 bytes on the wire
    worker: list[tuple[str, int]] = field(default_factory=list)  # the service worker's fetches

    def total(self) -> int:
        own = sum(n for rid, n in self.page.items() if rid not in self.cached)
        return own + sum(n for _, n in self.worker)

    def by_url(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for rid, n in self.page.items():
            url = self.urls.get(rid, "?")
            sizes[url] = sizes.get(url, 0) + (0 if rid in self.cached else n)
        for url, n in self.worker:
            sizes[f"sw:{url}"] = sizes.get(f"sw:{url}", 0) + n
        return sizes


async def _tokens(database_url: str) -> dict[str, str]:
    """A reporter and a planner of one organisation (the demo data is another's)."""
    from incidents.db import Database, create_engine
    from incidents.identity import accounts as identity
    from incidents.records.model import Role

    db = Database(create_engine(database_url))
    try:
        now = datetime.now(UTC)
        tokens = {}
        async with db.transaction() as session:
            org = await identity.create_organisation(
                session, f"bench {uuid.uuid4().hex[:6]}", now=now
            )
            for role in (Role.REPORTER, Role.PLANNER):
                _, _, token = await identity.create_user_with_token(
                    session, org, role=role, now=now, name=f"bench {role.value}"
                )
                tokens[role.value] = str(token)
        return tokens
    finally:
        await db.dispose()


def _demo(database_url: str, var_dir: Path, log: Path) -> None:
    """`sentinelle demo`: migrations, default zones, synthetic incidents and their risk levels."""
    command = [
        str(Path(sys.executable).parent / "sentinelle"),
        "demo",
        "--count",
        str(DEMO_INCIDENTS),
    ]
    env = {
        **os.environ,
        "SENTINELLE_DATABASE_URL": database_url,
        "SENTINELLE_VAR_DIR": str(var_dir),
    }
    with log.open("wb") as out:
        subprocess.run(
            command, cwd=harness.ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=True
        )


async def _signed_cookie(browser: Any, base: str, token: str, path: str) -> Any:
    context = await browser.new_context(viewport=PHONE, base_url=base, locale="fr-FR")
    try:
        page = await context.new_page()
        await page.goto(f"/web/sign-in?next={path}")
        await page.fill("#token", token)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"**{path}*")
        return [c for c in await context.cookies() if c["name"] == "stl_session"]
    finally:
        await context.close()


async def _load(page: Any, cdp: Any, context: Any, path: str) -> Transfer:
    transfer = Transfer()

    def sent(event: dict[str, Any]) -> None:
        transfer.urls[event["requestId"]] = event["request"]["url"]

    def received(event: dict[str, Any]) -> None:
        response = event["response"]
        if response.get("fromDiskCache") or response.get("fromServiceWorker"):
            transfer.cached.add(event["requestId"])

    def from_cache(event: dict[str, Any]) -> None:
        transfer.cached.add(event["requestId"])

    def finished(event: dict[str, Any]) -> None:
        transfer.page[event["requestId"]] = int(event["encodedDataLength"])

    async def worker_request(request: Any) -> None:
        if request.service_worker is None:
            return
        response = await request.response()
        if response is not None and response.from_service_worker:
            return
        sizes = await request.sizes()
        transfer.worker.append(
            (request.url, int(sizes["responseBodySize"]) + int(sizes["responseHeadersSize"]))
        )

    pending: list[asyncio.Task[None]] = []

    def on_finished(request: Any) -> None:
        pending.append(asyncio.ensure_future(worker_request(request)))

    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.responseReceived", received)
    cdp.on("Network.requestServedFromCache", from_cache)
    cdp.on("Network.loadingFinished", finished)
    context.on("requestfinished", on_finished)
    try:
        answer = await page.goto(path, wait_until="networkidle")
        if answer is None or answer.status != 200 or not page.url.split("?")[0].endswith(path):
            raise LookupError(path)
        await page.wait_for_timeout(1500)  # the service worker installs and fills its cache
        await asyncio.gather(*pending)
    finally:
        cdp.remove_listener("Network.requestWillBeSent", sent)
        cdp.remove_listener("Network.responseReceived", received)
        cdp.remove_listener("Network.requestServedFromCache", from_cache)
        cdp.remove_listener("Network.loadingFinished", finished)
        context.remove_listener("requestfinished", on_finished)
    return transfer


async def _measure(
    base: str, tokens: dict[str, str]
) -> dict[str, tuple[Transfer, Transfer] | None]:
    from playwright.async_api import async_playwright

    weights: dict[str, tuple[Transfer, Transfer] | None] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for path, role, _ in PAGES:
                async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                    exists = (await http.get(path, follow_redirects=False)).status_code != 404
                if not exists:
                    weights[path] = None
                    continue
                cookies = await _signed_cookie(browser, base, tokens[role], path)
                context = await browser.new_context(viewport=PHONE, base_url=base, locale="fr-FR")
                try:
                    await context.add_cookies(cookies)
                    page = await context.new_page()
                    cdp = await context.new_cdp_session(page)
                    await cdp.send("Network.enable")
                    try:
                        first = await _load(page, cdp, context, path)
                    except LookupError:
                        weights[path] = None
                        continue
                    repeat = await _load(page, cdp, context, path)
                    weights[path] = (first, repeat)
                finally:
                    await context.close()
        finally:
            await browser.close()
    return weights


def _short(url: str) -> str:
    """`/web/static/app.js` of the page, `sw /web/report` of its service worker."""
    worker = url.startswith("sw:")
    path = "/" + url.removeprefix("sw:").split("://", 1)[-1].split("/", 1)[-1]
    return f"sw {path}" if worker else path


def run(results: dict[str, Any], quick: bool = False) -> list[harness.Row]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `apt-get install -y chromium`")
    out = harness.OUT_DIR / "pages"
    out.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:8]
    database = out / f"pages-{run_id}.db"
    var_dir = out / f"var-{run_id}"
    database_url = f"sqlite+aiosqlite:///{database}"
    try:
        _demo(database_url, var_dir, out / "demo.log")
        tokens = asyncio.run(_tokens(database_url))
        with harness.served(
            ["sentinelle", "--database-url", database_url, "--var-dir", str(var_dir)],
            log=out / "server.log",
        ) as port:
            weights = asyncio.run(_measure(f"http://127.0.0.1:{port}", tokens))
    finally:
        for leftover in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            leftover.unlink(missing_ok=True)
        Path(f"{database}.migrate.lock").unlink(missing_ok=True)
        shutil.rmtree(var_dir, ignore_errors=True)  # holds a generated secret key
    rows: list[harness.Row] = []
    for path, _, budget in PAGES:
        measured = weights.get(path)
        if measured is None:
            rows.append(
                (
                    f"pages: {path} first load (transferred)",
                    "not built",
                    f"≤ {budget / 1000:,.0f} kB",
                    "–",
                )
            )
            continue
        first, repeat = measured
        for label, transfer in (("first load", first), ("repeat visit", repeat)):
            rows.append(
                harness.record(
                    results,
                    f"pages: {path} {label} (transferred)",
                    transfer.total() / 1000,
                    "kB",
                    reference=budget / 1000,
                    digits=1,
                    target="≤ 1.00" if label == "first load" else None,
                )
            )
        biggest = sorted(first.by_url().items(), key=lambda item: -item[1])[:6]
        harness.note(
            f"{path} first load, largest transfers: "
            + ", ".join(f"{_short(url)} {n / 1000:.1f} kB" for url, n in biggest)
        )
    harness.note(
        "Page weights: Debian chromium (Playwright), phone-sized window, a live server on SQLite "
        f"with `sentinelle demo --count {DEMO_INCIDENTS}`; bytes on the wire (gzip, headers "
        "included: CDP Network.loadingFinished encodedDataLength, plus the service worker's own "
        "fetches); reference is the budget (issue 12), ratio = measured / budget."
    )
    return rows
