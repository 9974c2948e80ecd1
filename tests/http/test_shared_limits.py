"""Rate limits: on PostgreSQL every API process counts in one table, so N requests are allowed in
total, not N per process; on SQLite the limit holds in the process. The counters keep hashes,
never an address or a token, and old windows are deleted. A 429 says when to retry, in the
user's language."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, insert, select

from api.http import limits
from api.http.app import create_app
from api.settings import Settings
from api.shared_tables import RateLimitCounterRow
from incidents.db import Database, create_engine
from tests.factories import Factory

URL = "/api/v1/incidents"
LIMIT = 4
NOW = 1_800_000_030  # 30 s into a minute window: the test never crosses a window's end


@pytest.fixture(autouse=True)
def fx_fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "now_seconds", lambda: NOW)


@pytest.fixture(name="limited")
def fx_limited(settings: Settings) -> Settings:
    # Every process of a deployment has the same secret key (narratives need it too): the
    # counters' keyed hashes agree.
    return replace(
        settings, rate_limit_per_minute=LIMIT, secret_keys=Fernet.generate_key().decode()
    )


@pytest.fixture(name="two_apps")
async def fx_two_apps(
    limited: Settings, db: Database, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Litestar, Litestar]]:
    """Two apps as two processes would be: their own engine, memory and var directory."""
    other_db = Database(create_engine(database_url, pooled=False))
    first = create_app(limited, db=db)
    second = create_app(replace(limited, var_dir=str(tmp_path / "var-2")), db=other_db)
    try:
        yield first, second
    finally:
        await other_db.dispose()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_the_limit_holds_across_two_processes_on_postgres(
    two_apps: tuple[Litestar, Litestar], factory: Factory
) -> None:
    caller = await factory.caller("reporter")
    first, second = two_apps
    async with AsyncTestClient(app=first) as a, AsyncTestClient(app=second) as b:
        # Sent at once, half through each process: LIMIT allowed in total.
        answers = await asyncio.gather(
            *((a if i % 2 else b).get(URL, headers=caller.headers) for i in range(LIMIT * 2 + 2))
        )
        codes = sorted(r.status_code for r in answers)
        assert codes == [200] * LIMIT + [429] * (LIMIT + 2)
        # Both processes refuse the next one.
        assert (await a.get(URL, headers=caller.headers)).status_code == 429
        assert (await b.get(URL, headers=caller.headers)).status_code == 429
        # Another token (same address, whose allowance is 5 times larger) is not held back.
        other = await factory.caller("reporter")
        assert (await b.get(URL, headers=other.headers)).status_code == 200


@pytest.mark.parametrize("backend", ["postgres"])
async def test_the_counters_keep_no_address_or_token_and_old_windows_go(
    two_apps: tuple[Litestar, Litestar], factory: Factory, db: Database
) -> None:
    caller = await factory.caller("reporter")
    async with db.transaction() as session:
        await session.execute(
            insert(RateLimitCounterRow).values(
                bucket="token", key="0" * 64, window_start=NOW - 600, count=3, reset_at=NOW - 540
            )
        )
    first, _ = two_apps
    async with AsyncTestClient(app=first) as client:
        assert (await client.get(URL, headers=caller.headers)).status_code == 200
    async with db.read() as session:
        rows = (await session.execute(select(RateLimitCounterRow))).scalars().all()
    assert {r.bucket for r in rows} == {"address", "token"}  # the old window was deleted
    assert all(r.window_start == NOW - NOW % 60 and r.count == 1 for r in rows)
    for row in rows:
        assert len(row.key) == 64
        assert int(row.key, 16) >= 0
        assert caller.token not in row.key
        assert caller.token[:12] not in row.key
        assert "testclient" not in row.key
        assert "127.0.0.1" not in row.key


async def test_a_429_says_when_to_retry_in_the_users_language(
    limited: Settings, db: Database, factory: Factory
) -> None:
    caller = await factory.caller("reporter")
    app = create_app(limited, db=db)
    async with AsyncTestClient(app=app) as client:
        for _ in range(LIMIT):
            assert (await client.get(URL, headers=caller.headers)).status_code == 200
        french = await client.get(URL, headers={**caller.headers, "Accept-Language": "fr-ML"})
        english = await client.get(URL, headers={**caller.headers, "Accept-Language": "en"})
    for answer in (french, english):
        assert answer.status_code == 429
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.headers["retry-after"] == "30"  # the window ends 30 s after NOW
        assert answer.headers["ratelimit-remaining"] == "0"
        assert answer.json()["retry_after"] == 30
    assert "Réessayez dans 30 s" in french.json()["detail"]
    assert "Try again in 30 s" in english.json()["detail"]


async def test_the_limit_holds_in_one_process_on_either_database(
    limited: Settings, db: Database, factory: Factory, backend: str
) -> None:
    caller = await factory.caller("reporter")
    app = create_app(limited, db=db)
    async with AsyncTestClient(app=app) as client:
        codes = [(await client.get(URL, headers=caller.headers)).status_code for _ in range(6)]
        assert codes == [200] * LIMIT + [429, 429]
        ok = await client.get(URL, headers=(await factory.caller("reporter")).headers)
        assert ok.status_code == 200
        assert ok.headers["ratelimit-limit"] == str(LIMIT)
        assert ok.headers["ratelimit-remaining"] == str(LIMIT - 1)
        # /health is never limited.
        for _ in range(LIMIT * 6):
            assert (await client.get("/api/v1/health")).status_code == 200
    if backend == "sqlite":  # counted in the process: the table stays empty
        async with db.read() as session:
            rows = await session.scalar(select(func.count()).select_from(RateLimitCounterRow))
        assert rows == 0
