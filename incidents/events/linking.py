"""Event links in the database: the write step that links a report to its event, and what a
viewer may see of an event (`corroboration`). The rule itself is incidents.events.matching."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from incidents.events.matching import (
    CORROBORATED_CREDIBILITY,
    LinkRules,
    Report,
    canonical_for,
    corroborates,
    independent_sources,
    same_audience,
)
from incidents.records.events import IncidentWritten
from incidents.records.model import Incident, SharingLevel, Status
from incidents.records.store import full_view_condition
from incidents.records.tables import IncidentRow
from incidents.sharing.rules import Access, Member, Sharing, access
from incidents.sharing.tables import IncidentNamedViewerRow
from incidents.taxonomy.catalogue import category_of, types_in

__all__ = [
    "EventLinks",
    "corroboration",
    "event_reports",
    "event_sources",
    "promote_after",
    "report_rows",
    "risk_credibility",
    "sources_seen",
]

CHUNK = 500
KM_PER_DEG = 111.2

_COLUMNS = (
    IncidentRow.id,
    IncidentRow.type,
    IncidentRow.occurred_at,
    IncidentRow.lon,
    IncidentRow.lat,
    IncidentRow.org_id,
    IncidentRow.user_id,
    IncidentRow.sharing_level,
    IncidentRow.external_id,
    IncidentRow.event_id,
    IncidentRow.created_at,
)


def _category(type_code: str) -> str:
    try:
        return category_of(type_code).code
    except Exception:  # an unknown type (old data): its own category, never linked by nearness
        return f"?{type_code}"


def _report(row: Any, named: frozenset[uuid.UUID] = frozenset()) -> Report:
    return Report(
        id=row.id,
        category=_category(row.type),
        occurred_at=row.occurred_at,
        lon=float(row.lon),
        lat=float(row.lat),
        org_id=row.org_id,
        user_id=row.user_id,
        sharing_level=str(row.sharing_level),
        external_id=row.external_id,
        event_id=row.event_id,
        created_at=row.created_at,
        named=named,
    )


def _corroborating(member: Any, head: Any) -> ColumnElement[bool]:
    """SQL twin of matching.corroborates for a live report `member` of `head`'s event."""
    return and_(
        member.event_id == head.id,
        member.status != Status.RETRACTED.value,
        member.org_id != head.org_id,
        or_(
            member.external_id.is_(None),
            head.external_id.is_(None),
            member.external_id != head.external_id,
        ),
    )


def risk_credibility() -> ColumnElement[int]:
    """The credibility risk counts an incident with (incidents.risk.service.risk_columns): 1,
    "confirmed by other sources", for the canonical report of an event another organisation
    reported on its own (matching.corroborates), else its own. One uncorrelated subquery over
    the linked reports (few, indexed by event_id), not one look-up per row."""
    member, head = aliased(IncidentRow), aliased(IncidentRow)
    confirmed = (
        select(member.event_id)
        .join(head, head.id == member.event_id)
        .where(member.event_id.is_not(None), _corroborating(member, head))
    )
    return case(
        (IncidentRow.id.in_(confirmed), CORROBORATED_CREDIBILITY), else_=IncidentRow.credibility
    )


async def _has_corroboration(session: AsyncSession, canonical_id: uuid.UUID) -> bool:
    member, head = aliased(IncidentRow), aliased(IncidentRow)
    found = await session.scalar(
        select(exists().where(head.id == canonical_id, _corroborating(member, head)))
    )
    return bool(found)


def _live() -> list[Any]:
    """Reports that may be linked to: not retracted, not demo incidents."""
    return [IncidentRow.status != Status.RETRACTED.value, IncidentRow.is_demo.is_(False)]


async def _named(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    out: dict[uuid.UUID, set[uuid.UUID]] = {}
    wanted = sorted(set(ids))
    for k in range(0, len(wanted), CHUNK):
        rows = await session.execute(
            select(IncidentNamedViewerRow.incident_id, IncidentNamedViewerRow.user_id).where(
                IncidentNamedViewerRow.incident_id.in_(wanted[k : k + CHUNK])
            )
        )
        for incident_id, user_id in rows.all():
            out.setdefault(incident_id, set()).add(user_id)
    return out


async def report_rows(session: AsyncSession, conditions: Sequence[Any]) -> list[Report]:
    """The reports matching `conditions`, with the people named on red ones."""
    rows = (await session.execute(select(*_COLUMNS).where(*conditions))).all()
    red = [r.id for r in rows if r.sharing_level == "red"]
    named = await _named(session, red) if red else {}
    return [_report(r, frozenset(named.get(r.id, ()))) for r in rows]


async def _candidates(
    session: AsyncSession, new: Sequence[Report], rules: LinkRules
) -> list[Report]:
    """Reports that may be of the same event as one of `new`: the same external id (any
    organisation), or (nearness on) the same categories in the time and place window."""
    found: dict[uuid.UUID, Report] = {}
    externals = sorted({r.external_id for r in new if r.external_id})
    for k in range(0, len(externals), CHUNK):
        chunk = externals[k : k + CHUNK]
        for r in await report_rows(session, [IncidentRow.external_id.in_(chunk), *_live()]):
            found[r.id] = r
    if rules.enabled and new:
        window = rules.window
        lat_pad = rules.near_km / KM_PER_DEG
        top = max(abs(r.lat) for r in new) + lat_pad
        lon_pad = rules.near_km / (KM_PER_DEG * max(0.05, math.cos(math.radians(min(top, 89.0)))))
        types = sorted({t.code for c in {r.category for r in new} for t in _types_of(c)})
        if types:
            for r in await report_rows(
                session,
                [
                    IncidentRow.type.in_(types),
                    IncidentRow.occurred_at >= min(r.occurred_at for r in new) - window,
                    IncidentRow.occurred_at <= max(r.occurred_at for r in new) + window,
                    IncidentRow.lon >= min(r.lon for r in new) - lon_pad,
                    IncidentRow.lon <= max(r.lon for r in new) + lon_pad,
                    IncidentRow.lat >= min(r.lat for r in new) - lat_pad,
                    IncidentRow.lat <= max(r.lat for r in new) + lat_pad,
                    *_live(),
                ],
            ):
                found[r.id] = r
    return list(found.values())


def _types_of(category: str) -> tuple[Any, ...]:
    try:
        return types_in(category)
    except Exception:
        return ()


def _bucket(report: Report, rules: LinkRules) -> tuple[str, int]:
    hours = report.occurred_at.timestamp() / 3600.0
    return report.category, math.floor(hours / max(rules.near_hours, 1e-9))


async def promote_after(session: AsyncSession, canonical_id: uuid.UUID) -> list[uuid.UUID]:
    """The canonical report of an event leaves it (retracted, split off): the earliest of its
    other reports becomes the canonical one, the rest point at it. Returns the ids moved."""
    rows = (
        await session.execute(
            select(IncidentRow.id, IncidentRow.status)
            .where(IncidentRow.event_id == canonical_id)
            .order_by(IncidentRow.created_at, IncidentRow.id)
        )
    ).all()
    if not rows:
        return []
    live = [r.id for r in rows if r.status != Status.RETRACTED.value]
    head = live[0] if live else rows[0].id
    ids = [r.id for r in rows]
    await session.execute(update(IncidentRow).where(IncidentRow.id == head).values(event_id=None))
    rest = [i for i in ids if i != head]
    for k in range(0, len(rest), CHUNK):
        await session.execute(
            update(IncidentRow)
            .where(IncidentRow.id.in_(rest[k : k + CHUNK]))
            .values(event_id=head)
            .execution_options(synchronize_session=False)
        )
    return ids


async def unlink_unalike(
    session: AsyncSession, incident_id: uuid.UUID, event_id: uuid.UUID | None
) -> tuple[uuid.UUID | None, list[uuid.UUID]]:
    """After a sharing change: the reports of the event no longer shared with the same
    readers as its canonical report are unlinked (each counts on its own again), so that no
    reader sees a report it cannot read add nothing to the risk. Returns the incident's event
    now and the other reports unlinked."""
    if event_id is not None:
        pair = await report_rows(session, [IncidentRow.id.in_([incident_id, event_id])])
        me = next((r for r in pair if r.id == incident_id), None)
        head = next((r for r in pair if r.id == event_id), None)
        if me is None or head is None or same_audience(me, head):
            return event_id, []
        await _set_events(session, {incident_id: None})
        return None, []
    found = await report_rows(session, [IncidentRow.id == incident_id])
    if not found:
        return None, []
    me = found[0]
    members = await report_rows(session, [IncidentRow.event_id == incident_id])
    unalike = [m.id for m in members if not same_audience(m, me)]
    await _set_events(session, dict.fromkeys(unalike))
    return None, unalike


async def _set_events(session: AsyncSession, links: dict[uuid.UUID, uuid.UUID | None]) -> None:
    if not links:
        return
    table = IncidentRow.__table__
    stmt = (
        update(table)  # type: ignore[arg-type]
        .where(table.c.id == bindparam("b_id"))
        .values(event_id=bindparam("b_event"))
    )
    await session.execute(
        stmt,
        [{"b_id": i, "b_event": e} for i, e in links.items()],
        execution_options={"synchronize_session": False},
    )


@dataclass
class EventLinks:
    """Write step (incidents.records.events.EventLinker): a new report of an event already
    known points at its canonical report; a changed one keeps its link; a canonical report
    retracted hands its event on to the next report of it."""

    rules: LinkRules = field(default_factory=LinkRules)

    async def link(self, session: AsyncSession, event: IncidentWritten) -> IncidentWritten:
        if event.previous is None:
            return (await self.link_new(session, [event]))[0]
        incident = event.incident
        row = (
            await session.execute(
                select(IncidentRow.event_id, IncidentRow.is_demo).where(
                    IncidentRow.id == incident.id
                )
            )
        ).one_or_none()
        event_id, is_demo = (row[0], bool(row[1])) if row is not None else (None, False)
        relinked = event.relinked
        retracted_now = (
            incident.status == Status.RETRACTED and event.previous.status != Status.RETRACTED
        )
        before = event_id
        if retracted_now and event_id is None:
            relinked = (*relinked, *await promote_after(session, incident.id))
        elif incident.sharing_level != event.previous.sharing_level:
            event_id, moved = await unlink_unalike(session, incident.id, event_id)
            relinked = (*relinked, *moved)
        # The event's credibility in risk (risk_credibility) may change: a confirming report
        # retracted or unlinked, or a confirmed canonical report rewritten with its own
        # credibility. Those rows are re-read from the database.
        if before is not None and (retracted_now or event_id is None):
            relinked = (*relinked, before)
        elif (
            before is None and not retracted_now and await _has_corroboration(session, incident.id)
        ):
            relinked = (*relinked, incident.id)
        return replace(event, duplicate_of=event_id, is_demo=is_demo, relinked=relinked)

    async def link_new(
        self, session: AsyncSession, events: Sequence[IncidentWritten]
    ) -> list[IncidentWritten]:
        if not events:
            return []
        ids = [e.incident.id for e in events]
        demo: set[uuid.UUID] = set()
        for k in range(0, len(ids), CHUNK):
            demo |= set(
                (
                    await session.scalars(
                        select(IncidentRow.id).where(
                            IncidentRow.id.in_(ids[k : k + CHUNK]), IncidentRow.is_demo.is_(True)
                        )
                    )
                ).all()
            )
        new = [
            _new_report(e.incident)
            for e in events
            if e.incident.id not in demo and e.incident.status != Status.RETRACTED
        ]
        links: dict[uuid.UUID, uuid.UUID] = {}
        confirmed: set[uuid.UUID] = set()
        if new:
            candidates = await _candidates(session, new, self.rules)
            known = {r.id for r in candidates}
            missing = sorted({r.event_id for r in candidates if r.event_id} - known)
            canonicals = {
                r.id: r
                for k in range(0, len(missing), CHUNK)
                for r in await report_rows(session, [IncidentRow.id.in_(missing[k : k + CHUNK])])
            }
            links = self._links(new, candidates, canonicals)
            heads = {**{r.id: r for r in candidates}, **canonicals, **{r.id: r for r in new}}
            # A report that confirms its event (another organisation's, not a copy of the
            # same record) raises the event's credibility: its canonical row is re-read.
            confirmed = {
                links[r.id]
                for r in new
                if r.id in links and links[r.id] in heads and corroborates(r, heads[links[r.id]])
            }
        await _set_events(session, dict(links))
        return [
            replace(
                e,
                duplicate_of=links.get(e.incident.id),
                is_demo=e.incident.id in demo,
                relinked=(
                    (*e.relinked, links[e.incident.id])
                    if links.get(e.incident.id) in confirmed
                    else e.relinked
                ),
            )
            for e in events
        ]

    def _links(
        self,
        new: Sequence[Report],
        candidates: Sequence[Report],
        canonicals: dict[uuid.UUID, Report],
    ) -> dict[uuid.UUID, uuid.UUID]:
        """For each new report, the canonical report it joins; reports of the same batch may
        join earlier ones of it (in batch order), never later ones."""
        order = {r.id: k for k, r in enumerate(new)}
        by_external: dict[str, list[Report]] = {}
        by_bucket: dict[tuple[str, int], list[Report]] = {}
        for r in candidates:
            if r.external_id:
                by_external.setdefault(r.external_id, []).append(r)
            by_bucket.setdefault(_bucket(r, self.rules), []).append(r)
        heads = {**{r.id: r for r in candidates}, **canonicals}
        links: dict[uuid.UUID, uuid.UUID] = {}
        for k, report in enumerate(new):
            category, b = _bucket(report, self.rules)
            pool = list(by_external.get(report.external_id or "", ()))
            if self.rules.enabled:
                for step in (-1, 0, 1):
                    pool += by_bucket.get((category, b + step), ())
            # Reports already stored, and earlier ones of the batch as the event they joined.
            pool = [
                replace(o, event_id=links.get(o.id, o.event_id))
                for o in {o.id: o for o in pool}.values()
                if order.get(o.id, -1) < k
            ]
            canonical = canonical_for(report, pool, self.rules, heads)
            if canonical is not None:
                links[report.id] = canonical
        return links


def _new_report(incident: Incident) -> Report:
    from incidents.sharing.rules import representative_point

    lon, lat = representative_point(incident.geometry)
    return Report(
        id=incident.id,
        category=_category(incident.type),
        occurred_at=incident.occurred_at,
        lon=float(lon),
        lat=float(lat),
        org_id=incident.org_id,
        user_id=incident.user_id,
        sharing_level=incident.sharing_level.value,
        external_id=incident.external_id,
        created_at=incident.created_at,
    )


async def event_reports(
    session: AsyncSession, event_ids: Iterable[uuid.UUID], viewer: Member | bool | None
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Per event (its canonical id), the reports of it that are not retracted and that
    `viewer` may read in full (True: every report, for officers' own checks), earliest first."""
    wanted = sorted(set(event_ids))
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    for k in range(0, len(wanted), CHUNK):
        chunk = wanted[k : k + CHUNK]
        conditions: list[Any] = [
            or_(IncidentRow.id.in_(chunk), IncidentRow.event_id.in_(chunk)),
            IncidentRow.status != Status.RETRACTED.value,
        ]
        if viewer is not True:
            conditions.append(full_view_condition(viewer if viewer is not False else None))
        rows = await session.execute(
            select(IncidentRow.id, IncidentRow.event_id, IncidentRow.created_at)
            .where(*conditions)
            .order_by(IncidentRow.created_at, IncidentRow.id)
        )
        for incident_id, event_id, _ in rows.all():
            out.setdefault(event_id or incident_id, []).append(incident_id)
    return out


async def corroboration(
    session: AsyncSession, viewer: Member | None, rows: Sequence[IncidentRow]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Per row, the reports of its event `viewer` may read in full (itself included when not
    retracted). Reports it may not read in full are neither counted nor named, so the count
    tells nothing a masked entry does not."""
    events = {r.id: r.event_id or r.id for r in rows}
    visible = await event_reports(session, events.values(), viewer)
    return {rid: visible.get(e, []) for rid, e in events.items()}


async def event_sources(
    session: AsyncSession, event_ids: Iterable[uuid.UUID], viewer: Member | bool | None
) -> dict[uuid.UUID, int]:
    """Per event (its canonical id), how many independent sources tell it among the reports
    `viewer` may read in full (matching.independent_sources); an event whose canonical report
    it may not read in full is left out (nothing is said of it)."""
    seen = await event_reports(session, event_ids, viewer)
    ids = sorted({i for reports in seen.values() for i in reports})
    rows = {
        r.id: r
        for k in range(0, len(ids), CHUNK)
        for r in await report_rows(session, [IncidentRow.id.in_(ids[k : k + CHUNK])])
    }
    out: dict[uuid.UUID, int] = {}
    for event, reports in seen.items():
        head = rows.get(event)
        if head is not None:
            out[event] = independent_sources(head, [rows[i] for i in reports if i in rows])
    return out


def _sharing(report: Report) -> Sharing:
    return Sharing(SharingLevel(report.sharing_level), report.org_id, report.user_id, report.named)


async def sources_seen(
    session: AsyncSession, incident_id: uuid.UUID, viewers: Sequence[Member]
) -> list[int]:
    """Per viewer, what `event_sources` says of the event `incident_id` belongs to: the
    independent sources among the reports of it that viewer may read in full (1 when it may
    not read the canonical one). One read of the event's reports for every viewer (the
    alerts of one write), each viewer's share decided by the TLP rules themselves (access)."""
    if not viewers:
        return []
    event = await session.scalar(select(IncidentRow.event_id).where(IncidentRow.id == incident_id))
    event = event or incident_id
    reports = await report_rows(
        session,
        [
            or_(IncidentRow.id == event, IncidentRow.event_id == event),
            IncidentRow.status != Status.RETRACTED.value,
        ],
    )
    head = next((r for r in reports if r.id == event), None)
    if head is None or len(reports) < 2:
        return [1] * len(viewers)
    sharing = {r.id: _sharing(r) for r in reports}
    out: dict[tuple[Any, ...], int] = {}
    answers = []
    for viewer in viewers:
        key = (viewer.user_id, viewer.org_id, viewer.is_officer, viewer.trusted_org_ids)
        if key not in out:
            seen = [r for r in reports if access(viewer, sharing[r.id]) == Access.FULL]
            out[key] = independent_sources(head, seen) if head in seen else 1
        answers.append(out[key])
    return answers
