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
from incidents.sharing.tables import AuditRow
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


# ---------------------------------------------------------------------------- edits in Kobo


def edit_of(previous: dict[str, Any], **answers: str) -> dict[str, Any]:
    """What KoboToolbox sends after an edit of `previous` (in Enketo, from the data table): a
    new instanceID (and `_uuid`), `meta/deprecatedID` naming the one it replaces, and
    `meta/rootUuid` naming the first (KoboToolbox 2.024 and later)."""
    edited = copy.deepcopy(previous)
    new = str(uuid.uuid4())
    edited["meta/deprecatedID"] = previous["meta/instanceID"]
    edited.setdefault("meta/rootUuid", previous["meta/instanceID"])
    edited["meta/instanceID"] = f"uuid:{new}"
    edited["_uuid"] = new
    edited.update(answers)
    return edited


async def sent_first(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, submission: dict[str, Any]
) -> tuple[dict[str, str], dict[str, Any]]:
    """An organisation's intake headers, and its answer to the fixture submission."""
    officer = await factory.caller("officer")
    headers = {"X-Sentinelle-Intake-Secret": await new_secret(db, officer.org_id)}
    first: dict[str, Any] = (await client.post(URL, json=submission, headers=headers)).json()
    return headers, first


async def incident_versions(db: Database) -> list[tuple[uuid.UUID, int, int]]:
    async with db.read() as session:
        rows = await session.execute(
            select(IncidentRow.id, IncidentRow.version, IncidentRow.abducted)
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def test_an_edit_in_kobo_is_a_new_version_of_the_first_incident(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, submission: dict[str, Any]
) -> None:
    headers, first = await sent_first(client, factory, db, submission)
    edit = edit_of(submission, **{"group_impact/abducted": "3"})
    second_edit = edit_of(edit, **{"group_impact/abducted": "4"})
    del second_edit["meta/rootUuid"]  # older KoboToolbox: deprecatedID only

    answers = [await client.post(URL, json=e, headers=headers) for e in (edit, second_edit)]

    assert [a.status_code for a in answers] == [200, 200]
    assert [a.json()["id"] for a in answers] == [first["id"], first["id"]]
    assert [a.json()["updated"] for a in answers] == [True, True]
    assert await incident_versions(db) == [(uuid.UUID(first["id"]), 3, 4)]
    async with db.read() as session:
        changes = (
            await session.scalars(
                select(AuditRow.target_id).where(AuditRow.action == "incident.changed")
            )
        ).all()
    assert changes == [first["id"], first["id"]]


async def test_resending_an_edit_or_the_replaced_submission_changes_nothing(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, submission: dict[str, Any]
) -> None:
    headers, first = await sent_first(client, factory, db, submission)
    edit = edit_of(submission, **{"group_impact/abducted": "3"})
    await client.post(URL, json=edit, headers=headers)

    again = await client.post(URL, json=edit, headers=headers)
    replaced = await client.post(URL, json=submission, headers=headers)

    assert [again.status_code, replaced.status_code] == [200, 200]
    assert (
        again.json()
        == replaced.json()
        == {
            "id": first["id"],
            "created": False,
            "updated": False,
            "reference": first["reference"],
        }
    )
    assert await incident_versions(db) == [(uuid.UUID(first["id"]), 2, 3)]


async def test_an_edit_of_an_unknown_or_another_organisations_submission_is_refused_alike(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, submission: dict[str, Any]
) -> None:
    owner_headers, first = await sent_first(client, factory, db, submission)
    outsider = await factory.caller("officer")
    headers = {"X-Sentinelle-Intake-Secret": await new_secret(db, outsider.org_id)}
    nowhere = str(uuid.uuid4())
    never = edit_of(submission, **{"group_impact/killed": "9"})
    never["meta/deprecatedID"] = never["meta/rootUuid"] = f"uuid:{nowhere}"

    unknown = await client.post(URL, json=never, headers=owner_headers)
    foreign = await client.post(
        URL, json=edit_of(submission, **{"group_impact/killed": "9"}), headers=headers
    )

    assert unknown.status_code == foreign.status_code == 422
    assert unknown.json()["field"] == foreign.json()["field"] == "meta/deprecatedID"
    # The same words whether the first submission is another organisation's or nobody's.
    assert unknown.json()["detail"].replace(nowhere, "X") == foreign.json()["detail"].replace(
        submission["_uuid"], "X"
    )
    assert await incident_versions(db) == [(uuid.UUID(first["id"]), 1, 2)]


async def test_an_edit_that_keeps_the_first_uuid_still_chains_by_instance_id(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, submission: dict[str, Any]
) -> None:
    headers, first = await sent_first(client, factory, db, submission)
    edit = edit_of(submission, **{"group_impact/abducted": "3"})
    edit["_uuid"] = submission["_uuid"]  # a server that keeps `_uuid` across edits
    later = edit_of(edit, **{"group_impact/abducted": "4"})
    del later["meta/rootUuid"]
    later["_uuid"] = submission["_uuid"]

    answers = [(await client.post(URL, json=e, headers=headers)).json() for e in (edit, later)]

    assert [a["id"] for a in answers] == [first["id"], first["id"]]
    assert await incident_versions(db) == [(uuid.UUID(first["id"]), 3, 4)]
