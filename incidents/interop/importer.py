"""Bulk import of incident input rows: validated chunk by chunk, written in batches, idempotent."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import shapely

from incidents.db import Database
from incidents.identity.accounts import Principal
from incidents.interop.columns import (
    Chunk,
    collection_paused,
    incident_columns,
    insert_columns,
    validate_chunk,
)
from incidents.records.events import NO_EVENTS, WriteEvents
from incidents.records.model import Incident
from incidents.records.store import IncidentStore, TextCipher
from incidents.records.validation import DEFAULT_RULES, Rules

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


async def import_rows(
    db: Database,
    rows: Iterable[InputRow],
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID | None,
    now: datetime,
    rules: Rules = DEFAULT_RULES,
    batch_size: int = 5000,
    events: WriteEvents = NO_EVENTS,
    actor: Principal | None = None,
    defaults: dict[str, Any] | None = None,
    is_demo: bool = False,
    progress: Callable[[int], None] | None = None,
    cipher: TextCipher | None = None,
    risk_window_days: float | None = None,
) -> ImportReport:
    """Validate and store every row; each batch is one transaction; known external ids are skipped.

    Rows are validated YIELD_EVERY at a time, column by column (incidents.interop.columns: the
    same rules and messages as one POST); each full batch is then written while nothing else of
    the import runs (Python work beside SQLite's thread would take the GIL from it and slow
    both), and the event loop gets a turn between chunks.
    With `risk_window_days`, valid rows whose event occurred before that window are counted
    (`older_than_window`): they are stored, but today's levels do not count them."""
    report = ImportReport()
    window_start = None if risk_window_days is None else now - timedelta(days=risk_window_days)
    pending = Chunk()

    async def write(incidents: list[Incident], geometries: list[shapely.Geometry]) -> None:
        async with db.transaction() as session:
            store = IncidentStore(session, cipher)
            known = await store.existing_external_ids(
                org_id, [i.external_id for i in incidents if i.external_id is not None]
            )
            fresh: list[tuple[Incident, shapely.Geometry]] = []
            seen: set[str | None] = set()
            for incident, geom in zip(incidents, geometries, strict=True):
                if incident.external_id in known or incident.external_id in seen:
                    report.already_present += 1
                    continue
                seen.add(incident.external_id)
                fresh.append((incident, geom))
            if fresh:
                chosen, shapes = zip(*fresh, strict=True)
                with collection_paused():
                    columns = incident_columns(chosen, shapes, is_demo=is_demo, cipher=cipher)
                await insert_columns(session, columns)
            # One event for the batch: zone placement and the audit take it in one go.
            await events.imported(session, fresh, actor=actor, at=now)
            report.created += len(fresh)

    async def flush() -> None:
        nonlocal pending
        if pending.incidents:
            await write(pending.incidents, pending.geometries)
            pending = Chunk()

    async def validate(chunk: list[InputRow]) -> None:
        if progress is not None:
            progress(len(chunk))
        with collection_paused():
            payloads: list[tuple[int, dict[str, Any]]] = []
            for row in chunk:
                if row.incident is None:
                    if row.error is None:
                        report.duplicates += 1
                    else:
                        report.rejected.append((row.row_number, row.field, row.error))
                    continue
                payload = {**defaults, **row.incident} if defaults else dict(row.incident)
                if "external_id" not in payload:
                    # Hashed only when needed (setdefault would hash every row).
                    payload["external_id"] = content_id(row.incident)
                payloads.append((row.row_number, payload))
            done = validate_chunk(payloads, org_id=org_id, user_id=user_id, now=now, rules=rules)
            report.rejected += done.rejected
            if window_start is not None:
                late = sum(i.occurred_at < window_start for i in done.incidents)
                report.older_than_window += late
            pending.incidents += done.incidents
            pending.geometries += done.geometries
        if len(pending.incidents) >= batch_size:
            await flush()
        else:
            # Let other work on the event loop have its turn.
            await asyncio.sleep(0)

    chunk: list[InputRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= YIELD_EVERY:
            await validate(chunk)
            chunk = []
    if chunk:
        await validate(chunk)
    await flush()
    # Refusals in row order, whichever step found them.
    report.rejected.sort(key=lambda r: r[0])
    return report
