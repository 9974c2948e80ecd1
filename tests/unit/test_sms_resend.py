"""A focal point re-sends a corrected SMS: the report of the last hour is updated, not doubled.

Through the intake service on the real database (SQLite, and PostgreSQL when configured), with
the same phone-registration steps as the gateway tests.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from incidents.db import Database
from incidents.intake.service import (
    IntakeService,
    create_phone_user,
    reference_code,
    set_intake_secret,
)
from incidents.intake.sms import SMS_LENGTH, gsm7_length
from incidents.intake.tables import HeldSmsRow
from incidents.records.model import Role
from incidents.records.service import IncidentService
from incidents.records.tables import IncidentRow
from tests.factories import Factory

PHONE = "+22376123456"
OTHER_PHONE = "+22376999888"


async def incidents(db: Database) -> list[IncidentRow]:
    async with db.read() as session:
        return list((await session.scalars(select(IncidentRow))).all())


async def count(db: Database) -> int:
    async with db.read() as session:
        return int((await session.scalar(select(func.count()).select_from(IncidentRow))) or 0)


@pytest.fixture(name="setup")
async def fx_setup(db: Database, factory: Factory) -> tuple[IntakeService, str]:
    org_id = await factory.org()
    now = datetime.now(UTC)
    async with db.transaction() as session:
        secret = await set_intake_secret(session, org_id, now=now)
        await create_phone_user(session, org_id, PHONE, role=Role.REPORTER, now=now)
        await create_phone_user(session, org_id, OTHER_PHONE, role=Role.REPORTER, now=now)
    return IntakeService(db, IncidentService(db)), secret


async def send(
    service: IntakeService, secret: str, text: str, at: datetime, sender: str = PHONE
) -> object:
    return await service.receive_sms(secret, sender=sender, text=text, received_at=at, now=at)


async def test_a_resent_corrected_message_updates_the_report_of_the_last_hour(
    db: Database, setup: tuple[IntakeService, str]
) -> None:
    service, secret = setup
    t0 = datetime.now(UTC).replace(microsecond=0)
    first = await send(service, secret, "ENLEVEMENT DIEMA 2 staff", t0)
    fixed = await send(
        service, secret, "ENLEVEMENT DIEMA 3 staff hier soir", t0 + timedelta(minutes=20)
    )

    assert first.status == "created"  # type: ignore[attr-defined]
    assert fixed.status == "updated"  # type: ignore[attr-defined]
    assert fixed.incident_id == first.incident_id  # type: ignore[attr-defined]
    assert fixed.reference == first.reference  # type: ignore[attr-defined]
    assert "corrigé" in fixed.reply  # type: ignore[attr-defined]
    assert gsm7_length(fixed.reply) <= SMS_LENGTH  # type: ignore[attr-defined]
    [row] = await incidents(db)
    assert row.abducted == 3
    assert row.version == 2
    assert row.description == "ENLEVEMENT DIEMA 3 staff hier soir"


async def test_a_correction_word_updates_even_a_new_type_and_place(
    db: Database, setup: tuple[IntakeService, str]
) -> None:
    service, secret = setup
    t0 = datetime.now(UTC).replace(microsecond=0)
    first = await send(service, secret, "VOL materiel Gao", t0)
    fixed = await send(service, secret, "CORRECTION braquage Kidal", t0 + timedelta(minutes=5))

    assert fixed.status == "updated"  # type: ignore[attr-defined]
    assert fixed.incident_id == first.incident_id  # type: ignore[attr-defined]
    [row] = await incidents(db)
    assert (row.type, row.place_name) == ("robbery", "Kidal")


async def test_a_different_incident_or_nouveau_or_after_an_hour_is_a_new_report(
    db: Database, setup: tuple[IntakeService, str]
) -> None:
    service, secret = setup
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    await send(service, secret, "VOL materiel Gao", t0)
    # Another type far away, within the hour: a second incident.
    other = await send(service, secret, "ENLEVEMENT Kidal 1 staff", t0 + timedelta(minutes=10))
    # Same type and place, but said to be new.
    new = await send(
        service, secret, "NOUVEAU enlevement Kidal 2 staff", t0 + timedelta(minutes=15)
    )

    assert other.status == "created"  # type: ignore[attr-defined]
    assert new.status == "created"  # type: ignore[attr-defined]
    assert await count(db) == 3


async def test_only_the_senders_own_recent_report_is_corrected(
    db: Database, setup: tuple[IntakeService, str]
) -> None:
    service, secret = setup
    old = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    # Two hours ago: not corrected any more (the window is counted on the server clock).
    first = await send(service, secret, "ENLEVEMENT DIEMA 2 staff", datetime.now(UTC))
    await _age(db, first.incident_id, old)  # type: ignore[attr-defined]
    later = await send(service, secret, "ENLEVEMENT DIEMA 3 staff", datetime.now(UTC))
    colleague = await send(
        service, secret, "ENLEVEMENT DIEMA 4 staff", datetime.now(UTC), sender=OTHER_PHONE
    )

    assert later.status == "created"  # type: ignore[attr-defined]
    assert colleague.status == "created"  # type: ignore[attr-defined]
    assert await count(db) == 3


async def _age(db: Database, incident_id: uuid.UUID, at: datetime) -> None:
    async with db.transaction() as session:
        row = await session.get(IncidentRow, incident_id)
        assert row is not None
        row.created_at = at


async def test_a_gateway_retry_of_the_first_message_does_not_undo_the_correction(
    db: Database, setup: tuple[IntakeService, str]
) -> None:
    service, secret = setup
    t0 = datetime.now(UTC).replace(microsecond=0)
    first = await send(service, secret, "ENLEVEMENT DIEMA 2 staff", t0)
    await send(service, secret, "ENLEVEMENT DIEMA 3 staff", t0 + timedelta(minutes=2))
    retry = await service.receive_sms(
        secret,
        sender=PHONE,
        text="ENLEVEMENT DIEMA 2 staff",
        received_at=t0,
        now=t0 + timedelta(minutes=3),
    )

    assert retry.status == "replayed"
    assert retry.reference == reference_code(first.incident_id)  # type: ignore[attr-defined]
    [row] = await incidents(db)
    assert row.abducted == 3


async def test_an_unknown_place_is_held_and_the_resend_with_a_town_closes_it(
    db: Database, setup: tuple[IntakeService, str]
) -> None:
    service, secret = setup
    t0 = datetime.now(UTC).replace(microsecond=0)
    held = await send(service, secret, "IED a Tinabaw hier, 2 morts", t0)

    assert held.status == "held"  # type: ignore[attr-defined]
    assert held.missing == ["location"]  # type: ignore[attr-defined]
    assert "ville la plus proche" in held.reply  # type: ignore[attr-defined]
    assert await count(db) == 0

    report = await send(
        service, secret, "IED pres de Douentza hier, 2 morts", t0 + timedelta(minutes=10)
    )

    assert report.status == "created"  # type: ignore[attr-defined]
    async with db.read() as session:
        row = await session.get(HeldSmsRow, held.held_id)  # type: ignore[attr-defined]
        assert row is not None
        assert (row.state, row.reason) == ("resolved", "unknown_place")
        assert row.incident_id == report.incident_id  # type: ignore[attr-defined]


async def test_replies_fit_the_segments_the_operator_allows(
    db: Database, setup: tuple[IntakeService, str]
) -> None:
    service, secret = setup
    text = (
        "Bonjour, ce matin vers 6h30 des hommes armes ont enleve 3 de nos agents humanitaires, "
        "tue 2 chauffeurs et blesse 4 passagers sur l axe Nioro du Sahel Diema"
    )
    one = await send(service, secret, text, datetime.now(UTC))
    service.reply_segments = 2
    two = await send(service, secret, "NOUVEAU " + text, datetime.now(UTC), sender=OTHER_PHONE)

    assert gsm7_length(one.reply) <= 160  # type: ignore[attr-defined]
    assert 160 < gsm7_length(two.reply) <= 306  # type: ignore[attr-defined]
    assert "dans l'heure" in two.reply  # type: ignore[attr-defined]
