"""Which subscriptions an incident, a zone level change or a broadcast should reach.

Matching is batched: one STRtree over every subscription area, then numpy masks for the
type, severity, status and pause filters, so no Python loop runs over the subscriptions.

Micro-benchmark (not a test; run from the repository root)::

    import time, uuid
    import numpy as np, shapely
    from alerts.matching import SubscriptionIndex
    from alerts.subscription import PointArea, Subscription

    rng = np.random.default_rng(0)
    for n in (10_000, 100_000):
        subs = [
            Subscription(uuid.uuid4(), uuid.uuid4(), None, ["json://127.0.0.1/x"],
                         PointArea(float(rng.uniform(10, 25)), float(rng.uniform(-12, 4)),
                                   float(rng.uniform(5, 100))))
            for _ in range(n)
        ]
        t = time.perf_counter()
        index = SubscriptionIndex.from_subscriptions(subs, {})
        build = time.perf_counter() - t
        points = shapely.points(rng.uniform(-12, 4, 200), rng.uniform(10, 25, 200))
        t = time.perf_counter()
        for p in points:
            index.match_incident(p, "armed_attack", 3, "reported")
        per = (time.perf_counter() - t) / len(points) * 1000
        print(f"{n} subscriptions: build {build:.2f} s, {per:.3f} ms per incident")
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from alerts.core.subscription import Subscription, ZonesArea, area_geometries
from incidents.records.model import IMPACT_FIELDS, Impact, Status

IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


class SubscriptionIndex:
    """Subscriptions and their area geometries (WGS84), indexed for batch matching.

    Build it once from `(subscription, area geometry)` pairs — the area geometry being
    `subscription.area.to_geometry(zone_geometries)` — and rebuild it when subscriptions change.
    Results list subscription ids in the order the pairs were given.
    """

    def __init__(self, entries: Iterable[tuple[Subscription, BaseGeometry]]) -> None:
        pairs = list(entries)
        subscriptions = [s for s, _ in pairs]
        n = len(subscriptions)
        self._ids: npt.NDArray[np.object_] = np.empty(n, dtype=object)
        self._ids[:] = [s.id for s in subscriptions]
        self._geometries: npt.NDArray[np.object_] = np.empty(n, dtype=object)
        self._geometries[:] = [g for _, g in pairs]
        shapely.prepare(self._geometries)
        self._tree = shapely.STRtree(self._geometries)

        self._paused = np.fromiter((s.paused for s in subscriptions), bool, n)
        self._min_severity = np.fromiter((s.min_severity for s in subscriptions), np.int8, n)
        self._min_level = np.fromiter((s.min_level for s in subscriptions), np.int8, n)
        self._all_types = np.fromiter((not s.types for s in subscriptions), bool, n)

        # Boolean matrices subscription x code; the extra last column stays False so an
        # unknown code (index -1) matches nothing.
        type_codes = sorted({t for s in subscriptions for t in s.types})
        self._type_column = {code: i for i, code in enumerate(type_codes)}
        self._type_mask = np.zeros((n, len(type_codes) + 1), dtype=bool)
        status_codes = sorted(
            {str(v) for v in Status} | {t for s in subscriptions for t in s.statuses}
        )
        self._status_column = {code: i for i, code in enumerate(status_codes)}
        self._status_mask = np.zeros((n, len(status_codes) + 1), dtype=bool)
        for row, s in enumerate(subscriptions):
            self._type_mask[row, [self._type_column[t] for t in s.types]] = True
            self._status_mask[row, [self._status_column[t] for t in s.statuses]] = True

        members: dict[str, list[int]] = {}
        for row, s in enumerate(subscriptions):
            if isinstance(s.area, ZonesArea):
                for zone_id in s.area.zones:
                    members.setdefault(zone_id, []).append(row)
        self._zone_members = {z: np.asarray(rows, dtype=np.intp) for z, rows in members.items()}

    @classmethod
    def from_subscriptions(
        cls, subscriptions: Sequence[Subscription], zone_geometries: Mapping[str, BaseGeometry]
    ) -> SubscriptionIndex:
        """Build the area geometries (point areas in one vectorised batch) and index them."""
        geometries = area_geometries([s.area for s in subscriptions], zone_geometries)
        return cls(zip(subscriptions, geometries, strict=True))

    def __len__(self) -> int:
        return len(self._ids)

    def _type_index(self, type_codes: Sequence[str]) -> IntArray:
        return np.fromiter((self._type_column.get(t, -1) for t in type_codes), np.intp)

    def _status_index(self, statuses: Sequence[str]) -> IntArray:
        return np.fromiter((self._status_column.get(str(s), -1) for s in statuses), np.intp)

    def _incident_filter(
        self,
        rows: IntArray,
        type_idx: IntArray | np.intp,
        severity: npt.NDArray[np.int16] | int,
        status_idx: IntArray | np.intp,
    ) -> BoolArray:
        """Element-wise over (subscription row, incident attribute) pairs."""
        type_ok = self._all_types[rows] | self._type_mask[rows, type_idx]
        keep: BoolArray = (
            ~self._paused[rows]
            & type_ok
            & (self._min_severity[rows] <= severity)
            & self._status_mask[rows, status_idx]
        )
        return keep

    def match_incident(
        self, incident_geometry: shapely.Geometry, type_code: str, severity: int, status: str
    ) -> list[uuid.UUID]:
        """Ids of the active subscriptions whose area and filters take in this incident."""
        rows = self._tree.query(incident_geometry, predicate="intersects")
        keep = self._incident_filter(
            rows,
            self._type_index([type_code])[0],
            severity,
            self._status_index([status])[0],
        )
        return list(self._ids[np.sort(rows[keep])])

    def match_masked_entry(
        self, cell_point: BaseGeometry, category_types: Sequence[str], severity: int
    ) -> list[uuid.UUID]:
        """Ids of the active subscriptions that a masked entry alone matches.

        A masked entry has a grid-cell centre, a category and a coarse day, nothing finer:
        the area must take in `cell_point`; a type filter matches when it names any type of
        the category (`category_types`); `min_severity` is compared with `severity`, a value
        that depends on the category only; the status filter is not evaluated (a masked entry
        has no status). So which subscriptions fire tells nothing the masked entry does not.
        """
        rows = self._tree.query(cell_point, predicate="intersects")
        cols = [self._type_column[t] for t in category_types if t in self._type_column]
        type_ok = self._all_types[rows]
        if cols:
            type_ok = type_ok | self._type_mask[np.ix_(rows, np.asarray(cols))].any(axis=1)
        keep = ~self._paused[rows] & type_ok & (self._min_severity[rows] <= severity)
        return list(self._ids[np.sort(rows[keep])])

    def match_incidents(
        self,
        geometries: Sequence[BaseGeometry | None],
        type_codes: Sequence[str],
        severities: Sequence[int],
        statuses: Sequence[str],
    ) -> list[list[uuid.UUID]]:
        """Batch form of `match_incident`: one list of subscription ids per incident."""
        n = len(geometries)
        if not len(type_codes) == len(severities) == len(statuses) == n:
            raise ValueError("give one type, severity and status per incident geometry")
        geoms = np.empty(n, dtype=object)
        geoms[:] = list(geometries)
        incident_rows, sub_rows = self._tree.query(geoms, predicate="intersects")
        keep = self._incident_filter(
            sub_rows,
            self._type_index(type_codes)[incident_rows],
            np.asarray(severities, dtype=np.int16)[incident_rows],
            self._status_index(statuses)[incident_rows],
        )
        incident_rows, sub_rows = incident_rows[keep], sub_rows[keep]
        order = np.lexsort((sub_rows, incident_rows))
        incident_rows, sub_rows = incident_rows[order], sub_rows[order]
        bounds = np.searchsorted(incident_rows, np.arange(n + 1))
        ids = self._ids[sub_rows]
        return [list(ids[bounds[i] : bounds[i + 1]]) for i in range(n)]

    def match_zone_level_change(
        self, zone_id: str, zone_geometry: BaseGeometry, new_level: int, old_level: int
    ) -> list[uuid.UUID]:
        """Subscriptions covering the zone to tell about its risk level moving from old to new.

        A subscription hears of a change when either level is at or above its `min_level`:
        the level rose to or past the threshold (or further up), or fell from at or above it
        (below it, or to a lower level still above it). Areas that only touch the zone's border
        do not count; a subscription naming the zone always does.
        """
        if new_level == old_level:
            return []
        inside = self._tree.query(zone_geometry, predicate="intersects")
        touching = self._tree.query(zone_geometry, predicate="touches")
        named = self._zone_members.get(zone_id, np.empty(0, dtype=np.intp))
        rows = np.union1d(np.setdiff1d(inside, touching), named)
        keep = ~self._paused[rows] & (self._min_level[rows] <= max(new_level, old_level))
        return list(self._ids[rows[keep]])

    def match_area(self, broadcast_geometry: BaseGeometry) -> list[uuid.UUID]:
        """Active subscriptions whose area intersects a broadcast's target area."""
        rows = np.sort(self._tree.query(broadcast_geometry, predicate="intersects"))
        return list(self._ids[rows[~self._paused[rows]]])


# --- repeated alerts ---------------------------------------------------------------------------


class IncidentFacts(Protocol):
    """What `should_realert` needs of an incident (an `incidents.model.Incident` fits)."""

    @property
    def severity(self) -> int: ...

    @property
    def status(self) -> str: ...

    @property
    def impact(self) -> Impact: ...


@dataclass(frozen=True, slots=True)
class AlertedState:
    """What a subscription was last told about an incident."""

    severity: int
    status: str
    impact: Impact = field(default_factory=Impact)

    @classmethod
    def of(cls, incident: IncidentFacts) -> AlertedState:
        return cls(incident.severity, str(incident.status), incident.impact)


def should_realert(previous: AlertedState | None, incident: IncidentFacts) -> bool:
    """Alert again only when the incident escalated since the last alert to this subscription:
    severity raised, status upgraded to verified, casualty counts grew or aid workers now affected.
    """
    if previous is None:
        return True
    if str(incident.status) == Status.RETRACTED:
        return False
    if incident.severity > previous.severity:
        return True
    if str(incident.status) == Status.VERIFIED and previous.status != Status.VERIFIED:
        return True
    now, before = incident.impact, previous.impact
    if now.aid_workers_affected and not before.aid_workers_affected:
        return True
    return any(getattr(now, name) > getattr(before, name) for name in IMPACT_FIELDS)
