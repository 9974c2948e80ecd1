"""Who sees what: an incident's sharing from its row, the SQL twin of full access, the read
policy and presenter of every incident read path, organisation names, and the people named on
a red incident."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from incidents.audit import log as audit
from incidents.errors import Forbidden, InvalidField, NotFound
from incidents.identity.accounts import Principal
from incidents.records.model import SharingLevel, TimePrecision
from incidents.records.schemas import IncidentFeature, ZoneRef
from incidents.records.store import IncidentQuery, TextCipher, incident_from_row
from incidents.records.tables import IncidentRow, OrganisationRow, UserRow
from incidents.sharing.rules import (
    Access,
    MaskRules,
    Sharing,
    access,
    full_feature,
    mask,
    opaque_id,
    redact_full,
)
from incidents.sharing.tables import (
    IncidentNamedViewerRow,
)
from incidents.taxonomy import catalogue as taxonomy

# --- who sees what ----------------------------------------------------------------------------


async def named_viewers(
    session: AsyncSession, incident_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
    if not incident_ids:
        return {}
    rows = await session.execute(
        select(IncidentNamedViewerRow.incident_id, IncidentNamedViewerRow.user_id).where(
            IncidentNamedViewerRow.incident_id.in_(list(incident_ids))
        )
    )
    found: dict[uuid.UUID, set[uuid.UUID]] = {}
    for incident_id, user_id in rows.all():
        found.setdefault(incident_id, set()).add(user_id)
    return {k: frozenset(v) for k, v in found.items()}


def sharing_of_row(row: IncidentRow, named: frozenset[uuid.UUID] = frozenset()) -> Sharing:
    return Sharing(
        level=SharingLevel(row.sharing_level),
        org_id=row.org_id,
        user_id=row.user_id,
        named_user_ids=named,
        hide_organisation=row.hide_organisation,
    )


def visible_in_full(viewer: Principal) -> Any:
    """The SQL twin of incidents.sharing.access(...) == FULL, for a signed-in viewer."""
    level = IncidentRow.sharing_level
    named = select(IncidentNamedViewerRow.incident_id).where(
        IncidentNamedViewerRow.user_id == viewer.user_id
    )
    amber_orgs = sorted({viewer.org_id, *viewer.trusted_org_ids})
    return or_(
        level.in_([SharingLevel.GREEN.value, SharingLevel.CLEAR.value]),
        and_(
            level == SharingLevel.AMBER.value,
            true() if viewer.is_officer else IncidentRow.org_id.in_(amber_orgs),
        ),
        and_(level == SharingLevel.AMBER_STRICT.value, IncidentRow.org_id == viewer.org_id),
        and_(
            level == SharingLevel.RED.value,
            or_(IncidentRow.user_id == viewer.user_id, IncidentRow.id.in_(named)),
        ),
    )


def _is_whole_categories(types: frozenset[str]) -> bool:
    categories = {taxonomy.category_of(t).code for t in types}
    whole: set[str] = set()
    for code in categories:
        whole |= {t.code for t in taxonomy.types_in(code)}
    return whole == set(types)


def _on_grid(value: float, degrees: float) -> bool:
    steps = value / degrees
    return abs(steps - round(steps)) < 1e-9


def _on_boundary(when: datetime, rules: MaskRules) -> bool:
    from incidents.sharing.rules import coarsen_time

    start, _ = coarsen_time(when, TimePrecision.EXACT, rules.time_unit)
    return start == when


def reveals_hidden_details(query: IncidentQuery, rules: MaskRules) -> bool:
    """Whether a filter acts on what masking hides (exact place, time, type, severity, status).

    Masked entries are listed only when every filter could be decided on the masked view alone,
    otherwise a narrow filter would tell where, when or what a masked incident was.
    """
    if query.min_severity is not None or query.statuses or query.near is not None:
        return True
    if query.zone_incident_ids is not None:
        return True
    if query.types and not _is_whole_categories(query.types):
        return True
    if query.bbox is not None and not all(_on_grid(v, rules.grid_degrees) for v in query.bbox):
        return True
    return any(t is not None and not _on_boundary(t, rules) for t in (query.since, query.until))


def public_conditions() -> list[Any]:
    """Without a token only `clear` incidents are listed."""
    return [IncidentRow.sharing_level == SharingLevel.CLEAR.value]


# Organisation names shown in full features, kept in-process: the query cost ~1.3 ms on every
# response. Names change only when an organisation is deleted (OrganisationNames.forget);
# the TTL bounds how long another process's change can show the old name (docs/deploy.md).
NAMES_TTL_SECONDS = 1.0
_NAMES_MAX = 10_000


class OrganisationNames:
    """The names cache of one service (api/bootstrap.py gives the presenter and the sharing
    service the same one)."""

    def __init__(self, ttl: float = NAMES_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._items: dict[uuid.UUID, tuple[str, float]] = {}

    def forget(self, org_id: uuid.UUID | None = None) -> None:
        """Drop a cached organisation name (all of them without an id) after a rename or delete."""
        if org_id is None:
            self._items.clear()
        else:
            self._items.pop(org_id, None)

    async def get(
        self, session: AsyncSession, org_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        if not org_ids:
            return {}
        clock = time.monotonic()
        out: dict[uuid.UUID, str] = {}
        missing: set[uuid.UUID] = set()
        for org_id in set(org_ids):
            cached = self._items.get(org_id)
            if cached is not None and cached[1] > clock:
                out[org_id] = cached[0]
            else:
                missing.add(org_id)
        if not missing:
            return out
        found = await _read_names(session, missing)
        if len(self._items) + len(found) > _NAMES_MAX:
            self._items.clear()
        expires = clock + self.ttl
        for org_id, name in found.items():
            self._items[org_id] = (name, expires)
        out.update(found)
        return out


async def _read_names(session: AsyncSession, org_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await session.execute(
        select(OrganisationRow.id, OrganisationRow.name).where(
            OrganisationRow.id.in_(sorted(org_ids))
        )
    )
    return dict(rows.all())


async def organisation_names(
    session: AsyncSession,
    org_ids: Sequence[uuid.UUID],
    cache: OrganisationNames | None = None,
) -> dict[uuid.UUID, str]:
    """The names of organisations, through `cache` when given (else read now)."""
    if cache is not None:
        return await cache.get(session, org_ids)
    return await _read_names(session, set(org_ids)) if org_ids else {}


def masked_feature(row: IncidentRow, rules: MaskRules) -> IncidentFeature:
    return mask(
        row.id,
        incident_type=row.type,
        occurred_at=row.occurred_at,
        time_precision=TimePrecision(row.time_precision),
        lon=row.lon,
        lat=row.lat,
        rules=rules,
    )


@dataclass
class Visibility:
    """Who sees what, decided here for every path by which incidents leave the service.

    - `full_view(viewer)`: SQL, true for the incidents the viewer sees in full;
    - `conditions` and `may_read`: the read policy of IncidentService (a detail read needs a
      full view; a list filter on what masking hides keeps masked entries out);
    - `present` (also as a call: the IncidentService presenter): each row full or masked, with
      the audit of detail reads;
    - `shown_ids`: the id each incident may be shown under (itself or its opaque masked id),
      for lists that name incidents outside the presenter (zone risk contributors).
    """

    rules: MaskRules
    # Opens narratives encrypted at rest (the IncidentService's cipher).
    cipher: TextCipher | None = None
    names: OrganisationNames = field(default_factory=OrganisationNames)

    def full_view(self, viewer: Principal) -> Any:
        return visible_in_full(viewer)

    async def conditions(
        self, session: AsyncSession, viewer: Principal, query: IncidentQuery | None = None
    ) -> list[Any]:
        if query is not None and reveals_hidden_details(query, self.rules):
            return [visible_in_full(viewer)]
        return []

    async def may_read(self, session: AsyncSession, viewer: Principal, row: IncidentRow) -> bool:
        named = (await named_viewers(session, [row.id])).get(row.id, frozenset())
        return access(viewer, sharing_of_row(row, named)) == Access.FULL

    async def shown_ids(
        self, session: AsyncSession, viewer: Principal | None, incident_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, uuid.UUID]:
        if not incident_ids:
            return {}
        rows = (
            await session.scalars(select(IncidentRow).where(IncidentRow.id.in_(list(incident_ids))))
        ).all()
        named = await named_viewers(
            session, [r.id for r in rows if r.sharing_level == SharingLevel.RED.value]
        )
        return {
            r.id: r.id
            if access(viewer, sharing_of_row(r, named.get(r.id, frozenset()))) == Access.FULL
            else opaque_id(r.id, self.rules.id_key)
            for r in rows
        }

    async def present(
        self,
        session: AsyncSession,
        viewer: Principal | None,
        rows: list[IncidentRow],
        zones: dict[uuid.UUID, list[ZoneRef]],
    ) -> list[IncidentFeature]:
        named = await named_viewers(
            session, [r.id for r in rows if r.sharing_level == SharingLevel.RED.value]
        )
        names = await organisation_names(session, [r.org_id for r in rows], self.names)
        features: list[IncidentFeature] = []
        read_ids: list[str] = []
        for row in rows:
            sharing = sharing_of_row(row, named.get(row.id, frozenset()))
            if access(viewer, sharing) == Access.MASKED:
                features.append(masked_feature(row, self.rules))
                continue
            feature = full_feature(
                incident_from_row(row, self.cipher),
                zones=zones.get(row.id, ()),
                demo=bool(row.is_demo),
            )
            features.append(redact_full(feature, viewer, sharing, names.get(row.org_id)))
            # The reporter reading back their own report discloses nothing: not audited (it
            # would cost a second write on every report).
            own = viewer is not None and row.user_id == viewer.user_id
            if sharing.level != SharingLevel.CLEAR and not own:
                read_ids.append(str(row.id))
        if read_ids and viewer is not None:
            if len(rows) == 1:
                audit.later(
                    audit.event(
                        "incident.read", viewer, target_type="incident", target_id=read_ids[0]
                    )
                )
            else:
                audit.later(
                    audit.event("incidents.listed", viewer, target_type="incident", ids=read_ids)
                )
        return features

    __call__ = present


# The names api/bootstrap.py builds the read policy and the presenter by: both are Visibility
# (`SharingPolicy(rules)`, `SharingPresenter(rules, cipher, names)`).
SharingPolicy = Visibility
SharingPresenter = Visibility


# --- people named on a red incident ------------------------------------------------------------


async def set_named_viewers(
    session: AsyncSession,
    viewer: Principal,
    incident_id: uuid.UUID,
    user_ids: Sequence[uuid.UUID],
    *,
    now: datetime,
) -> list[uuid.UUID]:
    """Replace the people who may see a red incident; only its reporter decides."""
    row = await session.get(IncidentRow, incident_id)
    named = (await named_viewers(session, [incident_id])).get(incident_id, frozenset())
    if row is None or access(viewer, sharing_of_row(row, named)) != Access.FULL:
        raise NotFound(f"No incident {incident_id} that you can see.")
    if row.user_id != viewer.user_id:
        raise Forbidden("Only the person who reported the incident names who may see it.")
    wanted = list(dict.fromkeys(user_ids))
    if len(wanted) > 50:
        raise InvalidField("user_ids", "Name at most 50 people.")
    for i, user_id in enumerate(wanted):
        user = await session.get(UserRow, user_id)
        if user is None or user.deleted_at is not None:
            raise InvalidField(f"user_ids[{i}]", f"No user {user_id}; check the id.")
    await session.execute(
        delete(IncidentNamedViewerRow).where(IncidentNamedViewerRow.incident_id == incident_id)
    )
    for user_id in wanted:
        session.add(IncidentNamedViewerRow(incident_id=incident_id, user_id=user_id, added_at=now))
    await session.flush()
    await audit.write(
        session,
        [
            audit.event(
                "incident.named_viewers_changed",
                viewer,
                target_type="incident",
                target_id=incident_id,
                user_ids=[str(u) for u in wanted],
            )
        ],
        now=now,
    )
    return wanted
