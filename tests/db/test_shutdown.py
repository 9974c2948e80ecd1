"""A stuck background step never holds the service's shutdown for ever: it is left behind after
its grace period, and the steps after it (closing the database) still run."""

from __future__ import annotations

import asyncio

import pytest

from api import bootstrap
from api.settings import Settings
from incidents.db import Database


async def test_a_stuck_shutdown_step_is_left_behind_and_the_next_ones_run(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap, "SHUTDOWN_GRACE_SECONDS", 0.2)
    container = bootstrap.build(settings, db)
    ran: list[str] = []

    async def stuck() -> None:
        ran.append("stuck")
        await asyncio.Event().wait()  # never set

    async def after() -> None:
        ran.append("after")

    container.on_shutdown[:0] = [stuck, after]
    await asyncio.wait_for(container.shutdown(), timeout=60)
    assert ran == ["stuck", "after"]
