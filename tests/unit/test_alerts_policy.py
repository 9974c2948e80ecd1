"""Sending policy: back-off, quiet hours, rate limiting, idempotency and escalation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest

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
from alerts.core.subscription import QuietHours

night = QuietHours(time(22), time(6))
lunch = QuietHours(time(12), time(14))


def at(hour, minute=0, day=24):
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# --- back-off ----------------------------------------------------------------------------------


def test_backoff_without_jitter_doubles_then_is_capped():
    delays = [backoff_delay(a, jitter=0) for a in range(1, 10)]
    assert delays == [5, 10, 20, 40, 80, 160, 320, 600, 600]


def test_backoff_jitter_stays_within_bounds_and_varies():
    rng = random.Random(7)
    delays = [backoff_delay(3, rng=rng) for _ in range(200)]
    assert min(delays) >= 20 * 0.8
    assert max(delays) <= 20 * 1.2
    assert len(set(delays)) > 100


def test_backoff_never_exceeds_the_cap_even_with_jitter_or_huge_attempts():
    rng = random.Random(1)
    assert all(backoff_delay(a, rng=rng) <= 600 for a in (8, 9, 50, 5000))


def test_backoff_attempt_counts_from_one():
    with pytest.raises(ValueError, match="from 1"):
        backoff_delay(0)


def test_retry_policy_gives_up_after_max_attempts():
    policy = RetryPolicy(max_attempts=3, jitter=0)
    now = at(10)
    assert policy.next_attempt_at(1, now) == now + timedelta(seconds=5)
    assert policy.next_attempt_at(2, now) == now + timedelta(seconds=10)
    assert policy.next_attempt_at(3, now) is None


# --- quiet hours -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qh", "now", "quiet"),
    [
        (night, at(23), True),
        (night, at(22), True),
        (night, at(2, 30), True),
        (night, at(5, 59), True),
        (night, at(6), False),
        (night, at(14), False),
        (night, at(21, 59), False),
        (lunch, at(13), True),
        (lunch, at(14), False),
        (lunch, at(23), False),
        (None, at(23), False),
    ],
)
def test_in_quiet_hours_bamako_time(qh, now, quiet):
    assert in_quiet_hours(qh, now) is quiet


def test_quiet_hours_are_read_in_the_given_time_zone():
    # 21:30 UTC is 22:30 in Lagos (UTC+1), inside "22:00-06:00".
    assert not in_quiet_hours(night, at(21, 30))
    assert in_quiet_hours(night, at(21, 30), tz="Africa/Lagos")


def test_naive_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        in_quiet_hours(night, datetime(2026, 11, 24, 23))  # noqa: DTZ001


def test_routine_message_at_night_waits_until_morning():
    assert next_send_time(night, at(23, 10), Priority.ROUTINE) == at(6, day=25)
    assert next_send_time(night, at(3), "urgent") == at(6)


def test_flash_message_overrides_quiet_hours():
    assert next_send_time(night, at(23, 10), Priority.FLASH) == at(23, 10)


def test_outside_quiet_hours_messages_go_now():
    assert next_send_time(night, at(9), Priority.ROUTINE) == at(9)
    assert next_send_time(None, at(23), Priority.ROUTINE) == at(23)


# --- rate limiter ------------------------------------------------------------------------------


def test_rate_limiter_allows_a_burst_then_refills():
    limiter = RateLimiter(per_minute=6, burst=3)  # one token every 10 s
    now = at(10)
    assert [limiter.allow("sms:+223", now) for _ in range(4)] == [True, True, True, False]
    assert limiter.next_allowed("sms:+223", now) == now + timedelta(seconds=10)
    assert not limiter.allow("sms:+223", now + timedelta(seconds=9))
    assert limiter.allow("sms:+223", now + timedelta(seconds=10))


def test_rate_limiter_keys_are_independent():
    limiter = RateLimiter(per_minute=1, burst=1)
    now = at(10)
    assert limiter.allow("tgram", now)
    assert not limiter.allow("tgram", now)
    assert limiter.allow("mailto", now)
    assert limiter.next_allowed("mailto", now) == now + timedelta(minutes=1)


def test_rate_limiter_never_holds_more_than_the_burst():
    limiter = RateLimiter(per_minute=60, burst=2)
    limiter.allow("k", at(10))
    later = at(12)
    assert [limiter.allow("k", later) for _ in range(3)] == [True, True, False]


def test_clock_stepping_back_does_not_mint_tokens():
    limiter = RateLimiter(per_minute=1, burst=1)
    assert limiter.allow("k", at(10))
    assert not limiter.allow("k", at(9))
    assert not limiter.allow("k", at(10))


# --- idempotency and escalation ----------------------------------------------------------------


def test_idempotency_key_is_stable_and_distinct_per_channel():
    key = idempotency_key("alert-1", "sub-1", 0)
    assert key == idempotency_key("alert-1", "sub-1", 0)
    assert len(key) == 32
    assert int(key, 16) >= 0
    assert (
        len(
            {
                key,
                idempotency_key("alert-1", "sub-1", 1),
                idempotency_key("alert-1", "sub-2", 0),
                idempotency_key("alert-2", "sub-1", 0),
            }
        )
        == 4
    )


@pytest.mark.parametrize(
    ("minutes", "acked", "resent", "escalated", "due"),
    [
        (5, False, False, False, None),
        (10, False, False, False, "resend"),
        (15, False, True, False, None),
        (20, False, True, False, "escalate"),
        (20, False, False, False, "escalate"),
        (30, False, True, True, None),
        (20, True, False, False, None),
    ],
)
def test_flash_escalation(minutes, acked, resent, escalated, due):
    sent = at(10)
    now = sent + timedelta(minutes=minutes)
    acked_at = sent + timedelta(minutes=1) if acked else None
    step = escalation_due(
        sent, acked_at, now, timedelta(minutes=10), resent=resent, escalated=escalated
    )
    assert step == due
