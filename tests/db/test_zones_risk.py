"""Zone assignment and risk in the service, on SQLite and PostgreSQL, with hand-computed scores."""

from __future__ import annotations

import math
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
import shapely
from sqlalchemy import delete, select

from api.settings import Settings
from geo.zones import Zone
from incidents.db import Database
from incidents.records.events import WriteEvents
from incidents.records.schemas import IncidentIn
from incidents.records.service import IncidentService
from incidents.records.store import IncidentStore, row_values
from incidents.records.validation import incident_from_input
from incidents.risk import versions
from incidents.risk.model import WEIGHTED_THRESHOLDS, RiskConfig, weighted_level_config
from incidents.risk.service import RiskObserver, RiskService
from incidents.taxonomy.catalogue import TYPES
from incidents.zones.store import (
    ZoneAssignment,
    ZoneCache,
    ensure_default_zones,
    import_zones,
    zone_lookup,
)
from incidents.zones.tables import (
    ChangeCounterRow,
    IncidentZoneRow,
    RiskPendingRow,
    ZoneLevelChangeRow,
    ZoneRiskRow,
)
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
    """armed_attack, severity 4, reliability B, credibility 2, reported: by hand.

    The level is cut from the expected incidents in the next 30 days (level basis "forecast"):
    confidence x decay x 30 / kernel mass, whatever the type; a serious incident (severity 4)
    less than 30 days old keeps it at the level-2 threshold at least.
    """
    confidence = 0.9 * 0.9 * 1.0  # B x credibility 2 x reported
    decay = 0.5 ** (days_ago / 30.0)
    h = 30.0
    kernel_mass = h / math.log(2) * (1 - 2 ** (-365.0 / h))
    expected = confidence * decay * 30.0 / kernel_mass
    return max(expected, config.thresholds[0]) if days_ago < 30 else expected


def one_incident_weighted_score(days_ago: float) -> float:
    """The same incident's weighted score (type x severity x confidence), before exposure."""
    weight = TYPES["armed_attack"].risk_weight
    severity = 1.5  # severity 4
    return weight * severity * one_incident_score(days_ago, replace(SIMPLE, serious_floor_days=0))


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
    assert row.score == pytest.approx(one_incident_score(30), rel=1e-6)
    assert row.sub_scores["violence"] == pytest.approx(row.score, rel=1e-6)


async def test_decay_halves_the_score_after_a_half_life(
    db: Database, writer: Writer, risk: RiskService
) -> None:
    await writer.report(MENAKA, days_ago=0)
    first = (await stored(db, "town_menaka")).score
    await risk.recompute_all(now=NOW + timedelta(days=30))
    assert (await stored(db, "town_menaka")).score == pytest.approx(first / 2, rel=1e-6)


async def test_big_zone_is_not_scaled_down_by_its_area(db: Database, writer: Writer) -> None:
    # The level is the expected number of incidents: the country expects the town's incident
    # (exposure is a side figure now, docs/risk.md).
    await writer.report(MENAKA, days_ago=10)
    town = (await stored(db, "town_menaka")).score
    country = await stored(db, "mli")
    assert town == pytest.approx(one_incident_score(10), rel=1e-6)
    assert country.score == pytest.approx(town, rel=1e-6)


async def test_big_zone_weighted_score_is_normalised_by_the_square_root_of_its_area(
    db: Database, factory: Factory
) -> None:
    await ensure_default_zones(db, Settings(), now=NOW)
    weighted = replace(SIMPLE, level_basis="weighted", thresholds=WEIGHTED_THRESHOLDS)
    risk = RiskService(db, config=weighted, cache=ZoneCache())
    await Writer(db, await factory.org(), risk).report(MENAKA, days_ago=10)
    town = (await stored(db, "town_menaka")).score
    country = await stored(db, "mli")
    async with db.read() as session:
        from incidents.zones.tables import ZoneRow

        area = (await session.get(ZoneRow, "mli")).area_km2  # type: ignore[union-attr]
    # A 20 km town circle (~1,257 km²) is under the 10,000 km² reference: exposure factor 1.
    assert town == pytest.approx(one_incident_weighted_score(10), rel=1e-6)
    assert country.score == pytest.approx(town * math.sqrt(10_000 / area), rel=1e-6)


async def test_level_changes_are_recorded_with_their_cause(
    db: Database, writer: Writer, risk: RiskService
) -> None:
    ids = [await writer.report(MENAKA, days_ago=1, severity=5) for _ in range(4)]
    changes = [c for c in await risk.level_changes() if c.zone_id == "town_menaka"]
    assert changes, "reports that raise the level must be recorded"
    assert changes[0].from_level is None
    # 0.55 expected incidents per report (thresholds 0.25, 1, 2, 4): levels 2, 3, 3, 4; each
    # change names the report that caused it (the third changed nothing).
    assert [c.to_level for c in changes] == [2, 3, 4]
    assert [c.cause for c in changes] == [f"incident {ids[i]} reported" for i in (0, 1, 3)]
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
    # Severity 3: not serious, so the 30-day level-2 floor after a serious incident stays out.
    await Writer(db, await factory.org(), risk).report(GAO, days_ago=0, severity=3)
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


class Hook:
    """Records the level changes handed to the alert writers (what would alert subscribers)."""

    def __init__(self) -> None:
        self.calls: list[list[Any]] = []

    async def __call__(self, session: Any, changes: list[Any]) -> None:
        self.calls.append(changes)


async def _model_changes(db: Database) -> list[ZoneLevelChangeRow]:
    async with db.read() as session:
        rows = await session.scalars(
            select(ZoneLevelChangeRow).where(
                ZoneLevelChangeRow.cause == versions.MODEL_CHANGE_CAUSE
            )
        )
        return list(rows.all())


@pytest.mark.parametrize(
    "recorded", [True, False], ids=["meaning-recorded", "from-before-it-was-kept"]
)
async def test_an_upgrade_that_changes_what_levels_mean_rebaselines_once_without_alerts(
    db: Database, factory: Factory, recorded: bool
) -> None:
    await ensure_default_zones(db, Settings(), now=NOW)
    org = await factory.org()
    # Before the upgrade, levels were cut from the weighted score: three severity-5 attacks in
    # Gao two days ago weigh 8.0 (level 4 in town); the whole country, scaled down by its
    # area, 0.72 (level 2).
    old = RiskService(db, config=weighted_level_config(SIMPLE), cache=ZoneCache())
    for _ in range(3):
        await Writer(db, org, old).report(GAO, days_ago=2, severity=5)
    assert (await stored(db, "town_gao")).level == 4
    assert (await stored(db, "mli")).level == 2
    if not recorded:  # a database written before the meaning of its levels was kept
        async with db.transaction() as session:
            await session.execute(
                delete(ChangeCounterRow).where(ChangeCounterRow.name == versions.LEVEL_MEANING)
            )

    hook = Hook()
    new = RiskService(db, config=SIMPLE, cache=ZoneCache(), level_change_hooks=[hook])
    assert await new.rebaseline(now=NOW)
    # Now cut from the expected incidents: 3 x 0.54 = 1.61 in the town and in the country alike
    # (level 3). Every zone is re-scored; the moves are one model change, alerting no one.
    gao, country = await stored(db, "town_gao"), await stored(db, "mli")
    assert gao.score == pytest.approx(3 * one_incident_score(2), rel=1e-6)
    assert (gao.level, country.level) == (3, 3)
    assert hook.calls == []
    moves = {(r.zone_id, r.from_level, r.to_level) for r in await _model_changes(db)}
    assert {("town_gao", 4, 3), ("mli", 2, 3)} <= moves
    assert all(r.alerted_at is not None for r in await _model_changes(db)), (
        "a dispatcher's safety net must not pick them up either"
    )
    assert "town_menaka" not in {z for z, _, _ in moves}, "zones whose level stays are not listed"

    assert not await new.rebaseline(now=NOW), "once: the new meaning is recorded"
    # After the re-baseline, a report that raises the level alerts as ever (2.14: level 4).
    incident = await Writer(db, org, new).report(GAO, days_ago=1, severity=5)
    alerted = [c for cs in hook.calls for c in cs if c.zone_id == "town_gao"]
    assert [(c.from_level, c.to_level, c.cause) for c in alerted] == [
        (3, 4, f"incident {incident} reported")
    ]


async def test_the_first_levels_of_a_new_database_alert_as_zone_changes(
    db: Database, factory: Factory
) -> None:
    await ensure_default_zones(db, Settings(), now=NOW)
    hook = Hook()
    risk = RiskService(db, config=SIMPLE, cache=ZoneCache(), level_change_hooks=[hook])
    await risk.rebaseline(now=NOW)  # as at start: nothing stored, so nothing to re-baseline
    incident = await Writer(db, await factory.org(), risk).report(GAO, days_ago=1, severity=5)
    alerted = [c for cs in hook.calls for c in cs if c.zone_id == "town_gao"]
    assert [(c.from_level, c.to_level, c.cause) for c in alerted] == [
        (1, 2, f"incident {incident} reported")
    ]
    assert await _model_changes(db) == []
