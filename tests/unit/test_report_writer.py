"""The group writer's batches (incidents.records.writer.ReportWriter): the reporters of a burst
stay in one transaction, and a lone reporter is never held back waiting for others."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import pytest

from incidents.records import writer as writer_module
from incidents.records.writer import Outcome, PendingReport, ReportWriter


class FakeDatabase:
    """Transactions that record the reports of each batch; `hold` keeps the next one open."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.hold: asyncio.Event | None = None
        self.writing = asyncio.Event()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        yield None

    async def write_batch(self, session: Any, reports: Sequence[PendingReport]) -> list[Outcome]:
        self.writing.set()
        if self.hold is not None:
            await self.hold.wait()
            self.hold = None
        self.batches.append([cast(int, r) for r in reports])
        return [cast(Outcome, r) for r in reports]


def writer_on(db: FakeDatabase) -> ReportWriter:
    return ReportWriter(db.transaction, db.write_batch)


async def submit(writer: ReportWriter, n: int) -> Any:
    return await writer.submit(cast(PendingReport, n))


@pytest.fixture(autouse=True)
def no_give_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # The writer never gives up lingering here: a test that needed the time limit would hang
    # (and fail by asyncio.wait_for), not pass by luck of timing.
    monkeypatch.setattr(writer_module, "MAX_LINGER", 3600.0)


async def test_a_report_arriving_during_a_batch_waits_for_the_reporters_answered() -> None:
    """Four reporters are answered while a fifth report waits: the four come back at once,
    and the five are one transaction, not the fifth alone and then the four."""
    db = FakeDatabase()
    writer = writer_on(db)

    async def reporter(first: int, then: int) -> list[Any]:
        return [await submit(writer, first), await submit(writer, then)]

    db.hold = asyncio.Event()
    reporters = [asyncio.create_task(reporter(k, 10 + k)) for k in range(4)]
    await asyncio.wait_for(db.writing.wait(), 30)
    late = asyncio.create_task(submit(writer, 99))
    await asyncio.sleep(0)
    db.hold.set()
    answers = await asyncio.wait_for(asyncio.gather(*reporters, late), 30)

    assert answers == [[0, 10], [1, 11], [2, 12], [3, 13], 99]
    assert [sorted(b) for b in db.batches] == [[0, 1, 2, 3], [10, 11, 12, 13, 99]]


async def test_a_lone_reporter_is_written_at_once_report_after_report() -> None:
    db = FakeDatabase()
    writer = writer_on(db)
    for k in range(5):
        assert await asyncio.wait_for(submit(writer, k), 30) == k
    assert db.batches == [[0], [1], [2], [3], [4]]


async def test_reporters_that_do_not_come_back_hold_the_waiting_report_briefly_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(writer_module, "MAX_LINGER", 0.01)
    db = FakeDatabase()
    writer = writer_on(db)
    db.hold = asyncio.Event()
    first = [asyncio.create_task(submit(writer, k)) for k in range(4)]
    await asyncio.wait_for(db.writing.wait(), 30)
    late = asyncio.create_task(submit(writer, 99))
    await asyncio.sleep(0)
    db.hold.set()
    assert await asyncio.wait_for(asyncio.gather(*first, late), 30) == [0, 1, 2, 3, 99]
    assert db.batches == [[0, 1, 2, 3], [99]]
