"""Factories for organisations, tokens and incident payloads used across the tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from incidents.db import Database
from incidents.identity import accounts as identity
from incidents.records.model import Role

# Named places (lat, lon)
DIEMA = (14.5406, -9.1830)
MENAKA = (15.9182, 2.4022)
BAMAKO = (12.6392, -8.0029)
GAO = (16.2717, -0.0447)
KIDAL = (18.4411, 1.4078)


@dataclass(frozen=True)
class Caller:
    token: str
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Factory:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def org(self, name: str | None = None) -> uuid.UUID:
        async with self.db.transaction() as session:
            return await identity.create_organisation(
                session, name or f"CSO {uuid.uuid4().hex[:6]}", now=datetime.now(UTC)
            )

    async def caller(
        self, role: Role | str = Role.REPORTER, org_id: uuid.UUID | None = None
    ) -> Caller:
        role = Role(role)
        org_id = org_id or await self.org()
        async with self.db.transaction() as session:
            user_id, _, token = await identity.create_user_with_token(
                session, org_id, role=role, now=datetime.now(UTC), name=f"{role.value} test"
            )
        return Caller(token=token, user_id=user_id, org_id=org_id, role=role)

    async def operator(self) -> Caller:
        """The platform operator: a user with the `operator` role in its own platform organisation."""
        return await self.caller(
            Role.OPERATOR, org_id=await self.org(f"Plateforme {uuid.uuid4().hex[:6]}")
        )


def incident_payload(
    *,
    type: str = "kidnapping",
    at: tuple[float, float] = DIEMA,
    days_ago: float = 1.0,
    **extra: Any,
) -> dict[str, Any]:
    occurred = datetime.now(UTC) - timedelta(days=days_ago)
    body: dict[str, Any] = {
        "type": type,
        "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
        "lat": at[0],
        "lon": at[1],
        "severity": 4,
    }
    body.update(extra)
    return body
