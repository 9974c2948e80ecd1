"""The planner pages in a real browser (Debian's chromium) against a real server: the risk map
coloured by level with nothing fetched from another host, the zone page (level, explanation in
words, contributors, 12 months), the route check by place names, errors by the field, French and
English, without JavaScript; then attacks over plain HTTP (another organisation's custom zone,
masked incidents, the operator) and the map page's weight on first load."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.pofile import read_po
from playwright.async_api import Browser, BrowserContext, expect

from api.settings import Settings
from api.web import i18n, planner
from tests.e2e.web import PHONE, Recorder, fits_the_phone, sign_in
from tests.factories import Caller, Factory, incident_payload

DOUENTZA = (15.00605, -2.95170)
NEAR_DOUENTZA = (15.0301, -2.9102)
# The masked incident: where, when and what only its organisation may know.
SECRET_AT = (15.05123, -2.85321)  # its 0.25° cell centre is within 10 km of the route
SECRET_NARRATIVE = "Chauffeur enlevé au puits de Tiguila, code ROUGE-7781"
SECRET_PLACE = "Puits de Tiguila"
SECRET_ZONE = "zone_b_secret"
ROUTE = "/web/route?place=Mopti&place=Douentza&place=Gao"


@dataclass
class World:
    reporter: Caller  # organisation A: reports the incidents
    planner: Caller  # organisation B: sees A's amber_strict incident masked only
    other_officer: Caller  # organisation C: has a custom zone nobody else may know of
    visible: list[str]
    secret_id: str


async def post(live_url: str, caller: Caller, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        answer = await http.post(path, json=body, headers=caller.headers)
    assert answer.status_code in (200, 201), answer.text
    result: dict[str, Any] = answer.json()
    return result


@pytest.fixture(name="world")
async def fx_world(live_url: str, factory: Factory) -> World:
    reporter = await factory.caller("reporter")
    planner = await factory.caller("planner")
    other_officer = await factory.caller("officer")
    visible = []
    for days, kind in ((2, "armed_attack"), (3, "armed_attack"), (4, "armed_attack"), (5, "ied")):
        created = await post(
            live_url,
            reporter,
            "/api/v1/incidents",
            incident_payload(type=kind, at=NEAR_DOUENTZA, days_ago=days, sharing_level="green"),
        )
        visible.append(created["id"])
    secret = await post(
        live_url,
        reporter,
        "/api/v1/incidents",
        incident_payload(
            type="kidnapping",
            at=SECRET_AT,
            days_ago=1.37,
            severity=5,
            sharing_level="amber_strict",
            description=SECRET_NARRATIVE,
            place_name=SECRET_PLACE,
            impact={"abducted": 1},
        ),
    )
    lat, lon = DOUENTZA
    square = [[lon - 0.3, lat - 0.3], [lon + 0.3, lat - 0.3], [lon + 0.3, lat + 0.3],
              [lon - 0.3, lat + 0.3], [lon - 0.3, lat - 0.3]]  # fmt: skip
    await post(
        live_url,
        other_officer,
        "/api/v1/zones",
        {
            "name_fr": "Zone secrète de C",
            "code": SECRET_ZONE,
            "kind": "custom",
            "geometry": {"type": "Polygon", "coordinates": [square]},
        },
    )
    return World(reporter, planner, other_officer, visible, secret["id"])


async def web_cookies(live_url: str, token: str) -> dict[str, str]:
    """A page session over plain HTTP, as a browser gets one (CSRF cookie, then the form)."""
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        form = await http.get("/web/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        answer = await http.post("/web/sign-in", data={"csrf": csrf.group(1), "token": token})
        assert answer.status_code == 303, answer.text
        return dict(http.cookies)


def secrets_in(text: str, world: World) -> list[str]:
    lat, lon = SECRET_AT
    found: list[str] = []
    if text.lstrip().startswith("{"):
        # Map GeoJSON: zone outlines have thousands of vertices, one of which may share three
        # decimals with the secret point by chance (the Burkina border at 15.051°N); the
        # geometries leak nothing unless a vertex lies at the point itself.
        doc = json.loads(text)
        found += [f"vertex {pt}" for pt in _vertices(doc) if _near(pt, (lon, lat))]
        text = json.dumps(_without_geometries(doc), ensure_ascii=False)
    needles = [
        world.secret_id,
        SECRET_NARRATIVE,
        "ROUGE-7781",
        SECRET_PLACE,
        "Tiguila",
        f"{lat}",
        f"{lon}",
        f"{lat:.3f}",
        f"{lon:.3f}",
    ]
    return found + [n for n in needles if n in text]


def _vertices(doc: Any) -> list[tuple[float, float]]:
    if isinstance(doc, dict):
        if "coordinates" in doc:
            flat = str(doc["coordinates"]).replace("[", " ").replace("]", " ").split(",")
            numbers = [float(x) for x in " ".join(flat).split()]
            return list(zip(numbers[0::2], numbers[1::2], strict=True))
        return [pt for value in doc.values() for pt in _vertices(value)]
    if isinstance(doc, list):
        return [pt for value in doc for pt in _vertices(value)]
    return []


def _near(pt: tuple[float, float], secret: tuple[float, float]) -> bool:
    return abs(pt[0] - secret[0]) < 0.01 and abs(pt[1] - secret[1]) < 0.01


def _without_geometries(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _without_geometries(v) for k, v in doc.items() if k != "geometry"}
    if isinstance(doc, list):
        return [_without_geometries(v) for v in doc]
    return doc


# ------------------------------------------------------------------------------ in the browser


async def test_the_map_colours_the_zones_by_level_from_this_server_only_in_french(
    context: BrowserContext, world: World, live_url: str, requests_seen: Recorder
) -> None:
    page = await context.new_page()
    await sign_in(page, world.planner.token, "/web/map")
    await expect(page.locator("h1")).to_have_text("Carte des risques")
    await expect(page.locator("#map")).to_have_attribute("data-loaded", re.compile(r"^[1-9]\d*$"))
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        zones = (await http.get("/api/v1/zones", headers=world.planner.headers)).json()
    levels = {f["id"]: f["properties"]["risk"]["level"] for f in zones["features"]}
    assert levels["town_douentza"] >= 2  # the four incidents weigh on it
    drawn = await page.eval_on_selector_all(
        "#map path.zone", "ps => ps.map(p => p.getAttribute('class'))"
    )
    assert len(drawn) == len(levels)
    # A zone without data has no level and is drawn without a level colour.
    assert sorted(int(m.group(1)) for c in drawn if (m := re.search(r"lvl-(\d)", c))) == sorted(
        v for v in levels.values() if v is not None
    )
    # The colour comes from the level's class: a level-1 zone and the Douentza zone differ.
    colours = await page.eval_on_selector_all(
        "#map path.zone", "ps => ps.map(p => getComputedStyle(p).fill)"
    )
    assert len(set(colours)) >= 2
    # Grey is for zones without data only ("pas de données"): every zone with a level has its colour.
    grey = sum(c == "rgb(153, 153, 153)" for c in colours)
    assert grey == sum(v is None for v in levels.values())
    # The list under the map, most dangerous first, links to the zone pages.
    first = page.locator("#zone-list li").first
    await expect(first.locator("a")).to_have_attribute("href", re.compile(r"^/web/zones/"))
    assert any(u.endswith("/web/static/vendor/leaflet/leaflet.js") for u in requests_seen.urls)
    await fits_the_phone(page)


async def test_the_map_in_english(context: BrowserContext, world: World) -> None:
    page = await context.new_page()
    await sign_in(page, world.planner.token, "/web/map?lang=en")
    await expect(page.locator("h1")).to_have_text("Risk map")
    await expect(page.locator("#map")).to_have_attribute("data-loaded", re.compile(r"^[1-9]"))
    await page.locator("#map path.zone.kind-town").first.click(force=True)
    await expect(page.locator(".leaflet-popup-content")).to_contain_text("Open the zone page")


async def test_the_zone_page_gives_level_explanation_contributors_and_a_year(
    context: BrowserContext, world: World
) -> None:
    page = await context.new_page()
    await sign_in(page, world.planner.token, "/web/zones/town_douentza")
    await expect(page.locator("h1")).to_have_text("Douentza (20 km)")
    await expect(page.locator("#level")).to_contain_text("Niveau")
    why = page.locator("#explanation")
    await expect(why).to_contain_text(
        "3 attaques armées et 1 engin explosif improvisé (EEI) dans les 30 derniers jours."
    )
    await expect(why).to_contain_text("Et 1 incident que vous ne voyez que masqué")
    contributors = page.locator("#contributors li")
    await expect(contributors).to_have_count(5)
    await expect(contributors.filter(has_text="Attaque armée")).to_have_count(3)
    await expect(page.locator("#contributors li.masked")).to_have_count(1)
    await expect(page.locator("#contributors li.masked")).to_contain_text(
        "Incident que vous ne voyez que masqué"
    )
    await expect(page.locator("#history rect")).to_have_count(53)
    await page.goto("/web/zones/town_douentza?lang=en")
    await expect(page.locator("#explanation")).to_contain_text(
        "3 armed attacks and 1 improvised explosive device (IED) in the last 30 days."
    )
    await expect(page.locator("#level")).to_contain_text("Level")
    await fits_the_phone(page)


async def test_a_route_check_by_place_names_segment_by_segment(
    context: BrowserContext, world: World
) -> None:
    page = await context.new_page()
    await sign_in(page, world.planner.token, "/web/route")
    await expect(page.locator("h1")).to_have_text("Itinéraire")
    await page.fill("#place-0", "Mopti")
    await page.fill("#place-1", "Douentza")
    await page.click("#add-stop")  # with JavaScript: a new field, no round trip
    await expect(page.locator("#stops input")).to_have_count(3)
    await page.fill("#place-2", "Gao")
    await page.click("#check")
    await page.wait_for_url("**/web/route?**")
    await expect(page.locator("#result h2")).to_have_text("Mopti → Douentza → Gao")
    await expect(page.locator("#route-level")).to_contain_text("Niveau")
    legs = page.locator("#legs li.leg")
    await expect(legs).to_have_count(2)
    await expect(legs.nth(0).locator(".leg-name")).to_have_text("Mopti → Douentza")
    await expect(legs.nth(1).locator(".leg-name")).to_have_text("Douentza → Gao")
    incidents = page.locator("#route-incidents li")
    await expect(incidents).to_have_count(4)
    await expect(incidents.filter(has_text="Attaque armée")).to_have_count(3)
    await expect(page.locator("#hidden-count")).to_contain_text("que vous ne voyez que masqué")
    # The route on a map: every 25 km stretch coloured by its level.
    await expect(page.locator("#route-map")).to_have_attribute("data-loaded", re.compile(r"^\d+$"))
    stretches = await page.eval_on_selector_all(
        "#route-map path.stretch", "ps => ps.map(p => p.getAttribute('class'))"
    )
    assert len(stretches) >= 486 // 25
    assert all(re.search(r"lvl-[1-5]", c) for c in stretches)
    # Removing a place, then in English.
    await page.locator("#stops li.stop").nth(1).locator("button.remove").click()
    await expect(page.locator("#stops input")).to_have_count(2)
    await page.goto(ROUTE + "&lang=en")
    await expect(page.locator("#legs li.leg").nth(1)).to_contain_text("Douentza → Gao")
    await expect(page.locator("#route-summary")).to_contain_text("km as the crow flies")


async def test_an_unknown_place_is_shown_by_its_field_with_suggestions_and_kept(
    context: BrowserContext, world: World
) -> None:
    page = await context.new_page()
    await sign_in(page, world.planner.token, "/web/route")
    await page.fill("#place-0", "Mopti")
    await page.fill("#place-1", "Gaoville")
    await page.click("#check")
    error = page.locator("#place-1-error")
    await expect(error).to_contain_text("Lieu inconnu")
    await expect(error.locator("a.suggestion").first).to_have_text("Gao")
    await expect(page.locator("#place-1")).to_have_value("Gaoville")
    await expect(page.locator("#place-0")).to_have_value("Mopti")
    await expect(page.locator("#place-0-error")).to_have_count(0)
    await expect(page.locator("#result")).to_have_count(0)
    await error.locator("a.suggestion").first.click()  # the suggestion checks the route
    await expect(page.locator("#result h2")).to_have_text("Mopti → Gao")
    await page.goto("/web/route?place=Mopti&place=Gaoville&lang=en")
    await expect(page.locator("#place-1-error")).to_contain_text("Unknown place")


async def test_the_planner_pages_work_without_javascript(
    browser: Browser, live_url: str, world: World, requests_seen: Recorder
) -> None:
    context = await browser.new_context(
        viewport=PHONE, base_url=live_url, java_script_enabled=False
    )
    context.on("request", lambda request: requests_seen.urls.append(request.url))
    try:
        page = await context.new_page()
        await sign_in(page, world.planner.token, "/web/map")
        await expect(page.locator("#map")).to_be_hidden()
        douentza = page.locator("#zone-list a[href='/web/zones/town_douentza']")
        await expect(douentza).to_contain_text("Douentza")
        await douentza.click()
        await page.wait_for_url("**/web/zones/town_douentza")
        await expect(page.locator("#explanation")).to_contain_text("3 attaques armées")
        await page.click("a[href='/web/route']")
        await page.fill("#place-0", "Mopti")
        await page.fill("#place-1", "Douentza")
        await page.click("#add-stop")  # a round trip keeps what was typed
        await expect(page.locator("#stops input")).to_have_count(3)
        await expect(page.locator("#place-1")).to_have_value("Douentza")
        await page.fill("#place-2", "Gao")
        await page.press("#place-2", "Enter")  # Enter checks the route, it removes nothing
        await expect(page.locator("#legs li.leg")).to_have_count(2)
        await page.locator("#stops li.stop").nth(0).locator("button.remove").click()
        await expect(page.locator("#stops input")).to_have_count(2)
        await expect(page.locator("#place-0")).to_have_value("Douentza")
    finally:
        await context.close()
    foreign = [u for u in requests_seen.urls if not u.startswith(live_url)]
    assert foreign == []


async def test_the_map_page_weighs_at_most_400_kb_on_first_load(
    context: BrowserContext, world: World, live_url: str
) -> None:
    """What the browser downloads to show the map the first time, each answer gzip-compressed
    (as a compressing proxy or server sends it): page, Leaflet, styles, scripts, geometry."""
    # Signed in over HTTP: the map is the first page this browser ever opens (no cache, no
    # service worker installed by another page).
    cookies = await web_cookies(live_url, world.planner.token)
    await context.add_cookies(
        [{"name": k, "value": v, "url": live_url} for k, v in cookies.items()]
    )
    page = await context.new_page()
    loaded: list[str] = []
    transferred: list[float] = []  # bytes on the wire per request, as the browser counts them
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    cdp.on("Network.loadingFinished", lambda event: transferred.append(event["encodedDataLength"]))
    page.on("requestfinished", lambda request: loaded.append(request.url))
    await page.goto("/web/map")
    await expect(page.locator("#map")).to_have_attribute("data-loaded", re.compile(r"^[1-9]"))
    await page.wait_for_load_state("networkidle")
    wire = sum(transferred)
    print(f"map page first load in the browser: {wire:.0f} bytes over {len(transferred)} answers")
    assert len(transferred) >= 8
    assert wire <= 400_000
    assert any(u.endswith("/web/map/base.json") for u in loaded)
    sizes: dict[str, tuple[int, int]] = {}
    async with httpx.AsyncClient(timeout=30) as http:
        for url in dict.fromkeys(loaded):
            body = (await http.get(url, cookies=cookies)).content
            sizes[url.removeprefix(live_url)] = (len(body), len(gzip.compress(body)))
    raw = sum(r for r, _ in sizes.values())
    compressed = sum(c for _, c in sizes.values())
    print(f"map page first load: {raw} bytes raw, {compressed} bytes gzip: {sizes}")
    assert "/web/static/vendor/leaflet/leaflet.js" in sizes
    assert "/web/map/zones.json" in {u.split("?")[0] for u in sizes}
    assert compressed <= 400_000


def test_a_tile_url_is_off_by_default_and_allowed_by_the_policy_when_set() -> None:
    default = planner.map_headers(Settings())["content-security-policy"]
    assert "img-src 'self' data:;" in default
    tiles = Settings(map_tile_url="https://{s}.tile.example.org/{z}/{x}/{y}.png")
    policy = planner.map_headers(tiles)["content-security-policy"]
    assert "img-src 'self' https://*.tile.example.org data:;" in policy
    assert "connect-src 'self';" in policy
    # Not https, or odd characters: no tile host is allowed.
    for url in ("http://tiles.example.org/{z}/{x}/{y}.png", "https://a b;c/{z}.png"):
        bad = planner.map_headers(Settings(map_tile_url=url))["content-security-policy"]
        assert bad == default


# ------------------------------------------------------------------------------ attacks (HTTP)


async def test_another_organisations_custom_zone_is_unknown_on_the_pages(
    live_url: str, world: World
) -> None:
    cookies = await web_cookies(live_url, world.planner.token)
    async with httpx.AsyncClient(base_url=live_url, timeout=60, cookies=cookies) as http:
        hidden = await http.get(f"/web/zones/{SECRET_ZONE}")
        unknown = await http.get("/web/zones/zone_b_secreu")
        data = await http.get("/web/map/zones.json")
        listed = await http.get("/web/map")
        mine = await http.get("/web/zones/town_douentza")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.text.replace(SECRET_ZONE, "X") == unknown.text.replace("zone_b_secreu", "X")
    assert "Zone secrète" not in hidden.text
    assert mine.status_code == 200
    ids = [f["id"] for f in data.json()["features"]]
    assert "town_douentza" in ids
    assert SECRET_ZONE not in ids
    assert SECRET_ZONE not in listed.text
    assert "Zone secrète" not in listed.text + data.text
    # Its own organisation sees it.
    own = await web_cookies(live_url, world.other_officer.token)
    async with httpx.AsyncClient(base_url=live_url, timeout=60, cookies=own) as http:
        assert (await http.get(f"/web/zones/{SECRET_ZONE}")).status_code == 200
        own_ids = [f["id"] for f in (await http.get("/web/map/zones.json")).json()["features"]]
    assert SECRET_ZONE in own_ids


async def test_a_masked_incident_leaks_nothing_through_the_planner_pages(
    live_url: str, world: World
) -> None:
    cookies = await web_cookies(live_url, world.planner.token)
    async with httpx.AsyncClient(base_url=live_url, timeout=60, cookies=cookies) as http:
        answers = {
            path: await http.get(path)
            for path in (
                "/web/zones/town_douentza",
                "/web/zones/town_douentza?lang=en",
                "/web/zones/mli",
                ROUTE,
                "/web/map",
                "/web/map/zones.json",
                "/web/map/base.json",
            )
        }
    for path, answer in answers.items():
        assert answer.status_code == 200, (path, answer.text[:300])
        assert secrets_in(answer.text, world) == [], path
    # It still counts, masked: one masked contributor, one more incident counted on the route.
    assert answers["/web/zones/town_douentza"].text.count('class="masked"') == 1
    assert 'id="hidden-count"' in answers[ROUTE].text
    for visible in world.visible:
        assert visible in answers[ROUTE].text
    # Its own organisation sees it in full on the same pages.
    own = await web_cookies(live_url, world.reporter.token)
    async with httpx.AsyncClient(base_url=live_url, timeout=60, cookies=own) as http:
        zone = await http.get("/web/zones/town_douentza")
        route = await http.get(ROUTE)
    assert world.secret_id in zone.text
    assert world.secret_id in route.text
    assert 'id="hidden-count"' not in route.text


def data_ids(html: str, section: str) -> list[str]:
    """The incident ids named in a list of the page (`contributors`, `route-incidents`)."""
    start = html.index(f'id="{section}"')
    end = min(i for i in (html.find("</ol>", start), html.find("</ul>", start)) if i > 0)
    return re.findall(r'data-id="([^"]+)"', html[start:end])


async def test_the_operator_sees_on_the_pages_no_more_than_the_api_gives_it(
    live_url: str, world: World, factory: Factory
) -> None:
    operator = await factory.operator()
    cookies = await web_cookies(live_url, operator.token)
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        risk = (await http.get("/api/v1/zones/town_douentza/risk", headers=operator.headers)).json()
        places = [(-4.18296, 14.4843), (-2.9517, 15.00605), (-0.04472, 16.27167)]
        assessed = (
            await http.post(
                "/api/v1/risk/assess",
                json={"geometry": {"type": "LineString", "coordinates": places}},
                headers=operator.headers,
            )
        ).json()
        zone = await http.get("/web/zones/town_douentza", cookies=cookies)
        route = await http.get(ROUTE, cookies=cookies)
    assert sorted(data_ids(zone.text, "contributors")) == sorted(
        c["incident_id"] for c in risk["contributors"]
    )
    masked_api = sorted(c["incident_id"] for c in risk["contributors"] if c["share"] is None)
    masked_page = re.findall(r'class="masked" data-id="([^"]+)"', zone.text)
    assert sorted(masked_page) == masked_api
    assert sorted(data_ids(route.text, "route-incidents")) == sorted(
        i["id"] for i in assessed["incidents"]
    )
    if world.secret_id not in str(risk) + str(assessed):
        assert secrets_in(zone.text + route.text, world) == []
    assert SECRET_NARRATIVE not in zone.text + route.text


async def test_what_is_typed_comes_back_escaped(live_url: str, world: World) -> None:
    cookies = await web_cookies(live_url, world.planner.token)
    typed = '"><script>alert(1)</script>'
    async with httpx.AsyncClient(base_url=live_url, timeout=60, cookies=cookies) as http:
        route = await http.get("/web/route", params=[("place", "Mopti"), ("place", typed)])
        zone = await http.get("/web/zones/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    assert route.status_code == 422
    assert "<script>alert(1)" not in route.text
    assert "&lt;script&gt;alert(1)" in route.text
    assert zone.status_code == 404
    assert "<img src=x" not in zone.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in zone.text


MSGID = re.compile(r"""_\(\s*"((?:[^"\\]|\\.)*)"\s*\)|_\(\s*'((?:[^'\\]|\\.)*)'\s*\)""")


def test_every_planner_text_is_in_the_french_and_english_catalogues() -> None:
    web = Path(planner.__file__).parent
    sources = [web / "planner.py", *sorted((web / "templates" / "planner").glob("*.html"))]
    used = {m.group(1) or m.group(2) for f in sources for m in MSGID.finditer(f.read_text())}
    assert len(used) > 40
    for lang in ("fr", "en"):
        known: set[str] = set()
        for po in (Path(i18n.LOCALE_DIR) / lang / "LC_MESSAGES").glob("*.po"):
            with po.open("rb") as fh:
                known |= {m.id for m in read_po(fh) if isinstance(m.id, str)}
        assert sorted(used - known) == [], lang
    french = i18n.translations("fr")
    untranslated = [m for m in used if french.gettext(m) == m and m not in SAME_IN_FRENCH]
    assert untranslated == []


SAME_IN_FRENCH = {"Incident", "stable", "violence", "Destination"}


@pytest.mark.parametrize(
    ("label", "n", "lang", "words"),
    [
        ("Attaque armée", 3, "fr", "3 attaques armées"),
        ("Engin explosif improvisé (EEI)", 1, "fr", "1 engin explosif improvisé (EEI)"),
        ("Engin explosif improvisé (EEI)", 2, "fr", "2 engins explosifs improvisés (EEI)"),
        ("Vol à main armée, braquage", 2, "fr", "2 vols à main armée"),
        ("Poste de contrôle illégal", 4, "fr", "4 postes de contrôle illégaux"),
        ("Refus d'accès", 2, "fr", "2 refus d'accès"),
        ("Armed attack", 3, "en", "3 armed attacks"),
        ("Improvised explosive device (IED)", 2, "en", "2 improvised explosive devices (IED)"),
        (
            "Shelling (artillery, rockets, mortars)",
            2,
            "en",
            "2 shelling (artillery, rockets, mortars)",
        ),
        ("Burglary", 2, "en", "2 burglaries"),
    ],
)
def test_a_count_of_a_type_reads_as_words(label: str, n: int, lang: str, words: str) -> None:
    assert planner.counted(label, n, lang) == words


async def test_a_zone_without_data_says_so_on_its_page_and_the_map(
    live_url: str, world: World
) -> None:
    """Nothing was reported around Kidal: its page and the map say "pas de données", not 1."""
    cookies = await web_cookies(live_url, world.planner.token)
    async with httpx.AsyncClient(base_url=live_url, timeout=60, cookies=cookies) as http:
        french = await http.get("/web/zones/town_kidal")
        english = await http.get("/web/zones/town_kidal?lang=en")
        zones = (await http.get("/web/map/zones.json?lang=fr")).json()
        listing = await http.get("/web/map?lang=fr")
    assert french.status_code == english.status_code == 200
    assert "pas de données" in french.text
    assert "le niveau n’est pas connu" in french.text
    assert "Niveau 1" not in french.text
    assert "no data" in english.text
    assert "the level is not known, which does not mean it is safe" in english.text
    [kidal] = [f for f in zones["features"] if f["id"] == "town_kidal"]
    assert kidal["properties"]["level"] is None
    assert kidal["properties"]["level_label"] == "pas de données"
    assert "pas de données" in listing.text
