"""A request and the background worker asking for the risk store together share one load:
a serving process never holds two copies of every incident of the window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import incidents.risk.service as risk
from incidents.db import Database
from incidents.risk.service import RiskService
from incidents.zones.store import ZoneCache


async def test_concurrent_callers_share_one_load_of_the_store(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = 0
    real = risk.load_store

    async def counted(*args: Any, **kwargs: Any) -> risk.RiskStore:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.05)  # a load takes a while: the other caller arrives meanwhile
        return await real(*args, **kwargs)

    monkeypatch.setattr(risk, "load_store", counted)
    service = RiskService(db, cache=ZoneCache())
    since = datetime.now(UTC) - timedelta(days=730)

    async def ask() -> risk.RiskStore:
        async with db.read() as session:
            snapshot = await service.cache.snapshot(session)
            return await service.store(session, snapshot, since)

    first, second = await asyncio.gather(ask(), ask())
    assert loads == 1
    assert first is second
