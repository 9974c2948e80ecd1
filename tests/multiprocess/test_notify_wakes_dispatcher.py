"""A `sentinelle dispatch` process is woken by the outbox's NOTIFY: an alert written by the
server process reaches its subscriber at once, not at the worker's next poll."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.alert_receivers import http_receiver
from tests.factories import MENAKA
from tests.multiprocess.world import PG_ENV, World, make_tokens

POLL_SECONDS = 60  # the worker's poll interval: far beyond the test's wait for each alert
WAIT_SECONDS = 15  # a wake-up on NOTIFY arrives well within this, even on a loaded machine

pytestmark = pytest.mark.skipif(
    not os.environ.get(PG_ENV),
    reason=f"LISTEN/NOTIFY is PostgreSQL's: set {PG_ENV} to run it",
)


def test_dispatch_process_is_woken_by_notify(database: str, tmp_path: Path) -> None:
    officer, _ = asyncio.run(make_tokens(database))
    with http_receiver() as receiver:
        world = World(
            database,
            {
                **os.environ,
                "SENTINELLE_DATABASE_URL": database,
                "SENTINELLE_VAR_DIR": str(tmp_path),
                "SENTINELLE_SECRET_KEYS": Fernet.generate_key().decode(),
                "SENTINELLE_DISPATCH_IN_PROCESS": "false",  # only the worker sends
                "SENTINELLE_DISPATCH_POLL_SECONDS": str(POLL_SECONDS),
                "SENTINELLE_CHANNEL_ALLOW_HOSTS": "127.0.0.1",
            },
            officer,
        )
        try:
            world.serve("serve")
            world.wait_healthy(["serve"])
            world.dispatch("worker")
            log = Path(tmp_path) / "worker.log"
            deadline = time.monotonic() + 40
            while b"running; Ctrl-C" not in log.read_bytes():
                assert world.processes["worker"].poll() is None, world.log("worker")
                assert time.monotonic() < deadline, world.log("worker")
                time.sleep(0.1)
            time.sleep(2)  # its first pass done: from now on it waits for POLL_SECONDS
            auth = {"Authorization": f"Bearer {officer}"}
            with httpx.Client(base_url=world.base("serve"), headers=auth, timeout=30) as client:
                answer = client.post(
                    "/api/v1/subscriptions",
                    json={
                        "channels": [receiver.url("officer")],
                        "area": {"point": {"lat": MENAKA[0], "lon": MENAKA[1]}, "radius_km": 50},
                        "format": "full",
                    },
                )
                assert answer.status_code == 201, answer.text
                # Twice: the second shows the worker still listens after its first wake-up.
                for k in range(2):
                    started = time.monotonic()
                    answer = client.post(
                        "/api/v1/incidents",
                        json={
                            "type": "kidnapping",
                            "lat": MENAKA[0],
                            "lon": MENAKA[1],
                            "severity": 4,
                            # 7 h apart: reports of one place within 6 h are one event.
                            "occurred_at": (
                                datetime.now(UTC) - timedelta(hours=1 + 7 * k)
                            ).isoformat(),
                        },
                    )
                    assert answer.status_code == 201, answer.text
                    got = receiver.wait_for(k + 1, timeout_s=WAIT_SECONDS)
                    waited = time.monotonic() - started
                    assert len(got) == k + 1, (
                        f"alert {k + 1} not delivered within {WAIT_SECONDS} s "
                        f"(worker polls every {POLL_SECONDS} s): {world.log('worker')}"
                    )
                    assert waited < WAIT_SECONDS
        finally:
            world.stop_all()
