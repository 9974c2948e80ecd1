"""A scheduled weekly report reaches a local SMTP server as an e-mail with the PDF attached, and
other channels a short summary with a signed link; made once per (organisation, week) even with
two dispatchers; a failed delivery is retried later, as alerts are."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from alerts.delivery.channels import DeliveryResult
from api.bootstrap import dispatcher_chores
from api.settings import Settings
from incidents.db import Database
from reports.delivery import ScheduledReports
from reports.tables import ReportDeliveryRow, ReportRunRow
from tests.alert_receivers import http_receiver, smtp_receiver
from tests.factories import DIEMA, Factory, incident_payload

pytestmark = pytest.mark.postgres


def _chore(settings: Settings, db: Database) -> ScheduledReports:
    chores = [c for c in dispatcher_chores(settings, db) if isinstance(c, ScheduledReports)]
    assert len(chores) == 1
    return chores[0]


async def _subscribe(client: AsyncTestClient, headers: dict[str, str], channels: list[str]) -> None:
    answer = await client.post(
        "/api/v1/subscriptions",
        json={"channels": channels, "area": {"zones": ["town_diema"]}, "owner": "organisation"},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text


async def _count(db: Database, table: type) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_the_weekly_report_arrives_by_email_with_the_pdf_once_for_two_dispatchers(
    app: Litestar, client: AsyncTestClient, factory: Factory, settings: Settings, db: Database
) -> None:
    admin = await factory.caller("admin")
    officer = await factory.caller("officer", org_id=admin.org_id)
    body = incident_payload(at=DIEMA, days_ago=7, sharing_level="green")
    assert (
        await client.post("/api/v1/incidents", json=body, headers=officer.headers)
    ).status_code == 201
    with smtp_receiver() as smtp, http_receiver() as hook:
        await _subscribe(
            client, officer.headers, [smtp.url("securite@cso.example.org"), hook.url()]
        )
        scheduled = await client.put(
            "/api/v1/reports/schedule",
            json={"weekday": 0, "hour": 7, "lang": "fr"},
            headers=admin.headers,
        )
        assert scheduled.status_code == 200, scheduled.text
        assert scheduled.json()["schedule"]["weekday"] == 0
        # Two dispatchers run their chores at the same moment (Thursday: Monday 07:00 passed).
        now = datetime.now(UTC)
        first, second = _chore(settings, db), _chore(settings, db)
        await asyncio.gather(first.make_due(now), second.make_due(now))
        assert await _count(db, ReportRunRow) == 1
        await asyncio.gather(first.send_due(now), second.send_due(now))
        await asyncio.to_thread(hook.wait_for, 1)

        assert len(smtp.messages) == 1
        mail = email.message_from_bytes(smtp.messages[0].content, policy=email.policy.default)
        assert "Rapport de situation hebdomadaire" in str(mail["subject"])
        attachments = list(mail.iter_attachments())
        assert len(attachments) == 1
        pdf = attachments[0].get_content()
        assert attachments[0].get_content_type() == "application/pdf"
        assert pdf.startswith(b"%PDF")
        assert len(pdf) <= 500_000

        # The other channel: an SMS-length summary with a signed link to the same PDF.
        text = str(hook.wait_for(1)[0].body.get("message"))
        assert "incidents" in text
        link = re.search(r"(/api/v1/public/reports/[0-9a-f-]+\?sig=[0-9a-f]+)", text)
        assert link is not None, text
        shared = await client.get(link.group(1))
        assert shared.status_code == 200
        assert shared.content == pdf
        tampered = await client.get(link.group(1)[:-4] + "0000")
        assert tampered.status_code == 404

        # Later passes send nothing more for this week.
        later = now + timedelta(hours=2)
        await first(later)
        await second(later)
        assert len(smtp.messages) == 1
        log = (await client.get("/api/v1/reports/schedule", headers=officer.headers)).json()
        assert sorted(d["kind"] for d in log["deliveries"]) == ["email", "summary"]
        assert {d["status"] for d in log["deliveries"]} == {"sent"}
        assert "securite@" not in str(log)  # the log never shows an address


@dataclass
class FlakyNotifier:
    fail_times: int = 1
    calls: list[str] = field(default_factory=list)

    async def send(
        self, url: str, title: str, body: str, attachment: tuple[str, bytes] | None
    ) -> DeliveryResult:
        self.calls.append(url)
        if self.fail_times > 0:
            self.fail_times -= 1
            return DeliveryResult(False, "delivery failed: unreachable")
        return DeliveryResult(True)


async def test_a_failed_delivery_is_retried_later_then_sent(
    client: AsyncTestClient, factory: Factory, settings: Settings, db: Database
) -> None:
    admin = await factory.caller("admin")
    await _subscribe(
        client,
        admin.headers,
        ["mailto://127.0.0.1:9?from=s@example.org&to=a@b.example&secure=no&smtp=127.0.0.1"],
    )
    answer = await client.put("/api/v1/reports/schedule", json={}, headers=admin.headers)
    assert answer.status_code == 200
    chore = _chore(settings, db)
    chore.notifier = FlakyNotifier()
    now = datetime.now(UTC)
    await chore.make_due(now)
    assert await chore.send_due(now) == 0
    async with db.read() as session:
        row = (await session.scalars(select(ReportDeliveryRow))).one()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at > now
    assert await chore.send_due(now) == 0  # not before its time
    assert await chore.send_due(row.next_attempt_at + timedelta(seconds=1)) == 1
    log = (await client.get("/api/v1/reports/schedule", headers=admin.headers)).json()
    assert log["deliveries"][0]["status"] == "sent"
    assert log["deliveries"][0]["attempts"] == 2


async def test_only_an_admin_schedules_and_bad_values_name_the_field(
    client: AsyncTestClient, factory: Factory
) -> None:
    officer = await factory.caller("officer")
    refused = await client.put("/api/v1/reports/schedule", json={}, headers=officer.headers)
    assert refused.status_code == 403
    admin = await factory.caller("admin")
    for body, name in (
        ({"hour": 24}, "hour"),
        ({"weekday": "lundi"}, "weekday"),
        ({"lang": "de"}, "lang"),
    ):
        answer = await client.put("/api/v1/reports/schedule", json=body, headers=admin.headers)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == name
    nothing = (await client.get("/api/v1/reports/schedule", headers=admin.headers)).json()
    assert nothing == {"schedule": None, "deliveries": []}
