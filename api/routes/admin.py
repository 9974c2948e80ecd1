"""/api/v1/organisations and /api/v1/tokens: identity management for administrators."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, delete, post
from msgspec import Struct

from api.auth import ADMINS, TokenCache
from api.routes.common import principal_of, utcnow
from incidents import identity
from incidents.db import Database
from incidents.errors import NotFound
from incidents.model import Role


class OrganisationIn(Struct, forbid_unknown_fields=True):
    name: str


class OrganisationOut(Struct):
    id: uuid.UUID
    name: str


class TokenIn(Struct, forbid_unknown_fields=True):
    org_id: uuid.UUID
    role: Role
    name: str | None = None


class TokenOut(Struct):
    """The token is shown once: store it now, it cannot be read again."""

    token: str
    token_id: uuid.UUID
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role


@post("/api/v1/organisations", guards=[ADMINS], tags=["admin"], summary="Create an organisation")
async def create_org(request: Request[Any, Any, Any], data: OrganisationIn) -> OrganisationOut:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        org_id = await identity.create_organisation(session, data.name, now=utcnow())
    return OrganisationOut(id=org_id, name=data.name.strip())


@post("/api/v1/tokens", guards=[ADMINS], tags=["admin"], summary="Create a user and its token")
async def create_token(request: Request[Any, Any, Any], data: TokenIn) -> TokenOut:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        user_id, token_id, token = await identity.create_user_with_token(
            session, data.org_id, role=data.role, now=utcnow(), name=data.name
        )
    return TokenOut(token=token, token_id=token_id, user_id=user_id, org_id=data.org_id, role=data.role)


@delete("/api/v1/tokens/{token_id:uuid}", guards=[ADMINS], tags=["admin"], summary="Revoke a token")
async def revoke_token(request: Request[Any, Any, Any], token_id: uuid.UUID) -> None:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        if not await identity.revoke_token(session, str(token_id), now=utcnow()):
            raise NotFound(f"No live token {token_id}.")
    cache: TokenCache = request.app.state.token_cache
    cache.clear()
    _ = principal_of(request)


ROUTES = [create_org, create_token, revoke_token]
