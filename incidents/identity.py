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

from incidents.errors import Conflict, InvalidField, NotFound
from incidents.model import Role
from incidents.tables import ApiTokenRow, OrganisationRow, UserRow

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
        raise Conflict(f"An organisation named {name!r} already exists; choose another name.") from exc
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
    user_id = await create_user(session, org_id, name=name or f"{role.value} user", role=role, now=now)
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
