"""The pure rule of incidents.events.matching: which reports are one event, and when a report
may count through another (same audience)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from incidents.events.matching import (
    LinkRules,
    Report,
    audience_within,
    canonical_for,
    is_near_duplicate,
    same_audience,
)

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ORG_A, ORG_B = uuid.UUID(int=1), uuid.UUID(int=2)
USER_A, USER_B = uuid.UUID(int=11), uuid.UUID(int=12)
RULES = LinkRules(near_km=5.0, near_hours=6.0)


def report(**changes: object) -> Report:
    base = Report(
        id=uuid.uuid4(),
        category="abduction",
        occurred_at=AT,
        lon=-9.1830,
        lat=14.5406,  # Diéma
        org_id=ORG_A,
        user_id=USER_A,
        sharing_level="amber",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_same_external_id_from_another_organisation_is_the_same_event() -> None:
    first = report(external_id="acled:MLI1234", org_id=ORG_A, sharing_level="green")
    again = report(
        external_id="acled:MLI1234",
        org_id=ORG_B,
        sharing_level="green",
        occurred_at=AT + timedelta(days=3),
        lon=0.0,
    )
    assert canonical_for(again, [first], RULES) == first.id


def test_a_near_report_of_the_same_category_joins_the_event_of_its_canonical_report() -> None:
    head = report()
    dup = report(event_id=head.id, occurred_at=AT + timedelta(hours=1))
    new = report(occurred_at=AT + timedelta(hours=2), lat=14.56)  # ~2 km north
    assert canonical_for(new, [dup], RULES, {head.id: head}) == head.id


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"category": "crime"}, "another category"),
        ({"occurred_at": AT + timedelta(hours=7)}, "7 h later"),
        ({"lat": 14.60}, "~6.6 km away"),
    ],
)
def test_reports_further_apart_are_two_events(change: dict[str, object], why: str) -> None:
    assert not is_near_duplicate(report(**change), report(), RULES), why


def test_two_acled_ids_are_two_events_however_close() -> None:
    a = report(external_id="acled:MLI1", sharing_level="green")
    b = report(external_id="acled:MLI2", sharing_level="green")
    assert not is_near_duplicate(a, b, RULES)
    # Two SMS (message digests) of one event are one event.
    assert is_near_duplicate(report(external_id="sms:aa"), report(external_id="sms:bb"), RULES)


def test_nearness_off_links_by_external_id_only() -> None:
    off = LinkRules(near_km=0, near_hours=0)
    assert canonical_for(report(), [report()], off) is None
    same = report(external_id="kobo:x")
    assert canonical_for(report(external_id="kobo:x"), [same], off) == same.id


def test_rules_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="near_km"):
        LinkRules(near_km=-1)
    with pytest.raises(ValueError, match="near_hours"):
        LinkRules(near_hours=float("nan"))


def test_the_nearest_in_time_wins_whatever_the_order() -> None:
    new = report()
    far = report(occurred_at=AT + timedelta(hours=5))
    near = report(occurred_at=AT + timedelta(hours=1))
    assert canonical_for(new, [far, near], RULES) == near.id
    assert canonical_for(new, [near, far], RULES) == near.id


@pytest.mark.parametrize(
    ("canonical", "new", "within"),
    [
        ({"sharing_level": "green", "org_id": ORG_B}, {"sharing_level": "amber"}, True),
        ({"sharing_level": "green"}, {"sharing_level": "clear"}, False),  # the public sees it
        ({"sharing_level": "amber"}, {"sharing_level": "amber_strict"}, True),
        ({"sharing_level": "amber", "org_id": ORG_B}, {"sharing_level": "amber"}, False),
        ({"sharing_level": "amber_strict"}, {"sharing_level": "amber"}, False),  # officers
        ({"sharing_level": "red"}, {"sharing_level": "red"}, True),
        ({"sharing_level": "red", "user_id": USER_B}, {"sharing_level": "red"}, False),
        ({"sharing_level": "amber"}, {"sharing_level": "red", "named": frozenset({USER_B})}, False),
        ({"sharing_level": "red"}, {"sharing_level": "amber"}, False),
    ],
)
def test_reports_are_one_event_only_if_they_have_exactly_the_same_readers(
    canonical: dict[str, object], new: dict[str, object], within: bool
) -> None:
    """Otherwise someone who may read one and not the other would see the masked one add
    nothing to the risk, and learn that it is near the one it can read."""
    head = report(**canonical)
    dup = report(**new)
    assert audience_within(dup, head) is within
    alike = same_audience(dup, head)
    assert alike is (within and audience_within(head, dup))
    assert (canonical_for(dup, [head], RULES) == head.id) is alike


@pytest.mark.parametrize("level", ["clear", "green", "amber", "amber_strict", "red"])
def test_reports_of_one_organisation_shared_alike_are_one_event(level: str) -> None:
    head = report(sharing_level=level)
    assert canonical_for(report(sharing_level=level), [head], RULES) == head.id
