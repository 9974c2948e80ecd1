"""Authorisation matrix for field intake: Kobo and SMS webhooks (own / other organisation's secret)
and the held-SMS queue, for every role of the own and another organisation and the operator,
against the expected outcomes written out below."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from incidents.db import Database
from incidents.intake.service import register_phone, set_intake_secret
from incidents.intake.tables import HeldSmsRow
from incidents.records.tables import IncidentRow
from tests.factories import Caller, Factory

Client = AsyncTestClient[Litestar]
SECRET = "X-Sentinelle-Intake-Secret"
SUBMISSION = Path(__file__).resolve().parents[1] / "fixtures" / "kobo_submission.json"
PHONE = "+22376123456"
STRANGER = "+22366000111"
ROLES = ("reporter", "officer", "planner", "admin", "operator")

# POST /intake/sms from the phone of a user with this role, registered in organisation "own"
# (the operator's phone: in the platform organisation). (HTTP status, `status` of the answer):
# "created" files an incident in the phone's organisation as its user, "held" puts the SMS in
# the queue of the secret's organisation, None stores nothing.
#                  own organisation's secret   other organisation's secret
SMS: dict[str, tuple[tuple[int, str | None], tuple[int, str | None]]] = {
    "reporter": ((200, "created"), (200, "held")),
    "officer": ((200, "created"), (200, "held")),
    "planner": ((403, None), (200, "held")),  # planners do not report incidents
    "admin": ((200, "created"), (200, "held")),
    "operator": ((403, None), (200, "held")),  # nor does the platform operator
}

# POST /intake/kobo with the caller's bearer token and: no secret, the own organisation's secret,
# another organisation's secret. A bearer token never stands in for the secret; the submission
# is filed in the secret's organisation, whoever sends it.
#                   no secret  own secret  other secret
KOBO: dict[str, tuple[int, int, int]] = {
    "anonymous": (403, 201, 201),
    **dict.fromkeys(ROLES, (403, 201, 201)),
}

# The held queue of organisation "own": GET /intake/held (200* = answers, without own's SMS),
# POST /intake/held/{id}/publish, POST /intake/held/{id}/discard.
LIST_WITHOUT = 2000  # 200, and the SMS is not in the list
#                    list          publish  discard
HELD: dict[str, tuple[int, int, int]] = {
    "anonymous": (401, 401, 401),
    "reporter/own": (403, 403, 403),
    "officer/own": (200, 201, 200),
    "planner/own": (403, 403, 403),
    "admin/own": (200, 201, 200),
    "reporter/other": (403, 403, 403),
    "officer/other": (LIST_WITHOUT, 404, 404),  # another organisation's SMS does not exist
    "planner/other": (403, 403, 403),
    "admin/other": (LIST_WITHOUT, 404, 404),
    "operator": (403, 403, 403),  # the operator reviews no organisation's SMS
}


async def secret_of(db: Database, org_id: uuid.UUID) -> str:
    async with db.transaction() as session:
        return await set_intake_secret(session, org_id, now=datetime.now(UTC))


async def caller_for(factory: Factory, who: str, orgs: dict[str, uuid.UUID]) -> Caller | None:
    if who == "anonymous":
        return None
    if who == "operator":
        return await factory.operator()
    role, relation = who.split("/") if "/" in who else (who, "own")
    return await factory.caller(role, org_id=orgs[relation])


async def incidents_in(db: Database, org_id: uuid.UUID) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(IncidentRow).where(IncidentRow.org_id == org_id)
            )
            or 0
        )


async def held_in(db: Database, org_id: uuid.UUID) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(HeldSmsRow).where(HeldSmsRow.org_id == org_id)
            )
            or 0
        )


@pytest.mark.parametrize("secret_of_org", ["own", "other"])
@pytest.mark.parametrize("role", ROLES)
async def test_sms(
    client: Client, db: Database, factory: Factory, role: str, secret_of_org: str
) -> None:
    other = await factory.org()
    phone_user = await factory.operator() if role == "operator" else await factory.caller(role)
    async with db.transaction() as session:
        await register_phone(session, phone_user.user_id, PHONE)
    orgs = {"own": phone_user.org_id, "other": other}
    secrets = {name: await secret_of(db, org) for name, org in orgs.items()}
    expected_status, expected_outcome = SMS[role][0 if secret_of_org == "own" else 1]

    answer = await client.post(
        "/api/v1/intake/sms",
        json={"sender": PHONE, "text": "VOL materiel Gao", "received_at": None},
        headers={SECRET: secrets[secret_of_org]},
    )

    assert answer.status_code == expected_status, answer.text
    outcome = answer.json()["status"] if answer.status_code == 200 else None
    assert outcome == expected_outcome
    created = await incidents_in(db, phone_user.org_id)
    assert created == (1 if expected_outcome == "created" else 0)
    assert await incidents_in(db, other) == 0
    held = {name: await held_in(db, org) for name, org in orgs.items()}
    assert held == {"own": 0, "other": 1 if expected_outcome == "held" else 0}
    if expected_outcome == "created":
        feature = (
            await client.get(
                f"/api/v1/incidents/{answer.json()['incident_id']}", headers=phone_user.headers
            )
        ).json()
        assert feature["properties"]["reported_by"] == str(phone_user.user_id)


@pytest.mark.parametrize("which", ["none", "own", "other"])
@pytest.mark.parametrize("who", list(KOBO))
async def test_kobo(client: Client, db: Database, factory: Factory, who: str, which: str) -> None:
    orgs = {"own": await factory.org(), "other": await factory.org()}
    caller = await caller_for(factory, who, orgs)
    if caller is not None and who != "operator":
        orgs["own"] = caller.org_id
    secrets = {name: await secret_of(db, org) for name, org in orgs.items()}
    headers: dict[str, str] = dict(caller.headers) if caller else {}
    if which != "none":
        headers[SECRET] = secrets[which]
    submission: dict[str, Any] = json.loads(SUBMISSION.read_text(encoding="utf-8"))
    submission["organisation_id"] = str(orgs["own"])  # what the payload says changes nothing
    expected = KOBO[who][("none", "own", "other").index(which)]

    answer = await client.post("/api/v1/intake/kobo", json=submission, headers=headers)

    assert answer.status_code == expected, answer.text
    filed = {name: await incidents_in(db, org) for name, org in orgs.items()}
    assert filed == {name: int(which == name) for name in orgs}


@pytest.mark.parametrize("endpoint", ["list", "publish", "discard"])
@pytest.mark.parametrize("who", list(HELD))
async def test_held(
    client: Client, db: Database, factory: Factory, who: str, endpoint: str
) -> None:
    orgs = {"own": await factory.org(), "other": await factory.org()}
    answer = await client.post(
        "/api/v1/intake/sms",
        json={"sender": STRANGER, "text": "ATTAQUE Menaka 3 morts"},
        headers={SECRET: await secret_of(db, orgs["own"])},
    )
    held_id = answer.json()["held_id"]
    caller = await caller_for(factory, who, orgs)
    headers = caller.headers if caller else {}
    expected = HELD[who][("list", "publish", "discard").index(endpoint)]

    if endpoint == "list":
        response = await client.get("/api/v1/intake/held", headers=headers)
    else:
        response = await client.post(f"/api/v1/intake/held/{held_id}/{endpoint}", headers=headers)

    assert response.status_code == (200 if expected == LIST_WITHOUT else expected), response.text
    if endpoint == "list" and response.status_code == 200:
        listed = [h["id"] for h in response.json()["items"]]
        assert listed == ([] if expected == LIST_WITHOUT else [held_id])
    if response.status_code >= 400:
        assert "Menaka" not in response.text
    published = await incidents_in(db, orgs["own"])
    assert published == (1 if (endpoint, response.status_code) == ("publish", 201) else 0)
    assert await incidents_in(db, orgs["other"]) == 0
