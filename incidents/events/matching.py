"""Which reports are one event: the pure rule (same external id, or near in kind, place, time).

No database here: `incidents.events.linking` feeds it the candidate rows of one write.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.records.model import SharingLevel

__all__ = [
    "CORROBORATED_CREDIBILITY",
    "EVENT_ID_SCHEMES",
    "LinkRules",
    "Report",
    "audience_within",
    "canonical_for",
    "corroborated_credibility",
    "corroborates",
    "distance_km",
    "independent_sources",
    "is_near_duplicate",
    "same_audience",
    "same_external_event",
]

# External id schemes whose ids name an event, not a message: two different ids of one of
# these schemes are two events, however close (ACLED codes each event once; two clashes in
# one town on one day are two rows). SMS digests, Kobo instances and content hashes name a
# message: two of them may well tell one event.
EVENT_ID_SCHEMES = frozenset({"acled"})
# Admiralty credibility 1, "confirmed by other independent sources": what an event reported by
# a second organisation on its own (not a copy of the same record) is rated, in risk and views.
CORROBORATED_CREDIBILITY = 1


@dataclass(frozen=True, slots=True)
class LinkRules:
    """How near two reports of the same category must be to be one event (settings)."""

    near_km: float = 5.0
    near_hours: float = 6.0

    def __post_init__(self) -> None:
        if not (self.near_km >= 0 and math.isfinite(self.near_km)):
            raise ValueError("near_km must be a finite number >= 0")
        if not (self.near_hours >= 0 and math.isfinite(self.near_hours)):
            raise ValueError("near_hours must be a finite number >= 0")

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.near_hours)

    @property
    def enabled(self) -> bool:
        return self.near_km > 0 and self.near_hours > 0


@dataclass(frozen=True, slots=True)
class Report:
    """What the rule needs of one report."""

    id: uuid.UUID
    category: str
    occurred_at: datetime
    lon: float
    lat: float
    org_id: uuid.UUID
    user_id: uuid.UUID | None
    sharing_level: str
    external_id: str | None = None
    # The canonical report of its event, when it is a linked duplicate.
    event_id: uuid.UUID | None = None
    created_at: datetime | None = None
    # The people a red report names (who may read it in full besides its reporter).
    named: frozenset[uuid.UUID] = frozenset()

    @property
    def event(self) -> uuid.UUID:
        """The id that names its event: its canonical report's, or its own."""
        return self.event_id or self.id


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine on a 6371 km sphere: metres do not matter here)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


def _scheme(external_id: str | None) -> str | None:
    if not external_id or ":" not in external_id:
        return None
    return external_id.split(":", 1)[0].strip().lower()


def same_external_event(a: str | None, b: str | None) -> bool:
    """Both reports carry the same external id (any organisation's: an ACLED event imported by
    two, a Kobo submission forwarded twice, an SMS re-sent through two gateways)."""
    return bool(a) and a == b


def known_distinct(a: str | None, b: str | None) -> bool:
    """The source itself says they are two events (two ids of an event-naming scheme)."""
    scheme = _scheme(a)
    return scheme is not None and scheme in EVENT_ID_SCHEMES and scheme == _scheme(b) and a != b


def audience_within(report: Report, canonical: Report) -> bool:
    """Whoever may read `report` in full may read `canonical` in full (the TLP rules of
    incidents.sharing.rules.access). Only then may `report` count through `canonical`: a
    viewer who sees the report but not the canonical one would otherwise see the report
    left out of the risk and learn that the masked entry it can see is the same event."""
    c, r = canonical.sharing_level, report.sharing_level
    if c == SharingLevel.CLEAR.value:
        return True
    if c == SharingLevel.GREEN.value:
        return r != SharingLevel.CLEAR.value
    if report.org_id != canonical.org_id:
        return False
    red_alone = r == SharingLevel.RED.value and not report.named
    if c == SharingLevel.AMBER.value:
        return r in (SharingLevel.AMBER.value, SharingLevel.AMBER_STRICT.value) or red_alone
    if c == SharingLevel.AMBER_STRICT.value:
        return r == SharingLevel.AMBER_STRICT.value or red_alone
    # red: only its reporter and the people it names
    return (
        r == SharingLevel.RED.value
        and report.user_id is not None
        and report.user_id == canonical.user_id
        and report.named <= canonical.named
    )


def is_near_duplicate(new: Report, other: Report, rules: LinkRules) -> bool:
    """Same category, within `rules.near_km` and `rules.near_hours`, and not two events by
    their source's own ids."""
    if not rules.enabled or new.id == other.id or new.category != other.category:
        return False
    if known_distinct(new.external_id, other.external_id):
        return False
    if abs(new.occurred_at - other.occurred_at) > rules.window:
        return False
    return distance_km(new.lat, new.lon, other.lat, other.lon) <= rules.near_km


def same_audience(a: Report, b: Report) -> bool:
    """Exactly the same people may read both in full. Only then are two reports one event:
    if some could read one and not the other, they would see a report they cannot read (its
    masked entry) add nothing to the risk, and learn that it is near one they can read."""
    return audience_within(a, b) and audience_within(b, a)


def canonical_for(
    new: Report,
    candidates: Iterable[Report],
    rules: LinkRules,
    canonicals: Mapping[uuid.UUID, Report] | None = None,
) -> uuid.UUID | None:
    """The canonical report of the event `new` is a further report of, or None (a new event).

    `canonicals`: the canonical report of each candidate's event (a candidate that is its own
    event need not be in it). An event counts only if `new` has the same readers as its
    canonical report (same_audience). The same external id wins over nearness; among several, the
    nearest in time, then in distance, then the earliest recorded: the answer does not depend
    on query order."""
    same: list[Report] = []
    near: list[Report] = []
    heads = canonicals or {}
    for other in candidates:
        if other.id == new.id or other.event == new.id:
            continue
        if not same_audience(new, heads.get(other.event, other)):
            continue
        if same_external_event(new.external_id, other.external_id):
            same.append(other)
        elif is_near_duplicate(new, other, rules):
            near.append(other)
    pool = same or near
    if not pool:
        return None

    def key(o: Report) -> tuple[float, float, str, str]:
        return (
            abs((new.occurred_at - o.occurred_at).total_seconds()),
            distance_km(new.lat, new.lon, o.lat, o.lon),
            (o.created_at or o.occurred_at).isoformat(),
            o.id.hex,
        )

    return min(pool, key=key).event


def corroborates(report: Report, canonical: Report) -> bool:
    """`report` confirms its event independently of the canonical report: another
    organisation's, and not a copy of the same record (the same external id: one ACLED event
    imported by two organisations is still one source)."""
    return report.org_id != canonical.org_id and not same_external_event(
        report.external_id, canonical.external_id
    )


def independent_sources(canonical: Report, reports: Iterable[Report]) -> int:
    """How many independent sources tell the event: its canonical report's organisation, and
    each other organisation whose report `corroborates` it; reports carrying the same external
    id count once (for the organisation that recorded it first)."""
    orgs = {canonical.org_id}
    copied: set[str] = set()
    for r in sorted(reports, key=lambda r: ((r.created_at or r.occurred_at).isoformat(), r.id.hex)):
        if r.id == canonical.id or not corroborates(r, canonical):
            continue
        if r.external_id:
            if r.external_id in copied:
                continue
            copied.add(r.external_id)
        orgs.add(r.org_id)
    return len(orgs)


def corroborated_credibility(credibility: int, sources: int) -> int:
    """The credibility an event is used with: its canonical report's own, or 1 ("confirmed by
    other sources") once two independent sources tell it."""
    return CORROBORATED_CREDIBILITY if sources >= 2 else credibility
