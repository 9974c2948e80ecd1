"""Mission use cases: plan (with the route's risk), approve, start, check in (API, web, SMS),
duress, acknowledge, close; who sees what. The ladder is in missions.escalation, the purge in
missions.purge, the export in missions.export.

Visibility (the rule behind every read): the platform operator sees no mission; a mission of
sharing level amber_strict (the default) is seen by its organisation's planners, officers and
admins and by its own people (creator, travellers, responders); amber adds the officers of the
organisation's trust network; red only its own people. Anything else answers 404, the same
answer as for a mission that does not exist.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from sqlalchemy import and_, false, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.core.policy import Priority
from alerts.core.tables import AlertRow
from alerts.delivery.secrets import SecretBox
from alerts.outbox.writer import NewAlert, OutboxConfig, write_alerts
from geo.gazetteer import Gazetteer, UnknownPlaceError
from geo.geometry import GeometryError, from_wkb, parse_geojson_geometry, to_geojson, to_wkb
from geo.measure import corridor_km as corridor_area
from geo.measure import distance_to_line_km, geodesic_length_km
from incidents.audit import log as audit
from incidents.db import Database
from incidents.errors import Conflict, Forbidden, InvalidField, NotFound
from incidents.identity.accounts import Principal
from incidents.intake.service import normalise_phone
from incidents.records.model import Role
from incidents.records.tables import UserRow
from incidents.sharing.service import visible_in_full
from missions import messages
from missions.config import MissionsConfig
from missions.model import (
    OPEN,
    Checkin,
    CheckinKind,
    Progress,
    State,
    TransitionError,
    check_duress_word,
    duress_hash,
    is_mission_code,
    matches_duress,
    new_mission_code,
    next_state,
    parse_checkin,
    pending_round,
    schedule,
)
from missions.people import ensure_recipients, mission_scope, recipients_of
from missions.tables import (
    MissionCheckinRow,
    MissionRecipientRow,
    MissionRow,
    MissionStopRow,
    MissionTravellerRow,
)

SHARING_LEVELS = ("red", "amber_strict", "amber")
PLANNERS = (Role.PLANNER, Role.OFFICER, Role.ADMIN)
SERIOUS_TYPES = frozenset({"kidnapping", "ied", "armed_attack", "ambush", "killing", "airstrike"})
MAX_TRAVELLERS = 20
MAX_STOPS = 30
MAX_VEHICLES = 20
MAX_RESPONDER_STEPS = 6
NOT_FOUND = "No mission {id} that you can see; list yours with GET /api/v1/missions."


def _not_found(mission_id: Any) -> NotFound:
    return NotFound(NOT_FOUND.format(id=mission_id))


def mission_progress(row: MissionRow, stops: Sequence[datetime]) -> Progress:
    return Progress(
        schedule(stops, row.arrival_at),
        row.checkpoints_done,
        timedelta(minutes=row.delay_minutes),
        timedelta(minutes=row.grace_minutes),
    )


def visible_missions(viewer: Principal) -> Any:
    """SQL: the missions `viewer` may see (module doc)."""
    if viewer.is_operator:
        return false()
    m = MissionRow
    involved = or_(
        m.created_by == viewer.user_id,
        m.id.in_(
            select(MissionTravellerRow.mission_id).where(
                MissionTravellerRow.user_id == viewer.user_id
            )
        ),
        m.id.in_(
            select(MissionRecipientRow.mission_id).where(
                MissionRecipientRow.user_id == viewer.user_id,
                MissionRecipientRow.mission_id.is_not(None),
            )
        ),
    )
    manager = true() if viewer.role in PLANNERS else false()
    same_org = m.org_id == viewer.org_id
    trusted = sorted(viewer.trusted_org_ids)
    return or_(
        and_(m.sharing_level == "red", involved),
        and_(m.sharing_level.in_(["amber_strict", "amber"]), same_org, or_(manager, involved)),
        and_(
            m.sharing_level == "amber",
            m.org_id.in_(trusted) if trusted and viewer.is_officer else false(),
        ),
    )


# --- input ---------------------------------------------------------------------------------


def _time(body: Mapping[str, Any], name: str, *, required: bool = True) -> datetime | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidField(
                name, f"Give `{name}`, an ISO 8601 time such as 2026-12-02T07:00:00Z."
            )
        return None
    if not isinstance(value, str):
        raise InvalidField(name, f"`{name}` must be an ISO 8601 time such as 2026-12-02T07:00:00Z.")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidField(
            name, f"{value[:40]!r} is not a time; write it as 2026-12-02T07:00:00Z."
        ) from None
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).astimezone(UTC)


def _text(body: Mapping[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidField(name, f"Give `{name}` (text).")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidField(name, f"`{name}` must be text of at most {limit} characters.")
    return value.strip()


def _int(body: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidField(name, f"`{name}` must be a whole number from {low} to {high}.")
    return value


@dataclass(frozen=True)
class Route:
    line: Any  # a shapely LineString
    places: list[dict[str, Any]]  # [{name, lat, lon}] when given by names


def parse_route(body: Mapping[str, Any], gazetteer: Gazetteer) -> Route:
    route = body.get("route")
    if not isinstance(route, Mapping):
        raise InvalidField(
            "route",
            'Give the route as places by name, {"places": ["Mopti", "Douentza", "Gao"]}, or as a '
            'GeoJSON LineString, {"line": {"type": "LineString", "coordinates": [[lon, lat], ...]}}.',
        )
    if "places" in route:
        names = route["places"]
        if not isinstance(names, list) or not 2 <= len(names) <= 50:
            raise InvalidField("route.places", "Give from 2 to 50 place names, in travel order.")
        places = []
        for i, name in enumerate(names):
            if not isinstance(name, str) or not name.strip():
                raise InvalidField(f"route.places[{i}]", "Give a place name (text).")
            try:
                loc = gazetteer.resolve(name, field=f"route.places[{i}]")
            except UnknownPlaceError as exc:
                hint = f" Did you mean {', '.join(exc.suggestions[:3])}?" if exc.suggestions else ""
                raise InvalidField(
                    exc.field, f"{name!r} is not a known place of Mali.{hint}"
                ) from None
            places.append({"name": loc.name, "lat": loc.lat, "lon": loc.lon})
        line: Any = shapely.LineString([(float(p["lon"]), float(p["lat"])) for p in places])  # type: ignore[arg-type]
    elif "line" in route:
        try:
            line = parse_geojson_geometry(route["line"], field="route.line", max_vertices=1000)
        except GeometryError as exc:
            raise InvalidField(exc.field, exc.message) from exc
        if line.geom_type != "LineString":
            raise InvalidField("route.line.type", "The route line must be a GeoJSON LineString.")
        places = []
    else:
        raise InvalidField("route", "Give `route.places` (names) or `route.line` (GeoJSON).")
    if geodesic_length_km(line) < 0.1:
        raise InvalidField("route", "The route needs two distinct places, at least 100 m apart.")
    return Route(line, places)


# --- output --------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- the service ---------------------------------------------------------------------------

Assess = Callable[..., Any]


@dataclass
class MissionService:
    db: Database
    box: SecretBox
    outbox: OutboxConfig
    config: MissionsConfig
    # incidents.risk.service.RiskService.assess and the incidents' read policy (masking stays
    # theirs: a mission only asks).
    risk: Any
    read_policy: Any
    gazetteer: Gazetteer = field(default_factory=Gazetteer.load)
    trust_lookup: Callable[[Any, Principal], Any] | None = None

    # --- reading ---------------------------------------------------------------------------

    async def _row(
        self, session: AsyncSession, viewer: Principal, mission_id: uuid.UUID, *, lock: bool = False
    ) -> MissionRow:
        stmt = select(MissionRow).where(MissionRow.id == mission_id, visible_missions(viewer))
        if lock and session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=MissionRow)
        row = (
            await session.execute(stmt.execution_options(populate_existing=True))
        ).scalar_one_or_none()
        if row is None:
            raise _not_found(mission_id)
        return row

    async def _stops(self, session: AsyncSession, mission_id: uuid.UUID) -> list[MissionStopRow]:
        return list(
            (
                await session.execute(
                    select(MissionStopRow)
                    .where(MissionStopRow.mission_id == mission_id)
                    .order_by(MissionStopRow.position)
                )
            ).scalars()
        )

    async def _travellers(self, session: AsyncSession, mission_id: uuid.UUID) -> list[Any]:
        return list(
            (
                await session.execute(
                    select(
                        MissionTravellerRow.user_id, UserRow.name, MissionTravellerRow.duress_hash
                    )
                    .join(UserRow, UserRow.id == MissionTravellerRow.user_id)
                    .where(MissionTravellerRow.mission_id == mission_id)
                    .order_by(UserRow.name, UserRow.id)
                )
            ).all()
        )

    async def _names(self, session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not ids:
            return {}
        return dict(
            (
                await session.execute(select(UserRow.id, UserRow.name).where(UserRow.id.in_(ids)))
            ).all()
        )

    def _may_see_alarm(
        self,
        viewer: Principal,
        row: MissionRow,
        responder_ids: set[str],
        traveller_ids: set[uuid.UUID],
    ) -> bool:
        # Duress is silent: only officers of the organisation and the responders learn of it,
        # never a traveller (their phone may be in other hands), whatever their role.
        if viewer.user_id in traveller_ids:
            return False
        return (viewer.is_officer and viewer.org_id == row.org_id) or str(
            viewer.user_id
        ) in responder_ids

    async def _view(
        self, session: AsyncSession, viewer: Principal, row: MissionRow
    ) -> dict[str, Any]:
        stops = await self._stops(session, row.id)
        travellers = await self._travellers(session, row.id)
        responder_ids = {u for group in row.responders for u in group}
        progress = mission_progress(row, [s.expected_at for s in stops])
        pending = pending_round(progress)
        names = await self._names(
            session,
            [uuid.UUID(u) for u in responder_ids]
            + [u for u in (row.approved_by, row.acknowledged_by) if u is not None],
        )
        alarm_seen = self._may_see_alarm(
            viewer, row, responder_ids, {t.user_id for t in travellers}
        )
        state = row.state
        data: dict[str, Any] = {
            "id": str(row.id),
            "code": row.code,
            "title": row.title,
            "state": state,
            "sharing_level": row.sharing_level,
            "your_organisation": viewer.org_id == row.org_id,
            "departure_at": _iso(row.departure_at),
            "arrival_at": _iso(row.arrival_at),
            "grace_minutes": row.grace_minutes,
            "vehicles": row.vehicles or [],
            "contact": row.contact,
            "route": row.route,
            "corridor_km": row.corridor_km,
            "stops": [
                {
                    "position": s.position,
                    "place": s.place_name,
                    "lat": s.lat,
                    "lon": s.lon,
                    "along_km": round(s.along_km, 1),
                    "expected_at": _iso(s.expected_at),
                    "checked_in": s.position < row.checkpoints_done,
                }
                for s in stops
            ],
            # Whether a duress word is set: for those who would get its alarm, never on a
            # traveller's screen (a phone in other hands must not say that one exists).
            "travellers": [
                {"user_id": str(t.user_id), "name": t.name}
                | ({"duress_word_set": t.duress_hash is not None} if alarm_seen else {})
                for t in travellers
            ],
            "responders": [
                [{"user_id": u, "name": names.get(uuid.UUID(u))} for u in group]
                for group in row.responders
            ],
            "risk": row.risk,
            "assessed_at": _iso(row.assessed_at),
            "needs_approval": row.needs_approval,
            "approval_reasons": row.approval_reasons or [],
            "approved_by": None
            if row.approved_by is None
            else {"user_id": str(row.approved_by), "name": names.get(row.approved_by)},
            "approved_at": _iso(row.approved_at),
            "checkin_count": row.checkin_count,
            "last_checkin_at": _iso(row.last_checkin_at),
            "next_checkin_by": _iso(pending[1])
            if pending and state in ("planned", "active", "overdue", "alarm")
            else None,
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
            "closed_at": _iso(row.closed_at),
            "purged": row.purged_at is not None,
            "version": row.version,
        }
        if alarm_seen:
            data["alarm"] = {
                "reason": row.alarm_reason,
                "at": _iso(row.alarm_at),
                "duress_at": _iso(row.duress_at),
                "acknowledged_by": None
                if row.acknowledged_by is None
                else {"user_id": str(row.acknowledged_by), "name": names.get(row.acknowledged_by)},
                "acknowledged_at": _iso(row.acknowledged_at),
            }
        return data

    async def get(self, viewer: Principal, mission_id: uuid.UUID) -> dict[str, Any]:
        async with self.db.read() as session:
            row = await self._row(session, viewer, mission_id)
            view = await self._view(session, viewer, row)
        audit.later(audit.event("mission.read", viewer, target_type="mission", target_id=row.id))
        return view

    async def is_visible(self, viewer: Principal, mission_id: uuid.UUID) -> bool:
        """Whether `viewer` may see this mission (not audited: the pages ask it to answer 404
        rather than 403 to whoever may not know the mission exists)."""
        async with self.db.read() as session:
            found = await session.scalar(
                select(MissionRow.id).where(MissionRow.id == mission_id, visible_missions(viewer))
            )
        return found is not None

    async def members(self, viewer: Principal) -> list[dict[str, Any]]:
        """The members of the viewer's organisation a planner may name as travellers: id, name,
        role and whether a phone is registered (SMS check-ins need one)."""
        if viewer.role not in PLANNERS:
            return []
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(UserRow.id, UserRow.name, UserRow.role, UserRow.phone)
                    .where(
                        UserRow.org_id == viewer.org_id,
                        UserRow.deleted_at.is_(None),
                        UserRow.role != Role.OPERATOR.value,
                    )
                    .order_by(UserRow.name, UserRow.id)
                    .limit(500)
                )
            ).all()
        return [
            {"user_id": str(r.id), "name": r.name, "role": r.role, "phone": r.phone is not None}
            for r in rows
        ]

    async def list_missions(
        self, viewer: Principal, *, state: str | None = None, limit: int = 100
    ) -> dict[str, Any]:
        if state is not None and state not in {s.value for s in State}:
            raise InvalidField("state", f"state is one of {', '.join(s.value for s in State)}.")
        async with self.db.read() as session:
            stmt = select(MissionRow).where(visible_missions(viewer))
            if state is not None:
                stmt = stmt.where(MissionRow.state == state)
            rows = list(
                (
                    await session.execute(
                        stmt.order_by(MissionRow.departure_at.desc(), MissionRow.id).limit(limit)
                    )
                ).scalars()
            )
            items = [await self._view(session, viewer, r) for r in rows]
        return {"items": items, "count": len(items)}

    # --- planning --------------------------------------------------------------------------

    async def _assess(self, viewer: Principal, line: Any, corridor: float, now: datetime) -> Any:
        policy = self.read_policy

        async def conditions(session: Any) -> list[Any]:
            return list(await policy.conditions(session, viewer))

        return await self.risk.assess(
            line,
            now=now,
            corridor_km=corridor,
            segment_km=25.0,
            conditions=conditions,
            full_view=visible_in_full(viewer),
            viewer_org=viewer.org_id,
        )

    def _risk_summary(
        self, result: Any, now: datetime
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
        """(stored levels, incidents as this viewer sees them, approval reasons)."""
        area = result.area
        segments = [
            {
                "index": s.index,
                "from_km": round(s.from_km, 1),
                "to_km": round(s.to_km, 1),
                "level": s.level,
            }
            for s in area.segments
        ]
        top = max([s["level"] for s in segments] or [area.level])
        incidents = [
            {
                "id": str(i.id),
                "type": i.type,
                "occurred_at": _iso(i.occurred_at),
                "severity": i.severity,
                "distance_km": i.distance_km,
                "along_km": i.along_km,
            }
            for i in result.incidents
            if i.severity >= 4 or i.type in SERIOUS_TYPES
        ]
        reasons: list[str] = []
        cfg = self.config
        if cfg.approval_level and top >= cfg.approval_level:
            reasons.append(f"level {top} on the route (approval from level {cfg.approval_level})")
        recent = now - timedelta(days=cfg.ied_days)
        if cfg.approval_level and any(
            i.type == "ied" and i.occurred_at >= recent for i in result.incidents
        ):
            reasons.append(f"an IED reported near the route in the last {cfg.ied_days} days")
        if cfg.approval_level and any(
            i.type == "military_exclusion_zone" for i in result.incidents
        ):
            reasons.append("a military exclusion zone reported on the route")
        stored = {
            "level": top,
            "segments": segments,
            "length_km": round(area.length_km or 0.0, 1),
            # "no_data": nothing reported near the route (incidents.risk.coverage): the level
            # above is the model's 1, which the pages show as "pas de données / no data".
            "coverage": "data" if result.has_data else "no_data",
        }
        return stored, incidents, reasons

    async def _people(
        self,
        session: AsyncSession,
        viewer: Principal,
        body: Mapping[str, Any],
        sharing: str,
        now: datetime,
    ) -> tuple[list[tuple[uuid.UUID, str | None]], list[list[str]]]:
        raw = body.get("travellers")
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_TRAVELLERS:
            raise InvalidField(
                "travellers",
                f'Give 1 to {MAX_TRAVELLERS} travellers: {{"user_id": ...}} or {{"name": ..., "phone": ...}}.',
            )
        travellers: list[tuple[uuid.UUID, str | None]] = []
        for i, item in enumerate(raw):
            where = f"travellers[{i}]"
            if not isinstance(item, Mapping):
                raise InvalidField(where, 'Give {"user_id": ...} or {"name": ..., "phone": ...}.')
            digest = None
            word = item.get("duress_word")
            if word is not None:
                if not isinstance(word, str):
                    raise InvalidField(f"{where}.duress_word", "The duress word is text.")
                try:
                    check_duress_word(word)
                except ValueError as exc:
                    raise InvalidField(
                        f"{where}.duress_word", str(exc).capitalize() + "."
                    ) from None
            if item.get("user_id") is not None:
                try:
                    user_id = uuid.UUID(str(item["user_id"]))
                except ValueError:
                    raise InvalidField(f"{where}.user_id", "Not a user id.") from None
                user = await session.get(UserRow, user_id)
                if user is None or user.deleted_at is not None or user.org_id != viewer.org_id:
                    raise InvalidField(
                        f"{where}.user_id",
                        "No such user in your organisation; give a member's id, or a name and a phone.",
                    )
            else:
                name = item.get("name")
                phone = item.get("phone")
                if not isinstance(name, str) or not name.strip() or len(name) > 200:
                    raise InvalidField(
                        f"{where}.name", "Give the traveller's name (at most 200 characters)."
                    )
                if not isinstance(phone, str):
                    raise InvalidField(
                        f"{where}.phone", "Give the traveller's phone, e.g. +22376123456."
                    )
                try:
                    number = normalise_phone(phone)
                except InvalidField as exc:
                    raise InvalidField(f"{where}.phone", exc.detail) from None
                found = (
                    await session.execute(select(UserRow).where(UserRow.phone == number))
                ).scalar_one_or_none()
                if found is not None and (
                    found.org_id != viewer.org_id or found.deleted_at is not None
                ):
                    raise InvalidField(
                        f"{where}.phone",
                        "This number cannot be used for this mission; give another number, or the "
                        "user_id of a member of your organisation.",
                    )
                if found is None:
                    user_id = uuid.uuid4()
                    session.add(
                        UserRow(
                            id=user_id,
                            org_id=viewer.org_id,
                            name=name.strip(),
                            role=Role.REPORTER.value,
                            phone=number,
                            created_at=now,
                        )
                    )
                    await session.flush()
                else:
                    user_id = found.id
            if word is not None:
                digest = duress_hash(word, user_id.hex)
            if any(t == user_id for t, _ in travellers):
                raise InvalidField(where, "This traveller is already in the list.")
            travellers.append((user_id, digest))
        traveller_ids = {t for t, _ in travellers}
        ladder = body.get("responders")
        groups: list[list[str]] = []
        if ladder is None:
            groups = await self._default_ladder(session, viewer, traveller_ids, sharing)
        else:
            if not isinstance(ladder, list) or not 1 <= len(ladder) <= MAX_RESPONDER_STEPS:
                raise InvalidField(
                    "responders",
                    f"Give 1 to {MAX_RESPONDER_STEPS} steps, each a user id or a list of user ids.",
                )
            trusted = viewer.trusted_org_ids if sharing == "amber" else frozenset()
            for i, step in enumerate(ladder):
                ids = step if isinstance(step, list) else [step]
                group: list[str] = []
                for j, raw_id in enumerate(ids):
                    where = (
                        f"responders[{i}]"
                        if not isinstance(step, list)
                        else f"responders[{i}][{j}]"
                    )
                    try:
                        uid = uuid.UUID(str(raw_id))
                    except ValueError:
                        raise InvalidField(where, "Not a user id.") from None
                    user = await session.get(UserRow, uid)
                    ok = (
                        user is not None
                        and user.deleted_at is None
                        and (
                            user.org_id == viewer.org_id
                            or (
                                user.org_id in trusted
                                and user.role in (Role.OFFICER.value, Role.ADMIN.value)
                            )
                        )
                    )
                    if not ok:
                        raise InvalidField(
                            where,
                            "No such user in your organisation (or, for an amber mission, no officer of "
                            "your trust network); list your members with GET /api/v1/tokens.",
                        )
                    group.append(str(uid))
                if not group:
                    raise InvalidField(f"responders[{i}]", "A step needs at least one responder.")
                groups.append(group)
        if not groups:
            raise InvalidField(
                "responders",
                "Nobody to alert if the travellers go silent: give `responders`, or add an officer "
                "to your organisation.",
            )
        return travellers, groups

    async def _default_ladder(
        self, session: AsyncSession, viewer: Principal, travellers: set[uuid.UUID], sharing: str
    ) -> list[list[str]]:
        """The focal point (the mission's planner), then the organisation's officers, then (amber
        missions only) the officers of its trust network."""
        groups: list[list[str]] = []
        if viewer.user_id not in travellers:
            groups.append([str(viewer.user_id)])
        officers = (
            await session.execute(
                select(UserRow.id)
                .where(
                    UserRow.org_id == viewer.org_id,
                    UserRow.deleted_at.is_(None),
                    UserRow.role.in_([Role.OFFICER.value, Role.ADMIN.value]),
                )
                .order_by(UserRow.created_at, UserRow.id)
            )
        ).scalars()
        group = [str(u) for u in officers if u not in travellers and u != viewer.user_id]
        if group:
            groups.append(group)
        if sharing == "amber" and viewer.trusted_org_ids:
            others = (
                await session.execute(
                    select(UserRow.id)
                    .where(
                        UserRow.org_id.in_(sorted(viewer.trusted_org_ids)),
                        UserRow.deleted_at.is_(None),
                        UserRow.role.in_([Role.OFFICER.value, Role.ADMIN.value]),
                    )
                    .order_by(UserRow.created_at, UserRow.id)
                )
            ).scalars()
            group = [str(u) for u in others]
            if group:
                groups.append(group)
        return groups

    async def create(
        self, viewer: Principal, body: Mapping[str, Any], *, now: datetime
    ) -> dict[str, Any]:
        if viewer.role not in PLANNERS:
            raise Forbidden("Planners, officers and administrators plan missions; ask one of them.")
        if not isinstance(body, Mapping):
            raise InvalidField("body", "Send a JSON object describing the mission.")
        title = _text(body, "title", 200, required=True)
        departure = _time(body, "departure_at")
        arrival = _time(body, "arrival_at")
        assert departure is not None
        assert arrival is not None
        assert title is not None
        if arrival <= departure:
            raise InvalidField(
                "arrival_at",
                f"The expected arrival ({_iso(arrival)}) is not after the departure "
                f"({_iso(departure)}): check the dates.",
            )
        if arrival - departure > timedelta(days=60):
            raise InvalidField(
                "arrival_at",
                "A mission lasts at most 60 days; plan longer stays as several missions.",
            )
        sharing = body.get("sharing_level", "amber_strict")
        if sharing not in SHARING_LEVELS:
            raise InvalidField(
                "sharing_level",
                "A mission is shared red (its own people), amber_strict (your organisation, the "
                "default) or amber (with your trust network's officers).",
            )
        grace = _int(body, "grace_minutes", self.config.grace_minutes, 0, 720)
        corridor = body.get("corridor_km", self.config.corridor_km)
        if (
            isinstance(corridor, bool)
            or not isinstance(corridor, int | float)
            or not 0.5 <= corridor <= 50
        ):
            raise InvalidField("corridor_km", "corridor_km must be from 0.5 to 50 km.")
        contact = _text(body, "contact", 200)
        vehicles = body.get("vehicles", [])
        if not isinstance(vehicles, list) or len(vehicles) > MAX_VEHICLES:
            raise InvalidField("vehicles", f"Give at most {MAX_VEHICLES} vehicles.")
        clean_vehicles = []
        for i, v in enumerate(vehicles):
            if not isinstance(v, Mapping):
                raise InvalidField(
                    f"vehicles[{i}]", 'Give {"label": "Land Cruiser blanc", "markings": "logo"}.'
                )
            label = _text(v, "label", 100)
            markings = _text(v, "markings", 200)
            clean_vehicles.append({"label": label, "markings": markings})
        route = await asyncio.to_thread(parse_route, body, self.gazetteer)
        stops_in = body.get("stops", [])
        if not isinstance(stops_in, list) or len(stops_in) > MAX_STOPS:
            raise InvalidField("stops", f"Give at most {MAX_STOPS} stops.")
        stops: list[dict[str, Any]] = []
        for i, item in enumerate(stops_in):
            where = f"stops[{i}]"
            if not isinstance(item, Mapping):
                raise InvalidField(
                    where, 'Give {"place": "Douentza", "expected_at": "..."} or lat and lon.'
                )
            expected = _time(item, "expected_at")
            assert expected is not None
            if not departure <= expected <= arrival:
                raise InvalidField(
                    f"{where}.expected_at",
                    "A stop's expected time lies between the departure and the arrival.",
                )
            if item.get("place") is not None:
                try:
                    loc = self.gazetteer.resolve(str(item["place"]), field=f"{where}.place")
                except UnknownPlaceError as exc:
                    hint = (
                        f" Did you mean {', '.join(exc.suggestions[:3])}?"
                        if exc.suggestions
                        else ""
                    )
                    raise InvalidField(
                        f"{where}.place", f"{item['place']!r} is not a known place of Mali.{hint}"
                    ) from None
                lat, lon, name = loc.lat, loc.lon, loc.name
            else:
                raw_lat: Any = item.get("lat")
                raw_lon: Any = item.get("lon")
                lat, lon = raw_lat, raw_lon
                if (
                    not isinstance(lat, int | float)
                    or not isinstance(lon, int | float)
                    or not (-90 <= lat <= 90 and -180 <= lon <= 180)
                ):
                    raise InvalidField(
                        where, "Give the stop's `place` by name, or its `lat` and `lon`."
                    )
                name = _text(item, "name", 200) or ""
            distances, along = distance_to_line_km(route.line, [float(lon)], [float(lat)])
            if float(distances[0]) > float(corridor):
                raise InvalidField(
                    where,
                    f"This stop is {float(distances[0]):.0f} km from the route, outside its "
                    f"{float(corridor):g} km corridor: add it to the route or correct it.",
                )
            stops.append(
                {
                    "place_name": name,
                    "lat": float(lat),
                    "lon": float(lon),
                    "along_km": float(along[0]),
                    "expected_at": expected,
                }
            )
        stops.sort(key=lambda s: s["expected_at"])
        # The route's risk, as this viewer may see it (the risk service masks what it must).
        result = await self._assess(viewer, route.line, float(corridor), now)
        stored, incidents, reasons = self._risk_summary(result, now)
        mission_id = uuid.uuid4()
        minx, miny, maxx, maxy = (
            float(v)
            for v in shapely.bounds(
                await asyncio.to_thread(corridor_area, route.line, float(corridor))
            )
        )
        async with self.db.transaction() as session:
            travellers, groups = await self._people(session, viewer, body, sharing, now)
            code = await self._free_code(session, viewer.org_id)
            session.add(
                MissionRow(
                    id=mission_id,
                    org_id=viewer.org_id,
                    code=code,
                    title=title,
                    state=State.PLANNED.value,
                    sharing_level=sharing,
                    created_by=viewer.user_id,
                    departure_at=departure,
                    arrival_at=arrival,
                    grace_minutes=grace,
                    vehicles=clean_vehicles,
                    contact=contact,
                    route={"places": route.places}
                    if route.places
                    else {"line": to_geojson(route.line)},
                    route_wkb=to_wkb(route.line),
                    corridor_km=float(corridor),
                    min_lon=minx,
                    min_lat=miny,
                    max_lon=maxx,
                    max_lat=maxy,
                    risk=stored,
                    assessed_at=now,
                    needs_approval=bool(reasons),
                    approval_reasons=reasons,
                    responders=groups,
                    checkpoints_done=0,
                    delay_minutes=0,
                    checkin_count=0,
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )
            await session.flush()
            for user_id, digest in travellers:
                session.add(
                    MissionTravellerRow(mission_id=mission_id, user_id=user_id, duress_hash=digest)
                )
            for position, stop in enumerate(stops):
                session.add(MissionStopRow(mission_id=mission_id, position=position, **stop))
            people = [t for t, _ in travellers] + [uuid.UUID(u) for g in groups for u in g]
            await ensure_recipients(
                session,
                self.box,
                scope=mission_scope(mission_id),
                mission_id=mission_id,
                user_ids=people,
                sms_url=self.config.sms_url,
                now=now,
            )
            await audit.write(
                session,
                [
                    audit.event(
                        "mission.created",
                        viewer,
                        target_type="mission",
                        target_id=mission_id,
                        needs_approval=bool(reasons),
                    )
                ],
                now=now,
            )
            row = await self._row(session, viewer, mission_id)
            view = await self._view(session, viewer, row)
        view["route_incidents"] = incidents
        return view

    async def _free_code(self, session: AsyncSession, org_id: uuid.UUID) -> str:
        for _ in range(50):
            code = new_mission_code()
            taken = await session.scalar(
                select(MissionRow.id).where(MissionRow.org_id == org_id, MissionRow.code == code)
            )
            if taken is None:
                return code
        raise Conflict("No free mission code right now; try again.")

    async def route_risk(
        self, viewer: Principal, mission_id: uuid.UUID, *, now: datetime
    ) -> dict[str, Any]:
        """The route assessed now, with the serious incidents near it as this viewer sees them."""
        async with self.db.read() as session:
            row = await self._row(session, viewer, mission_id)
        if row.route_wkb is None:
            raise Conflict(
                "This mission's route was deleted by the purge (closed missions keep no route)."
            )
        result = await self._assess(viewer, from_wkb(row.route_wkb), row.corridor_km, now)
        stored, incidents, reasons = self._risk_summary(result, now)
        return {
            **stored,
            "incidents": incidents,
            "approval_reasons": reasons,
            "assessed_at": _iso(now),
        }

    async def reassess_all(self, *, now: datetime) -> int:
        """The morning re-assessment of planned and active routes (as each mission's planner sees
        them); a planned mission that now needs approval needs it again."""
        async with self.db.read() as session:
            rows = list(
                (
                    await session.execute(
                        select(
                            MissionRow.id, MissionRow.org_id, MissionRow.created_by, UserRow.role
                        )
                        .join(UserRow, UserRow.id == MissionRow.created_by)
                        .where(MissionRow.state.in_(["planned", "active", "overdue", "alarm"]))
                    )
                ).all()
            )
        done = 0
        for mission_id, org_id, creator, role in rows:
            planner = Principal(user_id=creator, org_id=org_id, role=Role(role))
            try:
                async with self.db.read() as session:
                    row = await self._row(session, planner, mission_id)
                if row.route_wkb is None:
                    continue
                result = await self._assess(planner, from_wkb(row.route_wkb), row.corridor_km, now)
            except (NotFound, InvalidField):
                continue
            stored, _, reasons = self._risk_summary(result, now)
            async with self.db.transaction() as session:
                values: dict[str, Any] = {
                    "risk": stored,
                    "assessed_at": now,
                    "approval_reasons": reasons,
                }
                if row.state == "planned" and reasons and row.approved_at is None:
                    values["needs_approval"] = True
                await session.execute(
                    update(MissionRow).where(MissionRow.id == mission_id).values(**values)
                )
            done += 1
        return done

    # --- decisions -------------------------------------------------------------------------

    async def approve(
        self, viewer: Principal, mission_id: uuid.UUID, *, now: datetime
    ) -> dict[str, Any]:
        if not viewer.is_officer:
            raise Forbidden(
                "Only a security officer approves a mission; ask your organisation's officer."
            )
        async with self.db.transaction() as session:
            row = await self._row(session, viewer, mission_id, lock=True)
            if row.org_id != viewer.org_id:
                raise _not_found(mission_id)
            if row.state != State.PLANNED.value:
                raise Conflict(f"This mission is {row.state}: only a planned mission is approved.")
            if row.approved_at is None:
                row.approved_by, row.approved_at = viewer.user_id, now
                row.updated_at, row.version = now, row.version + 1
                await audit.write(
                    session,
                    [
                        audit.event(
                            "mission.approved", viewer, target_type="mission", target_id=row.id
                        )
                    ],
                    now=now,
                )
            return await self._view(session, viewer, row)

    async def start(
        self, viewer: Principal, mission_id: uuid.UUID, *, now: datetime
    ) -> dict[str, Any]:
        async with self.db.transaction() as session:
            row = await self._row(session, viewer, mission_id, lock=True)
            await self._may_act(session, viewer, row)
            self._start(row, now)
            await audit.write(
                session,
                [audit.event("mission.started", viewer, target_type="mission", target_id=row.id)],
                now=now,
            )
            return await self._view(session, viewer, row)

    def _start(self, row: MissionRow, now: datetime) -> None:
        if row.needs_approval and row.approved_at is None:
            raise Conflict(
                "This mission needs an officer's approval before it starts: "
                + "; ".join(row.approval_reasons or [])
                + ". Ask an officer to approve it (POST /api/v1/missions/{id}/approve)."
            )
        try:
            row.state = next_state(State(row.state), "start").value
        except TransitionError as exc:
            raise Conflict(exc.message) from None
        row.updated_at, row.version = now, row.version + 1

    async def _may_act(self, session: AsyncSession, viewer: Principal, row: MissionRow) -> None:
        """Travellers, the planner and the organisation's officers act on a mission."""
        if viewer.org_id == row.org_id and (viewer.is_officer or viewer.user_id == row.created_by):
            return
        if await self._is_traveller(session, row.id, viewer.user_id):
            return
        raise Forbidden("Only the mission's travellers, its planner and your officers may do this.")

    async def _is_traveller(
        self, session: AsyncSession, mission_id: uuid.UUID, user_id: uuid.UUID
    ) -> bool:
        return (
            await session.scalar(
                select(MissionTravellerRow.user_id).where(
                    MissionTravellerRow.mission_id == mission_id,
                    MissionTravellerRow.user_id == user_id,
                )
            )
        ) is not None

    async def close(
        self, viewer: Principal, mission_id: uuid.UUID, *, now: datetime
    ) -> dict[str, Any]:
        async with self.db.transaction() as session:
            row = await self._row(session, viewer, mission_id, lock=True)
            if not (
                viewer.org_id == row.org_id
                and (viewer.is_officer or viewer.user_id == row.created_by)
            ):
                raise Forbidden("Only the mission's planner or your officers close a mission.")
            try:
                row.state = next_state(State(row.state), "close").value
            except TransitionError as exc:
                raise Conflict(exc.message) from None
            row.closed_at, row.updated_at, row.version = now, now, row.version + 1
            await audit.write(
                session,
                [audit.event("mission.closed", viewer, target_type="mission", target_id=row.id)],
                now=now,
            )
            return await self._view(session, viewer, row)

    async def set_duress(
        self, viewer: Principal, mission_id: uuid.UUID, word: Any, *, now: datetime
    ) -> dict[str, Any]:
        """A traveller sets (or replaces) their own duress word."""
        if not isinstance(word, str):
            raise InvalidField(
                "duress_word", "Give your duress word (one word of 3 to 24 letters)."
            )
        try:
            digest = duress_hash(word, viewer.user_id.hex)
        except ValueError as exc:
            raise InvalidField("duress_word", str(exc).capitalize() + ".") from None
        async with self.db.transaction() as session:
            row = await self._row(session, viewer, mission_id)
            if not await self._is_traveller(session, row.id, viewer.user_id):
                raise Forbidden("Only a traveller sets their own duress word.")
            await session.execute(
                update(MissionTravellerRow)
                .where(
                    MissionTravellerRow.mission_id == row.id,
                    MissionTravellerRow.user_id == viewer.user_id,
                )
                .values(duress_hash=digest)
            )
        return {"duress_word_set": True}

    # --- check-in --------------------------------------------------------------------------

    async def checkin(
        self,
        viewer: Principal,
        mission_id: uuid.UUID,
        body: Mapping[str, Any],
        *,
        via: str,
        now: datetime,
    ) -> dict[str, Any]:
        kind_raw = body.get("kind", "ok")
        try:
            kind = CheckinKind(kind_raw)
        except ValueError:
            raise InvalidField("kind", "kind is ok, arrived, late or help.") from None
        delay = None
        if kind == CheckinKind.LATE:
            minutes = _int(body, "delay_minutes", 0, 1, 24 * 60)
            delay = timedelta(minutes=minutes)
        lat, lon = body.get("lat"), body.get("lon")
        if (lat is None) != (lon is None):
            raise InvalidField(
                "lat" if lat is None else "lon",
                "Give both lat and lon, or neither (a position is optional).",
            )
        if lat is not None and (
            not isinstance(lat, int | float)
            or not isinstance(lon, int | float)
            or isinstance(lat, bool)
            or not (-90 <= lat <= 90 and -180 <= float(lon) <= 180)  # type: ignore[arg-type]
        ):
            raise InvalidField("lat", "lat is -90..90 and lon -180..180.")
        words: tuple[str, ...] = ()
        word = body.get("word")
        if word is not None:
            if not isinstance(word, str) or len(word) > 100:
                raise InvalidField("word", "`word` is text (at most 100 characters).")
            words = tuple(word.split())
        async with self.db.transaction() as session:
            row = await self._row(session, viewer, mission_id, lock=True)
            if not await self._is_traveller(session, row.id, viewer.user_id):
                raise Forbidden("Only the mission's travellers check in.")
            result = await self._record(
                session,
                row,
                viewer.user_id,
                Checkin(kind, "fr", row.code, delay, words),
                via=via,
                lat=None if lat is None else float(lat),
                lon=None if lon is None else float(lon),
                now=now,
            )
            view = await self._view(session, viewer, row)
        view["checkin"] = {"at": _iso(now), "kind": kind.value, "next_checkin_by": result}
        return view

    async def _record(
        self,
        session: AsyncSession,
        row: MissionRow,
        user_id: uuid.UUID,
        checkin: Checkin,
        *,
        via: str,
        lat: float | None,
        lon: float | None,
        now: datetime,
    ) -> str | None:
        """Record one check-in on a locked mission row; returns the next check-in time (ISO)."""
        state = State(row.state)
        if state not in OPEN:
            raise Conflict(
                f"Mission {row.code} is {state.value}: nothing recorded. Check in only while it is "
                "planned or under way; call your focal point."
            )
        stops = await self._stops(session, row.id)
        progress = mission_progress(row, [s.expected_at for s in stops])
        digest = await session.scalar(
            select(MissionTravellerRow.duress_hash).where(
                MissionTravellerRow.mission_id == row.id, MissionTravellerRow.user_id == user_id
            )
        )
        duress = matches_duress(checkin.words, digest, user_id.hex)
        if state == State.PLANNED:
            self._start(row, now)
            state = State(row.state)
        kind = checkin.kind
        if kind == CheckinKind.HELP:
            row.state = next_state(state, "help").value
            row.alarm_reason, row.alarm_at, row.alarm_round = "help", now, -1
            row.acknowledged_by = row.acknowledged_at = row.acknowledged_round = None
        elif kind == CheckinKind.ARRIVED:
            row.state = next_state(state, "arrive").value
            row.checkpoints_done = len(progress.checkpoints)
        else:
            row.state = next_state(state, "checkin").value
            if kind == CheckinKind.LATE and checkin.delay is not None:
                row.delay_minutes += int(checkin.delay.total_seconds() // 60)
            elif row.checkpoints_done < len(progress.checkpoints) - 1:
                row.checkpoints_done += 1
            if row.alarm_reason in ("missed", "help"):
                row.alarm_reason = None
        row.checkin_count += 1
        row.last_checkin_at, row.updated_at, row.version = now, now, row.version + 1
        session.add(
            MissionCheckinRow(
                mission_id=row.id,
                user_id=user_id,
                at=now,
                kind=kind.value,
                via=via,
                delay_minutes=None
                if checkin.delay is None
                else int(checkin.delay.total_seconds() // 60),
                lat=lat,
                lon=lon,
            )
        )
        await session.flush()
        if kind == CheckinKind.HELP:
            await self._alarm_all(session, row, "help", now)
        if duress:
            # Silent: the reply and the mission's state are those of an ordinary check-in.
            row.duress_at = now
            await self._alarm_all(session, row, "duress", now)
        await audit.write(
            session,
            [
                audit.AuditEvent(
                    "mission.checkin",
                    actor_user_id=user_id,
                    actor_org_id=row.org_id,
                    target_type="mission",
                    target_id=str(row.id),
                    details={"via": via, "kind": kind.value},
                )
            ],
            now=now,
        )
        pending = pending_round(mission_progress(row, [s.expected_at for s in stops]))
        return _iso(pending[1]) if pending and row.state != State.ARRIVED.value else None

    async def _responder_subscriptions(
        self, session: AsyncSession, row: MissionRow, user_ids: Sequence[str]
    ) -> list[uuid.UUID]:
        ids = [uuid.UUID(u) for u in user_ids]
        subs = await ensure_recipients(
            session,
            self.box,
            scope=mission_scope(row.id),
            mission_id=row.id,
            user_ids=ids,
            sms_url=self.config.sms_url,
            now=row.updated_at,
        )
        return [subs[u] for u in ids if u in subs]

    async def alarm_alerts(
        self,
        session: AsyncSession,
        row: MissionRow,
        user_ids: Sequence[str],
        reason: str,
        now: datetime,
        *,
        due: datetime | None = None,
        step: int | None = None,
    ) -> list[uuid.UUID]:
        """Flash alerts to these responders about this mission (written in this transaction).
        A duress alert never goes to a traveller of the mission, whatever their place in the
        ladder: it must not show on a phone the captors may hold."""
        if reason == "duress":
            travellers = {str(t.user_id) for t in await self._travellers(session, row.id)}
            user_ids = [u for u in user_ids if u not in travellers]
        subs = await self._responder_subscriptions(session, row, user_ids)
        recipients = await recipients_of(session, subs)
        code = row.code or "----"
        new = []
        for r in recipients:

            def render(alert_code: str, r: Any = r) -> Any:
                return messages.alarm(
                    r.language,
                    r.format,
                    code=code,
                    reason=reason,
                    due=due,
                    last=row.last_checkin_at or row.departure_at,
                    alert_code=alert_code,
                )

            new.append(
                NewAlert(
                    r, render, payload={"mission_id": str(row.id), "reason": reason, "step": step}
                )
            )
        return await write_alerts(
            session, new, kind="mission", priority=Priority.FLASH, config=self.outbox, now=now
        )

    async def _alarm_all(
        self, session: AsyncSession, row: MissionRow, reason: str, now: datetime
    ) -> None:
        everyone = list(dict.fromkeys(u for group in row.responders for u in group))
        await self.alarm_alerts(session, row, everyone, reason, now)

    # --- acknowledgement -------------------------------------------------------------------

    async def acknowledge(
        self, viewer: Principal, mission_id: uuid.UUID, *, now: datetime
    ) -> dict[str, Any]:
        async with self.db.transaction() as session:
            row = await self._row(session, viewer, mission_id, lock=True)
            responders = {u for g in row.responders for u in g}
            travellers = {t.user_id for t in await self._travellers(session, row.id)}
            if not self._may_see_alarm(viewer, row, responders, travellers):
                raise Forbidden("Only the mission's responders and your officers take an alarm.")
            await self._acknowledge(session, row, viewer.user_id, now)
            await audit.write(
                session,
                [
                    audit.event(
                        "mission.acknowledged", viewer, target_type="mission", target_id=row.id
                    )
                ],
                now=now,
            )
            return await self._view(session, viewer, row)

    async def _acknowledge(
        self, session: AsyncSession, row: MissionRow, user_id: uuid.UUID, now: datetime
    ) -> None:
        if row.state not in (State.OVERDUE.value, State.ALARM.value) and row.duress_at is None:
            raise Conflict(f"Mission {row.code} has no alarm to take (it is {row.state}).")
        if row.acknowledged_by is None or row.acknowledged_round != row.alarm_round:
            row.acknowledged_by, row.acknowledged_at = user_id, now
            row.acknowledged_round = row.alarm_round
            row.updated_at, row.version = now, row.version + 1
            # The alarm's open alerts are taken: no resend to anyone else.
            subs = select(MissionRecipientRow.subscription_id).where(
                MissionRecipientRow.mission_id == row.id
            )
            await session.execute(
                update(AlertRow)
                .where(
                    AlertRow.subscription_id.in_(subs),
                    AlertRow.kind == "mission",
                    AlertRow.acked_at.is_(None),
                )
                .values(acked_by=user_id, acked_via="mission", acked_at=now)
                .execution_options(synchronize_session=False)
            )

    async def take_from_alerts(self, session: AsyncSession, row: MissionRow, now: datetime) -> bool:
        """An alarm alert acknowledged in the alerts list (GET/POST /api/v1/alerts, the alerts
        page) takes the mission's alarm as if taken here: the ladder stops and the mission shows
        who took it. Called by the escalation tick on a locked row; whether it took it."""
        since = max((t for t in (row.alarm_at, row.duress_at) if t is not None), default=None)
        if since is None or (
            row.acknowledged_by is not None and row.acknowledged_round == row.alarm_round
        ):
            return False
        taken = (
            await session.execute(
                select(AlertRow.acked_by, MissionRecipientRow.user_id)
                .join(
                    MissionRecipientRow,
                    MissionRecipientRow.subscription_id == AlertRow.subscription_id,
                )
                .where(
                    MissionRecipientRow.mission_id == row.id,
                    AlertRow.kind == "mission",
                    AlertRow.priority == Priority.FLASH.value,
                    AlertRow.acked_at.is_not(None),
                    AlertRow.acked_via != "mission",
                    AlertRow.created_at >= since,
                )
                .order_by(AlertRow.acked_at, AlertRow.id)
                .limit(1)
            )
        ).first()
        if taken is None:
            return False
        try:
            await self._acknowledge(session, row, taken[0] or taken[1], now)
        except Conflict:
            return False
        return True

    # --- SMS ---------------------------------------------------------------------------------

    async def receive_sms(
        self, reporter: Principal | None, text: str, *, now: datetime
    ) -> tuple[str, str] | None:
        """A check-in (or a mission alarm taken) by SMS from a phone registered in the gateway's
        organisation: (status, reply); None when the message is not for missions."""
        parsed = parse_checkin(text) if reporter is not None else None
        if parsed is None or reporter is None:
            return None
        lang = parsed.language
        if parsed.alert_code is not None and parsed.code is None:
            taken = await self._take_by_code(reporter, parsed.alert_code, now)
            if taken is not None:
                return "acknowledged", messages.reply_acknowledged(lang, taken)
            if any(c.isdigit() for c in parsed.alert_code):
                return None  # an alert acknowledgement: intake's
        async with self.db.read() as session:
            mine = list(
                (
                    await session.execute(
                        select(MissionRow.id, MissionRow.code, MissionRow.state)
                        .join(MissionTravellerRow, MissionTravellerRow.mission_id == MissionRow.id)
                        .where(
                            MissionTravellerRow.user_id == reporter.user_id,
                            MissionRow.org_id == reporter.org_id,
                            MissionRow.purged_at.is_(None),
                        )
                        .order_by(MissionRow.departure_at, MissionRow.id)
                    )
                ).all()
            )
        open_ = [m for m in mine if m.state in {s.value for s in OPEN}]
        codes = [m.code for m in open_]
        if not mine:
            # A phone with no mission at all: "OK ZZ99", "AIDE enlevement a Diema"... are intake's.
            return None
        if parsed.code is not None:
            target = next((m for m in mine if m.code == parsed.code), None)
            if target is None:
                return "unknown_mission", messages.reply_unknown_code(lang, parsed.code, codes)
            if target.state not in {s.value for s in OPEN}:
                return "mission_closed", messages.reply_closed(lang, parsed.code, target.state)
        else:
            if not open_:
                return "no_mission", messages.reply_none(lang)
            if len(open_) > 1:
                return "which_mission", messages.reply_which(lang, codes)
            target = open_[0]
        if parsed.problem == "delay":
            return "incomplete", messages.reply_delay_missing(lang)
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    select(MissionRow)
                    .where(MissionRow.id == target.id)
                    .execution_options(populate_existing=True)
                )
            ).scalar_one()
            try:
                next_due = await self._record(
                    session, row, reporter.user_id, parsed, via="sms", lat=None, lon=None, now=now
                )
            except Conflict as exc:
                if "approval" in exc.detail:
                    return "needs_approval", messages.reply_closed(lang, row.code or "", "planned")
                return "mission_closed", messages.reply_closed(lang, row.code or "", row.state)
        if parsed.kind == CheckinKind.HELP:
            return "help", messages.reply_help(lang, target.code)
        due = datetime.fromisoformat(next_due.replace("Z", "+00:00")) if next_due else None
        kind = "arrived" if parsed.kind == CheckinKind.ARRIVED else "ok"
        return "checked_in", messages.reply_checkin(lang, target.code, kind, now, due)

    async def _take_by_code(self, who: Principal, code: str, now: datetime) -> str | None:
        """A responder's "OK <alert code>" for a mission alarm sent to them: the mission's code."""
        async with self.db.transaction() as session:
            found = (
                await session.execute(
                    select(MissionRow)
                    .join(MissionRecipientRow, MissionRecipientRow.mission_id == MissionRow.id)
                    .join(AlertRow, AlertRow.subscription_id == MissionRecipientRow.subscription_id)
                    .where(
                        AlertRow.code == code,
                        AlertRow.kind == "mission",
                        MissionRecipientRow.user_id == who.user_id,
                    )
                )
            ).scalar_one_or_none()
            if found is None:
                return None
            try:
                await self._acknowledge(session, found, who.user_id, now)
            except Conflict:
                return found.code or ""
            await audit.write(
                session,
                [
                    audit.event(
                        "mission.acknowledged",
                        who,
                        target_type="mission",
                        target_id=found.id,
                        via="sms",
                    )
                ],
                now=now,
            )
            return found.code or ""


__all__ = ["MissionService", "is_mission_code", "visible_missions"]


async def export_notification(
    service: MissionService,
    viewer: Principal,
    mission_id: uuid.UUID,
    fmt: str,
    language: str,
    *,
    now: datetime,
) -> tuple[bytes | str, str]:
    """The notification export (missions.export): off unless the deployment turns it on,
    officers of the mission's organisation only, audited; (content, media type)."""
    from incidents.records.tables import OrganisationRow
    from missions import export

    if not service.config.notification_export:
        raise Forbidden(
            "The humanitarian notification export is off on this server; an administrator turns "
            "it on with SENTINELLE_MISSIONS_NOTIFICATION_EXPORT=true."
        )
    if not viewer.is_officer:
        raise Forbidden("Only a security officer exports a mission's notification.")
    if fmt not in ("csv", "html", "pdf"):
        raise InvalidField("format", "format is csv, html or pdf.")
    async with service.db.transaction() as session:
        row = await service._row(session, viewer, mission_id)
        if row.org_id != viewer.org_id:
            raise _not_found(mission_id)
        if row.purged_at is not None:
            raise Conflict(
                "This mission was purged: its route is gone, there is nothing to export."
            )
        view = await service._view(session, viewer, row)
        org = await session.get(OrganisationRow, row.org_id)
        fields = export.notification(view, org.name if org else "")
        if fmt == "pdf":
            pdf = export.to_pdf(fields, language)
            if pdf is None:
                raise Conflict(
                    "PDF needs WeasyPrint, not installed on this server: ask for format=html and "
                    "print it, or install weasyprint."
                )
            content: bytes | str = pdf
            media = "application/pdf"
        elif fmt == "html":
            content, media = export.to_html(fields, language), "text/html; charset=utf-8"
        else:
            content, media = export.to_csv(fields, language), "text/csv; charset=utf-8"
        await audit.write(
            session,
            [
                audit.event(
                    "mission.notification_exported",
                    viewer,
                    target_type="mission",
                    target_id=row.id,
                    format=fmt,
                )
            ],
            now=now,
        )
    return content, media
