"""When to send: retries with back-off, quiet hours, rate limits, idempotency and escalation."""

from __future__ import annotations

import enum
import hashlib
import math
import random
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from alerts.core.subscription import QuietHours

LOCAL_TZ = "Africa/Bamako"


class Priority(enum.StrEnum):
    """How urgent a message is; only flash messages break through quiet hours."""

    ROUTINE = "routine"
    URGENT = "urgent"
    FLASH = "flash"


# --- retries -----------------------------------------------------------------------------------


def backoff_delay(
    attempt: int,
    *,
    base_s: float = 5.0,
    factor: float = 2.0,
    cap_s: float = 600.0,
    jitter: float = 0.2,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number `attempt` (1 = first retry): exponential, capped,
    with +/- `jitter` proportional noise so failed deliveries don't all retry at once.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    # Compare exponents rather than computing factor**attempt, which overflows for large attempts.
    if factor <= 1 or (attempt - 1) * math.log(factor) < math.log(cap_s / base_s):
        delay = min(cap_s, base_s * factor ** (attempt - 1))
    else:
        delay = cap_s
    if jitter:
        delay *= 1 + (rng or random.Random()).uniform(-jitter, jitter)  # noqa: S311 - not crypto
    return max(0.0, min(cap_s, delay))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times a delivery is tried and how long to wait between tries."""

    max_attempts: int = 8
    base_s: float = 5.0
    factor: float = 2.0
    cap_s: float = 600.0
    jitter: float = 0.2

    def should_retry(self, attempts_made: int) -> bool:
        return attempts_made < self.max_attempts

    def delay(self, attempts_made: int, rng: random.Random | None = None) -> float:
        return backoff_delay(
            attempts_made,
            base_s=self.base_s,
            factor=self.factor,
            cap_s=self.cap_s,
            jitter=self.jitter,
            rng=rng,
        )

    def next_attempt_at(
        self, attempts_made: int, now: datetime, rng: random.Random | None = None
    ) -> datetime | None:
        """When to try again after `attempts_made` failed tries, or None to give up."""
        if not self.should_retry(attempts_made):
            return None
        return now + timedelta(seconds=self.delay(attempts_made, rng))


# --- quiet hours -------------------------------------------------------------------------------


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("give a timezone-aware datetime (UTC)")


def in_quiet_hours(qh: QuietHours | None, now_utc: datetime, tz: str = LOCAL_TZ) -> bool:
    """True when the local time falls in [start, end); ranges may cross midnight."""
    if qh is None:
        return False
    _require_aware(now_utc)
    local = now_utc.astimezone(ZoneInfo(tz)).time().replace(tzinfo=None)
    if qh.start < qh.end:
        return qh.start <= local < qh.end
    return local >= qh.start or local < qh.end


def next_send_time(
    qh: QuietHours | None, now_utc: datetime, priority: Priority | str, tz: str = LOCAL_TZ
) -> datetime:
    """When a message may go out (UTC): now, unless it is quiet time and not a flash message."""
    _require_aware(now_utc)
    if Priority(priority) is Priority.FLASH or not in_quiet_hours(qh, now_utc, tz):
        return now_utc
    assert qh is not None
    zone = ZoneInfo(tz)
    local = now_utc.astimezone(zone)
    end = datetime.combine(local.date(), qh.end, tzinfo=zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), qh.end, tzinfo=zone)
    return end.astimezone(UTC)


# --- rate limiting -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: datetime


@dataclass(slots=True)
class RateLimiter:
    """Token bucket per channel key: up to `burst` messages at once, refilled at `per_minute`.

    Pure: the caller passes `now`. Keeps one small record per key seen.
    """

    per_minute: float = 30.0
    burst: int = 10
    _buckets: dict[Hashable, _Bucket] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")

    def _refill(self, key: Hashable, now: datetime) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            return bucket
        # A clock that steps back must not mint tokens: negative elapsed counts as zero.
        elapsed = max(0.0, (now - bucket.updated).total_seconds())
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_minute / 60.0)
        bucket.updated = max(bucket.updated, now)
        return bucket

    def allow(self, key: Hashable, now: datetime) -> bool:
        """Take one token for `key` if there is one."""
        bucket = self._refill(key, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def next_allowed(self, key: Hashable, now: datetime) -> datetime:
        """Earliest time `allow(key, ...)` would succeed (now if a token is available)."""
        bucket = self._refill(key, now)
        if bucket.tokens >= 1.0:
            return now
        wait_s = (1.0 - bucket.tokens) * 60.0 / self.per_minute
        return bucket.updated + timedelta(seconds=wait_s)


# --- idempotency and escalation ----------------------------------------------------------------


def idempotency_key(alert_id: object, subscription_id: object, channel_index: int) -> str:
    """Stable key for one delivery, so a retried dispatch never sends the same message twice."""
    raw = f"sentinelle-delivery:{alert_id}:{subscription_id}:{channel_index}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


EscalationStep = Literal["resend", "escalate"]


def escalation_due(
    sent_at: datetime,
    acked_at: datetime | None,
    now: datetime,
    ack_timeout: timedelta,
    *,
    resent: bool = False,
    escalated: bool = False,
) -> EscalationStep | None:
    """For an unacknowledged flash alert: "resend" once after `ack_timeout`, then "escalate"
    to the organisation's secondary channel after twice the timeout; None when nothing is due.
    """
    if acked_at is not None and acked_at <= now:
        return None
    waited = now - sent_at
    if waited >= 2 * ack_timeout and not escalated:
        return "escalate"
    if ack_timeout <= waited < 2 * ack_timeout and not resent:
        return "resend"
    return None
