"""Red team, field intake: an SMS gateway or Kobo secret speaks only for its own organisation.

Through HTTP against a live server: organisation B's gateway secret with organisation A's
registered phone, acknowledgements of alerts sent to somebody else, Kobo submissions aimed at A,
ids in replies, oversized SMS and impossible `received_at`, another organisation's held queue.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from alerts.core.tables import AlertRow, SubscriptionRow
from incidents.db import Database
from incidents.intake.service import register_phone, set_intake_secret
from incidents.records.model import Role
from incidents.records.tables import IncidentRow
from tests.factories import DIEMA, Caller, Factory, incident_payload
from tests.live import health_during

SMS = "/api/v1/intake/sms"
KOBO = "/api/v1/intake/kobo"
SECRET = "X-Sentinelle-Intake-Secret"
PHONE_A = "+22376123456"
STRANGER = "+22366000111"
TELEGRAM = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321"
SUBMISSION = Path(__file__).resolve().parents[1] / "fixtures" / "kobo_submission.json"
UUID_RE = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)


# ---------------------------------------------------------------------------- helpers


async def secret_of(db: Database, org_id: uuid.UUID) -> str:
    async with db.transaction() as session:
        return await set_intake_secret(session, org_id, now=datetime.now(UTC))


async def with_phone(db: Database, caller: Caller, phone: str) -> Caller:
    async with db.transaction() as session:
        await register_phone(session, caller.user_id, phone)
    return caller


async def incidents_in(db: Database, org_id: uuid.UUID) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(IncidentRow).where(IncidentRow.org_id == org_id)
            )
            or 0
        )


async def reported_by(db: Database, user_id: uuid.UUID) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(IncidentRow).where(IncidentRow.user_id == user_id)
            )
            or 0
        )


async def alerts_of(db: Database, user_id: uuid.UUID) -> list[tuple[str, bool]]:
    """(code, acknowledged) of the alerts of the subscriptions this user owns."""
    async with db.read() as session:
        rows = await session.execute(
            select(AlertRow.code, AlertRow.acked_at)
            .join(SubscriptionRow, SubscriptionRow.id == AlertRow.subscription_id)
            .where(SubscriptionRow.owner_user_id == user_id)
        )
        return [(code, acked is not None) for code, acked in rows.all()]


def sms(sender: str, text: str, **extra: object) -> dict[str, object]:
    return {"sender": sender, "text": text, "received_at": datetime.now(UTC).isoformat(), **extra}


async def send(
    http: httpx.AsyncClient, secret: str, sender: str, text: str, at: datetime | None = None
) -> httpx.Response:
    body = sms(sender, text)
    if at is not None:
        body["received_at"] = at.isoformat()
    return await http.post(SMS, json=body, headers={SECRET: secret})


async def subscribe(http: httpx.AsyncClient, caller: Caller) -> None:
    created = await http.post(
        "/api/v1/subscriptions",
        json={
            "channels": [TELEGRAM],
            "area": {"point": {"lat": DIEMA[0], "lon": DIEMA[1]}, "radius_km": 25},
        },
        headers=caller.headers,
    )
    assert created.status_code == 201, created.text


class Tenant:
    """Organisation A: an officer with a subscription, a field phone with its own, and an alert
    for each about an incident at Diéma."""

    def __init__(self, officer: Caller, phone_user: Caller, secret: str) -> None:
        self.officer, self.phone_user, self.secret = officer, phone_user, secret

    @property
    def org_id(self) -> uuid.UUID:
        return self.officer.org_id


@pytest.fixture(name="tenant_a")
async def fx_tenant_a(http: httpx.AsyncClient, db: Database, factory: Factory) -> Tenant:
    officer = await factory.caller("officer")
    phone_user = await with_phone(
        db, await factory.caller("reporter", org_id=officer.org_id), PHONE_A
    )
    await subscribe(http, officer)
    await subscribe(http, phone_user)
    posted = await http.post(
        "/api/v1/incidents", json=incident_payload(at=DIEMA), headers=officer.headers
    )
    assert posted.status_code == 201, posted.text
    tenant = Tenant(officer, phone_user, await secret_of(db, officer.org_id))
    assert await alerts_of(db, officer.user_id), "the officer's subscription had no alert"
    assert await alerts_of(db, phone_user.user_id), "the phone's subscription had no alert"
    return tenant


@pytest.fixture(name="officer_b")
async def fx_officer_b(factory: Factory) -> Caller:
    return await factory.caller("officer")


# ---------------------------------------------------------------------------- (a) cross-org SMS


async def test_another_organisations_gateway_cannot_report_as_a_registered_phone(
    http: httpx.AsyncClient, db: Database, tenant_a: Tenant, officer_b: Caller
) -> None:
    secret_b = await secret_of(db, officer_b.org_id)
    in_a = await incidents_in(db, tenant_a.org_id)

    answer = await send(http, secret_b, PHONE_A, "ENLEVEMENT DIEMA 2 staff")

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "held"
    assert await incidents_in(db, tenant_a.org_id) == in_a
    assert await reported_by(db, tenant_a.phone_user.user_id) == 0
    held_b = (await http.get("/api/v1/intake/held", headers=officer_b.headers)).json()["items"]
    assert [(h["sender"], h["text"]) for h in held_b] == [(PHONE_A, "ENLEVEMENT DIEMA 2 staff")]
    held_a = (await http.get("/api/v1/intake/held", headers=tenant_a.officer.headers)).json()
    assert held_a["items"] == []
    # Published by B's officer, it is B's report, vouched for by B: nothing of A's user in it.
    published = await http.post(
        f"/api/v1/intake/held/{held_b[0]['id']}/publish", headers=officer_b.headers
    )
    assert published.status_code == 201, published.text
    assert await incidents_in(db, tenant_a.org_id) == in_a
    assert await reported_by(db, tenant_a.phone_user.user_id) == 0


async def test_another_organisations_gateway_cannot_acknowledge_its_alerts(
    http: httpx.AsyncClient, db: Database, tenant_a: Tenant, officer_b: Caller
) -> None:
    secret_b = await secret_of(db, officer_b.org_id)
    codes = [c for c, _ in await alerts_of(db, tenant_a.phone_user.user_id)]
    codes += [c for c, _ in await alerts_of(db, tenant_a.officer.user_id)]

    answers = [await send(http, secret_b, PHONE_A, f"OK {code}") for code in codes]

    assert [a.json()["status"] for a in answers] == ["held"] * len(codes)
    assert not any(acked for _, acked in await alerts_of(db, tenant_a.phone_user.user_id))
    assert not any(acked for _, acked in await alerts_of(db, tenant_a.officer.user_id))


# ---------------------------------------------------------------------------- (b) ACK scope


async def test_an_sms_acknowledges_only_the_phone_users_own_alerts(
    http: httpx.AsyncClient, db: Database, tenant_a: Tenant
) -> None:
    (officers_code, _), *_ = await alerts_of(db, tenant_a.officer.user_id)
    (own_code, _), *_ = await alerts_of(db, tenant_a.phone_user.user_id)

    others = await send(http, tenant_a.secret, PHONE_A, f"OK {officers_code}")
    own = await send(http, tenant_a.secret, PHONE_A, f"OK {own_code}")

    assert others.json()["status"] == "unknown_code"
    assert own.json()["status"] == "acknowledged"
    assert dict(await alerts_of(db, tenant_a.officer.user_id))[officers_code] is False
    assert dict(await alerts_of(db, tenant_a.phone_user.user_id))[own_code] is True
    # Refused the same way as a code that does not exist: the officer's alert is not confirmed.
    none = await send(http, tenant_a.secret, PHONE_A, "OK ZZ99Z")
    assert others.json()["reply"] == none.json()["reply"].replace("ZZ99Z", officers_code)


# ---------------------------------------------------------------------------- (c) Kobo


async def test_kobo_with_another_organisations_secret_never_files_into_it(
    http: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    officer_a = await factory.caller("officer")
    officer_b = await factory.caller("officer")
    submission: dict[str, Any] = json.loads(SUBMISSION.read_text(encoding="utf-8"))
    first = await http.post(
        KOBO, json=submission, headers={SECRET: await secret_of(db, officer_a.org_id)}
    )
    assert first.status_code == 201, first.text
    in_a = await incidents_in(db, officer_a.org_id)
    forged = {
        **submission,
        "org_id": str(officer_a.org_id),
        "organisation_id": str(officer_a.org_id),
        "group_meta/org_id": str(officer_a.org_id),
        "_submitted_by": str(officer_a.user_id),
        "description": "overwritten by B",
    }

    answer = await http.post(
        KOBO, json=forged, headers={SECRET: await secret_of(db, officer_b.org_id)}
    )

    assert answer.status_code in (201, 422), answer.text
    assert answer.json().get("id") != first.json()["id"]
    assert await incidents_in(db, officer_a.org_id) == in_a
    own = (
        await http.get(f"/api/v1/incidents/{first.json()['id']}", headers=officer_a.headers)
    ).json()
    assert own["properties"]["description"] != "overwritten by B"
    if answer.status_code == 201:
        assert await incidents_in(db, officer_b.org_id) == 1


# ---------------------------------------------------------------------------- (d) no ids


async def test_replies_never_carry_internal_ids(
    http: httpx.AsyncClient, db: Database, tenant_a: Tenant, officer_b: Caller
) -> None:
    secret_b = await secret_of(db, officer_b.org_id)
    (own_code, _), *_ = await alerts_of(db, tenant_a.phone_user.user_id)
    (officers_code, _), *_ = await alerts_of(db, tenant_a.officer.user_id)
    texts = [
        "ENLEVEMENT DIEMA 2 staff",
        "IED 14.54 -9.19 route Kayes",
        "Diema ce matin",
        "VOL quelquepart",
        "aide",
        f"OK {own_code}",
        f"OK {officers_code}",
        "OK ZZ99Z",
        f"ATTAQUE Diema {tenant_a.org_id} {tenant_a.phone_user.user_id}",
    ]
    answers = []
    for text in texts:
        at = datetime.now(UTC)
        answers.append(await send(http, tenant_a.secret, PHONE_A, text, at))
        answers.append(await send(http, tenant_a.secret, PHONE_A, text, at))  # replayed
        answers.append(await send(http, tenant_a.secret, STRANGER, text))  # held in A
        answers.append(await send(http, secret_b, PHONE_A, text))  # held in B

    for answer in answers:
        assert answer.status_code == 200, answer.text
        reply = answer.json()["reply"]
        assert not UUID_RE.search(reply), reply
        assert str(tenant_a.org_id)[:8] not in reply
        assert str(tenant_a.phone_user.user_id)[:8] not in reply
    statuses = {a.json()["status"] for a in answers}
    assert {"created", "replayed", "held", "incomplete", "acknowledged"} <= statuses
    # B's gateway learns nothing of A: no id of A's, of A's user or of A's incidents comes back.
    async with db.read() as session:
        a_incidents = (
            await session.scalars(
                select(IncidentRow.id).where(IncidentRow.org_id == tenant_a.org_id)
            )
        ).all()
    a_ids = {str(tenant_a.org_id), str(tenant_a.phone_user.user_id), *map(str, a_incidents)}
    for answer in answers[3::4]:
        assert not any(i in answer.text for i in a_ids), answer.text


# ---------------------------------------------------------------------------- (e) bounds


async def test_an_oversized_sms_is_refused_and_the_largest_allowed_keeps_the_server_responsive(
    http: httpx.AsyncClient, db: Database, tenant_a: Tenant
) -> None:
    in_a = await incidents_in(db, tenant_a.org_id)
    huge = ("ENLEVEMENT Diemma enlevemnt Nioroo menacce Kayess " * 500)[:24_000]

    refused, worst_refused = await health_during(http, send(http, tenant_a.secret, PHONE_A, huge))

    assert refused.status_code in (413, 422), refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    if refused.status_code == 422:
        assert refused.json()["field"] == "text"
    assert worst_refused <= 1.0
    # Largest allowed: 10 GSM-7 segments of words that send every matcher to its fuzzy path.
    words = "enlevemnt Diemmaa Nioroo menacce Kayess Tombouctouu Gaoo bandiitss zzyqwx "
    largest = ("ENLEVEMENT " + words * 40)[:1530]
    accepted, worst = await health_during(http, send(http, tenant_a.secret, PHONE_A, largest))
    assert accepted.status_code == 200, accepted.text
    assert worst <= 1.0
    ucs2_too_long = await send(http, tenant_a.secret, PHONE_A, "ENLÈVEMENT Diéma ê " + "ê" * 660)
    ucs2_largest = await send(
        http, tenant_a.secret, PHONE_A, ("ENLÈVEMENT Diéma " + "ê" * 660)[:670]
    )
    assert (ucs2_too_long.status_code, ucs2_too_long.json()["field"]) == (422, "text")
    assert ucs2_largest.status_code == 200, ucs2_largest.text
    created = [a.json()["status"] for a in (accepted, ucs2_largest)].count("created")
    assert await incidents_in(db, tenant_a.org_id) == in_a + created


@pytest.mark.parametrize(
    "received_at",
    [
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "1e300",
        1e300,
        "9" * 400,
        10**30,
        -(10**20),
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+01:00",
        "1969-12-31T00:00:00Z",
        "2999-01-01T00:00:00Z",
    ],
)
async def test_an_impossible_received_at_is_refused_naming_it(
    http: httpx.AsyncClient, db: Database, factory: Factory, received_at: object
) -> None:
    officer = await factory.caller("officer")
    await with_phone(db, officer, PHONE_A)
    secret = await secret_of(db, officer.org_id)

    answer = await http.post(
        SMS,
        json={"sender": PHONE_A, "text": "VOL Gao", "received_at": received_at},
        headers={SECRET: secret},
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "received_at"
    assert await incidents_in(db, officer.org_id) == 0


@pytest.mark.parametrize(
    "sender", ["+" + "2" * 40, "+22376123456\x00", "<script>", "+223 76 12 34 56\nX-Evil: 1"]
)
async def test_a_sender_that_is_no_phone_number_is_refused_naming_it(
    http: httpx.AsyncClient, db: Database, factory: Factory, sender: str
) -> None:
    officer = await factory.caller("officer")
    secret = await secret_of(db, officer.org_id)

    answer = await http.post(SMS, json=sms(sender, "VOL Gao"), headers={SECRET: secret})

    assert answer.status_code in (400, 422), answer.text
    assert answer.json().get("field") in ("sender", "body")
    assert (await http.get("/api/v1/intake/held", headers=officer.headers)).json()["items"] == []


async def test_a_body_over_the_sms_limit_is_a_413_saying_that_limit(
    http: httpx.AsyncClient, db: Database, tenant_a: Tenant
) -> None:
    """It was a 422 "not valid JSON", and every 413 said "1 MB" whatever the route's limit."""
    in_a = await incidents_in(db, tenant_a.org_id)
    body = {**sms(PHONE_A, "ENLEVEMENT Diema"), "padding": "x" * 70_000}
    refused = await http.post(SMS, json=body, headers={SECRET: tenant_a.secret})
    assert refused.status_code == 413, refused.text
    assert "64 KiB" in refused.json()["detail"]
    assert await incidents_in(db, tenant_a.org_id) == in_a


async def test_an_oversized_kobo_submission_is_refused(
    http: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    officer = await factory.caller("officer")
    secret = await secret_of(db, officer.org_id)
    submission: dict[str, Any] = json.loads(SUBMISSION.read_text(encoding="utf-8"))
    many_fields = {**submission, **{f"group_x/field_{i}": "x" for i in range(2_000)}}
    long_value = {**submission, "group_x/notes": "x" * 30_000}
    huge_body = {**submission, "_notes": ["x" * 1_000] * 400}  # 400 kB

    answers = [
        await http.post(KOBO, json=body, headers={SECRET: secret})
        for body in (many_fields, long_value, huge_body)
    ]

    assert [a.status_code for a in answers] == [422, 422, 413], [a.text for a in answers]
    assert "256 KiB" in answers[2].json()["detail"]
    assert [a.json().get("field") for a in answers[:2]] == ["submission", "notes"]
    assert all(a.headers["content-type"].startswith("application/problem+json") for a in answers)
    assert await incidents_in(db, officer.org_id) == 0


# ---------------------------------------------------------------------------- (f) held queue


async def test_another_organisations_officer_cannot_see_publish_or_discard_held_sms(
    http: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    officer_a = await factory.caller("officer")
    secret_a = await secret_of(db, officer_a.org_id)
    held_id = (await send(http, secret_a, STRANGER, "ATTAQUE Menaka 3 morts")).json()["held_id"]
    intruders = [
        await factory.caller("officer"),
        await factory.caller("admin"),
        await factory.operator(),
    ]

    for intruder in intruders:
        listed = await http.get("/api/v1/intake/held", headers=intruder.headers)
        publish = await http.post(
            f"/api/v1/intake/held/{held_id}/publish",
            json={"type": "armed_attack"},
            headers=intruder.headers,
        )
        discard = await http.post(
            f"/api/v1/intake/held/{held_id}/discard", headers=intruder.headers
        )
        for state in ("held", "published", "discarded"):
            other = await http.get(
                "/api/v1/intake/held", params={"state": state}, headers=intruder.headers
            )
            assert other.status_code in (200, 403)
            assert held_id not in other.text
        assert listed.status_code in (200, 403)
        assert held_id not in listed.text
        assert "Menaka" not in listed.text
        expected = 403 if intruder.role == Role.OPERATOR else 404
        assert (publish.status_code, discard.status_code) == (expected, expected)
        assert "Menaka" not in publish.text
        assert "Menaka" not in discard.text
    mine = (await http.get("/api/v1/intake/held", headers=officer_a.headers)).json()["items"]
    assert [(h["id"], h["state"]) for h in mine] == [(held_id, "held")]
    assert await incidents_in(db, officer_a.org_id) == 0
