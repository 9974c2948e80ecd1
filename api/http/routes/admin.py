"""/api/v1/organisations and /api/v1/tokens: who administers what.

An organisation's admin manages the tokens of its own organisation only; the platform operator
creates, lists and deletes organisations and may give an organisation its first admin.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from msgspec import Meta, Struct

from api.http.auth import ADMINS_OR_OPERATORS, AUDITED_OPERATORS, TokenCache, refusals_audited
from api.http.routes.common import principal_of, utcnow
from api.http.routes.sharing import Deleted
from incidents.records.model import Role
from incidents.sharing.service import SharingService

Name = Annotated[str, Meta(min_length=1, max_length=200)]


class OrganisationIn(Struct, forbid_unknown_fields=True):
    name: Name


class OrganisationOut(Struct):
    id: uuid.UUID
    name: str
    created_at: datetime


class TokenIn(Struct, forbid_unknown_fields=True):
    role: Role
    # Your own organisation when left out; only the platform operator names another one.
    org_id: uuid.UUID | None = None
    name: Name | None = None


class TokenOut(Struct):
    """The token is shown once: store it now, it cannot be read again."""

    token: str
    token_id: uuid.UUID
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role


class TokenListed(Struct):
    """A token of your organisation: never the token itself nor its hash."""

    id: uuid.UUID
    user_id: uuid.UUID
    user_name: str
    role: Role
    created_at: datetime
    name: str | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@post(
    "/api/v1/organisations",
    guards=[AUDITED_OPERATORS],
    tags=["admin"],
    summary="Create an organisation (platform operator)",
)
async def create_org(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    data: JSONBody[OrganisationIn],
) -> OrganisationOut:
    actor = principal_of(request)
    with refusals_audited(actor, request):
        org = await sharing_service.create_organisation(actor, data.name, now=utcnow())
    return OrganisationOut(id=org.id, name=org.name, created_at=org.created_at)


@get(
    "/api/v1/organisations",
    guards=[AUDITED_OPERATORS],
    tags=["admin"],
    summary="Every organisation (platform operator)",
)
async def list_orgs(
    request: Request[Any, Any, Any], sharing_service: NamedDependency[SharingService]
) -> list[OrganisationOut]:
    actor = principal_of(request)
    with refusals_audited(actor, request):
        orgs = await sharing_service.organisations(actor)
    return [OrganisationOut(id=o.id, name=o.name, created_at=o.created_at) for o in orgs]


@delete(
    "/api/v1/organisations/{org_id:uuid}",
    guards=[AUDITED_OPERATORS],
    tags=["admin"],
    summary="Delete an organisation (platform operator; risk history kept anonymous, masked)",
    status_code=200,
)
async def delete_org(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    token_cache: NamedDependency[TokenCache],
    org_id: FromPath[uuid.UUID],
) -> Deleted:
    actor = principal_of(request)
    with refusals_audited(actor, request):
        kept = await sharing_service.delete_organisation(actor, org_id, now=utcnow())
    token_cache.clear()  # memberships and roles must reach cached principals at once
    return Deleted(organisation_id=org_id, incidents_kept_anonymous=kept)


@post(
    "/api/v1/tokens",
    guards=[ADMINS_OR_OPERATORS],
    tags=["admin"],
    summary="Create a user of your organisation and its token",
    description="An admin creates reporter, officer, planner or admin tokens in its own "
    "organisation (`org_id` left out or equal to it). The platform operator creates "
    "operator tokens in its own organisation, and the first `admin` of another "
    "organisation (`org_id`) while it has no admin with a live token.",
)
async def create_token(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    data: JSONBody[TokenIn],
) -> TokenOut:
    actor = principal_of(request)
    with refusals_audited(actor, request):
        issued = await sharing_service.issue_token(
            actor, org_id=data.org_id, role=data.role, name=data.name, now=utcnow()
        )
    return TokenOut(
        token=issued.token,
        token_id=issued.token_id,
        user_id=issued.user_id,
        org_id=issued.org_id,
        role=issued.role,
    )


@get(
    "/api/v1/tokens",
    guards=[ADMINS_OR_OPERATORS],
    tags=["admin"],
    summary="The tokens of your organisation, newest first (never the token itself)",
)
async def list_tokens(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    limit: Annotated[int, Parameter(ge=1, le=1000)] = 500,
) -> list[TokenListed]:
    tokens = await sharing_service.tokens(principal_of(request), limit=limit)
    return [
        TokenListed(
            id=t.id,
            user_id=t.user_id,
            user_name=t.user_name,
            role=t.role,
            created_at=t.created_at,
            name=t.name,
            revoked_at=t.revoked_at,
            last_used_at=t.last_used_at,
        )
        for t in tokens
    ]


@delete(
    "/api/v1/tokens/{token_id:uuid}",
    guards=[ADMINS_OR_OPERATORS],
    tags=["admin"],
    summary="Revoke a token of your organisation",
)
async def revoke_token(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    token_cache: NamedDependency[TokenCache],
    token_id: FromPath[uuid.UUID],
) -> None:
    actor = principal_of(request)
    with refusals_audited(actor, request):
        await sharing_service.revoke_token(actor, token_id, now=utcnow())
    token_cache.clear()  # memberships and roles must reach cached principals at once


ROUTES = [create_org, list_orgs, delete_org, create_token, list_tokens, revoke_token]
