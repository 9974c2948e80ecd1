"""Use cases around exchange formats: idempotent bulk import with updates, export, public alerts."""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Protocol, cast

import msgspec
import shapely
from sqlalchemy import column as sa_column
from sqlalchemy import select
from sqlalchemy import table as sa_table
from sqlalchemy.ext.asyncio import AsyncSession

from geo.geometry import from_wkb
from incidents.db import Database
from incidents.errors import InvalidField
from incidents.identity.accounts import Principal
from incidents.interop import RowResult, incidents_to_acled, incidents_to_csv, incidents_to_hxl
from incidents.interop.importer import ImportReport, InputRow, import_rows
from incidents.records.events import NO_EVENTS, WriteEvents
from incidents.records.model import WHAT_HAPPENED_FIELDS, Incident, Status
from incidents.records.schemas import IncidentFeature, IncidentIn, ZoneRef
from incidents.records.service import ZoneLookup
from incidents.records.store import IncidentQuery, IncidentStore, TextCipher, incident_from_row
from incidents.records.tables import IncidentRow
from incidents.records.validation import Rules, incident_from_input
from incidents.sharing.tables import AuditRow
from incidents.sharing.views import feature_from_row

# What a re-import may change: what the source says happened. Status, sharing level and the
# organisation's own judgement (reliability, credibility) stay as officers left them.
CONTENT_FIELDS = WHAT_HAPPENED_FIELDS


@dataclass
class ImportSummary:
    """Each input row lands in one count: created, updated, unchanged, duplicate, rejected."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str | None, str]] = field(default_factory=list)
    # Valid rows whose event occurred before the risk window (importer.older_than_window_note).
    older_than_window: int = 0

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.duplicates + len(self.rejected)

    def add(self, report: ImportReport) -> None:
        self.created += report.created
        self.unchanged += report.already_present
        self.duplicates += report.duplicates
        self.rejected += report.rejected
        self.older_than_window += report.older_than_window


@dataclass(frozen=True, slots=True)
class Upserted:
    incident_id: uuid.UUID
    outcome: str  # created | updated | unchanged


def _changes(
    current: Incident, fresh: Incident, current_geom: shapely.Geometry, fresh_geom: shapely.Geometry
) -> dict[str, Any]:
    changed = {
        name: getattr(fresh, name)
        for name in CONTENT_FIELDS
        if getattr(fresh, name) != getattr(current, name)
    }
    if not shapely.equals_exact(current_geom, fresh_geom, tolerance=1e-9):
        changed["geometry"] = fresh.geometry
    return changed


async def update_from_source(
    session: AsyncSession,
    row: IncidentRow,
    data: IncidentIn,
    *,
    now: datetime,
    rules: Rules,
    events: WriteEvents = NO_EVENTS,
    actor: Principal | None = None,
    cipher: TextCipher | None = None,
) -> bool:
    """Apply what the source now says to a stored incident; False when nothing changed."""
    current = incident_from_row(row, cipher)
    fresh, geom = incident_from_input(
        data, org_id=current.org_id, user_id=current.user_id, now=now, rules=rules
    )
    current_geom = from_wkb(row.geometry_wkb)
    changed = _changes(current, fresh, current_geom, geom)
    if not changed:
        return False
    updated = replace(current, **changed, version=current.version + 1, updated_at=now)
    new_geom = geom if "geometry" in changed else current_geom
    if not await IncidentStore(session, cipher).replace_if_version(
        updated, new_geom, current.version
    ):
        return False
    await events.written(session, updated, new_geom, current, actor=actor, at=now)
    return True


async def _rows_by_external_id(
    session: AsyncSession, org_id: uuid.UUID, external_ids: Iterable[str]
) -> dict[str, IncidentRow]:
    ids = sorted(set(external_ids))
    if not ids:
        return {}
    rows = await session.scalars(
        select(IncidentRow).where(IncidentRow.org_id == org_id, IncidentRow.external_id.in_(ids))
    )
    return {r.external_id: r for r in rows.all() if r.external_id is not None}


def _as_input(payload: Mapping[str, Any], row_number: int) -> IncidentIn:
    try:
        return msgspec.convert(dict(payload), IncidentIn, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        name = text.split("at `$.", 1)[1].rstrip("`") if "at `$." in text else "row"
        raise InvalidField(name, text) from None


async def import_incidents(
    db: Database,
    results: Iterable[RowResult],
    *,
    org_id: uuid.UUID,
    now: datetime,
    user_id: uuid.UUID | None = None,
    events: WriteEvents = NO_EVENTS,
    actor: Principal | None = None,
    defaults: Mapping[str, Any] | None = None,
    rules: Rules | None = None,
    batch_size: int = 1000,
    progress: Any = None,
    cipher: TextCipher | None = None,
    risk_window_days: float | None = None,
) -> ImportSummary:
    """Store converted rows: new external ids are created, known ones updated when the source
    changed, rows without an external id get a content id (a re-import creates nothing).

    Each batch is one transaction. Call the converter's header check before this (the converters
    raise ImportFormatError on their first `next`), so a bad file stores nothing.
    """
    rules = rules or Rules()
    summary = ImportSummary()
    window_start = None if risk_window_days is None else now - timedelta(days=risk_window_days)
    rows = iter(results)
    while batch := list(itertools.islice(rows, batch_size)):
        if progress is not None:
            progress(len(batch))
        explicit = [r for r in batch if r.incident is not None and r.incident.get("external_id")]
        async with db.read() as session:
            known = await _rows_by_external_id(
                session, org_id, (str(r.incident["external_id"]) for r in explicit if r.incident)
            )
        fresh = [
            r
            for r in batch
            if r.incident is None or str(r.incident.get("external_id") or "") not in known
        ]
        again = [r for r in explicit if r.incident and str(r.incident["external_id"]) in known]
        if again:
            async with db.transaction() as session:
                # Re-read in this transaction with one query, not one `session.get` per row.
                current = await _rows_by_external_id(
                    session, org_id, (str(r.incident["external_id"]) for r in again if r.incident)
                )
                for result in again:
                    assert result.incident is not None
                    payload = {**(defaults or {}), **result.incident}
                    row = current.get(str(payload["external_id"]))
                    if row is None:
                        continue
                    try:
                        data = _as_input(payload, result.row_number)
                        if window_start is not None and _occurred(data) < window_start:
                            summary.older_than_window += 1
                        changed = await update_from_source(
                            session,
                            row,
                            data,
                            now=now,
                            rules=rules,
                            events=events,
                            actor=actor,
                            cipher=cipher,
                        )
                    except InvalidField as exc:
                        summary.rejected.append((result.row_number, exc.field, exc.detail))
                        continue
                    if changed:
                        summary.updated += 1
                    else:
                        summary.unchanged += 1
        if fresh:
            summary.add(
                await import_rows(
                    db,
                    cast(list[InputRow], fresh),
                    org_id=org_id,
                    user_id=user_id,
                    now=now,
                    rules=rules,
                    events=events,
                    actor=actor,
                    defaults=dict(defaults or {}),
                    batch_size=batch_size,
                    cipher=cipher,
                    risk_window_days=risk_window_days,
                )
            )
    return summary


def _occurred(data: IncidentIn) -> datetime:
    at = data.occurred_at
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def retract_external(
    db: Database,
    *,
    org_id: uuid.UUID,
    external_ids: Iterable[str],
    now: datetime,
    reason: str,
    events: WriteEvents = NO_EVENTS,
    actor: Principal | None = None,
    cipher: TextCipher | None = None,
) -> int:
    """Retract the organisation's incidents with these external ids (kept, marked retracted, so
    they leave lists, maps and risk but the record of what was once published stays)."""
    removed = 0
    ids = sorted(set(external_ids))
    for start in range(0, len(ids), 500):
        async with db.transaction() as session:
            found = await _rows_by_external_id(session, org_id, ids[start : start + 500])
            for row in found.values():
                current = incident_from_row(row, cipher)
                if current.status == Status.RETRACTED:
                    continue
                description = f"{current.description or ''}\n[retracted] {reason}".strip()
                updated = replace(
                    current,
                    status=Status.RETRACTED,
                    description=description,
                    version=current.version + 1,
                    updated_at=now,
                )
                geom = from_wkb(row.geometry_wkb)
                store = IncidentStore(session, cipher)
                if await store.replace_if_version(updated, geom, current.version):
                    await events.written(session, updated, geom, current, actor=actor, at=now)
                    removed += 1
    return removed


# ---------------------------------------------------------------------------- export


def feature_to_dict(feature: IncidentFeature) -> dict[str, Any]:
    """A presented feature as the flat incident dict the interop writers take."""
    properties = msgspec.to_builtins(feature.properties)
    out: dict[str, Any] = {"id": str(feature.id), "geometry": feature.geometry, **properties}
    for zone in feature.properties.zones or []:
        if zone.kind in ("admin1", "admin2") and not out.get(zone.kind):
            out[zone.kind] = zone.name
    return out


#: Tabular exports: each a generator of CSV rows (header first) from flat incident dicts, used
#: alike by `GET /api/v1/incidents?format=...` and `sentinelle incidents export --format ...`.
TABLE_EXPORTS: Mapping[str, Callable[[Iterable[Mapping[str, Any]]], Iterator[list[Any]]]] = {
    "csv": incidents_to_csv,
    "hxl": incidents_to_hxl,
    "acled": incidents_to_acled,
}


def write_table(fmt: str, incidents: Iterable[Mapping[str, Any]], out: IO[str]) -> None:
    """Write one of TABLE_EXPORTS to a text file opened with newline=""."""
    csv.writer(out).writerows(TABLE_EXPORTS[fmt](incidents))


def export_text(features: Sequence[IncidentFeature], fmt: str) -> str:
    """`GET /api/v1/incidents?format=csv|hxl|acled`: the presented page (masked entries as the
    viewer sees them) in that format."""
    out = io.StringIO()
    write_table(fmt, (feature_to_dict(f) for f in features), out)
    return out.getvalue()


async def iter_incidents(
    db: Database,
    *,
    org_id: uuid.UUID | None = None,
    zone_lookup: ZoneLookup | None = None,
    page_size: int = 500,
    cipher: TextCipher | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every incident that is not retracted, newest first, page by page (full details: this is
    for administrators exporting from the command line, not for API viewers)."""
    cursor: str | None = None
    while True:
        query = IncidentQuery(limit=page_size, cursor=cursor)
        if org_id is not None:
            query.extra_conditions.append(IncidentRow.org_id == org_id)
        async with db.read() as session:
            rows, cursor = await IncidentStore(session, cipher).query_rows(query)
            zones: dict[Any, list[ZoneRef]] = {}
            if zone_lookup is not None and rows:
                zones = dict(
                    await zone_lookup(
                        session, [r.id for r in rows], org_id=org_id, all_zones=org_id is None
                    )
                )
            page = [
                {
                    **feature_to_dict(feature_from_row(r, zones=zones, cipher=cipher)),
                    "external_id": r.external_id,
                }
                for r in rows
            ]
        if page:
            yield page
        if cursor is None:
            return


def flatten_pages(pages: Iterable[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for page in pages:
        yield from page


# ---------------------------------------------------------------------------- public alerts


class PublicAlerts(Protocol):
    """Alerts that may be published as CAP (the alerts module provides the real source).

    Each alert is a mapping as `incidents.interop.cap.alert_to_cap` reads it (one message per
    version: `identifier`, `sent`, `previous`), plus `updated` (datetime) for the Atom index.
    """

    async def list_public(self, now: datetime) -> list[Mapping[str, Any]]: ...

    async def get_public(self, alert_id: str, now: datetime) -> Mapping[str, Any] | None: ...


class NoPublicAlerts:
    """Until the alerts module is wired in: an empty feed, and 404 for every alert."""

    async def list_public(self, now: datetime) -> list[Mapping[str, Any]]:
        return []

    async def get_public(self, alert_id: str, now: datetime) -> Mapping[str, Any] | None:
        return None


# The alerts table seen by name only: incidents must not import the alerts package (it depends on
# us), and the feed needs just one fact from it: that an alert went out about an incident.
_alerts = sa_table("alerts", sa_column("incident_id"), sa_column("kind"))
CAP_FEED_SIZE = 100


# What the write guard (incidents.sharing.guard) audits for each write of an incident, at the
# time the write sets as updated_at; reads and requests about it are audited too, and are not
# versions.
WRITE_ACTIONS = (
    "incident.created",
    "incident.changed",
    "incident.status_changed",
    "incident.sharing_changed",
)


def cap_identifier(incident_id: uuid.UUID | str, version: int) -> str:
    """The CAP identifier of one version of a public incident: `<incident id>-v<version>`."""
    return f"{incident_id}-v{version}"


def _version_time(incident: Incident) -> datetime:
    # Every write sets updated_at to the write's time; the first version's is its creation.
    return incident.updated_at or incident.created_at or incident.reported_at


async def _previous_message(
    session: AsyncSession, incident: Incident
) -> tuple[str, datetime] | None:
    """(identifier, sent) of the CAP message this version supersedes; None when this version is
    the first one published.

    An incident's versions are its audited writes (WRITE_ACTIONS, each audited at the time the
    write sets as `updated_at`), so the previous version's time is that of the last write
    before this one.
    """
    if incident.version <= 1:
        return None
    sent = _version_time(incident)
    audited = (
        (
            await session.execute(
                select(AuditRow.at, AuditRow.action, AuditRow.details).where(
                    AuditRow.target_type == "incident",
                    AuditRow.target_id == str(incident.id),
                    AuditRow.action.in_(WRITE_ACTIONS),
                    AuditRow.at <= sent,
                )
            )
        )
        .tuples()
        .all()
    )
    for at, action, details in audited:
        # The write that made the incident `clear` is its first public message.
        if at == sent and action == "incident.sharing_changed" and details.get("to") == "clear":
            return None
    earlier = [at for at, _action, _details in audited if at < sent]
    if not earlier:
        return None
    return cap_identifier(incident.id, incident.version - 1), max(earlier)


async def _public_alert(session: AsyncSession, row: IncidentRow) -> dict[str, Any] | None:
    # Only fields stored in clear are published: the narrative is never opened here.
    incident = incident_from_row(row)
    previous = await _previous_message(session, incident)
    if incident.status == Status.RETRACTED and previous is None:
        return None  # retracted before it was ever published: nothing to cancel
    return {
        "id": str(incident.id),
        "identifier": cap_identifier(incident.id, incident.version),
        "sent": _version_time(incident),
        "previous": previous,
        "type": incident.type,
        "severity": incident.severity,
        "status": incident.status.value,
        "geometry": incident.geometry,
        "location_precision": incident.location_precision.value,
        "place_name": incident.place_name,
        "occurred_at": incident.occurred_at,
        "version": incident.version,
        "updated": _version_time(incident),
    }


@dataclass
class AlertedPublicIncidents:
    """Public alerts: incidents shared as `clear` (anyone may know) that an alert went out about.

    Only the type, place, time, severity and status are published; never the narrative, the
    organisation or who reported it.
    """

    db: Database

    def _select(self) -> Any:
        alerted = select(_alerts.c.incident_id).where(_alerts.c.kind == "incident")
        return select(IncidentRow).where(
            IncidentRow.sharing_level == "clear",
            IncidentRow.is_demo.is_(False),
            IncidentRow.id.in_(alerted),
        )

    async def list_public(self, now: datetime) -> list[Mapping[str, Any]]:
        async with self.db.read() as session:
            rows = await session.scalars(
                self._select().order_by(IncidentRow.updated_at.desc()).limit(CAP_FEED_SIZE)
            )
            alerts = [await _public_alert(session, r) for r in rows.all()]
            return [a for a in alerts if a is not None]

    async def get_public(self, alert_id: str, now: datetime) -> Mapping[str, Any] | None:
        """The current message of a public incident, by incident id (the latest version) or by
        CAP identifier (`<id>-v<version>`: only while that version is the current one; older
        versions are not kept, and are not public any more)."""
        incident_id, _, version = alert_id.partition("-v")
        try:
            wanted = uuid.UUID(incident_id)
            number = int(version) if version else None
        except ValueError:
            return None
        async with self.db.read() as session:
            row = (
                await session.scalars(self._select().where(IncidentRow.id == wanted))
            ).one_or_none()
            if row is None or (number is not None and number != row.version):
                return None
            return await _public_alert(session, row)
