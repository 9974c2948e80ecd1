"""IncidentStore on SQLite and PostgreSQL: round trips, versions, spatial prefilter, idempotency."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
import shapely
from pyproj import Geod
from sqlalchemy import select

from incidents.db import Database
from incidents.errors import InvalidField
from incidents.identity.accounts import create_organisation, create_user_with_token, resolve_token
from incidents.interop.importer import import_rows
from incidents.records.model import Impact, Incident, Role, Status
from incidents.records.schemas import IncidentIn
from incidents.records.store import (
    IncidentQuery,
    IncidentStore,
    claim_idempotency_key,
    complete_idempotency_key,
    decode_cursor,
    encode_cursor,
    release_idempotency_key,
)
from incidents.records.tables import ApiTokenRow, IncidentRow
from incidents.records.validation import incident_from_input
from tests.factories import GAO, KIDAL, MENAKA, Factory, incident_payload

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WGS84 = Geod(ellps="WGS84")


def new_incident(
    org_id: uuid.UUID, *, at: tuple[float, float] = GAO, days_ago: float = 1.0, **extra: object
) -> tuple[Incident, shapely.Geometry]:
    body = incident_payload(at=at, **extra)
    body["occurred_at"] = (NOW - timedelta(days=days_ago)).isoformat()
    data = msgspec.convert(body, IncidentIn, strict=False)
    return incident_from_input(data, org_id=org_id, user_id=None, now=NOW)


async def add(db: Database, incident: Incident, geom: shapely.Geometry) -> None:
    async with db.transaction() as session:
        await IncidentStore(session).add(incident, geom)


async def query(db: Database, q: IncidentQuery) -> tuple[list[IncidentRow], str | None]:
    async with db.read() as session:
        return await IncidentStore(session).query_rows(q)


async def test_an_incident_comes_back_as_it_went_in(db: Database, factory: Factory) -> None:
    org = await factory.org()
    incident, geom = new_incident(
        org,
        at=KIDAL,
        impact={"killed": 1, "missing": 2, "aid_workers_affected": True},
        description="Véhicule enlevé à l'entrée de Kidal",
        actor="inconnus",
        reliability="C",
    )
    await add(db, incident, geom)
    async with db.read() as session:
        back = await IncidentStore(session).get(incident.id)
    assert back == incident
    assert back.impact == Impact(killed=1, missing=2, aid_workers_affected=True)
    assert back.occurred_at.tzinfo is not None


async def test_replace_if_version_refuses_a_stale_version(db: Database, factory: Factory) -> None:
    org = await factory.org()
    incident, geom = new_incident(org)
    await add(db, incident, geom)
    from dataclasses import replace

    v2 = replace(incident, severity=5, version=2)
    async with db.transaction() as session:
        assert await IncidentStore(session).replace_if_version(v2, geom, expected_version=1)
    v2_again = replace(incident, severity=1, version=2)
    async with db.transaction() as session:
        assert not await IncidentStore(session).replace_if_version(
            v2_again, geom, expected_version=1
        )
    async with db.read() as session:
        stored = await IncidentStore(session).get(incident.id)
    assert stored is not None
    assert (stored.severity, stored.version) == (5, 2)


@pytest.mark.parametrize("radius_km", [20.0, 150.0, 500.0])
async def test_near_finds_points_just_inside_in_every_direction(
    db: Database, factory: Factory, radius_km: float
) -> None:
    org = await factory.org()
    inside, outside = set(), set()
    for azimuth in range(0, 360, 30):
        for km, bucket in ((radius_km * 0.99, inside), (radius_km * 1.01, outside)):
            lon, lat, _ = WGS84.fwd(MENAKA[1], MENAKA[0], azimuth, km * 1000)
            incident, geom = new_incident(org, at=(lat, lon))
            await add(db, incident, geom)
            bucket.add(incident.id)
    rows, _ = await query(db, IncidentQuery(near=MENAKA, radius_km=radius_km, limit=500))
    assert {r.id for r in rows} == inside


async def test_a_large_polygon_far_from_its_own_cell_is_found(
    db: Database, factory: Factory
) -> None:
    org = await factory.org()
    incident, _geom = new_incident(org)
    del incident  # replaced by a polygon spanning several grid cells
    body = incident_payload()
    del body["lat"], body["lon"]
    body["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[-2.0, 14.0], [2.0, 14.0], [2.0, 18.0], [-2.0, 18.0], [-2.0, 14.0]]],
    }
    body["occurred_at"] = NOW.isoformat()
    data = msgspec.convert(body, IncidentIn, strict=False)
    big, big_geom = incident_from_input(data, org_id=org, user_id=None, now=NOW)
    await add(db, big, big_geom)
    rows, _ = await query(db, IncidentQuery(near=(17.9, 1.9), radius_km=5, limit=10))
    assert [r.id for r in rows] == [big.id]
    rows, _ = await query(db, IncidentQuery(bbox=(1.5, 17.5, 1.6, 17.6), limit=10))
    assert [r.id for r in rows] == [big.id]


async def test_pages_under_an_exact_filter_lose_nothing(db: Database, factory: Factory) -> None:
    """More rejected prefilter candidates than one batch must not end the walk early."""
    org = await factory.org()
    rows_to_add = []
    wanted = set()
    # A thin diagonal bounding box: many points in the box around Gao but outside the radius.
    for n in range(450):
        lon, lat, _ = WGS84.fwd(GAO[1], GAO[0], 45, 45_000 + n * 10)  # 45-49.5 km: corner zone
        incident, geom = new_incident(org, at=(lat, lon), days_ago=1 + n / 1000)
        rows_to_add.append((incident, geom))
    for n in range(12):
        incident, geom = new_incident(org, at=GAO, days_ago=2 + n)
        rows_to_add.append((incident, geom))
        wanted.add(incident.id)
    async with db.transaction() as session:
        store = IncidentStore(session)
        for incident, geom in rows_to_add:
            await store.add(incident, geom)
    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        rows, cursor = await query(
            db, IncidentQuery(near=GAO, radius_km=40, limit=5, cursor=cursor)
        )
        seen += [r.id for r in rows]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert set(seen) == wanted


def test_cursor_round_trip_and_rejection() -> None:
    when, ident = NOW, uuid.uuid4()
    assert decode_cursor(encode_cursor((when, 1, ident))) == (when, 1, ident)
    assert decode_cursor(encode_cursor((when, 0, ident))) == (when, 0, ident)
    with pytest.raises(InvalidField) as info:
        decode_cursor("%%%")
    assert info.value.field == "cursor"


async def test_idempotency_key_lifecycle(db: Database, factory: Factory) -> None:
    org = await factory.org()
    async with db.transaction() as session:
        assert (await claim_idempotency_key(session, org, "k", "h1", now=NOW)).state == "new"
    async with db.transaction() as session:
        assert (await claim_idempotency_key(session, org, "k", "h1", now=NOW)).state == "pending"
    resource = uuid.uuid4()
    async with db.transaction() as session:
        await complete_idempotency_key(session, org, "k", resource, 201)
    async with db.transaction() as session:
        state = await claim_idempotency_key(session, org, "k", "h2", now=NOW)
    assert (state.state, state.request_hash, state.resource_id) == ("done", "h1", resource)
    async with db.transaction() as session:
        await release_idempotency_key(session, org, "k")  # only pending keys are released
        assert (await claim_idempotency_key(session, org, "k", "h1", now=NOW)).state == "done"


async def test_a_stale_pending_key_can_be_claimed_again(db: Database, factory: Factory) -> None:
    org = await factory.org()
    async with db.transaction() as session:
        await claim_idempotency_key(session, org, "crashed", "h", now=NOW - timedelta(minutes=5))
    async with db.transaction() as session:
        assert (await claim_idempotency_key(session, org, "crashed", "h", now=NOW)).state == "new"


async def test_a_key_claimed_with_its_report_is_free_at_once_when_that_transaction_dies(
    db: Database, factory: Factory
) -> None:
    org = await factory.org()
    first = uuid.uuid4()

    async def die_after_claiming() -> None:
        async with db.transaction() as session:
            state = await claim_idempotency_key(session, org, "k", "h", now=NOW, resource_id=first)
            assert state.state == "new"
            raise RuntimeError("the process died before the report was stored")

    with pytest.raises(RuntimeError):
        await die_after_claiming()
    retry = uuid.uuid4()
    async with db.transaction() as session:
        state = await claim_idempotency_key(session, org, "k", "h", now=NOW, resource_id=retry)
    assert state.state == "new", "no 409 for a minute: the claim went with its transaction"
    async with db.transaction() as session:
        state = await claim_idempotency_key(session, org, "k", "h", now=NOW, resource_id=first)
    assert (state.state, state.resource_id) == ("done", retry)
    # A pending key left by a two-step claim (an older version that crashed) is taken over.
    async with db.transaction() as session:
        await claim_idempotency_key(session, org, "old", "h", now=NOW)
    async with db.transaction() as session:
        state = await claim_idempotency_key(session, org, "old", "h", now=NOW, resource_id=retry)
    assert state.state == "new"


async def test_tokens_are_stored_hashed_only(db: Database) -> None:
    async with db.transaction() as session:
        org = await create_organisation(session, "Association Tassaght", now=NOW)
        _, token_id, token = await create_user_with_token(
            session, org, role=Role.REPORTER, now=NOW, name="focal point Gao"
        )
    assert token.startswith("stl_")
    async with db.read() as session:
        rows = (await session.execute(select(ApiTokenRow))).scalars().all()
        assert len(rows) == 1
        stored = " ".join(str(getattr(rows[0], c.key)) for c in ApiTokenRow.__table__.columns)
        assert token not in stored
        assert token[4:] not in stored
        assert rows[0].token_hash != token
        principal = await resolve_token(session, token)
    assert principal is not None
    assert principal.token_id == token_id


async def test_import_is_idempotent_and_reports_rejections(db: Database, factory: Factory) -> None:
    from incidents.records.demo import DemoRow

    org = await factory.org()
    good = incident_payload(at=GAO, external_id="acled:1")
    bad = incident_payload(at=GAO, severity=9)
    rows = [DemoRow(1, good), DemoRow(2, bad), DemoRow(3, incident_payload(at=KIDAL))]
    first = await import_rows(db, rows, org_id=org, user_id=None, now=datetime.now(UTC))
    assert (first.created, first.already_present) == (2, 0)
    assert [(n, f) for n, f, _ in first.rejected] == [(2, "severity")]
    second = await import_rows(db, rows, org_id=org, user_id=None, now=datetime.now(UTC))
    assert (second.created, second.already_present) == (0, 2)
    rows_back, _ = await query(db, IncidentQuery(limit=10))
    assert len(rows_back) == 2


async def test_retracted_rows_are_left_out_unless_asked(db: Database, factory: Factory) -> None:
    org = await factory.org()
    kept, kept_geom = new_incident(org)
    gone, gone_geom = new_incident(org, status="reported")
    await add(db, kept, kept_geom)
    from dataclasses import replace

    await add(db, replace(gone, status=Status.RETRACTED), gone_geom)
    rows, _ = await query(db, IncidentQuery())
    assert [r.id for r in rows] == [kept.id]
    rows, _ = await query(db, IncidentQuery(statuses=frozenset({"retracted"})))
    assert [r.id for r in rows] == [gone.id]


async def test_the_sql_full_view_twin_agrees_with_access(db: Database, factory: Factory) -> None:
    from incidents.identity.accounts import Principal
    from incidents.records.store import full_view_condition
    from incidents.sharing.rules import Access, Sharing, access
    from incidents.sharing.tables import IncidentNamedViewerRow

    mine, trusted, other = await factory.org(), await factory.org(), await factory.org()
    me = await factory.caller("reporter", org_id=mine)
    named = await factory.caller("reporter", org_id=other)
    rows: list[Incident] = []
    for org, user in (
        (mine, me.user_id),
        (mine, None),
        (trusted, None),
        (other, named.user_id),
        (other, None),
    ):
        for level in ("red", "amber_strict", "amber", "green", "clear"):
            incident, geom = new_incident(org, sharing_level=level)
            from dataclasses import replace

            incident = replace(incident, user_id=user)
            await add(db, incident, geom)
            rows.append(incident)
    async with db.transaction() as session:
        session.add(
            IncidentNamedViewerRow(incident_id=rows[15].id, user_id=me.user_id, added_at=NOW)
        )
    viewers = [None] + [
        Principal(user_id=me.user_id, org_id=mine, role=role, trusted_org_ids=frozenset(t))
        for role in (Role.REPORTER, Role.OFFICER, Role.OPERATOR)
        for t in ((), {trusted})
    ]
    for viewer in viewers:
        async with db.read() as session:
            full = set(
                (
                    await session.scalars(select(IncidentRow.id).where(full_view_condition(viewer)))
                ).all()
            )
        for incident in rows:
            named_ids = frozenset({me.user_id}) if incident.id == rows[15].id else frozenset()
            expected = (
                access(
                    viewer,
                    Sharing(
                        level=incident.sharing_level,
                        org_id=incident.org_id,
                        user_id=incident.user_id,
                        named_user_ids=named_ids,
                    ),
                )
                == Access.FULL
            )
            assert (incident.id in full) == expected, (viewer, incident.sharing_level)


@pytest.mark.parametrize("unit", ["day", "week"])
async def test_pages_with_masked_entries_of_every_precision_skip_and_repeat_nothing(
    db: Database, factory: Factory, unit: str
) -> None:
    from incidents.identity.accounts import Principal
    from incidents.records.model import TimePrecision
    from incidents.records.store import Masking
    from incidents.sharing.rules import MaskRules, TimeUnit, coarsen_time

    owner, viewer_org = await factory.org(), await factory.org()
    viewer = Principal(user_id=uuid.uuid4(), org_id=viewer_org, role=Role.REPORTER)
    made = set()
    for n in range(30):
        precision = ("exact", "day", "week", "month")[n % 4]
        level = "red" if n % 3 else "green"
        incident, geom = new_incident(
            owner, days_ago=n * 1.7 + 0.3, time_precision=precision, sharing_level=level
        )
        await add(db, incident, geom)
        made.add(incident.id)
    masking = Masking(viewer, MaskRules(time_unit=TimeUnit(unit)))
    async with db.read() as session:
        whole, _ = await IncidentStore(session).query_rows(IncidentQuery(limit=500), masking)
    assert {r.id for r in whole} == made
    for limit in (1, 4, 7):
        seen: list[uuid.UUID] = []
        cursor = None
        while True:
            async with db.read() as session:
                rows, cursor = await IncidentStore(session).query_rows(
                    IncidentQuery(limit=limit, cursor=cursor), masking
                )
            seen += [r.id for r in rows]
            if cursor is None:
                break
        assert seen == [r.id for r in whole], limit
    since = NOW - timedelta(days=20, hours=5)
    async with db.read() as session:
        recent, _ = await IncidentStore(session).query_rows(
            IncidentQuery(limit=500, since=since), masking
        )
    expected = set()
    for row in whole:
        shown = row.occurred_at
        if row.sharing_level == "red":  # masked for this viewer: its coarse start counts
            shown = coarsen_time(
                row.occurred_at, TimePrecision(row.time_precision), TimeUnit(unit)
            )[0]
        if shown >= since:
            expected.add(row.id)
    assert {r.id for r in recent} == expected
