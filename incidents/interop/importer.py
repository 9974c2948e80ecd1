"""Bulk import of incident input rows: validated one by one, written in batches, idempotent."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import msgspec
import shapely
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from incidents.db import Database
from incidents.errors import InvalidField
from incidents.identity.accounts import Principal
from incidents.records.events import NO_EVENTS, WriteEvents
from incidents.records.model import Incident
from incidents.records.schemas import IncidentIn
from incidents.records.store import IncidentStore, TextCipher, rows_values
from incidents.records.tables import IncidentRow
from incidents.records.validation import DEFAULT_RULES, Rules, incident_from_input

# While validating, yield to the event loop every this many rows (the writer's turn).
YIELD_EVERY = 250


class InputRow(Protocol):
    """One row to import: an incident's fields, or why the row is not one (read only)."""

    @property
    def row_number(self) -> int: ...
    @property
    def incident(self) -> dict[str, Any] | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def field(self) -> str | None: ...


@dataclass
class ImportReport:
    created: int = 0
    already_present: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str | None, str]] = field(default_factory=list)
    # Valid rows whose event occurred before the risk window (`risk_window_days`).
    older_than_window: int = 0

    @property
    def seen(self) -> int:
        return self.created + self.already_present + self.duplicates + len(self.rejected)


def older_than_window_note(count: int, window_days: float) -> str | None:
    """What an import's events older than the risk window mean, in words (None when none)."""
    if count <= 0:
        return None
    events = "1 event is" if count == 1 else f"{count} events are"
    return (
        f"{events} older than the {window_days:g}-day risk window: stored, shown in history, "
        "not counted in today's levels."
    )


def content_id(payload: dict[str, Any]) -> str:
    """A stable external id for rows that have none, so that a re-import creates nothing new."""
    canonical = json.dumps(payload, sort_keys=True, default=str).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()[:32]


def _message(exc: msgspec.ValidationError) -> tuple[str | None, str]:
    text = str(exc)
    field_name = None
    if "at `$." in text:
        field_name = text.split("at `$.", 1)[1].rstrip("`")
    return field_name, text


async def import_rows(
    db: Database,
    rows: Iterable[InputRow],
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID | None,
    now: datetime,
    rules: Rules = DEFAULT_RULES,
    batch_size: int = 2000,
    events: WriteEvents = NO_EVENTS,
    actor: Principal | None = None,
    defaults: dict[str, Any] | None = None,
    is_demo: bool = False,
    progress: Callable[[int], None] | None = None,
    cipher: TextCipher | None = None,
    risk_window_days: float | None = None,
) -> ImportReport:
    """Validate and store every row; each batch is one transaction; known external ids are skipped.

    With `risk_window_days`, valid rows whose event occurred before that window are counted
    (`older_than_window`): they are stored, but today's levels do not count them."""
    report = ImportReport()
    window_start = None if risk_window_days is None else now - timedelta(days=risk_window_days)
    pending: list[tuple[Incident, shapely.Geometry]] = []
    writing: asyncio.Task[None] | None = None

    async def write(batch: list[tuple[Incident, shapely.Geometry]]) -> None:
        async with db.transaction() as session:
            store = IncidentStore(session, cipher)
            known = await store.existing_external_ids(
                org_id, [i.external_id for i, _ in batch if i.external_id is not None]
            )
            fresh: list[tuple[Incident, shapely.Geometry]] = []
            seen: set[str | None] = set()
            for incident, geom in batch:
                if incident.external_id in known or incident.external_id in seen:
                    report.already_present += 1
                    continue
                seen.add(incident.external_id)
                fresh.append((incident, geom))
            # Column values for the whole batch at once (vectorised WKB, bounds, points).
            await insert_incident_rows(session, rows_values(fresh, is_demo=is_demo, cipher=cipher))
            # One event for the batch: zone placement and the audit take it in one go.
            await events.imported(session, fresh, actor=actor, at=now)
            report.created += len(fresh)

    async def flush() -> None:
        """Hand the batch to the writer once the previous one is written: the next batch is
        validated while this one is written (SQLite works in its own thread)."""
        nonlocal writing
        if writing is not None:
            done, writing = writing, None
            await done
        if pending:
            writing = asyncio.ensure_future(write(list(pending)))
            pending.clear()

    try:
        await _validate_all(
            rows,
            pending,
            report,
            flush,
            org_id,
            user_id,
            now,
            rules,
            batch_size,
            defaults,
            window_start,
            progress,
        )
        await flush()
        await flush()
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writing
    return report


async def insert_incident_rows(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    """Insert incident rows. On SQLite, straight through the driver's executemany with the
    columns' own bind processors applied column by column: the same stored values as a Core
    insert, without SQLAlchemy's per-row parameter building (half the cost of an import)."""
    if not values:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        await IncidentStore(session).add_many(values)
        return
    table = cast(Table, IncidentRow.__table__)
    names = list(values[0])
    columns: list[list[Any]] = []
    for name in names:
        column = [v[name] for v in values]
        process = table.c[name].type.bind_processor(dialect)
        columns.append([None if x is None else process(x) for x in column] if process else column)
    # The names are the table's own columns (rows_values), never input.
    marks = ", ".join("?" * len(names))
    sql = f"INSERT INTO incidents ({', '.join(names)}) VALUES ({marks})"  # noqa: S608
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.executemany(sql, list(zip(*columns, strict=True)))


async def _validate_all(
    rows: Iterable[InputRow],
    pending: list[tuple[Incident, shapely.Geometry]],
    report: ImportReport,
    flush: Callable[[], Awaitable[None]],
    org_id: uuid.UUID,
    user_id: uuid.UUID | None,
    now: datetime,
    rules: Rules,
    batch_size: int,
    defaults: dict[str, Any] | None,
    window_start: datetime | None,
    progress: Callable[[int], None] | None,
) -> None:
    for row in rows:
        if progress is not None:
            progress(1)
        if row.incident is None:
            if row.error is None:
                report.duplicates += 1
            else:
                report.rejected.append((row.row_number, row.field, row.error))
            continue
        payload = {**(defaults or {}), **row.incident}
        if "external_id" not in payload:
            # Hashed only when needed (setdefault would hash every row: ~15% of an import).
            payload["external_id"] = content_id(row.incident)
        try:
            data = msgspec.convert(payload, IncidentIn, strict=False)
            incident, geom = incident_from_input(
                data, org_id=org_id, user_id=user_id, now=now, rules=rules
            )
        except msgspec.ValidationError as exc:
            report.rejected.append((row.row_number, *_message(exc)))
            continue
        except InvalidField as exc:
            report.rejected.append((row.row_number, exc.field, exc.detail))
            continue
        if window_start is not None and incident.occurred_at < window_start:
            report.older_than_window += 1
        pending.append((incident, geom))
        if len(pending) >= batch_size:
            await flush()
        elif len(pending) % YIELD_EVERY == 0:
            # Let the batch being written move on to its next statement.
            await asyncio.sleep(0)
