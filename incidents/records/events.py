"""Write events: what the incident service tells the rest, in the transaction of each write.

Every write of an incident (report, change, retraction, intake, import, update from a source)
produces one frozen `IncidentWritten`; a bulk import produces one `IncidentsImported` per batch.
`WriteEvents` hands them, inside the writing transaction, to handlers in the order the
composition root (api/bootstrap.py) declares:

1. the guards, which may refuse the write (raise) before anything acts on it; they see the
   event before placement (`zones` is None);
2. the event links (incidents.events), which tell whether the report is a further report of
   an event already known (`duplicate_of`) and whether it is a demo incident;
3. the zone placement, which stores the zones the incident falls in and returns them;
4. the handlers (risk, alert outbox...), which get the event with those zones and links.

Handlers never talk to each other (no `session.info` between them): what one needs from an
earlier step is in the event.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import shapely
from sqlalchemy.ext.asyncio import AsyncSession

from incidents.identity.accounts import Principal
from incidents.records.model import Incident
from incidents.records.schemas import ZoneRef
from incidents.records.validation import as_utc

__all__ = [
    "NO_EVENTS",
    "EventLinker",
    "IncidentWritten",
    "IncidentsImported",
    "Placement",
    "WriteEvents",
    "WriteHandler",
    "ZonePlacer",
    "link_new_nearby",
    "nearby_groups",
]


@dataclass(frozen=True, slots=True)
class Placement:
    """The zones an incident was just placed in, at one zones version."""

    version: tuple[Any, ...]
    zone_ids: tuple[str, ...]
    # Widest first (country, regions, belts, towns).
    refs: tuple[ZoneRef, ...]
    # The owning organisation of each zone (32 hex digits, "" for platform zones).
    owners: Mapping[str, str] = field(default_factory=dict)
    # The zones it was in before this write (a changed incident), which it may have left.
    left: tuple[str, ...] = ()

    def refs_for(self, org_id: uuid.UUID | None, *, all_zones: bool = False) -> list[ZoneRef]:
        """The zones `org_id` knows of: platform zones and its own custom zones (every zone
        with `all_zones`), as `incidents.zones.store.zone_lookup` gives them."""
        mine = "" if org_id is None else org_id.hex
        return [r for r in self.refs if all_zones or self.owners.get(r.id, "") in ("", mine)]


@dataclass(frozen=True, slots=True)
class IncidentWritten:
    """One write of an incident, in the transaction that writes it."""

    incident: Incident
    previous: Incident | None  # None: a new incident
    geometry: shapely.Geometry
    # The zones the placement step found; None before it (guards) or when no zones are wired.
    zones: Placement | None
    actor: Principal | None  # None: a system or command-line write
    at: datetime
    # Set by the event links step: the canonical report of the event this one is a further
    # report of (it counts once, through that one: risk and alerts skip it), None when it is
    # its own event; whether it is a demo incident (incidents.is_demo).
    duplicate_of: uuid.UUID | None = None
    is_demo: bool = False
    # Other incidents whose event changed with this write (a canonical report retracted, a
    # merge or split): risk counts them afresh.
    relinked: tuple[uuid.UUID, ...] = ()
    # Nothing of the incident changed but which event it belongs to (merge, split): no alert,
    # no audit of a change (the merge or split is audited itself).
    links_only: bool = False


@dataclass(frozen=True, slots=True)
class IncidentsImported:
    """A batch of new incidents written by a bulk import, in one transaction."""

    written: tuple[IncidentWritten, ...]
    actor: Principal | None
    at: datetime


class WriteHandler(Protocol):
    """Runs inside the writing transaction; raising rolls the write back."""

    async def written(self, session: AsyncSession, event: IncidentWritten) -> None: ...

    async def imported(self, session: AsyncSession, event: IncidentsImported) -> None:
        """A batch; handlers with no cheaper batch form handle each write in turn."""
        ...


class EventLinker(Protocol):
    """Links each written report to the event it tells of (incidents.events.linking)."""

    async def link(self, session: AsyncSession, event: IncidentWritten) -> IncidentWritten: ...

    async def link_new(
        self, session: AsyncSession, events: Sequence[IncidentWritten]
    ) -> list[IncidentWritten]: ...


class ZonePlacer(Protocol):
    """Stores the zones each written incident falls in and returns them."""

    async def place(
        self,
        session: AsyncSession,
        incident: Incident,
        geometry: shapely.Geometry,
        previous: Incident | None,
    ) -> Placement: ...

    async def place_new(
        self, session: AsyncSession, written: Sequence[tuple[Incident, shapely.Geometry]]
    ) -> list[Placement]: ...


Named = tuple[str, WriteHandler]


@dataclass(frozen=True)
class WriteEvents:
    """The handlers of incident writes, by name, in their declared order (see module doc)."""

    guards: tuple[Named, ...] = ()
    placement: ZonePlacer | None = None
    handlers: tuple[Named, ...] = ()
    links: EventLinker | None = None

    @property
    def order(self) -> list[str]:
        """The names of the steps in the order they run ("zones" for the placement)."""
        middle = ["event links"] if self.links is not None else []
        middle += ["zones"] if self.placement is not None else []
        return [name for name, _ in self.guards] + middle + [name for name, _ in self.handlers]

    async def written(
        self,
        session: AsyncSession,
        incident: Incident,
        geometry: shapely.Geometry,
        previous: Incident | None,
        *,
        actor: Principal | None,
        at: datetime,
        relinked: tuple[uuid.UUID, ...] = (),
        links_only: bool = False,
    ) -> IncidentWritten:
        """Tell every step of one write; returns the event as the handlers saw it."""
        event = IncidentWritten(
            incident, previous, geometry, None, actor, at, relinked=relinked, links_only=links_only
        )
        for _, guard in self.guards:
            await guard.written(session, event)
        if self.links is not None:
            event = await self.links.link(session, event)
        if self.placement is not None:
            placed = await self.placement.place(session, incident, geometry, previous)
            event = replace(event, zones=placed)
        for _, handler in self.handlers:
            await handler.written(session, event)
        return event

    async def imported(
        self,
        session: AsyncSession,
        written: Sequence[tuple[Incident, shapely.Geometry]],
        *,
        actor: Principal | None,
        at: datetime,
    ) -> IncidentsImported:
        """Tell every step of a batch of new incidents (bulk import)."""
        events = tuple(IncidentWritten(i, None, g, None, actor, at) for i, g in written)
        batch = IncidentsImported(events, actor, at)
        if not events:
            return batch
        for _, guard in self.guards:
            await guard.imported(session, batch)
        if self.links is not None:
            events = tuple(await link_new_nearby(self.links, session, events))
            batch = IncidentsImported(events, actor, at)
        if self.placement is not None:
            placed = await self.placement.place_new(session, written)
            batch = IncidentsImported(
                tuple(replace(e, zones=z) for e, z in zip(events, placed, strict=True)),
                actor,
                at,
            )
        for _, handler in self.handlers:
            await handler.imported(session, batch)
        return batch


def nearby_groups(
    events: Sequence[IncidentWritten], near_km: float, near_hours: float
) -> list[list[int]]:
    """The new reports of a batch in groups (positions, batch order) such that no two reports of
    different groups can be of one event: apart by more than twice the linking distance or
    time, and without a shared external id. Generous on purpose: a group may hold reports
    that will not link, never split two that could."""
    n = len(events)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    by_external: dict[str, int] = {}
    for i, e in enumerate(events):
        if e.incident.external_id:
            first = by_external.setdefault(e.incident.external_id, i)
            join(first, i)
    if near_km > 0 and near_hours > 0 and n > 1:
        points = shapely.get_coordinates(
            shapely.point_on_surface(np.array([e.geometry for e in events], dtype=object))
        )
        lon, lat = points[:, 0], points[:, 1]
        hours = np.array([e.incident.occurred_at.timestamp() / 3600.0 for e in events])
        lat_pad = 2 * near_km / 111.2
        top = float(np.max(np.abs(lat))) + lat_pad
        lon_pad = 2 * near_km / (111.2 * max(0.05, math.cos(math.radians(min(top, 89.0)))))
        near = (
            (np.abs(lat[:, None] - lat[None, :]) <= lat_pad)
            & (np.abs(lon[:, None] - lon[None, :]) <= lon_pad)
            & (np.abs(hours[:, None] - hours[None, :]) <= 2 * near_hours)
        )
        for i, j in zip(*np.nonzero(np.triu(near, 1)), strict=True):
            join(int(i), int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


async def link_new_nearby(
    links: EventLinker, session: AsyncSession, events: Sequence[IncidentWritten]
) -> list[IncidentWritten]:
    """`links.link_new` group by group (`nearby_groups`): the linker looks for stored reports
    in one time and place window per call, which for a batch spread over a country and months
    is the whole table; per group it is the reports near that group. Same links as one call.

    A group of one report with no external id and no stored report at all in a window twice
    the linker's (`stored_nearby`, one read for the whole batch) has nothing to link to: it
    is answered without calling the linker (its own event, demo or not as stored), which
    spares two reads per isolated report."""
    rules = getattr(links, "rules", None)
    near_km = float(getattr(rules, "near_km", 0.0) or 0.0)
    near_hours = float(getattr(rules, "near_hours", 0.0) or 0.0)
    if not events:
        return []
    groups = nearby_groups(events, near_km, near_hours) if len(events) > 1 else [[0]]
    alone = [
        g[0]
        for g in groups
        if len(g) == 1 and not events[g[0]].incident.external_id and events[g[0]].previous is None
    ]
    settled: dict[int, IncidentWritten] = {}
    if alone and near_km > 0 and near_hours > 0:
        nearby = await stored_nearby(session, [events[i] for i in alone], near_km, near_hours)
        for i, found in zip(alone, nearby, strict=True):
            if found is not None:
                settled[i] = replace(events[i], duplicate_of=None, is_demo=found)
    if not settled and len(groups) == 1:
        return await links.link_new(session, events)
    out: list[IncidentWritten | None] = [None] * len(events)
    for i, event in settled.items():
        out[i] = event
    for group in groups:
        if len(group) == 1 and group[0] in settled:
            continue
        linked = await links.link_new(session, [events[i] for i in group])
        for i, event in zip(group, linked, strict=True):
            out[i] = event
    return [e for e in out if e is not None]


# Windows per read of `stored_nearby`: SQLite nests an OR of terms as deep as their number.
NEARBY_CHUNK = 50


async def stored_nearby(
    session: AsyncSession, events: Sequence[IncidentWritten], near_km: float, near_hours: float
) -> list[bool | None]:
    """For each new report (already inserted), None when some other stored report, of any
    type, state or organisation, lies within twice the linking distance and time of it (the
    linker must look), else whether the report itself is stored as a demo incident.

    Generous on purpose, like `nearby_groups`: the window holds the linker's (its point is
    within the geometry's bounds, its margins are half these), so a report answered here
    could not have been linked by the linker."""
    geoms = np.empty(len(events), dtype=object)
    geoms[:] = [e.geometry for e in events]
    bounds = shapely.bounds(geoms)
    lat_pad = 2 * near_km / 111.2
    top = float(np.max(np.abs(bounds[:, [1, 3]]))) + lat_pad
    lon_pad = 2 * near_km / (111.2 * max(0.05, math.cos(math.radians(min(top, 89.0)))))
    span = timedelta(hours=2 * near_hours)
    boxes = [
        (
            e.incident.occurred_at - span,
            e.incident.occurred_at + span,
            float(b[0]) - lon_pad,
            float(b[2]) + lon_pad,
            float(b[1]) - lat_pad,
            float(b[3]) + lat_pad,
        )
        for e, b in zip(events, bounds.tolist(), strict=True)
    ]
    if not all(math.isfinite(v) for box in boxes for v in box[2:]):
        return [None] * len(events)
    found: list[tuple[uuid.UUID, datetime, float, float, bool]] = []
    for start in range(0, len(boxes), NEARBY_CHUNK):
        chunk = boxes[start : start + NEARBY_CHUNK]
        params = {
            f"{name}{k}": v
            for k, box in enumerate(chunk)
            for name, v in zip(_BOX, box, strict=True)
        }
        rows = await session.execute(_nearby_select(len(chunk)), params)
        found += [(r[0], r[1], float(r[2]), float(r[3]), bool(r[4])) for r in rows.all()]
    out: list[bool | None] = []
    for event, (t0, t1, x0, x1, y0, y1) in zip(events, boxes, strict=True):
        own: bool | None = None
        others = False
        for row_id, at, lon, lat, demo in found:
            if row_id == event.incident.id:
                own = demo
            elif t0 <= as_utc(at) <= t1 and x0 <= lon <= x1 and y0 <= lat <= y1:
                others = True
                break
        out.append(None if others else own)
    return out


_BOX = ("t0_", "t1_", "x0_", "x1_", "y0_", "y1_")


@functools.lru_cache(maxsize=NEARBY_CHUNK)
def _nearby_select(n: int) -> Any:
    """The read of `stored_nearby` for `n` windows, built once (bound parameters per window):
    building its hundreds of comparisons anew for every batch cost more than the read."""
    from sqlalchemy import and_, bindparam, or_, select

    from incidents.records.tables import IncidentRow

    def window(k: int) -> Any:
        bound: list[Any] = [bindparam(f"{name}{k}") for name in _BOX]
        t0, t1, x0, x1, y0, y1 = bound
        return and_(
            IncidentRow.occurred_at >= t0,
            IncidentRow.occurred_at <= t1,
            IncidentRow.lon >= x0,
            IncidentRow.lon <= x1,
            IncidentRow.lat >= y0,
            IncidentRow.lat <= y1,
        )

    columns = (
        IncidentRow.id,
        IncidentRow.occurred_at,
        IncidentRow.lon,
        IncidentRow.lat,
        IncidentRow.is_demo,
    )
    return select(*columns).where(or_(*(window(k) for k in range(n))))


# No handlers: the incident row alone (tests, benchmarks, imports before zones exist).
NO_EVENTS = WriteEvents()
