"""Group commit of reports (incidents.records.writer): a burst of reports is written in fewer
transactions than requests, each answer means stored, and a bad report fails alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import event, func, select

from incidents.db import Database
from incidents.errors import InvalidField
from incidents.identity.accounts import Principal
from incidents.records.schemas import IncidentIn
from incidents.records.service import IncidentService
from incidents.records.store import incident_from_row
from incidents.records.tables import IdempotencyRow, IncidentRow
from incidents.sharing.tables import AuditRow
from tests.factories import DIEMA, GAO, KIDAL, MENAKA, Factory, incident_payload
from tests.live import fx_http, fx_live_url

__all__ = ["fx_http", "fx_live_url"]  # the live-server fixtures used here

URL = "/api/v1/incidents"
BURST = 50
PLACES = (DIEMA, GAO, KIDAL, MENAKA)


def distinct_report(k: int, **extra: Any) -> dict[str, Any]:
    """The k-th report of a burst: its own event (the same town only every 13 hours)."""
    return incident_payload(
        type="armed_attack",
        at=PLACES[k % len(PLACES)],
        days_ago=1 + (k // len(PLACES)) * 13 / 24,
        description=f"report {k}",
        **extra,
    )


class ReportTransactions:
    """Counts the committed transactions that inserted incidents (an engine event listener)."""

    def __init__(self) -> None:
        self.count = 0

    def statement(self, conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if sql.lstrip().upper().startswith("INSERT INTO INCIDENTS "):
            conn.info["writes reports"] = True

    def commit(self, conn: Any) -> None:
        if conn.info.pop("writes reports", False):
            self.count += 1

    def rollback(self, conn: Any) -> None:
        conn.info.pop("writes reports", None)


@pytest.fixture(name="report_transactions")
def fx_report_transactions(db: Database) -> Iterator[ReportTransactions]:
    counter = ReportTransactions()
    engine = db.engine.sync_engine
    hooks = [
        ("before_cursor_execute", counter.statement),
        ("commit", counter.commit),
        ("rollback", counter.rollback),
    ]
    for name, fn in hooks:
        event.listen(engine, name, fn)
    try:
        yield counter
    finally:
        for name, fn in hooks:
            event.remove(engine, name, fn)


async def stored(db: Database) -> list[IncidentRow]:
    async with db.read() as session:
        return list((await session.scalars(select(IncidentRow))).all())


async def test_a_burst_of_reports_is_stored_once_each_in_fewer_transactions(
    http: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    report_transactions: ReportTransactions,
) -> None:
    reporters = [await factory.caller("reporter") for _ in range(5)]

    read_back: dict[str, str] = {}

    async def report_then_read(k: int) -> tuple[int, str | None, int]:
        who = reporters[k % len(reporters)]
        answer = await http.post(URL, json=distinct_report(k), headers=who.headers)
        if answer.status_code != 201:
            return answer.status_code, None, 0
        incident_id = answer.json()["id"]
        # A 201 means stored: the report reads back at once, by the reporter.
        again = await http.get(f"{URL}/{incident_id}", headers=who.headers)
        if again.status_code == 200:
            read_back[incident_id] = again.json()["properties"]["description"]
        return 201, incident_id, again.status_code

    results = await asyncio.gather(*(report_then_read(k) for k in range(BURST)))
    assert [code for code, _, _ in results] == [201] * BURST
    assert [read for _, _, read in results] == [200] * BURST, "a 201 not yet readable"
    ids = {incident_id for _, incident_id, _ in results}
    rows = await stored(db)
    assert len(ids) == BURST
    assert {str(r.id) for r in rows} == ids, "each report stored exactly once"
    assert sorted(read_back.values()) == sorted(f"report {k}" for k in range(BURST))
    assert report_transactions.count < BURST, "every report had its own transaction"
    # Each report is audited once, by its own reporter.
    async with db.read() as session:
        audited = (
            await session.execute(
                select(AuditRow.target_id, AuditRow.actor_user_id).where(
                    AuditRow.action == "incident.created"
                )
            )
        ).all()
    assert sorted(t for t, _ in audited) == sorted(ids)
    by_id = {str(r.id): r.user_id for r in rows}
    assert all(by_id[t] == actor for t, actor in audited)


async def test_a_bad_report_in_a_burst_fails_alone(
    http: httpx.AsyncClient, factory: Factory, db: Database, app: Litestar
) -> None:
    reporter = await factory.caller("reporter")
    first = await http.post(
        URL, json=distinct_report(99, external_id="field-17"), headers=reporter.headers
    )
    assert first.status_code == 201
    bodies = [distinct_report(k) for k in range(20)]
    bodies[7] = distinct_report(7, external_id="field-17")  # breaks a unique index in the batch
    bodies[13] = {**distinct_report(13), "lat": 95.0}  # refused before any batch
    answers = await asyncio.gather(
        *(http.post(URL, json=b, headers=reporter.headers) for b in bodies)
    )
    codes = [a.status_code for a in answers]
    assert (codes[7], codes[13]) == (422, 422), [a.text for a in answers]
    assert "external_id" in answers[7].text
    assert "lat" in answers[13].text
    assert [c for k, c in enumerate(codes) if k not in (7, 13)] == [201] * 18
    rows = await stored(db)
    assert len(rows) == 19
    cipher = app.state.container.cipher
    descriptions = {incident_from_row(r, cipher).description for r in rows}
    assert "report 7" not in descriptions
    assert "report 13" not in descriptions
    assert {f"report {k}" for k in range(20) if k not in (7, 13)} <= descriptions


# --- the writer itself, in one loop: reports submitted together share one batch ----------------


def principal(caller: Any) -> Principal:
    return Principal(user_id=caller.user_id, org_id=caller.org_id, role=caller.role)


async def test_reports_submitted_together_share_one_transaction_and_one_fails_alone(
    app: Litestar, factory: Factory, db: Database, report_transactions: ReportTransactions
) -> None:
    service: IncidentService = app.state.container.incidents
    reporter = principal(await factory.caller("reporter"))
    now = datetime.now(UTC)

    def body(k: int, **extra: Any) -> IncidentIn:
        return msgspec.convert(distinct_report(k, **extra), IncidentIn)

    together = await asyncio.gather(*(service.report(reporter, body(k), now=now) for k in range(8)))
    assert len({r.incident.id for r in together}) == 8
    assert report_transactions.count == 1, "eight reports waiting together: one transaction"

    await service.report(reporter, body(50, external_id="sms-4"), now=now)
    before = report_transactions.count
    mixed = await asyncio.gather(
        *(
            service.report(
                reporter, body(20 + k, **({"external_id": "sms-4"} if k == 3 else {})), now=now
            )
            for k in range(6)
        ),
        return_exceptions=True,
    )
    assert isinstance(mixed[3], InvalidField)
    assert mixed[3].field == "external_id"
    assert all(not isinstance(r, BaseException) for k, r in enumerate(mixed) if k != 3)
    # The batch was rolled back whole, then each written alone: five stored, one refused.
    assert report_transactions.count == before + 5
    assert len(await stored(db)) == 8 + 1 + 5


async def test_the_same_key_twice_in_one_batch_stores_one_report(
    app: Litestar, factory: Factory, db: Database
) -> None:
    service: IncidentService = app.state.container.incidents
    caller = await factory.caller("reporter")
    reporter = principal(caller)
    now = datetime.now(UTC)
    data = msgspec.convert(distinct_report(1), IncidentIn)
    key = f"retry-{uuid.uuid4()}"
    first, second, other = await asyncio.gather(
        service.report(reporter, data, now=now, idempotency_key=key),
        service.report(reporter, data, now=now, idempotency_key=key),
        service.report(
            reporter, msgspec.convert(distinct_report(2), IncidentIn), now=now, idempotency_key=key
        ),
        return_exceptions=True,
    )
    assert not isinstance(first, BaseException)
    assert not isinstance(second, BaseException)
    assert second.replayed
    assert second.incident.id == first.incident.id
    assert isinstance(other, InvalidField)
    assert other.field == "Idempotency-Key"
    rows = await stored(db)
    assert [r.id for r in rows] == [first.incident.id]
    async with db.read() as session:
        keys = await session.scalar(select(func.count()).select_from(IdempotencyRow))
    assert keys == 1
