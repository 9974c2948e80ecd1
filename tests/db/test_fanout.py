"""Fan-out: 1,000 subscriptions and one incident — one message each, each in its own language,
format and sharing view, and the text rendered once per view, not once per subscriber."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select

from alerts.core.tables import DeliveryRow
from alerts.delivery.channels import FakeNotifier
from alerts.outbox import writer
from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database
from incidents.identity.accounts import Principal
from incidents.records.model import Role
from incidents.records.schemas import IncidentIn
from tests.db.test_dispatcher import FAST_RETRIES, dispatcher
from tests.factories import DIEMA, Factory, incident_payload

NARRATIVE = "Le chauffeur Moussa a été enlevé devant la maison bleue"
# (organisation, language, format) of each quarter of the subscriptions.
VIEWS = [
    ("own", "fr", "full"),
    ("own", "en", "sms"),
    ("other", "fr", "sms"),
    ("other", "en", "full"),
]
PER_VIEW = 250


async def test_a_thousand_subscribers_get_one_message_each_rendered_once_per_view(
    settings: Settings, db: Database, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = dataclasses.replace(
        dataclasses.replace(settings, **FAST_RETRIES), channel_allow_hosts="127.0.0.1"
    )
    app = create_app(fast, db=db)
    reporter = await factory.caller("reporter")
    own = await factory.caller("officer", org_id=reporter.org_id)
    other = await factory.caller("officer")  # sees an amber_strict incident masked
    owners = {
        "own": Principal(own.user_id, own.org_id, Role.OFFICER),
        "other": Principal(other.user_id, other.org_id, Role.OFFICER),
    }
    view_of: dict[str, tuple[str, str, str]] = {}
    now = datetime.now(UTC)
    for v, (who, language, fmt) in enumerate(VIEWS):
        for i in range(PER_VIEW):
            url = f"json://127.0.0.1:9/v{v}/s{i}"
            await app.state.container.alerts.create_subscription(
                owners[who],
                {
                    "channels": [url],
                    "language": language,
                    "format": fmt,
                    "area": {"point": {"lat": DIEMA[0], "lon": DIEMA[1]}, "radius_km": 40},
                },
                now=now,
            )
            view_of[url] = (who, language, fmt)

    renders = Counter[tuple[str, str]]()
    real = writer.render_incident_alert

    def counting(view: Any, *, language: str, format: str, **kw: Any) -> Any:
        renders[(language, format)] += 1
        return real(view, language=language, format=format, **kw)

    monkeypatch.setattr(writer, "render_incident_alert", counting)
    data = msgspec.convert(
        incident_payload(
            at=DIEMA, days_ago=0.1, description=NARRATIVE, sharing_level="amber_strict"
        ),
        IncidentIn,
    )
    await app.state.container.incidents.report(
        Principal(reporter.user_id, reporter.org_id, Role.REPORTER), data, now=now
    )
    # One render per (entitlement, language, format), whatever the number of subscribers.
    assert sum(renders.values()) == len(VIEWS)

    notifier = FakeNotifier()
    report = await dispatcher(db, fast, notifier).drain()
    assert report.delivered == len(VIEWS) * PER_VIEW
    by_address = Counter(call.url.split("?")[0] for call in notifier.calls)
    assert set(by_address) == set(view_of)
    assert set(by_address.values()) == {1}, "a subscriber got more than one message"
    keys = {call.url.split("?")[1] for call in notifier.calls}
    assert len(keys) == len(notifier.calls), "two deliveries share an idempotency key"

    texts: dict[tuple[str, str, str], set[str]] = {}
    for call in notifier.calls:
        texts.setdefault(view_of[call.url.split("?")[0]], set()).add(call.title + call.body)
    # Everyone of one view reads the same text but for their own reply code.
    for view, bodies in texts.items():
        who, language, fmt = view
        for text in bodies:
            assert NARRATIVE not in text
            assert "Moussa" not in text
            if fmt == "sms":
                assert len(text) <= 160, text
            else:
                assert ("Accuser réception" if language == "fr" else "Acknowledge") in text
            if who == "other":  # the masked entry: no exact place
                assert f"{DIEMA[0]:.3f}" not in text
                assert f"{DIEMA[1]:.3f}" not in text
    full_fr = next(iter(texts[("own", "fr", "full")]))
    masked_en = next(iter(texts[("other", "en", "full")]))
    assert full_fr != masked_en
    async with db.read() as session:
        statuses = dict(
            (
                await session.execute(
                    select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
                )
            ).all()
        )
    assert statuses == {"delivered": len(VIEWS) * PER_VIEW}
