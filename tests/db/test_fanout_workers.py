"""Two `sentinelle dispatch` processes share 500 deliveries; one is killed mid-batch (SIGKILL):
the other finishes, every delivery is recorded delivered, and a message is sent twice only
when its row was leased by the killed worker (with the same idempotency key)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from alerts.core.tables import DeliveryRow
from api.settings import Settings
from incidents.db import Database
from tests.alert_receivers import HttpReceiver, http_receiver
from tests.db.test_dispatcher_crash import queue_deliveries, worker
from tests.factories import Factory

SUBSCRIPTIONS = 500
BATCH = 100  # SENTINELLE_DISPATCH_BATCH in `worker`: at most this many leased by one worker


@pytest.fixture(name="receiver")
def fx_receiver() -> Iterator[HttpReceiver]:
    with http_receiver(delay_s=0.02, backlog=1024) as receiver:
        yield receiver


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def test_two_dispatchers_share_the_work_and_survive_one_killed_mid_batch(
    settings: Settings,
    database_url: str,
    db: Database,
    factory: Factory,
    receiver: HttpReceiver,
) -> None:
    expected = await queue_deliveries(settings, db, factory, receiver, SUBSCRIPTIONS)

    doomed = worker(settings, database_url, "doomed")
    survivor = worker(settings, database_url, "survivor")
    try:
        await asyncio.to_thread(receiver.wait_for, 60, 60.0)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        arrived_at_kill = len(set(receiver.keys))
        assert arrived_at_kill < SUBSCRIPTIONS, "the kill came too late to cut a batch"
        assert await asyncio.to_thread(receiver.wait_for_keys, expected, 90.0)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            async with db.read() as session:
                statuses = dict(
                    (
                        await session.execute(
                            select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
                        )
                    ).all()
                )
            if statuses == {"delivered": SUBSCRIPTIONS}:
                break
            await asyncio.sleep(0.1)
    finally:
        _stop(doomed)
        _stop(survivor)

    assert statuses == {"delivered": SUBSCRIPTIONS}
    async with db.read() as session:
        senders = Counter(
            str(token).split("/")[0]
            for token in (await session.execute(select(DeliveryRow.leased_by))).scalars()
        )
    assert senders["survivor"] > 0
    # Each address got its own message, with one key however often it was tried.
    by_path: dict[str, set[str | None]] = {}
    receipts = Counter[str]()
    for item in receiver.received:
        by_path.setdefault(item.path, set()).add(item.key)
        receipts[item.path] += 1
    assert len(by_path) == SUBSCRIPTIONS
    assert all(len(keys) == 1 for keys in by_path.values())
    twice = sum(n - 1 for n in receipts.values())
    assert twice <= BATCH, f"{twice} messages sent again: more than the killed worker had leased"
