"""Browser sessions: a random session id in an HttpOnly, SameSite=Strict cookie (Secure over
https); what it stands for lives on the server, in the `web_sessions` table, under the id's
SHA-256 (a copy of the table gives no usable cookie).

The session holds the id of the API token used to sign in (never the token), a CSRF token and
when it ends; every request re-checks that token (revoked, user or organisation deleted: signed
out). Being in the database, a session opened through one API process or host is known to all;
expired rows are deleted at each sign-in.

`store_for(db)` gives the store; `create`, `load` and `delete` take it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from litestar import Request
from sqlalchemy import delete as sql_delete
from sqlalchemy import insert, select

from api.shared_tables import WebSessionRow
from incidents.db import Database
from incidents.identity.accounts import Principal
from incidents.records.model import Role
from incidents.records.tables import ApiTokenRow, OrganisationRow, UserRow

COOKIE = "stl_session"
CSRF_COOKIE = "stl_csrf"  # before sign-in only (double submit); afterwards the session's token
SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True)
class WebSession:
    sid: str
    token_id: uuid.UUID
    csrf: str


class SessionStore(Protocol):
    """Where sessions live, by the hash of their id."""

    async def save(self, key: str, token_id: uuid.UUID, csrf: str) -> None: ...

    async def find(self, key: str) -> tuple[uuid.UUID, str] | None: ...

    async def remove(self, key: str) -> None: ...

    async def delete_all(self) -> None: ...


def _now() -> datetime:
    return datetime.now(UTC)


class DatabaseSessions:
    """Sessions in the `web_sessions` table: shared by every process and host on the database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, key: str, token_id: uuid.UUID, csrf: str) -> None:
        now = _now()
        async with self.db.transaction() as session:
            await session.execute(sql_delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
            await session.execute(
                insert(WebSessionRow).values(
                    id_hash=key,
                    token_id=token_id,
                    csrf=csrf,
                    created_at=now,
                    expires_at=now + timedelta(seconds=SESSION_SECONDS),
                )
            )

    async def find(self, key: str) -> tuple[uuid.UUID, str] | None:
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(WebSessionRow.token_id, WebSessionRow.csrf).where(
                        WebSessionRow.id_hash == key, WebSessionRow.expires_at > _now()
                    )
                )
            ).first()
        return None if row is None else (row[0], row[1])

    async def remove(self, key: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(sql_delete(WebSessionRow).where(WebSessionRow.id_hash == key))

    async def delete_all(self) -> None:
        async with self.db.transaction() as session:
            await session.execute(sql_delete(WebSessionRow))

    async def prune(self) -> int:
        """Delete the sessions that have ended; how many."""
        async with self.db.transaction() as session:
            result = await session.execute(
                sql_delete(WebSessionRow).where(WebSessionRow.expires_at <= _now())
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def store_for(db: Database) -> SessionStore:
    """The session store, in the database (`store_for(container.db)`)."""
    return DatabaseSessions(db)


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def is_https(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


async def create(store: SessionStore, token_id: uuid.UUID) -> WebSession:
    sid = secrets.token_urlsafe(32)
    session = WebSession(sid=sid, token_id=token_id, csrf=secrets.token_urlsafe(32))
    await store.save(_key(sid), token_id, session.csrf)
    return session


async def load(store: SessionStore, request: Request[Any, Any, Any]) -> WebSession | None:
    sid = request.cookies.get(COOKIE)
    if not sid or len(sid) > 100:
        return None
    found = await store.find(_key(sid))
    if found is None:
        return None
    token_id, csrf = found
    return WebSession(sid=sid, token_id=token_id, csrf=csrf)


async def delete(store: SessionStore, sid: str) -> None:
    await store.remove(_key(sid))


async def principal_for(db: Database, token_id: uuid.UUID) -> Principal | None:
    """As accounts.resolve_token, by the token's id: None once revoked or its owner deleted."""
    async with db.read() as session:
        row = (
            await session.execute(
                select(ApiTokenRow.id, UserRow.id, UserRow.org_id, UserRow.role)
                .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                .join(OrganisationRow, OrganisationRow.id == UserRow.org_id)
                .where(
                    ApiTokenRow.id == token_id,
                    ApiTokenRow.revoked_at.is_(None),
                    UserRow.deleted_at.is_(None),
                    OrganisationRow.deleted_at.is_(None),
                )
            )
        ).first()
    if row is None:
        return None
    tid, user_id, org_id, role = row
    return Principal(user_id=user_id, org_id=org_id, role=Role(role), token_id=tid)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
