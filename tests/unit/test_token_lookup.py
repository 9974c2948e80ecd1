"""Bearer tokens (api.http.auth.TokenAuthMiddleware): requests that miss the token cache
together share one database read, and an unknown token is refused to each of them."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from litestar.exceptions import NotAuthorizedException

from api.http import auth
from api.http.auth import TokenAuthMiddleware
from incidents.db import Database
from incidents.identity.accounts import Principal
from incidents.records.model import Role

KNOWN = "stl_known-token"
REPORTER = Principal(user_id=uuid.uuid4(), org_id=uuid.uuid4(), role=Role.REPORTER)


class CountingDatabase:
    def __init__(self) -> None:
        self.reads = 0

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Any]:
        self.reads += 1
        yield None


@pytest.fixture(autouse=True)
def slow_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve_token(session: Any, token: str) -> Principal | None:
        for _ in range(5):  # a read takes a few turns of the loop: the others arrive meanwhile
            await asyncio.sleep(0)
        return REPORTER if token == KNOWN else None

    monkeypatch.setattr(auth, "resolve_token", resolve_token)


async def _noop_app(scope: Any, receive: Any, send: Any) -> None:
    return None


def middleware(db: CountingDatabase, ttl: float = 1.0) -> TokenAuthMiddleware:
    return TokenAuthMiddleware(_noop_app, db=cast(Database, db), cache=auth.TokenCache(ttl))


def request(token: str) -> Any:
    return SimpleNamespace(headers={"authorization": f"Bearer {token}"})


async def test_requests_missing_the_cache_together_share_one_read() -> None:
    db = CountingDatabase()
    mw = middleware(db)
    results = await asyncio.gather(*(mw.authenticate_request(request(KNOWN)) for _ in range(16)))
    assert {r.user for r in results} == {REPORTER}
    assert db.reads == 1
    await mw.authenticate_request(request(KNOWN))  # cached now
    assert db.reads == 1


async def test_an_unknown_token_is_refused_to_every_request_and_looked_up_again_later() -> None:
    db = CountingDatabase()
    mw = middleware(db)
    results = await asyncio.gather(
        *(mw.authenticate_request(request("stl_revoked")) for _ in range(8)),
        return_exceptions=True,
    )
    assert all(isinstance(r, NotAuthorizedException) for r in results)
    assert db.reads == 1
    with pytest.raises(NotAuthorizedException):
        await mw.authenticate_request(request("stl_revoked"))
    assert db.reads == 2  # a refusal is never remembered


async def test_without_a_cache_each_request_after_the_last_read_reads_again() -> None:
    db = CountingDatabase()
    mw = middleware(db, ttl=0)
    for _ in range(3):
        assert (await mw.authenticate_request(request(KNOWN))).user == REPORTER
    assert db.reads == 3
