"""Bulk import hands whole batches to the write events: same zones and audit rows as one by one."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from api.settings import Settings
from geo.geometry import from_wkb
from incidents.db import Database
from incidents.interop.importer import import_rows
from incidents.records.demo import DemoRow
from incidents.records.events import WriteEvents
from incidents.records.tables import IncidentRow
from incidents.sharing.service import SharingGuard
from incidents.sharing.tables import AuditRow
from incidents.zones.store import ZoneAssignment, ensure_default_zones
from incidents.zones.tables import IncidentZoneRow
from tests.factories import BAMAKO, GAO, KIDAL, MENAKA, Factory, incident_payload

NOW = datetime.now(UTC)


async def test_import_assigns_zones_and_audits_each_new_incident(
    db: Database, factory: Factory
) -> None:
    await ensure_default_zones(db, Settings(), now=NOW)
    org = await factory.org()
    places = {"gao": GAO, "kidal": KIDAL, "menaka": MENAKA, "bamako": BAMAKO}
    rows = [
        DemoRow(i, incident_payload(at=at, external_id=f"src:{name}"))
        for i, (name, at) in enumerate(places.items(), start=1)
    ]
    assignment = ZoneAssignment()
    report = await import_rows(
        db,
        rows,
        org_id=org,
        user_id=None,
        now=NOW,
        batch_size=3,
        events=WriteEvents(guards=(("audit", SharingGuard()),), placement=assignment),
    )
    assert report.created == 4
    async with db.read() as session:
        incidents = (await session.execute(select(IncidentRow))).scalars().all()
        zone_rows = (await session.execute(select(IncidentZoneRow))).scalars().all()
        audits = (await session.execute(select(AuditRow))).scalars().all()
        snapshot = await assignment.cache.snapshot(session)
    stored = {}
    for row in zone_rows:
        stored.setdefault(row.incident_id, set()).add(row.zone_id)
    for incident in incidents:
        # What the one-incident path (ZoneIndex.zones_for) would have stored.
        expected = set(snapshot.index.zones_for(from_wkb(incident.geometry_wkb)))
        assert expected, f"{incident.external_id} should fall in at least the country zone"
        assert stored.get(incident.id, set()) == expected
    assert sorted(a.target_id for a in audits if a.action == "incident.created") == sorted(
        str(i.id) for i in incidents
    )
