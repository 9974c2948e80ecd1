"""Reports written in one batch, each far from the others: the one within the linking distance
and time of a stored report is linked to it, those with nothing stored near them are not
(incidents.records.events.link_new_nearby answers those without asking the linker)."""

from __future__ import annotations

from sqlalchemy import select

from api.settings import Settings
from incidents.db import Database
from incidents.records.tables import IncidentRow
from tests.db.test_event_links_db import container_for, imported, row
from tests.factories import DIEMA, Factory

KM_NORTH = 1 / 111.2  # degrees of latitude per km


async def events_by_place(db: Database) -> dict[str | None, object]:
    async with db.read() as session:
        rows = await session.execute(select(IncidentRow.place_name, IncidentRow.event_id))
        return dict(rows.all())


async def test_in_a_spread_batch_only_the_report_near_a_stored_one_is_linked(
    settings: Settings, db: Database, factory: Factory
) -> None:
    container = await container_for(settings, db)
    org = await factory.org()
    assert await imported(container, org, [row(1, hours_ago=20, place_name="first")]) == 1
    async with db.read() as session:
        first = await session.scalar(select(IncidentRow.id))

    later = [
        # 4.5 km and 5 hours from the first: the same kidnapping.
        row(2, hours_ago=25, lat=DIEMA[0] + 4.5 * KM_NORTH, place_name="near"),
        # 40 km away at the same time, and the same place 180 hours earlier: other events.
        row(3, hours_ago=20, lat=DIEMA[0] + 40 * KM_NORTH, place_name="far away"),
        row(4, hours_ago=200, place_name="long before"),
    ]
    assert await imported(container, org, later) == 3

    events = await events_by_place(db)
    assert events == {"first": None, "near": first, "far away": None, "long before": None}
