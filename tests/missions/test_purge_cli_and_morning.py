"""`sentinelle missions purge` on the command line; the morning re-assessment; approval rule
configurable (0 turns it off)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select, update

from api.cli.main import main
from api.http.app import container_of
from geo.gazetteer import Gazetteer
from incidents.sharing.tables import AuditRow
from missions.tables import MissionRow, MissionStopRow
from tests.factories import incident_payload
from tests.missions.conftest import World, mopti_gao


async def test_the_purge_command_deletes_closed_missions_routes_and_is_audited(
    world: World,
) -> None:
    created = await world.client.post(
        "/api/v1/missions", json=mopti_gao(datetime.now(UTC)), headers=world.planner.headers
    )
    mid = uuid.UUID(created.json()["id"])
    await world.client.post(f"/api/v1/missions/{mid}/close", headers=world.planner.headers)
    async with world.db.transaction() as session:
        await session.execute(
            update(MissionRow)
            .where(MissionRow.id == mid)
            .values(closed_at=datetime.now(UTC) - timedelta(days=40))
        )
    # The command runs its own event loop: in a thread, as on the server's shell.
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["missions", "purge"],
        env={"SENTINELLE_DATABASE_URL": world.settings.database_url},
    )
    assert result.exit_code == 0, result.output
    assert "Purged 1 closed missions" in result.output
    async with world.db.read() as session:
        row = await session.get(MissionRow, mid, populate_existing=True)
        assert row is not None
        assert row.route_wkb is None
        assert row.purged_at is not None
        stops = (
            await session.execute(select(MissionStopRow).where(MissionStopRow.mission_id == mid))
        ).all()
        actions = (await session.execute(select(AuditRow.action))).scalars().all()
    assert stops == []
    assert "mission.purged" in actions


async def test_the_morning_reassessment_asks_for_approval_when_the_route_got_worse(
    world: World,
) -> None:
    created = await world.client.post(
        "/api/v1/missions", json=mopti_gao(datetime.now(UTC)), headers=world.planner.headers
    )
    body = created.json()
    assert body["needs_approval"] is False
    g = Gazetteer.load().resolve("Douentza")
    reporter = await world.factory.caller("reporter")
    reported = await world.client.post(
        "/api/v1/incidents",
        json=incident_payload(type="ied", at=(g.lat, g.lon), days_ago=0.5, sharing_level="green"),
        headers=reporter.headers,
    )
    assert reported.status_code == 201
    missions = container_of(world.app).missions
    assert missions is not None
    assert await missions.reassess_all(now=datetime.now(UTC)) == 1
    after = (
        await world.client.get(f"/api/v1/missions/{body['id']}", headers=world.planner.headers)
    ).json()
    assert after["needs_approval"] is True
    assert any("IED" in r for r in after["approval_reasons"])
    # Configurable: a deployment that sets the approval level to 0 asks for none.
    missions.config = dataclasses.replace(missions.config, approval_level=0)
    other = await world.client.post(
        "/api/v1/missions", json=mopti_gao(datetime.now(UTC)), headers=world.planner.headers
    )
    assert other.json()["needs_approval"] is False
