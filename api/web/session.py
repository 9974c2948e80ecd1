"""Browser sessions: a random session id in an HttpOnly, SameSite=Strict cookie (Secure over
https); what it stands for lives on the server, in a Litestar Store, under the id's hash.

The session holds the id of the API token used to sign in (never the token), the user and a CSRF
token; every request re-checks that token (revoked, user or organisation deleted: signed out).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from sqlalchemy import select

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


@cache
def store_for(var_dir: str) -> Store:
    """Sessions in files under var/web-sessions: shared by the processes of one host."""
    return FileStore(Path(var_dir) / "web-sessions", create_directories=True)


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def is_https(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


async def create(store: Store, token_id: uuid.UUID) -> WebSession:
    sid = secrets.token_urlsafe(32)
    session = WebSession(sid=sid, token_id=token_id, csrf=secrets.token_urlsafe(32))
    value = json.dumps({"token_id": str(token_id), "csrf": session.csrf})
    await store.set(_key(sid), value, expires_in=SESSION_SECONDS)
    return session


async def load(store: Store, request: Request[Any, Any, Any]) -> WebSession | None:
    sid = request.cookies.get(COOKIE)
    if not sid or len(sid) > 100:
        return None
    raw = await store.get(_key(sid))
    if raw is None:
        return None
    data = json.loads(raw)
    return WebSession(sid=sid, token_id=uuid.UUID(data["token_id"]), csrf=data["csrf"])


async def delete(store: Store, sid: str) -> None:
    await store.delete(_key(sid))


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
