"""Two `sentinelle dispatch` processes share 500 deliveries; one is killed mid-batch (SIGKILL):
the other finishes, every delivery is recorded delivered, and a message is sent twice only
when its row was leased by the killed worker (with the same idempotency key)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer

import msgspec
import pytest
from sqlalchemy import func, select

from alerts.core.tables import DeliveryRow
from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database
from incidents.identity.accounts import Principal
from incidents.records.model import Role
from incidents.records.schemas import IncidentIn
from tests.alert_receivers import HttpReceiver, _handler
from tests.db.test_dispatcher_crash import worker
from tests.factories import DIEMA, Factory, incident_payload

SUBSCRIPTIONS = 500
BATCH = 100  # SENTINELLE_DISPATCH_BATCH in `worker`: at most this many leased by one worker


@pytest.fixture(name="receiver")
def fx_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(delay_s=0.02)

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024  # a burst of connections is queued, not reset
        daemon_threads = True

    server = Server(("127.0.0.1", 0), _handler(receiver))
    receiver.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


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
    app = create_app(settings, db=db)
    subscriber = await factory.caller("planner")
    reporter = await factory.caller("reporter")
    owner = Principal(subscriber.user_id, subscriber.org_id, Role.PLANNER)
    now = datetime.now(UTC)
    for i in range(SUBSCRIPTIONS):
        await app.state.container.alerts.create_subscription(
            owner,
            {
                "channels": [receiver.url(f"s{i}")],
                "area": {"point": {"lat": DIEMA[0], "lon": DIEMA[1]}, "radius_km": 30},
            },
            now=now,
        )
    await app.state.container.incidents.report(
        Principal(reporter.user_id, reporter.org_id, Role.REPORTER),
        msgspec.convert(incident_payload(at=DIEMA), IncidentIn),
        now=now,
    )
    async with db.read() as session:
        expected = set((await session.execute(select(DeliveryRow.idempotency_key))).scalars())
    assert len(expected) == SUBSCRIPTIONS

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
