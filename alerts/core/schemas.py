"""The alerts API's JSON shapes: subscriptions (channels always masked), alerts and deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from msgspec import Struct


class SubscriptionOut(Struct):
    id: uuid.UUID
    owner: str  # user | organisation
    owner_user_id: uuid.UUID
    owner_org_id: uuid.UUID
    name: str | None
    channels: list[str]
    secondary_channel: str | None
    area: dict[str, Any]
    types: list[str]
    min_severity: int
    statuses: list[str]
    min_level: int
    language: str
    format: str
    quiet_hours: str | None
    paused: bool
    created_at: datetime
    updated_at: datetime


class SubscriptionList(Struct):
    items: list[SubscriptionOut]


class BroadcastOut(Struct):
    id: uuid.UUID
    priority: str
    alerts: int


class RecipientFigures(Struct):
    """Per recipient (an alert): sent once a channel was tried, delivered once one took it,
    failed when every try so far failed, acknowledged when its recipient said so."""

    recipients: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    acknowledged: int = 0


class OrganisationFigures(Struct):
    org_id: uuid.UUID
    figures: RecipientFigures
    own: bool = False


class SubscriptionFigures(Struct):
    subscription_id: uuid.UUID
    figures: RecipientFigures


class BroadcastDeliveries(Struct):
    """Who received a broadcast, for its sender's organisation: its own recipients (in all and
    per subscription) and those of the organisations it trusts. Other organisations' figures are
    left out: how many of their people a chosen area reaches would map where they work."""

    broadcast_id: uuid.UUID
    sent_at: datetime
    priority: str
    total: RecipientFigures
    organisations: list[OrganisationFigures]
    subscriptions: list[SubscriptionFigures]
    message: dict[str, str]


class DeliveryCounts(Struct):
    total: int = 0
    pending: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0


class AlertOut(Struct):
    id: uuid.UUID
    code: str
    kind: str
    priority: str
    subscription_id: uuid.UUID
    created_at: datetime
    acknowledged: bool
    incident_id: uuid.UUID | None = None
    zone_id: str | None = None
    broadcast_id: uuid.UUID | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: uuid.UUID | None = None
    resent_at: datetime | None = None
    escalated_at: datetime | None = None
    deliveries: DeliveryCounts | None = None
    # The mission an alert of kind `mission` is about (its recipients were told of it).
    mission_id: uuid.UUID | None = None


class AlertList(Struct):
    """The figures a programme reports ("alerts transmitted and handled"), then the newest."""

    alerts: int
    sent: int
    delivered: int
    acknowledged: int
    items: list[AlertOut]


class DeliveryOut(Struct):
    id: int
    channel: str
    channel_index: int
    purpose: str
    status: str
    attempts: int
    idempotency_key: str
    created_at: datetime
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None


class DeliveryList(Struct):
    alert_id: uuid.UUID
    code: str
    items: list[DeliveryOut]


class AckOut(Struct):
    code: str
    acknowledged: bool
    acknowledged_at: datetime
    acknowledged_by: uuid.UUID | None
    already: bool
