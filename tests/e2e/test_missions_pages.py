"""The mission pages in a real browser (Debian's chromium) on a phone, against a real server:
plan a mission with French errors by the field, an officer approves it, the traveller checks in
(without, then with a position), calls for help, an officer takes the alarm and the page says
who; a duress check-in looks ordinary to the traveller while the officer sees it; the
notification export (audited). Then attacks over the pages' own forms: another organisation's
officer, a reporter of the same organisation, the platform operator, a missing CSRF token."""

from __future__ import annotations

import dataclasses
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import func, select

from api.http.app import container_of
from incidents.db import Database
from incidents.sharing.tables import AuditRow
from missions.tables import MissionCheckinRow, MissionRow
from tests.e2e.test_nav_by_role import signed_in
from tests.e2e.web import PHONE, fits_the_phone, sign_in
from tests.factories import Caller, Factory

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


async def shot(page: Page, name: str) -> None:
    """The docs' screenshots (SENTINELLE_SCREENSHOTS=1): the page as a phone shows it."""
    if os.environ.get("SENTINELLE_SCREENSHOTS"):
        await page.screenshot(path=str(SHOTS / f"missions-{name}.png"), full_page=True)


@pytest.fixture(name="approval_everywhere")
def fx_approval_everywhere(app: Litestar) -> None:
    """Every route needs an officer's approval (level 1 and up), and the export is on."""
    service = container_of(app).missions
    assert service is not None
    service.config = dataclasses.replace(service.config, approval_level=1, notification_export=True)


def at(hours: float) -> str:
    moment = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M")


async def new_page(context: BrowserContext, caller: Caller, path: str) -> Page:
    page = await context.new_page()
    await sign_in(page, caller.token, path)
    return page


async def test_plan_approve_check_in_call_for_help_and_take_the_alarm_on_a_phone(
    context: BrowserContext,
    browser: Any,
    live_url: str,
    factory: Factory,
    db: Database,
    approval_everywhere: None,
) -> None:
    org = await factory.org()
    planner = await factory.caller("planner", org_id=org)
    officer = await factory.caller("officer", org_id=org)
    traveller = await factory.caller("reporter", org_id=org)

    page = await new_page(context, planner, "/web/missions/new")
    await fits_the_phone(page)
    await page.fill("#title", "Mopti - Gao, distribution")
    await page.fill("#departure", at(1))
    await page.fill("#arrival", at(-2))  # before the departure
    await page.fill("#route", "Mopti, Zzyzxville, Gao")
    await page.click("#plan-submit")
    await expect(page.locator("#arrival-error")).to_have_text(
        "L'arrivée doit être après le départ : vérifiez les dates."
    )
    await expect(page.locator("#route-error")).to_contain_text("Lieu inconnu : Zzyzxville.")
    await expect(page.locator("#travellers-error")).to_contain_text(
        "Choisissez au moins un voyageur"
    )
    await fits_the_phone(page)
    await shot(page, "plan-errors")
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(MissionRow)) == 0

    await page.fill("#arrival", at(9))
    await page.fill("#route", "Mopti, Douentza, Gao")
    await page.fill("#stop_place_0", "Douentza")
    await page.fill("#stop_time_0", at(4))
    await page.check(f"input[name=member][value='{traveller.user_id}']")
    await page.click("#plan-submit")
    await page.wait_for_url("**/web/missions/*?done=planned*")
    await expect(page.locator("#mission-state")).to_have_text("prévue")
    await expect(page.locator("#awaiting")).to_be_visible()
    await expect(page.locator("#approval-reasons")).to_contain_text("niveau 1 sur l'itinéraire")
    await expect(page.locator("#segments li").first).to_contain_text("km 0 à")
    assert await page.locator("#approve").count() == 0  # a planner does not approve
    await fits_the_phone(page)
    mission_url = page.url.split("?")[0]
    mission_path = mission_url.removeprefix(live_url)

    # The officer approves, on another phone.
    officer_context = await browser.new_context(viewport=PHONE, base_url=live_url, locale="fr-FR")
    try:
        officer_page = await new_page(officer_context, officer, mission_path)
        await officer_page.click("#approve")
        await expect(officer_page.locator("#approved")).to_contain_text(
            "Approuvée par officer test"
        )

        # The traveller checks in: no position unless they give one.
        traveller_context = await browser.new_context(
            viewport=PHONE, base_url=live_url, locale="fr-FR"
        )
        try:
            tpage = await new_page(traveller_context, traveller, mission_path)
            await fits_the_phone(tpage)
            await tpage.click("#checkin-submit")
            await expect(tpage.locator("#done")).to_contain_text("Pointage enregistré à")
            await expect(tpage.locator("#mission-state")).to_have_text("en cours")
            await shot(tpage, "checkin")
            await tpage.click("#position summary")
            await tpage.fill("#lat", "15,0")
            await tpage.fill("#lon", "-2.95")
            await tpage.click("#checkin-submit")
            await expect(tpage.locator("#done")).to_contain_text("Pointage enregistré")
            async with db.read() as session:
                rows = (
                    await session.execute(
                        select(
                            MissionCheckinRow.via, MissionCheckinRow.lat, MissionCheckinRow.lon
                        ).order_by(MissionCheckinRow.id)
                    )
                ).all()
            assert [tuple(r) for r in rows] == [("web", None, None), ("web", 15.0, -2.95)]

            # AIDE: the officer sees the alarm, nobody has it yet, takes it; the page says who.
            await tpage.check("input[name=kind][value=help]")
            await tpage.click("#checkin-submit")
            await expect(tpage.locator("#mission-state")).to_have_text("alerte")
            assert await tpage.locator("#alarm").count() == 0  # not on the traveller's phone
            await officer_page.goto(mission_path)
            await expect(officer_page.locator("#alarm-reason")).to_contain_text(
                "Les voyageurs ont demandé de l'aide."
            )
            await expect(officer_page.locator("#alarm-open")).to_be_visible()
            await officer_page.click("#acknowledge")
            await expect(officer_page.locator("#alarm-taken")).to_contain_text(
                "Prise par officer test le"
            )
            await fits_the_phone(officer_page)
            await shot(officer_page, "alarm-taken")
            listing = page
            await listing.goto("/web/missions")
            card = listing.locator(f"#missions li[data-id='{mission_path.rsplit('/', 1)[1]}']")
            await expect(card).to_contain_text("alerte")
            await expect(card).to_contain_text("prise par officer test")
            await expect(card.locator(".route-bar .seg").first).to_be_visible()
            await fits_the_phone(listing)
            await shot(listing, "list")

            # The export, by the officer: a CSV with the statement, audited.
            csv = await officer_page.request.get(f"{mission_path}/notification?format=csv")
            assert csv.status == 200
            assert "attachment" in csv.headers["content-disposition"]
            text = await csv.text()
            assert "Mopti - Douentza - Gao" in text
            assert "ne garantit aucune sécurité" in text
            async with db.read() as session:
                exported = await session.scalar(
                    select(func.count())
                    .select_from(AuditRow)
                    .where(AuditRow.action == "mission.notification_exported")
                )
            assert exported == 1
        finally:
            await traveller_context.close()
    finally:
        await officer_context.close()


async def test_a_duress_check_in_looks_ordinary_on_the_travellers_phone(
    context: BrowserContext,
    browser: Any,
    live_url: str,
    factory: Factory,
) -> None:
    org = await factory.org()
    planner = await factory.caller("planner", org_id=org)
    officer = await factory.caller("officer", org_id=org)
    traveller = await factory.caller("officer", org_id=org)  # an officer travelling: no exception
    page = await new_page(context, planner, "/web/missions/new")
    await page.fill("#title", "Mopti - Bandiagara")
    await page.fill("#departure", at(-1))
    await page.fill("#arrival", at(5))
    await page.fill("#route", "Mopti, Bandiagara")
    await page.check(f"input[name=member][value='{traveller.user_id}']")
    await page.click("#plan-submit")
    await page.wait_for_url("**/web/missions/*?done=planned*")
    mission_path = page.url.split("?")[0].removeprefix(live_url)

    tcontext = await browser.new_context(viewport=PHONE, base_url=live_url, locale="fr-FR")
    try:
        tpage = await new_page(tcontext, traveller, mission_path)
        await tpage.click("#safety summary")
        await tpage.fill("#duress_word", "ok")
        await tpage.click("#duress-submit")
        await expect(tpage.locator("#safety")).to_contain_text("Un seul mot de 3 à 24 lettres")
        await tpage.fill("#duress_word", "Mangue")
        await tpage.click("#duress-submit")
        await expect(tpage.locator("#done")).to_have_text("Enregistré.")
        await tpage.fill("#word", "mangue")
        await tpage.click("#checkin-submit")
        await expect(tpage.locator("#done")).to_contain_text("Pointage enregistré à")
        await expect(tpage.locator("#mission-state")).to_have_text("en cours")
        assert await tpage.locator("#alarm").count() == 0
        assert "contrainte" not in (await tpage.content()).lower()
        tlist = await tpage.request.get("/web/missions")
        assert "contrainte" not in (await tlist.text()).lower()
    finally:
        await tcontext.close()
    ocontext = await browser.new_context(viewport=PHONE, base_url=live_url, locale="fr-FR")
    try:
        officer_page = await new_page(ocontext, officer, mission_path)
        await expect(officer_page.locator("#alarm-duress")).to_contain_text(
            "agir discrètement, ne pas appeler les voyageurs"
        )
        await expect(officer_page.locator("#mission-state")).to_have_text("en cours")
        await fits_the_phone(officer_page)
        await officer_page.goto("/web/missions")
        await expect(officer_page.locator("#missions .duress")).to_have_text(
            "sous contrainte : agir discrètement"
        )
    finally:
        await ocontext.close()


# ------------------------------------------------------------------------------ attacks


async def plan_over_http(app: Litestar, planner: Caller, traveller: Caller) -> str:
    service = container_of(app).missions
    assert service is not None
    from incidents.identity.accounts import Principal

    created = await service.create(
        Principal(user_id=planner.user_id, org_id=planner.org_id, role=planner.role),
        {
            "title": "Mission secrète Kidal",
            "departure_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "arrival_at": (datetime.now(UTC) + timedelta(hours=6)).isoformat(),
            "route": {"places": ["Gao", "Bourem", "Kidal"]},
            "travellers": [{"user_id": str(traveller.user_id)}],
        },
        now=datetime.now(UTC),
    )
    return str(created["id"])


async def csrf_of(client: AsyncTestClient[Litestar], path: str) -> str:
    answer = await client.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', answer.text)
    assert found is not None, answer.text[:300]
    return found.group(1)


ACTIONS = ("checkin", "duress", "approve", "start", "acknowledge", "close")


@pytest.mark.parametrize("who", ["other_officer", "same_org_reporter", "operator"])
async def test_who_may_not_see_a_mission_gets_404_on_every_page_and_form(
    app: Litestar, factory: Factory, db: Database, approval_everywhere: None, who: str
) -> None:
    org = await factory.org()
    planner = await factory.caller("planner", org_id=org)
    traveller = await factory.caller("reporter", org_id=org)
    mission_id = await plan_over_http(app, planner, traveller)
    intruder = {
        "other_officer": lambda: factory.caller("officer"),
        "same_org_reporter": lambda: factory.caller("reporter", org_id=org),
        "operator": factory.operator,
    }[who]
    caller = await intruder()
    unknown = uuid.uuid4()
    async with AsyncTestClient(app=app) as client:
        await signed_in(client, caller.token)
        listing = await client.get("/web/missions")
        assert listing.status_code == 200
        assert "Mission secrète" not in listing.text
        csrf = await csrf_of(client, "/web/missions")
        for target in (mission_id, unknown):
            seen = await client.get(f"/web/missions/{target}")
            assert seen.status_code == 404
            assert "Mission secrète" not in seen.text
            export = await client.get(f"/web/missions/{target}/notification?format=csv")
            assert export.status_code == 404
            for action in ACTIONS:
                answer = await client.post(
                    f"/web/missions/{target}/{action}",
                    data={"csrf": csrf, "kind": "help", "duress_word": "mangue"},
                )
                # The same answer whether the mission exists or not: nothing learnt.
                assert answer.status_code == 404, (who, action, answer.text[:200])
                assert "Mission secrète" not in answer.text
        if who == "operator":
            refused = await client.get("/web/missions/new")
            assert refused.status_code == 403
    async with db.read() as session:
        row = await session.get(MissionRow, uuid.UUID(mission_id))
        assert row is not None
        assert (row.state, row.approved_by, row.checkin_count) == ("planned", None, 0)


async def test_a_focal_point_plans_but_only_an_officer_approves_and_csrf_is_checked(
    app: Litestar, factory: Factory, db: Database, approval_everywhere: None
) -> None:
    org = await factory.org()
    planner = await factory.caller("planner", org_id=org)
    officer = await factory.caller("officer", org_id=org)
    traveller = await factory.caller("reporter", org_id=org)
    mission_id = await plan_over_http(app, planner, traveller)
    path = f"/web/missions/{mission_id}"
    async with AsyncTestClient(app=app) as client:
        await signed_in(client, planner.token)
        csrf = await csrf_of(client, path)
        refused = await client.post(f"{path}/approve", data={"csrf": csrf})
        assert refused.status_code == 403
        assert "Vous ne pouvez pas faire cela sur cette mission." in refused.text
        started = await client.post(f"{path}/start", data={"csrf": csrf})
        assert started.status_code == 409
        assert "approbation" in started.text
        export = await client.get(f"{path}/notification?format=csv")
        assert export.status_code == 403  # a planner is no officer
    async with AsyncTestClient(app=app) as client:
        await signed_in(client, officer.token)
        forged = await client.post(f"{path}/approve", data={"csrf": "x" * 40})
        assert forged.status_code == 403
        async with db.read() as session:
            row = await session.get(MissionRow, uuid.UUID(mission_id))
            assert row is not None
            assert row.approved_by is None
        csrf = await csrf_of(client, path)
        approved = await client.post(f"{path}/approve", data={"csrf": csrf})
        assert approved.status_code == 200  # after the 303 back to the page
        assert "Mission approuvée." in approved.text
        page = await client.get(path)
        assert "Approuvée par officer test" in page.text
        # The officer is no traveller: no check-in form, and the service refuses one.
        assert 'id="checkin-form"' not in page.text
        checkin = await client.post(f"{path}/checkin", data={"csrf": csrf, "kind": "ok"})
        assert checkin.status_code == 403
    async with AsyncTestClient(app=app) as client:
        await signed_in(client, traveller.token)
        csrf = await csrf_of(client, path)
        late = await client.post(f"{path}/checkin", data={"csrf": csrf, "kind": "late"})
        assert late.status_code == 422
        assert "Indiquez le retard en minutes" in late.text
        closed = await client.post(f"{path}/close", data={"csrf": csrf})
        assert closed.status_code == 403  # a traveller does not close the mission
        english = await client.get(f"{path}?lang=en")
        assert "Send the check-in" in english.text
        assert "SMS code" in english.text


def test_every_mission_page_text_is_in_french_and_english() -> None:
    web_dir = Path(__file__).resolve().parents[2] / "api" / "web"
    sources = [
        web_dir / "missions.py",
        *sorted((web_dir / "templates" / "missions").glob("*.html")),
    ]
    used: set[str] = set()
    for source in sources:
        text = source.read_text(encoding="utf-8")
        used |= {a or b for a, b in re.findall(r"""_\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""", text)}
    assert len(used) > 80
    with (web_dir / "locale" / "fr" / "LC_MESSAGES" / "web.po").open("rb") as fh:
        french = {m.id: str(m.string) for m in read_po(fh) if isinstance(m.id, str)}
    with (web_dir / "locale" / "en" / "LC_MESSAGES" / "web.po").open("rb") as fh:
        english = {m.id for m in read_po(fh) if isinstance(m.id, str)}
    assert sorted(m for m in used if not french.get(m)) == []
    assert sorted(used - english) == []


async def test_what_only_the_service_can_refuse_is_said_in_french_by_the_field(
    app: Litestar, factory: Factory, db: Database, approval_everywhere: None
) -> None:
    """A stop outside the route's corridor and a phone that belongs to another organisation's
    member: the form cannot tell, the service refuses, the page says it under the field."""
    from incidents.intake.service import register_phone

    org = await factory.org()
    planner = await factory.caller("planner", org_id=org)
    await factory.caller("officer", org_id=org)
    stranger = await factory.caller("reporter")
    async with db.transaction() as session:
        await register_phone(session, stranger.user_id, "+22376555444")
    form = {
        "title": "Mopti - Douentza",
        "departure": at(1),
        "arrival": at(8),
        "route": "Mopti, Douentza",
        "traveller_name_0": "Awa",
        "traveller_phone_0": "+22376000001",
    }
    async with AsyncTestClient(app=app) as client:
        await signed_in(client, planner.token)
        csrf = await csrf_of(client, "/web/missions/new")
        far = await client.post(
            "/web/missions",
            data={**form, "csrf": csrf, "stop_place_1": "Kidal", "stop_time_1": at(4)},
        )
        assert far.status_code == 422
        assert 'id="stop_1-error"' in far.text
        assert "hors du corridor de l&#39;itinéraire" in far.text
        taken = await client.post(
            "/web/missions", data={**form, "csrf": csrf, "traveller_phone_0": "+22376555444"}
        )
        assert taken.status_code == 422
        assert 'id="traveller_0-error"' in taken.text
        assert "Ce numéro ne peut pas servir pour cette mission" in taken.text
        assert "Mopti - Douentza" in taken.text  # what was typed is kept
        async with db.read() as session:
            assert await session.scalar(select(func.count()).select_from(MissionRow)) == 0
        planned = await client.post("/web/missions", data={**form, "csrf": csrf})
        assert planned.status_code == 200
        assert "Mission planifiée." in planned.text


async def test_the_notification_is_a_pdf_too_and_each_download_is_audited(
    app: Litestar, factory: Factory, db: Database, approval_everywhere: None
) -> None:
    org = await factory.org()
    planner = await factory.caller("planner", org_id=org)
    officer = await factory.caller("officer", org_id=org)
    traveller = await factory.caller("reporter", org_id=org)
    mission_id = await plan_over_http(app, planner, traveller)
    async with AsyncTestClient(app=app) as client:
        await signed_in(client, officer.token)
        page = await client.get(f"/web/missions/{mission_id}")
        assert 'id="export-pdf"' in page.text
        pdf = await client.get(f"/web/missions/{mission_id}/notification?format=pdf")
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        csv = await client.get(f"/web/missions/{mission_id}/notification?format=csv&lang=en")
        assert "guarantees no safety" in csv.text
        assert "Gao - Bourem - Kidal" in csv.text
    async with db.read() as session:
        formats = (
            await session.execute(
                select(AuditRow.details)
                .where(AuditRow.action == "mission.notification_exported")
                .order_by(AuditRow.id)
            )
        ).scalars()
        assert [d["format"] for d in formats] == ["pdf", "csv"]


@pytest.mark.parametrize(
    ("role", "plan", "protocol"),
    [("reporter", False, False), ("planner", True, False), ("officer", True, True)],
)
async def test_the_mission_tabs_follow_the_role(
    app: Litestar, factory: Factory, role: str, plan: bool, protocol: bool
) -> None:
    caller = await factory.caller(role)
    async with AsyncTestClient(app=app) as client:
        await signed_in(client, caller.token)
        for path in ("/web/report", "/web/missions"):
            page = await client.get(path)
            assert 'href="/web/missions"' in page.text
        listing = await client.get("/web/missions")
        assert ('href="/web/missions/new"' in listing.text) is plan
        assert ('href="/web/missions/protocol"' in listing.text) is protocol
        new = await client.get("/web/missions/new")
        assert new.status_code == (200 if plan else 403)
