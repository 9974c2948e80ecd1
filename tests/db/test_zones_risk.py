"""Zone assignment and risk in the service, on SQLite and PostgreSQL, with hand-computed scores."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
import shapely
from sqlalchemy import select

from api.settings import Settings
from geo.zones import Zone
from incidents.db import Database
from incidents.records.events import WriteEvents
from incidents.records.schemas import IncidentIn
from incidents.records.service import IncidentService
from incidents.records.store import IncidentStore, row_values
from incidents.records.validation import incident_from_input
from incidents.risk import versions
from incidents.risk.model import RiskConfig
from incidents.risk.service import RiskObserver, RiskService
from incidents.taxonomy.catalogue import TYPES
from incidents.zones.store import (
    ZoneAssignment,
    ZoneCache,
    ensure_default_zones,
    import_zones,
    zone_lookup,
)
from incidents.zones.tables import IncidentZoneRow, RiskPendingRow, ZoneRiskRow
from tests.factories import BAMAKO, DIEMA, GAO, MENAKA, Factory

NOW = datetime(2024, 6, 1, tzinfo=UTC)
# One memory of 30 days, no spill-over: the score is easy to compute by hand.
SIMPLE = RiskConfig(
    half_lives_days=(30.0,), half_life_shares=(1.0,), window_days=365.0, spillover=0.0
)
square_near_gao = Zone(
    id="gao_square",
    code="gao_square",
    name_fr="Carré de Gao",
    name_en="Gao square",
    kind="custom",
    geometry=shapely.box(-0.2, 16.1, 0.1, 16.4),
    parent_code=None,
    provenance="test",
    approximate=False,
)


class Writer:
    """Writes incidents the way IncidentService does: row, then write events, in one transaction."""

    def __init__(self, db: Database, org_id: uuid.UUID, risk: RiskService) -> None:
        self.db = db
        self.org_id = org_id
        self.risk = risk
        self.events = WriteEvents(
            placement=ZoneAssignment(risk.cache), handlers=(("risk", RiskObserver(risk)),)
        )

    async def report(
        self, at: tuple[float, float], *, days_ago: float, now: datetime = NOW, **extra: Any
    ) -> uuid.UUID:
        body = {
            "type": "armed_attack",
            "lat": at[0],
            "lon": at[1],
            "severity": 4,
            "reliability": "B",
            "credibility": 2,
            "occurred_at": (now - timedelta(days=days_ago)).isoformat(),
            **extra,
        }
        data = msgspec.convert(body, IncidentIn)
        incident, geom = incident_from_input(data, org_id=self.org_id, user_id=None, now=now)
        async with self.db.transaction() as session:
            await IncidentStore(session).add_many([row_values(incident, geom)])
            await self.events.written(session, incident, geom, None, actor=None, at=now)
        # Writes only mark zones dirty; re-score now, as the worker or the next read would.
        await self.risk.flush()
        return incident.id


@pytest.fixture(name="risk")
async def fx_risk(db: Database) -> RiskService:
    await ensure_default_zones(db, Settings(), now=NOW)
    return RiskService(db, config=SIMPLE, cache=ZoneCache())


@pytest.fixture(name="writer")
async def fx_writer(db: Database, factory: Factory, risk: RiskService) -> Writer:
    return Writer(db, await factory.org(), risk)


def one_incident_score(days_ago: float, config: RiskConfig = SIMPLE) -> float:
    """armed_attack, severity 4, reliability B, credibility 2, reported: by hand."""
    weight = TYPES["armed_attack"].risk_weight
    severity = 1.5  # severity 4
    confidence = 0.9 * 0.9 * 1.0  # B x credibility 2 x reported
    decay = 0.5 ** (days_ago / 30.0)
    h = 30.0
    kernel_mass = h / math.log(2) * (1 - 2 ** (-365.0 / h))
    return weight * severity * confidence * decay * 30.0 / kernel_mass


async def stored(db: Database, zone_id: str) -> ZoneRiskRow:
    async with db.read() as session:
        row = await session.get(ZoneRiskRow, zone_id)
    assert row is not None
    return row


async def test_default_zones_seeded_once(db: Database) -> None:
    assert await ensure_default_zones(db, Settings(), now=NOW) > 15
    assert await ensure_default_zones(db, Settings(), now=NOW) == 0


@pytest.mark.parametrize(
    ("place", "expected", "absent"),
    [
        (DIEMA, {"mli", "border_mrt", "town_diema"}, {"town_kayes"}),
        (MENAKA, {"mli", "town_menaka"}, {"border_mrt"}),
        (
            BAMAKO,
            {"mli", "town_bamako"},
            {"border_mrt", "border_ner", "border_bfa", "border_dza", "liptako_gourma"},
        ),
    ],
    ids=["diema", "menaka", "bamako"],
)
async def test_incident_assigned_to_its_zones(
    db: Database, writer: Writer, place: tuple[float, float], expected: set[str], absent: set[str]
) -> None:
    incident_id = await writer.report(place, days_ago=1)
    async with db.read() as session:
        refs = (await zone_lookup(session, [incident_id]))[incident_id]
    codes = {r.code for r in refs}
    assert expected <= codes
    assert not absent & codes
    assert refs[0].kind == "country"  # widest first


async def test_score_matches_hand_computation(db: Database, writer: Writer) -> None:
    await writer.report(MENAKA, days_ago=30)
    row = await stored(db, "town_menaka")
    # A 20 km town circle (~1,257 km²) is under the 10,000 km² reference: exposure factor 1.
    assert row.score == pytest.approx(one_incident_score(30), rel=1e-6)
    assert row.sub_scores["violence"] == pytest.approx(row.score, rel=1e-6)


async def test_decay_halves_the_score_after_a_half_life(
    db: Database, writer: Writer, risk: RiskService
) -> None:
    await writer.report(MENAKA, days_ago=0)
    first = (await stored(db, "town_menaka")).score
    await risk.recompute_all(now=NOW + timedelta(days=30))
    assert (await stored(db, "town_menaka")).score == pytest.approx(first / 2, rel=1e-6)


async def test_big_zone_is_normalised_by_the_square_root_of_its_area(
    db: Database, writer: Writer
) -> None:
    await writer.report(MENAKA, days_ago=10)
    town = (await stored(db, "town_menaka")).score
    country = await stored(db, "mli")
    async with db.read() as session:
        from incidents.zones.tables import ZoneRow

        area = (await session.get(ZoneRow, "mli")).area_km2  # type: ignore[union-attr]
    assert country.score == pytest.approx(town * math.sqrt(10_000 / area), rel=1e-6)


async def test_level_changes_are_recorded_with_their_cause(
    db: Database, writer: Writer, risk: RiskService
) -> None:
    ids = [await writer.report(MENAKA, days_ago=1, severity=5) for _ in range(4)]
    changes = [c for c in await risk.level_changes() if c.zone_id == "town_menaka"]
    assert changes, "reports that raise the level must be recorded"
    assert changes[0].from_level is None
    assert all(
        c.cause.startswith(f"incident {i} reported")
        for c, i in zip(changes, ids, strict=False)
        if c.cause.startswith("incident")
    )
    top = changes[-1].to_level
    assert top >= 3
    service = IncidentService(db, events=writer.events)
    from incidents.identity.accounts import Principal
    from incidents.records.model import Role

    officer = Principal(
        user_id=uuid.uuid4(),
        org_id=writer.org_id,
        role=Role.OFFICER,
        token_id=None,
        trusted_org_ids=frozenset(),
    )
    for incident_id in ids:
        await service.retract(officer, incident_id, now=NOW)
    last = [c for c in await risk.level_changes() if c.zone_id == "town_menaka"][-1]
    assert last.to_level == 1
    assert "retracted" in last.cause
    assert (await stored(db, "town_menaka")).score == 0


async def test_hysteresis_keeps_the_level_when_the_score_dips(
    db: Database, factory: Factory
) -> None:
    await ensure_default_zones(db, Settings(), now=NOW)
    s0 = one_incident_score(0)
    # Level 2 from 0.9 x the fresh score: decaying to 85 % stays at 2 (within 20 %), to 60 % drops.
    config = RiskConfig(
        half_lives_days=(30.0,),
        half_life_shares=(1.0,),
        window_days=365.0,
        spillover=0.0,
        thresholds=(0.9 * s0, 100 * s0, 200 * s0, 300 * s0),
        hysteresis=0.2,
    )
    risk = RiskService(db, config=config, cache=ZoneCache())
    await Writer(db, await factory.org(), risk).report(GAO, days_ago=0)
    assert (await stored(db, "town_gao")).level == 2
    await risk.recompute_all(now=NOW + timedelta(days=-30 * math.log2(0.85)))
    assert (await stored(db, "town_gao")).level == 2
    await risk.recompute_all(now=NOW + timedelta(days=-30 * math.log2(0.6)))
    assert (await stored(db, "town_gao")).level == 1
    causes = [c.cause for c in await risk.level_changes(zone_id="town_gao")]
    assert causes[-1] == "scheduled re-computation (decay)"


async def test_imported_zone_gets_existing_incidents(db: Database, writer: Writer) -> None:
    inside = await writer.report(GAO, days_ago=3)
    await writer.report(MENAKA, days_ago=3)
    result = await import_zones(db, [square_near_gao], [], now=NOW)
    assert (result.created, result.updated) == (1, 0)
    async with db.read() as session:
        linked = (
            await session.scalars(
                select(IncidentZoneRow.incident_id).where(IncidentZoneRow.zone_id == "gao_square")
            )
        ).all()
    assert list(linked) == [inside]
    again = await import_zones(db, [square_near_gao], [], now=NOW)
    assert (again.created, again.updated) == (0, 1)


async def test_history_walks_back_in_time(writer: Writer, risk: RiskService) -> None:
    await writer.report(MENAKA, days_ago=10)
    points = await risk.history(
        "town_menaka", start=NOW - timedelta(days=20), end=NOW, step=timedelta(days=5), now=NOW
    )
    assert [p.at for p in points] == [NOW - timedelta(days=d) for d in (20, 15, 10, 5, 0)]
    assert [p.score > 0 for p in points] == [False, False, True, True, True]
    assert points[-1].score == pytest.approx(one_incident_score(10), rel=1e-6)


async def test_another_process_writes_are_seen_at_once(
    db: Database, writer: Writer, risk: RiskService
) -> None:
    other = RiskService(db, config=SIMPLE, cache=ZoneCache())  # a second server process
    await other.recompute_all(now=NOW)  # loads its (empty) incidents into memory
    await writer.report(MENAKA, days_ago=0)
    await writer.report(MENAKA, days_ago=0)
    assert risk._store is not None
    assert other._store is not None
    async with db.read() as session:
        counter = await versions.read(session, versions.INCIDENTS)
    assert risk._store.seq == counter, "a process's own writes are applied without a query"
    assert other._store.seq < counter
    # Re-scoring from the other process's memory keeps both incidents, not its stale view:
    # its copy is caught up from the change log under the re-scoring lock.
    await other.recompute_all(now=NOW)
    assert other._store.seq == counter
    assert (await stored(db, "town_menaka")).score == pytest.approx(
        2 * one_incident_score(0), rel=1e-6
    )
    menaka = shapely.Point(MENAKA[1], MENAKA[0])
    seen = await other.assess(menaka, now=NOW, radius_km=20.0)
    assert seen.incident_count == 2


async def test_reports_only_mark_zones_until_flushed(
    db: Database, factory: Factory, risk: RiskService
) -> None:
    quiet = Writer(db, await factory.org(), risk)

    async def no_flush() -> list[Any]:
        return []

    quiet.risk = SimpleNamespace(flush=no_flush)  # type: ignore[assignment]
    await quiet.report(GAO, days_ago=0)
    async with db.read() as session:
        marked = set((await session.scalars(select(RiskPendingRow.zone_id))).all())
        assert "town_gao" in marked, "marked in the database, for whichever process flushes"
        assert await session.get(ZoneRiskRow, "town_gao") is None
    changes = await risk.flush()
    assert [c.zone_id for c in changes if c.zone_id == "town_gao"] == ["town_gao"]
    assert not await risk.pending()
    assert (await stored(db, "town_gao")).score == pytest.approx(one_incident_score(0), rel=1e-6)
    assert await risk.flush() == [], "claimed and deleted: nothing re-scored twice"
