"""Officers merge and split reports of one event (POST /api/v1/incidents/{id}/merge, /split):
risk counts the event afresh, the audit log keeps who did it, and no one else may."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from incidents.db import Database
from incidents.sharing.tables import AuditRow
from tests.factories import Factory
from tests.http.test_event_links import ZONE, read, report, zone_scores

Client = AsyncTestClient[Litestar]
# 12 km north of Diéma: too far to be linked on its own, still in the town's zone.
NORTH = (14.648, -9.183)


async def audit_actions(db: Database, target: str) -> list[str]:
    async with db.read() as session:
        rows = await session.scalars(
            select(AuditRow.action).where(AuditRow.target_id == target).order_by(AuditRow.id)
        )
        return list(rows.all())


async def test_an_officer_merges_two_reports_and_splits_them_again(
    client: Client, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    officer = await factory.caller("officer", org_id=reporter.org_id)
    planner = await factory.caller("planner")
    first = await report(client, reporter, sharing_level="green")
    one = (await zone_scores(client, planner))[ZONE]
    second = await report(client, reporter, sharing_level="green", at=NORTH)
    two = (await zone_scores(client, planner))[ZONE]
    assert two > one
    assert "corroboration" not in await read(client, reporter, second)

    merged = await client.post(
        f"/api/v1/incidents/{second}/merge", json={"into": first}, headers=officer.headers
    )

    assert merged.status_code == 200, merged.text
    assert merged.json() == {
        "incident_id": second,
        "reports": 2,
        "linked": [first],
        "sources": 1,  # one organisation's two reports
        "credibility": 6,
    }
    assert (await zone_scores(client, planner))[ZONE] == one
    assert (await read(client, reporter, first))["corroboration"]["linked"] == [second]
    assert "incident.merged" in await audit_actions(db, second)
    again = await client.post(
        f"/api/v1/incidents/{first}/merge", json={"into": second}, headers=officer.headers
    )
    assert again.status_code == 409, again.text

    # Split the canonical report off: the other one carries the event on, both count again.
    split = await client.post(f"/api/v1/incidents/{first}/split", headers=officer.headers)

    assert split.status_code == 200, split.text
    assert split.json() == {
        "incident_id": first,
        "reports": 1,
        "linked": [],
        "sources": 1,
        "credibility": 6,
    }
    assert (await zone_scores(client, planner))[ZONE] == two
    assert "corroboration" not in await read(client, reporter, second)
    assert "incident.split" in await audit_actions(db, first)
    alone = await client.post(f"/api/v1/incidents/{first}/split", headers=officer.headers)
    assert alone.status_code == 409


async def test_only_officers_who_read_both_reports_in_full_may_merge(
    client: Client, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    colleague_planner = await factory.caller("planner", org_id=reporter.org_id)
    admin = await factory.caller("admin", org_id=reporter.org_id)
    other_officer = await factory.caller("officer")
    operator = await factory.operator()
    first = await report(client, reporter, sharing_level="amber_strict")
    second = await report(client, reporter, sharing_level="amber_strict", at=NORTH)
    body = {"into": first}

    for caller in (reporter, colleague_planner, operator):
        for action, payload in (("merge", body), ("split", None)):
            refused = await client.post(
                f"/api/v1/incidents/{second}/{action}", json=payload, headers=caller.headers
            )
            assert refused.status_code == 403, (caller.role, action, refused.text)
    # An officer of another organisation may not read amber_strict reports: as if absent.
    hidden = await client.post(
        f"/api/v1/incidents/{second}/merge", json=body, headers=other_officer.headers
    )
    absent = await client.post(
        f"/api/v1/incidents/{uuid.uuid4()}/merge", json=body, headers=other_officer.headers
    )
    assert hidden.status_code == absent.status_code == 404
    assert (await read(client, reporter, second)).get("corroboration") is None
    # The organisation's admin is one of its security officers.
    ok = await client.post(f"/api/v1/incidents/{second}/merge", json=body, headers=admin.headers)
    assert ok.status_code == 200, ok.text


async def test_a_merge_of_reports_shared_with_other_readers_is_refused(
    client: Client, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    officer = await factory.caller("officer", org_id=reporter.org_id)
    public = await report(client, reporter, sharing_level="green")
    narrow = await report(client, reporter, sharing_level="amber_strict", at=NORTH)

    for source, into in ((public, narrow), (narrow, public)):
        refused = await client.post(
            f"/api/v1/incidents/{source}/merge", json={"into": into}, headers=officer.headers
        )
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert "into" in str(problem)
        assert "sharing-requests" in problem["detail"]
    assert "corroboration" not in await read(client, reporter, public)


async def test_bad_merge_requests_are_refused_and_change_nothing(
    client: Client, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    officer = await factory.caller("officer", org_id=reporter.org_id)
    first = await report(client, reporter, sharing_level="green")
    url = f"/api/v1/incidents/{first}/merge"
    for body in ({}, {"into": "not-an-id"}, {"into": first, "extra": 1}):
        answer = await client.post(url, json=body, headers=officer.headers)
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.status_code != 404
    itself = await client.post(url, json={"into": first}, headers=officer.headers)
    assert itself.status_code == 422
    assert "into" in itself.text
    assert "corroboration" not in await read(client, reporter, first)


async def test_retracting_the_first_report_hands_the_event_to_the_next(
    client: Client, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    planner = await factory.caller("planner")
    first = await report(client, reporter, sharing_level="green")
    second = await report(client, reporter, sharing_level="green", days_ago=1.0 - 1 / 24)
    one = (await zone_scores(client, planner))[ZONE]

    retracted = await client.post(
        f"/api/v1/incidents/{first}/retract", json={}, headers=reporter.headers
    )

    assert retracted.status_code == 200, retracted.text
    # The event still happened: the other report now carries it, still once.
    assert (await zone_scores(client, planner))[ZONE] > 0
    assert abs((await zone_scores(client, planner))[ZONE] - one) < one * 0.2
    assert "corroboration" not in await read(client, reporter, second)
