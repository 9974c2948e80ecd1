"""The outbox's own rules: priorities, what a message may carry, ack links, idempotency headers."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import apprise
import pytest

from alerts.core.policy import Priority
from alerts.core.render import RenderedMessage, render_incident_alert
from alerts.delivery.dispatcher import DispatchConfig, with_idempotency_header
from alerts.delivery.keys import LinkSigner
from alerts.delivery.secrets import SecretBox
from alerts.outbox.writer import (
    NEVER_SENT,
    OutboxConfig,
    Recipient,
    _with_ack_link,
    conservative_view,
    incident_priority,
    level_priority,
    recipient_view,
)
from api.settings import Settings
from incidents.records.model import Impact, Incident, Role, SharingLevel

ORG_A, ORG_B = uuid.uuid4(), uuid.uuid4()
WHEN = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)

kidnapping_near_diema = Incident(
    id=uuid.uuid4(),
    type="kidnapping",
    occurred_at=WHEN,
    reported_at=WHEN,
    geometry={"type": "Point", "coordinates": [-9.183, 14.5406]},
    org_id=ORG_A,
    user_id=uuid.uuid4(),
    place_name="Diéma",
    severity=4,
    actor="Commandant Untel",
    description="Le chauffeur Moussa a été enlevé",
    sharing_level=SharingLevel.GREEN,
)


def recipient(org: uuid.UUID = ORG_B, role: str = Role.PLANNER, language: str = "fr") -> Recipient:
    return Recipient(
        id=uuid.uuid4(),
        owner_user_id=uuid.uuid4(),
        owner_org_id=org,
        owner_role=role,
        channels_encrypted=("x",),
        channels_masked=("json://h/p",),
        secondary_encrypted=None,
        secondary_masked=None,
        language=language,
        format="full",
        quiet_hours=None,
    )


def config() -> OutboxConfig:
    return OutboxConfig("https://sentinelle.example.org/", LinkSigner([b"k" * 44]))


@pytest.mark.parametrize(
    ("severity", "aid_workers", "expected"),
    [
        (2, False, Priority.ROUTINE),
        (3, False, Priority.ROUTINE),
        (4, False, Priority.URGENT),
        (5, False, Priority.FLASH),
        (2, True, Priority.FLASH),
    ],
)
def test_incident_priority(severity: int, aid_workers: bool, expected: Priority) -> None:
    incident = replace(
        kidnapping_near_diema,
        severity=severity,
        impact=Impact(aid_workers_affected=aid_workers),
    )
    assert incident_priority(incident) is expected


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [(3, 5, Priority.FLASH), (2, 4, Priority.URGENT), (5, 3, Priority.ROUTINE)],
)
def test_level_priority(old: int, new: int, expected: Priority) -> None:
    assert level_priority(old, new) is expected


def test_an_entitled_recipient_never_gets_the_reporter_actor_or_narrative() -> None:
    view = recipient_view(recipient(), kidnapping_near_diema, [], config())
    assert not set(view) & set(NEVER_SENT)
    assert (view["type"], view["place_name"], view["severity"]) == ("kidnapping", "Diéma", 4)
    text = render_incident_alert(view, format="full").body
    assert "Moussa" not in text
    assert "Untel" not in text


def test_a_recipient_not_entitled_gets_only_the_category_time_and_zone() -> None:
    amber_strict = replace(kidnapping_near_diema, sharing_level=SharingLevel.AMBER_STRICT)
    view = recipient_view(recipient(), amber_strict, [{"name": "Diéma"}], config())
    assert view.pop("masked") is True
    assert set(view) == {"type", "zones", "location_precision", "occurred_at", "time_precision"}
    message = render_incident_alert(view, format="sms").body
    assert "Diéma" in message
    assert "4/5" not in message


def test_the_reporting_organisation_sees_its_own_incident_in_full() -> None:
    amber_strict = replace(kidnapping_near_diema, sharing_level=SharingLevel.AMBER_STRICT)
    view = recipient_view(recipient(org=ORG_A), amber_strict, [], config())
    assert view["place_name"] == "Diéma"
    assert view["severity"] == 4


def test_the_conservative_view_carries_no_organisation_people_or_narrative() -> None:
    view = conservative_view(kidnapping_near_diema, [])
    assert not set(view) & {"org_id", "user_id", "actor", "perpetrator", "description"}


def test_full_messages_carry_a_signed_ack_link_and_sms_stay_short() -> None:
    cfg = config()
    link = cfg.ack_link("K7F3Q")
    assert link.startswith("https://sentinelle.example.org/web/alerts/ack/K7F3Q?sig=")
    sms = RenderedMessage("", "Sentinelle: Enlèvement - Diéma. Rep: OK K7F3Q")
    assert _with_ack_link(sms, "sms", "fr", link) == sms
    full = _with_ack_link(RenderedMessage("t", "b"), "full", "fr", link)
    assert full.body.endswith(f"Accuser réception : {link}")


def test_link_signatures_survive_key_rotation_and_reject_tampering() -> None:
    old, new = SecretBox.generate_key().encode(), SecretBox.generate_key().encode()
    signature = LinkSigner([old]).sign("K7F3Q")
    rotated = LinkSigner([new, old])
    assert rotated.verify("K7F3Q", signature)
    assert not rotated.verify("K7F3R", signature)
    assert not LinkSigner([new]).verify("K7F3Q", signature)
    assert not rotated.verify("K7F3Q", "")
    assert not rotated.verify("Kä7", "sïg\U0010ffff")


@pytest.mark.parametrize(
    ("url", "carries_key"),
    [
        ("json://127.0.0.1:8080/hook", True),
        ("jsons://hooks.example.org/a?method=POST", True),
        ("form://127.0.0.1/f", True),
        ("mailto://127.0.0.1:25?from=a@b.org&to=c@d.org", False),
    ],
)
def test_web_hooks_receive_the_idempotency_key_as_a_header(url: str, carries_key: bool) -> None:
    keyed = with_idempotency_header(url, "abc123")
    plugin = apprise.Apprise.instantiate(keyed)
    assert plugin is not None
    headers = getattr(plugin, "headers", {}) or {}
    assert (headers.get("Idempotency-Key") == "abc123") is carries_key


def test_dispatch_settings_become_the_retry_policy() -> None:
    config = DispatchConfig.from_settings(
        Settings(
            dispatch_max_attempts=4,
            dispatch_backoff_base_seconds=2.0,
            dispatch_backoff_cap_seconds=60.0,
            ack_timeout_minutes=10,
        )
    )
    assert config.retry.max_attempts == 4
    assert config.ack_timeout == timedelta(minutes=10)
    assert config.retry.next_attempt_at(4, WHEN) is None
    retry_at = config.retry.next_attempt_at(1, WHEN)
    assert retry_at is not None
    assert timedelta(seconds=1.5) <= retry_at - WHEN <= timedelta(seconds=2.5)
