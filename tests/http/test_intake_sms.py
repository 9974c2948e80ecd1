"""POST /api/v1/intake/sms and the officers' review of SMS from unregistered numbers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from incidents.db import Database
from incidents.identity.accounts import Principal
from incidents.intake.service import create_phone_user, register_phone, set_intake_secret
from incidents.records.model import Role
from incidents.records.tables import IncidentRow
from tests.factories import Caller, Factory

URL = "/api/v1/intake/sms"
REGISTERED = "+22376123456"
STRANGER = "+22366000111"


async def count_incidents(db: Database) -> int:
    async with db.read() as session:
        return int((await session.scalar(select(func.count()).select_from(IncidentRow))) or 0)


async def intake_secret(db: Database, org_id: uuid.UUID) -> str:
    async with db.transaction() as session:
        return await set_intake_secret(session, org_id, now=datetime.now(UTC))


@pytest.fixture(name="officer")
async def fx_officer(factory: Factory) -> Caller:
    return await factory.caller("officer")


@pytest.fixture(name="secret")
async def fx_secret(db: Database, officer: Caller) -> str:
    return await intake_secret(db, officer.org_id)


@pytest.fixture(name="reporter_phone")
async def fx_reporter_phone(db: Database, officer: Caller) -> uuid.UUID:
    async with db.transaction() as session:
        return await create_phone_user(
            session, officer.org_id, "76 12 34 56", role=Role.REPORTER, now=datetime.now(UTC)
        )


def sms(sender: str, text: str, **extra: object) -> dict[str, object]:
    return {"sender": sender, "text": text, "received_at": datetime.now(UTC).isoformat(), **extra}


async def test_registered_phone_reports_an_incident_and_gets_its_reference(
    client: AsyncTestClient[Litestar],
    db: Database,
    officer: Caller,
    secret: str,
    reporter_phone: uuid.UUID,
) -> None:
    answer = await client.post(
        URL, json=sms(REGISTERED, "ENLEVEMENT DIEMA 2 staff"), params={"secret": secret}
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "created"
    assert body["reference"] in body["reply"]
    assert len(body["reply"]) <= 160
    feature = (
        await client.get(f"/api/v1/incidents/{body['incident_id']}", headers=officer.headers)
    ).json()
    assert feature["properties"]["type"] == "kidnapping"
    assert feature["properties"]["reported_by"] == str(reporter_phone)
    assert feature["properties"]["impact"]["abducted"] == 2


async def test_form_encoded_gateway_with_millisecond_timestamp(
    client: AsyncTestClient[Litestar],
    db: Database,
    officer: Caller,
    secret: str,
    reporter_phone: uuid.UUID,
) -> None:
    sent = datetime.now(UTC) - timedelta(hours=2)
    form = {
        "from": "0022376123456",
        "text": "VOL materiel Gao",
        "sent_timestamp": str(int(sent.timestamp() * 1000)),
        "secret": secret,
    }

    answer = await client.post(URL, data=form)

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "created"
    feature = (
        await client.get(
            f"/api/v1/incidents/{answer.json()['incident_id']}", headers=officer.headers
        )
    ).json()
    assert feature["properties"]["type"] == "theft"
    assert feature["properties"]["occurred_at"].startswith(sent.date().isoformat())


async def test_gateway_retry_of_the_same_message_creates_one_incident(
    client: AsyncTestClient[Litestar],
    db: Database,
    secret: str,
    reporter_phone: uuid.UUID,
) -> None:
    message = sms(REGISTERED, "IED 14.54 -9.19 route Kayes")
    first = (await client.post(URL, json=message, params={"secret": secret})).json()

    again = (await client.post(URL, json=message, params={"secret": secret})).json()

    assert again["status"] == "replayed"
    assert again["incident_id"] == first["incident_id"]
    assert again["reference"] == first["reference"]
    assert await count_incidents(db) == 1


async def test_message_without_a_type_asks_for_it_and_stores_nothing(
    client: AsyncTestClient[Litestar],
    db: Database,
    secret: str,
    reporter_phone: uuid.UUID,
) -> None:
    answer = await client.post(
        URL, json=sms(REGISTERED, "Diema ce matin"), params={"secret": secret}
    )

    body = answer.json()
    assert body["status"] == "incomplete"
    assert body["missing"] == ["type"]
    assert "type" in body["reply"]
    assert await count_incidents(db) == 0


async def test_unknown_number_is_held_and_never_listed(
    client: AsyncTestClient[Litestar],
    db: Database,
    officer: Caller,
    secret: str,
) -> None:
    answer = await client.post(
        URL, json=sms(STRANGER, "ATTAQUE Menaka 3 morts"), params={"secret": secret}
    )

    body = answer.json()
    assert body["status"] == "held"
    assert "incident_id" not in body
    listed = (await client.get("/api/v1/incidents", headers=officer.headers)).json()
    assert listed["features"] == []
    assert await count_incidents(db) == 0
    held = (await client.get("/api/v1/intake/held", headers=officer.headers)).json()["items"]
    assert [(h["sender"], h["text"]) for h in held] == [(STRANGER, "ATTAQUE Menaka 3 morts")]


async def test_officer_publishes_a_held_sms_with_a_correction(
    client: AsyncTestClient[Litestar],
    db: Database,
    officer: Caller,
    secret: str,
) -> None:
    held_id = (
        await client.post(
            URL, json=sms(STRANGER, "Menaka probleme ce matin"), params={"secret": secret}
        )
    ).json()["held_id"]

    without_type = await client.post(
        f"/api/v1/intake/held/{held_id}/publish", headers=officer.headers
    )
    published = await client.post(
        f"/api/v1/intake/held/{held_id}/publish",
        json={"type": "armed_attack"},
        headers=officer.headers,
    )

    assert without_type.status_code == 422
    assert without_type.json()["field"] == "type"
    assert published.status_code == 201, published.text
    incident_id = published.json()["incident_id"]
    feature = (await client.get(f"/api/v1/incidents/{incident_id}", headers=officer.headers)).json()
    assert feature["properties"]["type"] == "armed_attack"
    assert feature["properties"]["reported_by"] == str(officer.user_id)
    assert (await client.get("/api/v1/intake/held", headers=officer.headers)).json()["items"] == []


async def test_discarded_sms_leaves_the_queue_and_publishes_nothing(
    client: AsyncTestClient[Litestar],
    db: Database,
    officer: Caller,
    secret: str,
) -> None:
    held_id = (
        await client.post(URL, json=sms(STRANGER, "VOL Gao"), params={"secret": secret})
    ).json()["held_id"]

    answer = await client.post(f"/api/v1/intake/held/{held_id}/discard", headers=officer.headers)
    twice = await client.post(f"/api/v1/intake/held/{held_id}/discard", headers=officer.headers)

    assert answer.json()["state"] == "discarded"
    assert twice.status_code == 409
    assert await count_incidents(db) == 0


@pytest.mark.parametrize("role", ["reporter", "planner"])
async def test_held_sms_need_an_officer(
    client: AsyncTestClient[Litestar],
    factory: Factory,
    officer: Caller,
    role: str,
) -> None:
    caller = await factory.caller(role, org_id=officer.org_id)

    assert (await client.get("/api/v1/intake/held")).status_code == 401
    assert (await client.get("/api/v1/intake/held", headers=caller.headers)).status_code == 403


async def test_other_organisations_officer_cannot_see_or_publish_held_sms(
    client: AsyncTestClient[Litestar],
    factory: Factory,
    secret: str,
) -> None:
    held_id = (
        await client.post(URL, json=sms(STRANGER, "VOL Gao"), params={"secret": secret})
    ).json()["held_id"]
    stranger = await factory.caller("officer")

    listed = (await client.get("/api/v1/intake/held", headers=stranger.headers)).json()["items"]
    publish = await client.post(f"/api/v1/intake/held/{held_id}/publish", headers=stranger.headers)

    assert listed == []
    assert publish.status_code == 404


async def test_ok_code_acknowledges_through_the_alerts_module(
    client: AsyncTestClient[Litestar],
    app: Litestar,
    secret: str,
    reporter_phone: uuid.UUID,
) -> None:
    acknowledged: list[tuple[uuid.UUID, str]] = []

    async def acknowledge(who: Principal, code: str, now: datetime) -> bool:
        acknowledged.append((who.user_id, code))
        return code == "K7F3Q"

    app.state.container.alert_acknowledger = acknowledge
    good = (
        await client.post(URL, json=sms(REGISTERED, "OK K7F3Q"), params={"secret": secret})
    ).json()
    bad = (
        await client.post(URL, json=sms(REGISTERED, "OK ZZ99"), params={"secret": secret})
    ).json()

    assert good["status"] == "acknowledged"
    assert "K7F3Q" in good["reply"]
    assert bad["status"] == "unknown_code"
    assert acknowledged == [(reporter_phone, "K7F3Q"), (reporter_phone, "ZZ99")]


async def test_sms_without_the_secret_is_refused(
    client: AsyncTestClient[Litestar], db: Database
) -> None:
    answer = await client.post(URL, json=sms(STRANGER, "VOL Gao"))

    assert answer.status_code == 403
    assert await count_incidents(db) == 0


async def test_registering_a_phone_twice_for_two_users_is_refused(
    db: Database, factory: Factory, officer: Caller, reporter_phone: uuid.UUID
) -> None:
    from incidents.errors import Conflict

    other = await factory.caller("reporter", org_id=officer.org_id)
    async with db.transaction() as session:
        with pytest.raises(Conflict):
            await register_phone(session, other.user_id, "+223 76 12 34 56")


async def test_ok_with_a_code_no_alert_has_is_answered_as_unknown(
    client: AsyncTestClient[Litestar], secret: str, reporter_phone: uuid.UUID
) -> None:
    answer = await client.post(URL, json=sms(REGISTERED, "OK K7F3Q"), params={"secret": secret})

    assert answer.json()["status"] == "unknown_code"
    assert "K7F3Q" in answer.json()["reply"]


async def test_a_phone_registered_in_another_organisation_is_held_not_reported_as_its_user(
    client: AsyncTestClient[Litestar], db: Database, factory: Factory, reporter_phone: uuid.UUID
) -> None:
    other_officer = await factory.caller("officer")
    other_secret = await intake_secret(db, other_officer.org_id)

    answer = await client.post(
        URL, json=sms(REGISTERED, "VOL materiel Gao"), params={"secret": other_secret}
    )

    assert answer.json()["status"] == "held"
    assert await count_incidents(db) == 0
    held = (await client.get("/api/v1/intake/held", headers=other_officer.headers)).json()
    assert [h["sender"] for h in held["items"]] == [REGISTERED]


OFFICER_PHONE = "+22376999888"
SMS_TO_OFFICER = "clicksend://user:pass@+22376999888"


async def test_ok_acknowledges_an_alert_whose_channel_sent_it_to_this_phone_only(
    client: AsyncTestClient[Litestar], db: Database, officer: Caller, secret: str
) -> None:
    from sqlalchemy import select as sql_select

    from alerts.core.tables import AlertRow, SubscriptionRow
    from tests.factories import DIEMA, incident_payload

    async with db.transaction() as session:
        await register_phone(session, officer.user_id, OFFICER_PHONE)
    area = {"point": {"lat": DIEMA[0], "lon": DIEMA[1]}, "radius_km": 25}
    # Two subscriptions of the organisation, both made by this officer: only the first sends
    # to the officer's phone.
    for channel in (SMS_TO_OFFICER, "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/98"):
        created = await client.post(
            "/api/v1/subscriptions",
            json={"channels": [channel], "area": area, "owner": "organisation"},
            headers=officer.headers,
        )
        assert created.status_code == 201, created.text
    await client.post("/api/v1/incidents", json=incident_payload(at=DIEMA), headers=officer.headers)
    async with db.read() as session:
        rows = (
            await session.execute(
                sql_select(AlertRow.code, SubscriptionRow.channels_masked).join(
                    SubscriptionRow, SubscriptionRow.id == AlertRow.subscription_id
                )
            )
        ).all()
    to_phone = next(code for code, masked in rows if masked[0].startswith("clicksend"))
    elsewhere = next(code for code, masked in rows if masked[0].startswith("tgram"))

    own = await client.post(
        URL, json=sms(OFFICER_PHONE, f"OK {to_phone}"), params={"secret": secret}
    )
    other = await client.post(
        URL, json=sms(OFFICER_PHONE, f"OK {elsewhere}"), params={"secret": secret}
    )

    assert own.json()["status"] == "acknowledged"
    assert other.json()["status"] == "unknown_code"
