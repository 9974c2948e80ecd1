"""A `sentinelle dispatch` worker killed mid-batch: after a restart nothing is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import select

from alerts.core.tables import DeliveryRow
from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database
from incidents.identity.accounts import Principal
from incidents.records.model import Role
from incidents.records.schemas import IncidentIn
from tests.alert_receivers import HttpReceiver, http_receiver
from tests.factories import DIEMA, Factory, incident_payload

REPO = Path(__file__).resolve().parents[2]
SUBSCRIPTIONS = 40


def worker(settings: Settings, database_url: str, name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SENTINELLE_DATABASE_URL": database_url,
        "SENTINELLE_VAR_DIR": settings.var_dir,
        "SENTINELLE_DISPATCH_LEASE_SECONDS": "2",
        "SENTINELLE_DISPATCH_POLL_SECONDS": "0.1",
        "SENTINELLE_DISPATCH_BATCH": "100",
        "SENTINELLE_CHANNEL_RATE_PER_MINUTE": "100000",
        "SENTINELLE_CHANNEL_ALLOW_HOSTS": "127.0.0.1",
    }
    command = [
        str(Path(sys.executable).parent / "sentinelle"),
        "dispatch",
        "--no-migrate",
        "--worker-id",
        name,
    ]
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


async def queue_deliveries(
    settings: Settings, db: Database, factory: Factory, receiver: HttpReceiver, count: int
) -> set[str]:
    """`count` subscriptions around Diéma, each to its own path of `receiver`, and one incident
    there: `count` deliveries waiting in the outbox; their idempotency keys."""
    app = create_app(settings, db=db)
    subscriber = await factory.caller("planner")
    reporter = await factory.caller("reporter")
    owner = Principal(subscriber.user_id, subscriber.org_id, Role.PLANNER)
    now = datetime.now(UTC)
    for i in range(count):
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
    assert len(expected) == count
    return expected


@pytest.fixture(name="slow_receiver")
def fx_slow_receiver() -> Iterator[HttpReceiver]:
    with http_receiver(delay_s=0.3) as receiver:
        yield receiver


async def test_killing_the_worker_mid_batch_loses_nothing_and_keeps_the_idempotency_keys(
    settings: Settings,
    database_url: str,
    db: Database,
    factory: Factory,
    slow_receiver: HttpReceiver,
) -> None:
    expected = await queue_deliveries(settings, db, factory, slow_receiver, SUBSCRIPTIONS)

    first = worker(settings, database_url, "first")
    try:
        await asyncio.to_thread(slow_receiver.wait_for, 3, 30.0)
        assert slow_receiver.keys, first.stderr.read().decode() if first.poll() else "no arrival"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    arrived_before_restart = len(set(slow_receiver.keys))
    assert arrived_before_restart < SUBSCRIPTIONS, "the kill came too late to cut a batch"

    second = worker(settings, database_url, "second")
    try:
        await asyncio.to_thread(slow_receiver.wait_for_keys, expected, 60.0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            async with db.read() as session:
                statuses = set((await session.execute(select(DeliveryRow.status))).scalars())
            if statuses == {"delivered"}:
                break
            await asyncio.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=15)
        except subprocess.TimeoutExpired:
            second.kill()
            second.wait()

    assert set(slow_receiver.keys) == expected
    assert statuses == {"delivered"}
    # Each message reached its own address, keyed the same on every try.
    by_path: dict[str, set[str | None]] = {}
    for item in slow_receiver.received:
        by_path.setdefault(item.path, set()).add(item.key)
    assert len(by_path) == SUBSCRIPTIONS
    assert all(len(keys) == 1 for keys in by_path.values())
