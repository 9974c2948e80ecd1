"""POST /api/v1/intake/kobo: a KoboToolbox submission becomes one incident, whatever the resends."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from incidents.db import Database
from incidents.intake.service import set_intake_secret
from incidents.interop.rows import fold
from incidents.records.tables import IncidentRow
from tests.factories import Factory

URL = "/api/v1/intake/kobo"
SUBMISSION = Path(__file__).resolve().parents[1] / "fixtures" / "kobo_submission.json"


@pytest.fixture(name="submission")
def fx_submission() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(SUBMISSION.read_text(encoding="utf-8"))
    return payload


async def new_secret(db: Database, org_id: uuid.UUID) -> str:
    from datetime import UTC, datetime

    async with db.transaction() as session:
        return await set_intake_secret(session, org_id, now=datetime.now(UTC))


async def count_incidents(db: Database) -> int:
    async with db.read() as session:
        return int((await session.scalar(select(func.count()).select_from(IncidentRow))) or 0)


async def test_submission_becomes_an_incident_with_the_form_answers(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, submission: dict[str, Any]
) -> None:
    officer = await factory.caller("officer")
    secret = await new_secret(db, officer.org_id)

    answer = await client.post(URL, json=submission, headers={"X-Sentinelle-Intake-Secret": secret})

    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["created"] is True
    feature = (
        await client.get(f"/api/v1/incidents/{created['id']}", headers=officer.headers)
    ).json()
    props = feature["properties"]
    assert props["type"] == "kidnapping"
    assert props["organisation_id"] == str(officer.org_id)
    assert props["impact"]["abducted"] == 2
    assert props["impact"]["aid_workers_affected"] is True
    assert props["sharing_level"] == "amber"
    assert feature["geometry"]["coordinates"] == pytest.approx([-9.192143, 14.540012])


async def test_submission_lands_in_the_zone_of_diema(
    client: AsyncTestClient[Litestar],
    app: Litestar,
    factory: Factory,
    db: Database,
    submission: dict[str, Any],
) -> None:
    # Zones must be wired: without a zone lookup the incident has no zones and this must fail.
    assert app.state.container.incidents.zone_lookup is not None, "zones are not wired into the app"
    officer = await factory.caller("officer")
    secret = await new_secret(db, officer.org_id)
    created = (await client.post(URL, json=submission, params={"secret": secret})).json()

    feature = (
        await client.get(f"/api/v1/incidents/{created['id']}", headers=officer.headers)
    ).json()

    names = {fold(z["name"]) for z in feature["properties"]["zones"]}
    assert any("diema" in n or "kayes" in n for n in names), names


async def test_resent_submission_answers_200_with_the_same_id_and_changes_nothing(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, submission: dict[str, Any]
) -> None:
    officer = await factory.caller("officer")
    headers = {"X-Sentinelle-Intake-Secret": await new_secret(db, officer.org_id)}
    first = (await client.post(URL, json=submission, headers=headers)).json()
    before = (await client.get(f"/api/v1/incidents/{first['id']}", headers=officer.headers)).json()

    again = await client.post(URL, json=submission, headers=headers)

    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["created"] is False
    assert await count_incidents(db) == 1
    after = (await client.get(f"/api/v1/incidents/{first['id']}", headers=officer.headers)).json()
    assert after["properties"]["version"] == before["properties"]["version"]


async def test_edited_submission_updates_the_same_incident(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, submission: dict[str, Any]
) -> None:
    officer = await factory.caller("officer")
    headers = {"X-Sentinelle-Intake-Secret": await new_secret(db, officer.org_id)}
    first = (await client.post(URL, json=submission, headers=headers)).json()
    edited = copy.deepcopy(submission)
    edited["group_impact/abducted"] = "3"

    again = await client.post(URL, json=edited, headers=headers)

    assert again.json() | {"updated": True} == again.json()
    assert again.json()["id"] == first["id"]
    feature = (await client.get(f"/api/v1/incidents/{first['id']}", headers=officer.headers)).json()
    assert feature["properties"]["impact"]["abducted"] == 3
    assert await count_incidents(db) == 1


@pytest.mark.parametrize("secret", [None, "sik_not-the-secret"])
async def test_without_the_organisation_secret_nothing_is_stored(
    client: AsyncTestClient[Litestar],
    factory: Factory,
    db: Database,
    submission: dict[str, Any],
    secret: str | None,
) -> None:
    officer = await factory.caller("officer")
    await new_secret(db, officer.org_id)
    headers = {"X-Sentinelle-Intake-Secret": secret} if secret else {}

    answer = await client.post(URL, json=submission, headers=headers)

    assert answer.status_code == 403
    assert "intake secret" in answer.json()["detail"]
    assert await count_incidents(db) == 0


async def test_submission_without_geopoint_or_known_place_is_refused_on_location(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, submission: dict[str, Any]
) -> None:
    officer = await factory.caller("officer")
    headers = {"X-Sentinelle-Intake-Secret": await new_secret(db, officer.org_id)}
    del submission["group_location/location"]
    del submission["_geolocation"]
    submission["group_location/place_name"] = "Xqzwvillage"

    answer = await client.post(URL, json=submission, headers=headers)

    assert answer.status_code == 422
    assert answer.json()["field"] == "location"
    assert await count_incidents(db) == 0


async def test_imprecise_geopoint_is_kept_with_lower_location_precision(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, submission: dict[str, Any]
) -> None:
    officer = await factory.caller("officer")
    headers = {"X-Sentinelle-Intake-Secret": await new_secret(db, officer.org_id)}
    submission["group_location/location"] = "14.540012 -9.192143 262.0 2500"

    created = (await client.post(URL, json=submission, headers=headers)).json()

    feature = (
        await client.get(f"/api/v1/incidents/{created['id']}", headers=officer.headers)
    ).json()
    assert feature["properties"]["location_precision"] == "near"
