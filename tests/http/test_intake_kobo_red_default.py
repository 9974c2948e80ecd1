"""The form's sharing level left at "default" (or left out): Sentinelle picks it, so an abduction
of aid workers sent from Kobo/ODK is red by the kidnapping protocol and names the organisation's
officers; a level chosen in the form is kept; others still see the report masked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from incidents.db import Database
from incidents.intake.kobo import SHARING_UNCHOSEN, kobo_to_incident
from incidents.intake.service import set_intake_secret
from tests.factories import Factory

URL = "/api/v1/intake/kobo"
SUBMISSION = Path(__file__).resolve().parents[1] / "fixtures" / "kobo_submission.json"
XFORM = Path(__file__).resolve().parents[2] / "incidents" / "data" / "sentinelle_incident.xml"


@pytest.fixture(name="submission")
def fx_submission() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(SUBMISSION.read_text(encoding="utf-8"))
    return payload


def test_the_served_form_starts_at_the_default_and_no_longer_requires_a_level() -> None:
    root = ElementTree.fromstring(XFORM.read_bytes())
    ns = {"x": "http://www.w3.org/2002/xforms"}
    answer = root.find(".//x:instance/x:data/x:sharing_level", ns)
    assert answer is not None
    assert answer.text == SHARING_UNCHOSEN
    bind = root.find(".//x:bind[@nodeset='/data/sharing_level']", ns)
    assert bind is not None
    assert bind.get("required") is None
    names = [n.text for n in root.findall(".//x:instance[@id='sharing_level']//x:name", ns)]
    assert names[0] == SHARING_UNCHOSEN
    assert "rouge pour un enlèvement de notre personnel" in XFORM.read_text(encoding="utf-8")


@pytest.mark.parametrize("answer", [SHARING_UNCHOSEN, "", None])
def test_an_unchosen_level_is_left_out_of_the_incident(
    submission: dict[str, Any], answer: str | None
) -> None:
    if answer is None:
        del submission["sharing_level"]
    else:
        submission["sharing_level"] = answer
    result = kobo_to_incident(submission)
    assert result.error is None
    assert result.incident is not None
    assert "sharing_level" not in result.incident


async def test_an_abduction_of_staff_from_the_form_is_red_and_its_officers_read_it(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, submission: dict[str, Any]
) -> None:
    from datetime import UTC, datetime

    officer = await factory.caller("officer")
    colleague = await factory.caller("reporter", org_id=officer.org_id)
    outsider = await factory.caller("officer")
    operator = await factory.operator()
    async with db.transaction() as session:
        secret = await set_intake_secret(session, officer.org_id, now=datetime.now(UTC))
    submission["sharing_level"] = SHARING_UNCHOSEN
    answer = await client.post(URL, json=submission, headers={"X-Sentinelle-Intake-Secret": secret})
    assert answer.status_code == 201, answer.text
    incident_id = answer.json()["id"]
    full = await client.get(f"/api/v1/incidents/{incident_id}", headers=officer.headers)
    assert full.status_code == 200
    assert full.json()["properties"]["sharing_level"] == "red"
    assert full.json()["properties"]["description"] == submission["description"]
    for caller in (colleague, outsider, operator):
        alone = await client.get(f"/api/v1/incidents/{incident_id}", headers=caller.headers)
        assert alone.status_code == 404
        listed = await client.get("/api/v1/incidents", headers=caller.headers)
        assert submission["description"] not in listed.text

    # A level chosen in the form is kept, even for an abduction of staff.
    submission["sharing_level"] = "amber"
    submission["_uuid"] = "0e0e0e0e-93f1-4c7b-8a65-2f1e0b9c7d41"
    submission.pop("meta/instanceID", None)
    kept = await client.post(URL, json=submission, headers={"X-Sentinelle-Intake-Secret": secret})
    assert kept.status_code == 201, kept.text
    chosen = await client.get(f"/api/v1/incidents/{kept.json()['id']}", headers=officer.headers)
    assert chosen.json()["properties"]["sharing_level"] == "amber"
