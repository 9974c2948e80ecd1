"""A mission's world: an organisation with a planner, an officer and a traveller who all have a
phone, an intake secret, and the mission alerts sent for real (Apprise json://) to a local
receiver whose path is the phone number."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from alerts.delivery.channels import AppriseNotifier, ChannelPolicy
from alerts.delivery.dispatcher import DispatchConfig, Dispatcher
from alerts.delivery.keys import LinkSigner, secret_keys
from alerts.delivery.secrets import SecretBox
from alerts.outbox.writer import OutboxConfig
from api.http.app import container_of, create_app
from api.settings import Settings
from incidents.db import Database
from incidents.intake.service import register_phone, set_intake_secret
from tests.alert_receivers import HttpReceiver, http_receiver
from tests.factories import Caller, Factory

Client = AsyncTestClient[Litestar]
TRAVELLER_PHONE = "+22376000001"
PLANNER_PHONE = "+22376000002"
OFFICER_PHONE = "+22376000003"


@dataclass
class World:
    client: Client
    app: Litestar
    db: Database
    settings: Settings
    receiver: HttpReceiver
    planner: Caller
    officer: Caller
    secret: str
    factory: Factory

    async def sms(self, text: str, phone: str = TRAVELLER_PHONE) -> dict[str, Any]:
        answer = await self.client.post(
            "/api/v1/intake/sms",
            json={"sender": phone, "text": text},
            headers={"X-Sentinelle-Intake-Secret": self.secret},
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def deliver(self, now: datetime | None = None) -> int:
        keys = secret_keys(self.settings)
        dispatcher = Dispatcher(
            self.db,
            AppriseNotifier(timeout_s=5, policy=ChannelPolicy.from_settings("", "127.0.0.1")),
            SecretBox(keys),
            config=DispatchConfig.from_settings(self.settings),
            outbox=OutboxConfig(public_url=self.settings.public_url, signer=LinkSigner(keys)),
            worker_id="test",
            clock=(lambda: now or datetime.now(UTC)),
        )
        return (await dispatcher.drain()).delivered

    def to(self, phone: str) -> list[str]:
        digits = phone.lstrip("+")
        return [r.body["message"] for r in self.receiver.received if r.path.endswith(digits)]

    async def tick(self, now: datetime) -> int:
        escalation = container_of(self.app).escalation
        assert escalation is not None
        return await escalation.tick(now)


def mopti_gao(now: datetime, **extra: Any) -> dict[str, Any]:
    def at(hours: float) -> str:
        return (now + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")

    body: dict[str, Any] = {
        "title": "Mopti - Gao, distribution",
        "departure_at": at(-1),
        "arrival_at": at(6),
        "route": {"places": ["Mopti", "Douentza", "Hombori", "Gao"]},
        "stops": [
            {"place": "Douentza", "expected_at": at(1)},
            {"place": "Hombori", "expected_at": at(3)},
        ],
        "travellers": [{"name": "Awa", "phone": TRAVELLER_PHONE, "duress_word": "mangue"}],
        "vehicles": [{"label": "Land Cruiser blanc", "markings": "logo ONG, drapeau blanc"}],
        "contact": "+22320000000",
    }
    body.update(extra)
    return body


@pytest.fixture(name="world")
async def fx_world(settings: Settings, db: Database, factory: Factory) -> AsyncIterator[World]:
    with http_receiver() as receiver:
        app = create_app(settings, db=db)
        container = container_of(app)
        assert container.missions is not None
        sms_url = receiver.url("sms/{phone}")
        container.missions.config = dataclasses.replace(
            container.missions.config, sms_url=sms_url, notification_export=True
        )
        for _, handler in container.incidents.events.handlers:
            if hasattr(handler, "config") and hasattr(handler, "box"):
                handler.config = container.missions.config
        org = await factory.org()
        planner = await factory.caller("planner", org_id=org)
        officer = await factory.caller("officer", org_id=org)
        now = datetime.now(UTC)
        async with db.transaction() as session:
            await register_phone(session, planner.user_id, PLANNER_PHONE)
            await register_phone(session, officer.user_id, OFFICER_PHONE)
            secret = await set_intake_secret(session, org, now=now)
        async with AsyncTestClient(app=app) as client:
            yield World(client, app, db, settings, receiver, planner, officer, secret, factory)


@pytest.fixture(name="uid")
def fx_uid() -> Iterator[str]:
    return uuid.uuid4().hex[:6]
