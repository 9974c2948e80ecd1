"""Organisations, users and API tokens: who is asking, for which organisation, with which role."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from incidents.errors import Conflict, Forbidden, InvalidField, NotFound
from incidents.records.model import Role
from incidents.records.tables import ApiTokenRow, OrganisationRow, UserRow

TOKEN_PREFIX = "stl_"  # noqa: S105 - a visible prefix, not a secret


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a user of an organisation, acting with one role."""

    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role
    token_id: uuid.UUID | None = None
    trusted_org_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)

    @property
    def is_officer(self) -> bool:
        return self.role in (Role.OFFICER, Role.ADMIN)

    @property
    def is_operator(self) -> bool:
        """The platform operator: manages organisations and official zones, sees no more."""
        return self.role == Role.OPERATOR


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_organisation(session: AsyncSession, name: str, *, now: datetime) -> uuid.UUID:
    name = name.strip()
    if not name:
        raise InvalidField("name", "Give the organisation a name.")
    org_id = uuid.uuid4()
    session.add(OrganisationRow(id=org_id, name=name, created_at=now))
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"An organisation named {name!r} already exists; choose another name."
        ) from exc
    return org_id


async def create_user(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    name: str,
    role: Role,
    now: datetime,
    phone: str | None = None,
) -> uuid.UUID:
    org = await session.get(OrganisationRow, org_id)
    if org is None or org.deleted_at is not None:
        raise NotFound(f"No organisation {org_id}; create it with `sentinelle admin create-org`.")
    user_id = uuid.uuid4()
    session.add(
        UserRow(id=user_id, org_id=org_id, name=name, role=role.value, phone=phone, created_at=now)
    )
    await session.flush()
    return user_id


async def create_token(
    session: AsyncSession, user_id: uuid.UUID, *, now: datetime, name: str | None = None
) -> tuple[uuid.UUID, str]:
    """A new token for a user: the clear token is returned once and only its hash is stored."""
    token = new_token()
    token_id = uuid.uuid4()
    session.add(
        ApiTokenRow(
            id=token_id, user_id=user_id, token_hash=hash_token(token), name=name, created_at=now
        )
    )
    await session.flush()
    return token_id, token


async def create_user_with_token(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    role: Role,
    now: datetime,
    name: str | None = None,
) -> tuple[uuid.UUID, uuid.UUID, str]:
    """A new user of the organisation with this role, and its token: (user id, token id, token)."""
    user_id = await create_user(
        session, org_id, name=name or f"{role.value} user", role=role, now=now
    )
    token_id, token = await create_token(session, user_id, now=now, name=name)
    return user_id, token_id, token


async def resolve_token(session: AsyncSession, token: str) -> Principal | None:
    """The principal a token stands for, or None when unknown, revoked or its user deleted."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = (
        await session.execute(
            select(ApiTokenRow.id, UserRow.id, UserRow.org_id, UserRow.role)
            .join(UserRow, UserRow.id == ApiTokenRow.user_id)
            .join(OrganisationRow, OrganisationRow.id == UserRow.org_id)
            .where(
                ApiTokenRow.token_hash == hash_token(token),
                ApiTokenRow.revoked_at.is_(None),
                UserRow.deleted_at.is_(None),
                OrganisationRow.deleted_at.is_(None),
            )
        )
    ).first()
    if row is None:
        return None
    token_id, user_id, org_id, role = row
    return Principal(user_id=user_id, org_id=org_id, role=Role(role), token_id=token_id)


async def revoke_token(session: AsyncSession, token_or_id: str, *, now: datetime) -> bool:
    """Revoke by the clear token or by its id; True when a live token was revoked."""
    condition = ApiTokenRow.token_hash == hash_token(token_or_id)
    with contextlib.suppress(ValueError):  # not an id: then it is the token itself
        condition = ApiTokenRow.id == uuid.UUID(token_or_id)
    result = await session.execute(
        update(ApiTokenRow)
        .where(condition, ApiTokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_user(session: AsyncSession, user_id: uuid.UUID, *, now: datetime) -> None:
    await session.execute(update(UserRow).where(UserRow.id == user_id).values(deleted_at=now))


# --- who administers what: an organisation's admin its own organisation, the operator the platform


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    token_id: uuid.UUID
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as its organisation's admin sees it: never the token nor its hash."""

    id: uuid.UUID
    user_id: uuid.UUID
    user_name: str
    org_id: uuid.UUID
    role: Role
    name: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrganisationInfo:
    id: uuid.UUID
    name: str
    created_at: datetime


async def live_organisation(session: AsyncSession, org_id: uuid.UUID) -> OrganisationRow | None:
    org = await session.get(OrganisationRow, org_id)
    return org if org is not None and org.deleted_at is None else None


async def has_live_admin(session: AsyncSession, org_id: uuid.UUID) -> bool:
    """Whether some admin of the organisation still holds a live token."""
    found = await session.scalar(
        select(ApiTokenRow.id)
        .join(UserRow, UserRow.id == ApiTokenRow.user_id)
        .where(
            UserRow.org_id == org_id,
            UserRow.role == Role.ADMIN.value,
            UserRow.deleted_at.is_(None),
            ApiTokenRow.revoked_at.is_(None),
        )
        .limit(1)
    )
    return found is not None


def _not_yours(org_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"No organisation {org_id} that you administer: leave `org_id` out to create a token "
        "in your own organisation.",
        field="org_id",
    )


async def issue_token(
    session: AsyncSession,
    actor: Principal,
    *,
    org_id: uuid.UUID | None,
    role: Role,
    name: str | None,
    now: datetime,
) -> IssuedToken:
    """A new user and token, within what the actor administers.

    An organisation's admin: its own organisation only, any role but `operator`. The operator: more
    operators in its own (platform) organisation, and the first `admin` of another organisation
    while that organisation has no admin with a live token — never a way into a running one.
    """
    target = org_id or actor.org_id
    if actor.is_operator:
        if target == actor.org_id:
            if role != Role.OPERATOR:
                raise InvalidField(
                    "role",
                    "The platform organisation holds operators only: use role `operator`, or give "
                    "`org_id` to create the first `admin` of another organisation.",
                )
        else:
            if await live_organisation(session, target) is None:
                raise NotFound(
                    f"No organisation {target}; list them with GET /api/v1/organisations.",
                    field="org_id",
                )
            if role != Role.ADMIN:
                raise InvalidField(
                    "role",
                    "In another organisation the platform operator creates only its first `admin`; "
                    "that admin creates the other tokens.",
                )
            if await has_live_admin(session, target):
                raise Conflict(
                    f"Organisation {target} already has an administrator: ask them for tokens. "
                    "To recover a lost admin token, use `sentinelle admin create-token` on the "
                    "server.",
                    field="org_id",
                )
    elif actor.role == Role.ADMIN:
        if target != actor.org_id:
            raise _not_yours(target)
        if role == Role.OPERATOR:
            raise InvalidField(
                "role",
                "Only the platform operator holds `operator` tokens; choose reporter, officer, "
                "planner or admin.",
            )
    else:
        raise Forbidden("Only your organisation's administrator creates tokens.")
    user_id, token_id, token = await create_user_with_token(
        session, target, role=role, now=now, name=name
    )
    return IssuedToken(token=token, token_id=token_id, user_id=user_id, org_id=target, role=role)


def _token_info(token: ApiTokenRow, user: UserRow) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        user_id=user.id,
        user_name=user.name,
        org_id=user.org_id,
        role=Role(user.role),
        name=token.name,
        created_at=token.created_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )


async def list_tokens(session: AsyncSession, org_id: uuid.UUID, *, limit: int) -> list[TokenInfo]:
    """The tokens of one organisation's users, newest first."""
    rows = await session.execute(
        select(ApiTokenRow, UserRow)
        .join(UserRow, UserRow.id == ApiTokenRow.user_id)
        .where(UserRow.org_id == org_id)
        .order_by(ApiTokenRow.created_at.desc(), ApiTokenRow.id)
        .limit(limit)
    )
    return [_token_info(token, user) for token, user in rows.all()]


async def revoke_token_as(
    session: AsyncSession, actor: Principal, token_id: uuid.UUID, *, now: datetime
) -> TokenInfo:
    """Revoke a live token: the operator any, an organisation's admin those of its own users."""
    found = (
        await session.execute(
            select(ApiTokenRow, UserRow)
            .join(UserRow, UserRow.id == ApiTokenRow.user_id)
            .where(ApiTokenRow.id == token_id, ApiTokenRow.revoked_at.is_(None))
        )
    ).first()
    if found is None or not (actor.is_operator or found[1].org_id == actor.org_id):
        raise NotFound(
            f"No live token {token_id} in your organisation; GET /api/v1/tokens lists them."
        )
    await session.execute(
        update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(revoked_at=now)
    )
    token, user = found
    token.revoked_at = now
    return _token_info(token, user)


async def list_organisations(session: AsyncSession) -> list[OrganisationInfo]:
    rows = await session.execute(
        select(OrganisationRow.id, OrganisationRow.name, OrganisationRow.created_at)
        .where(OrganisationRow.deleted_at.is_(None))
        .order_by(OrganisationRow.name)
    )
    return [OrganisationInfo(id=i, name=n, created_at=c) for i, n, c in rows.all()]


PLATFORM_ORGANISATION = "Plateforme Sentinelle"


async def platform_organisation(session: AsyncSession, *, now: datetime) -> uuid.UUID:
    """The organisation of the platform operators: the one holding operators, else a new one."""
    existing = await session.scalar(
        select(UserRow.org_id)
        .join(OrganisationRow, OrganisationRow.id == UserRow.org_id)
        .where(UserRow.role == Role.OPERATOR.value, OrganisationRow.deleted_at.is_(None))
        .order_by(UserRow.created_at)
        .limit(1)
    )
    if existing is not None:
        return existing
    named = await session.scalar(
        select(OrganisationRow.id).where(
            OrganisationRow.name == PLATFORM_ORGANISATION, OrganisationRow.deleted_at.is_(None)
        )
    )
    return named or await create_organisation(session, PLATFORM_ORGANISATION, now=now)
