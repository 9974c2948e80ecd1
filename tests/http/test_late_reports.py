"""A serious incident learned days late still alerts, marked "signalé tardivement / reported
late"; other incidents keep the 72 h cut-off (alerts.outbox.writer.alert_age)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from alerts.core.tables import AlertRow, DeliveryRow
from incidents.db import Database
from tests.factories import Caller, Factory
from tests.http.test_event_links import report, subscribe

Client = AsyncTestClient[Litestar]


async def bodies(db: Database, incident_id: str) -> list[str]:
    async with db.read() as session:
        rows = await session.scalars(
            select(DeliveryRow.body)
            .join(AlertRow, AlertRow.id == DeliveryRow.alert_id)
            .where(AlertRow.incident_id == uuid.UUID(incident_id))
        )
        return list(rows.all())


async def subscribers(client: Client, factory: Factory, org: Caller) -> None:
    for language in ("fr", "en"):
        planner = await factory.caller("planner", org_id=org.org_id)
        await subscribe(client, planner, language=language, format="full")


async def test_a_kidnapping_reported_four_days_late_alerts_marked_late(
    client: Client, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    await subscribers(client, factory, reporter)

    late = await report(client, reporter, type="kidnapping", days_ago=4)

    sent = await bodies(db, late)
    assert len(sent) == 2
    assert any(b.startswith("Signalé tardivement") for b in sent), sent
    assert any(b.startswith("Reported late") for b in sent), sent


async def test_a_fresh_kidnapping_is_not_marked_late(
    client: Client, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    await subscribers(client, factory, reporter)
    fresh = await report(client, reporter, type="kidnapping", days_ago=0.5)
    sent = await bodies(db, fresh)
    assert len(sent) == 2
    assert not any("tardivement" in b or "late" in b.lower() for b in sent), sent


@pytest.mark.parametrize(
    ("type_", "days_ago"),
    [("theft", 4), ("assault", 4), ("kidnapping", 15), ("ied", 15)],
)
async def test_other_late_reports_alert_nobody(
    client: Client, factory: Factory, db: Database, type_: str, days_ago: float
) -> None:
    reporter = await factory.caller("reporter")
    await subscribers(client, factory, reporter)
    old = await report(client, reporter, type=type_, days_ago=days_ago, severity=5)
    assert await bodies(db, old) == []


@pytest.mark.parametrize("type_", ["killing", "ied", "armed_attack", "detention"])
async def test_every_serious_type_alerts_late(
    client: Client, factory: Factory, db: Database, type_: str
) -> None:
    reporter = await factory.caller("reporter")
    await subscribers(client, factory, reporter)
    late = await report(client, reporter, type=type_, days_ago=6)
    assert len(await bodies(db, late)) == 2


async def test_a_masked_late_alert_tells_nothing_finer_than_the_masked_entry(
    client: Client, factory: Factory, db: Database
) -> None:
    """Another organisation's subscriber sees amber_strict incidents masked (category, cell,
    day): a late alert for a violence incident would tell it was a killing or an armed attack
    (assaults do not alert late), so masked recipients hear late only of abductions, where
    every type alerts late, and without the mark."""
    reporter = await factory.caller("reporter")
    outsider = await factory.caller("planner")
    await subscribe(client, outsider, language="fr", format="full", min_severity=1)

    killing = await report(
        client, reporter, type="armed_attack", days_ago=4, sharing_level="amber_strict"
    )
    kidnapping = await report(
        client, reporter, type="kidnapping", days_ago=4, sharing_level="amber_strict"
    )

    assert await bodies(db, killing) == []
    [sent] = await bodies(db, kidnapping)
    assert "tardivement" not in sent
    assert "Enlèvement" in sent


def late_view(**extra: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "type": "kidnapping",
        "place_name": "Diéma",
        "occurred_at": datetime(2026, 11, 28, 8, tzinfo=UTC),
        "time_precision": "exact",
        "severity": 5,
        **extra,
    }


@pytest.mark.parametrize(
    ("language", "word"), [("fr", "signalé tardivement"), ("en", "reported late")]
)
def test_the_sms_says_reported_late_within_160_characters(language: str, word: str) -> None:
    from alerts.core.render import render_incident_alert

    text = render_incident_alert(
        late_view(reported_late=True), language=language, format="sms", code="ABCDE"
    ).body
    assert word in text.lower()
    assert len(text) <= 160
