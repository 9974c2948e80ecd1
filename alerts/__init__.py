"""Alerts: subscriptions, matching, rendering, sending policy, channels and secrets."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from alerts.core.matching import AlertedState, SubscriptionIndex, should_realert
from alerts.core.policy import (
    Priority,
    RateLimiter,
    RetryPolicy,
    backoff_delay,
    escalation_due,
    idempotency_key,
    in_quiet_hours,
    next_send_time,
)
from alerts.core.render import (
    RenderedMessage,
    gsm7_length,
    is_gsm7,
    new_alert_code,
    parse_ack_reply,
    render_broadcast,
    render_incident_alert,
    render_level_change,
    to_gsm7,
)
from alerts.core.subscription import (
    Area,
    GeometryArea,
    PointArea,
    QuietHours,
    RouteArea,
    Subscription,
    SubscriptionError,
    ZonesArea,
    area_from_json,
    area_geometries,
    geodesic_circles,
    parse_quiet_hours,
    subscription_from_json,
)

if TYPE_CHECKING:
    from alerts.delivery.channels import (
        AppriseNotifier,
        ChannelError,
        DeliveryResult,
        FakeNotifier,
        Notifier,
        mask_channel_url,
        validate_channel_url,
    )
    from alerts.delivery.secrets import SecretBox, SecretDecryptError, SecretKeyError

# Apprise and cryptography load on first use, so importing the pure modules stays light.
_LAZY = {
    "AppriseNotifier": "alerts.delivery.channels",
    "ChannelError": "alerts.delivery.channels",
    "DeliveryResult": "alerts.delivery.channels",
    "FakeNotifier": "alerts.delivery.channels",
    "Notifier": "alerts.delivery.channels",
    "mask_channel_url": "alerts.delivery.channels",
    "validate_channel_url": "alerts.delivery.channels",
    "SecretBox": "alerts.delivery.secrets",
    "SecretDecryptError": "alerts.delivery.secrets",
    "SecretKeyError": "alerts.delivery.secrets",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alerts' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "AlertedState",
    "AppriseNotifier",
    "Area",
    "ChannelError",
    "DeliveryResult",
    "FakeNotifier",
    "GeometryArea",
    "Notifier",
    "PointArea",
    "Priority",
    "QuietHours",
    "RateLimiter",
    "RenderedMessage",
    "RetryPolicy",
    "RouteArea",
    "SecretBox",
    "SecretDecryptError",
    "SecretKeyError",
    "Subscription",
    "SubscriptionError",
    "SubscriptionIndex",
    "ZonesArea",
    "area_from_json",
    "area_geometries",
    "backoff_delay",
    "escalation_due",
    "geodesic_circles",
    "gsm7_length",
    "idempotency_key",
    "in_quiet_hours",
    "is_gsm7",
    "mask_channel_url",
    "new_alert_code",
    "next_send_time",
    "parse_ack_reply",
    "parse_quiet_hours",
    "render_broadcast",
    "render_incident_alert",
    "render_level_change",
    "should_realert",
    "subscription_from_json",
    "to_gsm7",
    "validate_channel_url",
]
