"""Reports of one event count once (incidents.events): SMS re-sends, the same external id from
two organisations; "corroborated by N reports" only as far as sharing allows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from alerts.core.tables import AlertRow
from incidents.db import Database
from incidents.intake.service import create_phone_user, set_intake_secret
from incidents.records.model import Role
from incidents.records.tables import IncidentRow
from incidents.zones.tables import ZoneLevelChangeRow
from tests.factories import Caller, Factory, incident_payload

Client = AsyncTestClient[Litestar]
SMS = "/api/v1/intake/sms"
ZONE = "town_diema"


async def zone_scores(client: Client, caller: Caller) -> dict[str, float]:
    answer = await client.get("/api/v1/risk", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return {z["zone_id"]: z["score"] for z in answer.json()["zones"]}


async def count(db: Database, stmt: Any) -> int:
    async with db.read() as session:
        return int((await session.scalar(stmt)) or 0)


async def subscribe(client: Client, caller: Caller, **extra: Any) -> None:
    body = {
        "channels": ["json://127.0.0.1:9/alerts"],
        "area": {"zones": [ZONE]},
        "min_level": 1,
        "format": "sms",
        **extra,
    }
    made = await client.post("/api/v1/subscriptions", json=body, headers=caller.headers)
    assert made.status_code == 201, made.text


async def report(client: Client, caller: Caller, **fields: Any) -> str:
    made = await client.post(
        "/api/v1/incidents", json=incident_payload(**fields), headers=caller.headers
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def read(client: Client, caller: Caller, incident_id: str) -> dict[str, Any]:
    answer = await client.get(f"/api/v1/incidents/{incident_id}", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["properties"])


async def test_eight_sms_of_one_kidnapping_count_once_and_alert_once(
    client: Client, factory: Factory, db: Database
) -> None:
    """Eight focal points text the same kidnapping in Diéma within the hour: one event in the
    risk (the score of one report), one alert per subscription, no level change of its own."""
    officer = await factory.caller("officer")
    planner = await factory.caller("planner", org_id=officer.org_id)
    await subscribe(client, planner)
    async with db.transaction() as session:
        secret = await set_intake_secret(session, officer.org_id, now=datetime.now(UTC))
        phones = [f"+2237600000{k}" for k in range(8)]
        for phone in phones:
            await create_phone_user(
                session, officer.org_id, phone, role=Role.REPORTER, now=datetime.now(UTC)
            )
    start = datetime.now(UTC) - timedelta(minutes=40)
    scores: list[float] = []
    for k, phone in enumerate(phones):
        sent = {
            "sender": phone,
            "text": "ENLEVEMENT DIEMA 2 personnes",
            "received_at": (start + timedelta(minutes=5 * k)).isoformat(),
        }
        answer = await client.post(SMS, json=sent, params={"secret": secret})
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "created", answer.json()
        scores.append((await zone_scores(client, planner))[ZONE])

    assert await count(db, select(func.count()).select_from(IncidentRow)) == 8
    assert scores[0] > 0
    assert scores == [scores[0]] * 8, scores
    assert (
        await count(
            db, select(func.count()).select_from(AlertRow).where(AlertRow.kind == "incident")
        )
        == 1
    )
    changes = await count(
        db,
        select(func.count())
        .select_from(ZoneLevelChangeRow)
        .where(ZoneLevelChangeRow.zone_id == ZONE),
    )
    assert changes <= 1  # the first report's, if any
    [first] = (await client.get("/api/v1/incidents", headers=officer.headers)).json()["features"][
        -1:
    ]
    assert first["properties"]["corroboration"]["reports"] == 8


async def test_the_same_external_id_from_two_organisations_counts_once(
    client: Client, factory: Factory
) -> None:
    a = await factory.caller("reporter")
    b = await factory.caller("reporter")
    planner = await factory.caller("planner")
    first = await report(client, a, external_id="kobo:5f1c", sharing_level="green")
    once = (await zone_scores(client, planner))[ZONE]
    # Learned three days later and forwarded by another organisation.
    second = await report(
        client, b, external_id="kobo:5f1c", sharing_level="green", days_ago=1.0, at=(14.6, -9.1)
    )
    twice = (await zone_scores(client, planner))[ZONE]

    assert once > 0
    assert twice == once
    for viewer in (a, b, planner):
        props = await read(client, viewer, second)
        assert props["corroboration"] == {"reports": 2, "linked": [first]}


async def test_the_link_is_shown_only_to_those_who_read_both_reports(
    client: Client, factory: Factory
) -> None:
    """Two organisations' green reports with the same external id are read by every member;
    an organisation's two amber_strict reports only by itself: to everyone else they are two
    masked entries that say nothing of their event."""
    a = await factory.caller("reporter")
    b = await factory.caller("reporter")
    outsider = await factory.caller("reporter")
    operator = await factory.operator()
    first = await report(client, a, external_id="kobo:77aa", sharing_level="green")
    second = await report(client, b, external_id="kobo:77aa", sharing_level="green")
    officer = await factory.caller("officer")
    assert (await read(client, officer, second))["corroboration"]["linked"] == [first]

    # A green pair: every member reads both, the public (no token) reads neither.
    anonymous = await client.get(f"/api/v1/incidents/{first}/event")
    assert anonymous.status_code == 401
    for viewer in (outsider, operator):
        assert (await read(client, viewer, first))["corroboration"]["reports"] == 2
    # Masked entries never carry the event, whoever lists them.
    narrow = await report(client, a, sharing_level="amber_strict", days_ago=3)
    again = await report(client, a, sharing_level="amber_strict", days_ago=3 - 1 / 24)
    for viewer in (b, outsider, operator, officer):
        listed = (await client.get("/api/v1/incidents", headers=viewer.headers)).json()
        masked = [f for f in listed["features"] if f["properties"].get("masked")]
        assert len(masked) == 2
        assert all("corroboration" not in f["properties"] for f in masked), masked
        for rid in (narrow, again):
            hidden = await client.get(f"/api/v1/incidents/{rid}/event", headers=viewer.headers)
            nowhere = str(uuid.uuid4())
            absent = await client.get(f"/api/v1/incidents/{nowhere}/event", headers=viewer.headers)
            assert hidden.status_code == absent.status_code == 404
            assert hidden.json()["detail"].replace(rid, "ID") == absent.json()["detail"].replace(
                nowhere, "ID"
            )
    assert (await read(client, a, again))["corroboration"] == {"reports": 2, "linked": [narrow]}


async def test_reports_shared_with_other_readers_count_apart_and_tell_nothing(
    client: Client, factory: Factory
) -> None:
    """A's public (green) report and B's amber report of the same ACLED event: a third
    organisation reads A's in full and B's masked. Linked, B's masked entry would add nothing
    to the risk and tell it that B's report is A's event: so they are not linked."""
    a = await factory.caller("reporter")
    b = await factory.caller("reporter")
    outsider = await factory.caller("reporter")
    planner = await factory.caller("planner")
    first = await report(client, a, external_id="acled:MLI9", sharing_level="green")
    once = (await zone_scores(client, planner))[ZONE]
    second = await report(client, b, external_id="acled:MLI9", sharing_level="amber")

    assert (await zone_scores(client, planner))[ZONE] > once
    assert "corroboration" not in await read(client, b, first)
    assert "corroboration" not in await read(client, b, second)
    assert "corroboration" not in await read(client, outsider, first)
    event = await client.get(f"/api/v1/incidents/{first}/event", headers=outsider.headers)
    assert event.json() == {
        "incident_id": first,
        "reports": 1,
        "linked": [],
        "sources": 1,
        "credibility": 6,
    }


async def test_a_sharing_change_that_parts_the_readers_unlinks_the_report(
    client: Client, factory: Factory
) -> None:
    a = await factory.caller("reporter")
    planner = await factory.caller("planner")
    first = await report(client, a, sharing_level="green")
    once = (await zone_scores(client, planner))[ZONE]
    second = await report(client, a, sharing_level="green", days_ago=1.0 - 1 / 24)
    assert (await zone_scores(client, planner))[ZONE] == once
    version = (await read(client, a, second))["version"]

    changed = await client.patch(
        f"/api/v1/incidents/{second}",
        json={"sharing_level": "amber_strict"},
        headers={**a.headers, "If-Match": f'"{version}"'},
    )

    assert changed.status_code == 200, changed.text
    assert "corroboration" not in await read(client, a, second)
    assert "corroboration" not in await read(client, a, first)
    assert (await zone_scores(client, planner))[ZONE] > once


async def test_reports_shared_with_different_readers_are_not_linked_automatically(
    client: Client, factory: Factory
) -> None:
    """Two organisations' amber_strict reports of one kidnapping: neither may read the other,
    so nothing links them (each counts) and neither learns of the other."""
    a = await factory.caller("reporter")
    b = await factory.caller("reporter")
    planner = await factory.caller("planner")
    await report(client, a, sharing_level="amber_strict")
    once = (await zone_scores(client, planner))[ZONE]
    mine = await report(client, b, sharing_level="amber_strict", days_ago=1.0 - 1 / 24)
    assert (await zone_scores(client, planner))[ZONE] > once
    assert "corroboration" not in await read(client, b, mine)


async def test_one_persons_red_reports_are_linked_and_their_colleagues_learn_nothing(
    client: Client, factory: Factory
) -> None:
    author = await factory.caller("reporter")
    colleague = await factory.caller("reporter", org_id=author.org_id)
    planner = await factory.caller("planner", org_id=author.org_id)
    first = await report(client, author, sharing_level="red")
    once = (await zone_scores(client, planner))[ZONE]
    second = await report(client, author, sharing_level="red", days_ago=1.0 - 2 / 24)
    # An amber report of the colleague would reach readers the red ones do not: not linked.
    third = await report(client, colleague, sharing_level="amber", days_ago=1.0 - 1 / 24)

    assert (await read(client, author, second))["corroboration"] == {
        "reports": 2,
        "linked": [first],
    }
    assert "corroboration" not in await read(client, colleague, third)
    scores = await zone_scores(client, planner)
    assert scores[ZONE] > once  # the red pair counts once, the amber report on its own
    for rid in (first, second):
        hidden = await client.get(f"/api/v1/incidents/{rid}/event", headers=colleague.headers)
        assert hidden.status_code == 404


async def test_an_external_id_already_used_in_the_organisation_is_a_clear_422(
    client: Client, factory: Factory, db: Database
) -> None:
    a = await factory.caller("reporter")
    other = await factory.caller("reporter")
    await report(client, a, external_id="kobo:dup1", sharing_level="green")
    body = incident_payload(external_id="kobo:dup1", sharing_level="green")
    for headers in (a.headers, {**a.headers, "Idempotency-Key": "k-dup1"}):
        again = await client.post("/api/v1/incidents", json=body, headers=headers)
        assert again.status_code == 422, again.text
        assert again.json()["field"] == "external_id"
    assert await count(db, select(func.count()).select_from(IncidentRow)) == 1
    # Another organisation's report of the same submission is welcome (one event).
    assert (
        await client.post("/api/v1/incidents", json=body, headers=other.headers)
    ).status_code == 201


async def bodies(db: Database) -> list[str]:
    from alerts.core.tables import DeliveryRow

    async with db.read() as session:
        rows = await session.execute(
            select(DeliveryRow.body)
            .join(AlertRow, AlertRow.id == DeliveryRow.alert_id)
            .where(AlertRow.kind == "incident")
            .order_by(DeliveryRow.id)
        )
        return [str(b) for b in rows.scalars().all()]


async def escalate(client: Client, caller: Caller, incident_id: str) -> None:
    version = (await read(client, caller, incident_id))["version"]
    changed = await client.patch(
        f"/api/v1/incidents/{incident_id}",
        json={"severity": 5},
        headers={**caller.headers, "If-Match": f'"{version}"'},
    )
    assert changed.status_code == 200, changed.text


async def test_an_alert_says_how_many_sources_tell_the_event(
    client: Client, factory: Factory, db: Database
) -> None:
    """A kidnapping told by two organisations' own reports (near each other, same hour): an
    update of it alerts "corroborated by 2 sources" / "confirmé par 2 sources"; the first alert,
    of one report, says nothing of sources."""
    a = await factory.caller("reporter")
    b = await factory.caller("reporter")
    planner = await factory.caller("planner")
    await subscribe(client, planner, format="full", language="en")
    await subscribe(client, planner, format="sms", language="fr")
    first = await report(client, a, sharing_level="green")
    told_once = await bodies(db)
    await report(client, b, sharing_level="green", days_ago=1.0 - 1 / 24, at=(14.55, -9.17))
    assert len(await bodies(db)) == len(told_once) == 2  # B's report is the same event
    assert (await read(client, planner, first))["corroboration"]["reports"] == 2

    await escalate(client, a, first)

    told = await bodies(db)
    assert not any("corroborated" in t or "confirm" in t for t in told_once), told_once
    assert len(told) == 4, told
    english, french = told[2:]
    assert "Corroborated by 2 sources" in english, english
    assert "confirmé par 2 sources" in french, french


def viewer(caller: Caller) -> Any:
    from alerts.outbox.writer import Recipient

    return Recipient(
        uuid.uuid4(),
        caller.user_id,
        caller.org_id,
        str(caller.role),
        (),
        (),
        None,
        None,
        "en",
        "full",
        None,
    )


async def test_an_alert_never_counts_reports_its_reader_cannot_read_in_full(
    client: Client, factory: Factory, db: Database
) -> None:
    """The count an alert carries is taken over the reports its reader may read in full: were
    one report of an event to become amber_strict under the links (here forced in the database,
    which the service itself never leaves so), another organisation's reader counts one source
    and its alert says nothing of sources; the reporting organisation still counts two."""
    from incidents.events import sources_seen
    from incidents.records.model import SharingLevel

    a = await factory.caller("reporter")
    b = await factory.caller("reporter")
    outsider = await factory.caller("planner")
    first = await report(client, a, sharing_level="green")
    second = await report(client, b, sharing_level="green", days_ago=1.0 - 1 / 24)
    async with db.transaction() as session:
        assert await sources_seen(session, uuid.UUID(first), [viewer(outsider)]) == [2]
        row = await session.get(IncidentRow, uuid.UUID(second))
        assert row is not None
        assert row.event_id == uuid.UUID(first)
        row.sharing_level = SharingLevel.AMBER_STRICT.value
    b_member = await factory.caller("planner", org_id=b.org_id)
    async with db.read() as session:
        seen = await sources_seen(session, uuid.UUID(first), [viewer(outsider), viewer(b_member)])
    assert seen == [1, 2]
