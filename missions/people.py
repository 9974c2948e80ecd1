"""Who a mission's alerts reach: one paused subscription (owner_kind "mission") per person and
scope, carrying a copy of that person's channels, so the alert outbox writes and delivers them
like any alert while no area matching ever selects them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.core.subscription import area_from_json
from alerts.core.tables import SubscriptionRow
from alerts.delivery.channels import mask_channel_url
from alerts.delivery.secrets import SecretBox
from alerts.outbox.writer import Recipient
from geo.geometry import to_wkb
from incidents.records.tables import UserRow
from missions.tables import MissionRecipientRow

# Nowhere in particular (the Gulf of Guinea): the area of a mission subscription is never
# matched (it is paused) and must hold no position of the mission.
_NOWHERE = {"lat": 0.0, "lon": 0.0, "radius_km": 1}
MAX_CHANNELS = 5


def mission_scope(mission_id: uuid.UUID) -> str:
    return f"mission:{mission_id.hex}"


async def ensure_recipients(
    session: AsyncSession,
    box: SecretBox,
    *,
    scope: str,
    mission_id: uuid.UUID | None,
    user_ids: Sequence[uuid.UUID],
    sms_url: str,
    now: datetime,
) -> dict[uuid.UUID, uuid.UUID]:
    """The subscription of each person for this scope (made on first use): user id -> id."""
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return {}
    have = dict(
        (
            await session.execute(
                select(MissionRecipientRow.user_id, MissionRecipientRow.subscription_id).where(
                    MissionRecipientRow.scope == scope, MissionRecipientRow.user_id.in_(wanted)
                )
            )
        ).all()
    )
    missing = [u for u in wanted if u not in have]
    if missing:
        users = {
            u.id: u
            for u in (
                await session.execute(select(UserRow).where(UserRow.id.in_(missing)))
            ).scalars()
        }
        own = (
            await session.execute(
                select(SubscriptionRow)
                .where(
                    SubscriptionRow.owner_kind == "user",
                    SubscriptionRow.owner_user_id.in_(missing),
                    SubscriptionRow.deleted_at.is_(None),
                )
                .order_by(SubscriptionRow.created_at, SubscriptionRow.id)
            )
        ).scalars()
        theirs: dict[uuid.UUID, list[SubscriptionRow]] = {}
        for sub in own:
            theirs.setdefault(sub.owner_user_id, []).append(sub)
        area = area_from_json(_NOWHERE)
        geometry = area.to_geometry({})
        for user_id in missing:
            user = users.get(user_id)
            if user is None:
                continue
            encrypted: list[str] = []
            masked: list[str] = []
            if sms_url and user.phone:
                url = sms_url.replace("{phone}", user.phone.lstrip("+"))
                encrypted.append(box.encrypt(url))
                masked.append(mask_channel_url(url))
            language, fmt = "fr", "sms"
            for sub in theirs.get(user_id, []):
                language, fmt = sub.language, sub.format
                for enc, mask in zip(sub.channels_encrypted, sub.channels_masked, strict=True):
                    if len(encrypted) < MAX_CHANNELS and mask not in masked:
                        encrypted.append(enc)
                        masked.append(mask)
            sub_id = uuid.uuid4()
            minx, miny, maxx, maxy = geometry.bounds
            session.add(
                SubscriptionRow(
                    id=sub_id,
                    owner_kind="mission",
                    owner_user_id=user_id,
                    owner_org_id=user.org_id,
                    name=scope[:200],
                    channels_encrypted=encrypted,
                    channels_masked=masked,
                    area=area.to_json(),
                    area_wkb=to_wkb(geometry),
                    min_lon=minx,
                    min_lat=miny,
                    max_lon=maxx,
                    max_lat=maxy,
                    types=[],
                    min_severity=5,
                    statuses=[],
                    min_level=5,
                    language=language,
                    format=fmt,
                    paused=True,
                    created_at=now,
                    updated_at=now,
                )
            )
            session.add(
                MissionRecipientRow(
                    subscription_id=sub_id, scope=scope, mission_id=mission_id, user_id=user_id
                )
            )
            have[user_id] = sub_id
        await session.flush()
    return {u: have[u] for u in wanted if u in have}


async def recipients_of(
    session: AsyncSession, subscription_ids: Sequence[uuid.UUID]
) -> list[Recipient]:
    """The outbox's Recipient of each mission subscription that has a channel, in order."""
    if not subscription_ids:
        return []
    rows = {
        row.id: (row, role)
        for row, role in (
            await session.execute(
                select(SubscriptionRow, UserRow.role)
                .join(UserRow, UserRow.id == SubscriptionRow.owner_user_id)
                .where(SubscriptionRow.id.in_(list(subscription_ids)))
            )
        ).all()
    }
    out = []
    for sid in subscription_ids:
        if sid not in rows:
            continue
        row, role = rows[sid]
        if not row.channels_encrypted:
            continue  # no channel to reach them: nothing to write (the outbox needs one)
        out.append(
            Recipient(
                id=row.id,
                owner_user_id=row.owner_user_id,
                owner_org_id=row.owner_org_id,
                owner_role=str(role),
                channels_encrypted=tuple(row.channels_encrypted),
                channels_masked=tuple(row.channels_masked),
                secondary_encrypted=None,
                secondary_masked=None,
                language=row.language,
                format=row.format,
                quiet_hours=None,
            )
        )
    return out
