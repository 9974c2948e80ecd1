"""Web sessions live in the database (api.web.session): a session opened through one process is
known to every other, signing out ends it everywhere, the table keeps the SHA-256 of the session
id (never the id), and ended sessions are neither loaded nor kept."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select, update

from api.shared_tables import WebSessionRow
from api.web import session as sessions
from incidents.db import Database, create_engine
from tests.factories import Factory


def browser(sid: str) -> Any:
    """What `load` reads of a request: its cookies."""
    return SimpleNamespace(cookies={sessions.COOKIE: sid})


@pytest.fixture(name="other_process")
async def fx_other_process(database_url: str) -> AsyncIterator[Database]:
    """The same database as another process sees it: its own engine and connections."""
    other = Database(create_engine(database_url, pooled=False))
    try:
        yield other
    finally:
        await other.dispose()


async def _token_id(factory: Factory, db: Database) -> Any:
    caller = await factory.caller("reporter")
    principal = await sessions.principal_for(db, await _id_of(db, caller.token))
    assert principal is not None
    return principal.token_id


async def _id_of(db: Database, token: str) -> Any:
    from incidents.records.tables import ApiTokenRow

    async with db.read() as session:
        return await session.scalar(
            select(ApiTokenRow.id).where(
                ApiTokenRow.token_hash == hashlib.sha256(token.encode()).hexdigest()
            )
        )


async def test_a_session_opened_through_one_process_is_known_to_another_until_signed_out(
    db: Database, other_process: Database, factory: Factory
) -> None:
    token_id = await _token_id(factory, db)
    here, there = sessions.store_for(db), sessions.store_for(other_process)
    web = await sessions.create(here, token_id)
    seen = await sessions.load(there, browser(web.sid))
    assert seen == web  # same token id and CSRF token
    await sessions.delete(there, web.sid)
    assert await sessions.load(here, browser(web.sid)) is None
    assert await sessions.load(here, browser("not-a-session")) is None
    assert await sessions.load(here, browser("x" * 500)) is None  # refused before any lookup


async def test_the_table_keeps_the_hash_of_the_session_id_and_when_it_ends(
    db: Database, factory: Factory
) -> None:
    token_id = await _token_id(factory, db)
    before = datetime.now(UTC)
    web = await sessions.create(sessions.store_for(db), token_id)
    async with db.read() as session:
        row = (await session.execute(select(WebSessionRow))).scalars().one()
    assert row.id_hash == hashlib.sha256(web.sid.encode()).hexdigest()
    assert web.sid not in (row.id_hash, row.csrf)
    assert row.token_id == token_id
    assert row.csrf == web.csrf
    lifetime = row.expires_at - row.created_at
    assert lifetime == timedelta(seconds=sessions.SESSION_SECONDS)
    assert row.created_at >= before - timedelta(seconds=1)


async def test_an_ended_session_is_not_loaded_and_is_deleted_at_the_next_sign_in(
    db: Database, factory: Factory
) -> None:
    token_id = await _token_id(factory, db)
    store = sessions.store_for(db)
    old = await sessions.create(store, token_id)
    async with db.transaction() as session:
        await session.execute(
            update(WebSessionRow).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await sessions.load(store, browser(old.sid)) is None
    new = await sessions.create(store, token_id)
    async with db.read() as session:
        hashes = (await session.execute(select(WebSessionRow.id_hash))).scalars().all()
    assert hashes == [hashlib.sha256(new.sid.encode()).hexdigest()]


async def test_every_session_can_be_ended_at_once_and_ended_ones_pruned(
    db: Database, factory: Factory
) -> None:
    token_id = await _token_id(factory, db)
    store = sessions.DatabaseSessions(db)
    made = [await sessions.create(store, token_id) for _ in range(3)]
    async with db.transaction() as session:
        await session.execute(
            update(WebSessionRow)
            .where(WebSessionRow.id_hash == hashlib.sha256(made[0].sid.encode()).hexdigest())
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=5))
        )
    assert await store.prune() == 1
    await store.delete_all()
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(WebSessionRow)) == 0
