"""End to end through HTTP: subscribe, report, receive the alert for real, acknowledge."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from alerts.delivery.channels import AppriseNotifier, ChannelPolicy
from alerts.delivery.dispatcher import DispatchConfig, Dispatcher
from alerts.delivery.keys import LinkSigner, secret_keys
from alerts.delivery.secrets import SecretBox
from alerts.outbox.writer import OutboxConfig
from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database
from tests.alert_receivers import http_receiver, smtp_receiver
from tests.factories import DIEMA, Factory, incident_payload

Client = AsyncTestClient[Litestar]


def dispatcher_for(db: Database, settings: Settings) -> Dispatcher:
    keys = secret_keys(settings)
    return Dispatcher(
        db,
        AppriseNotifier(timeout_s=5, policy=ChannelPolicy.from_settings("", "127.0.0.1")),
        SecretBox(keys),
        config=DispatchConfig.from_settings(settings),
        outbox=OutboxConfig(public_url=settings.public_url, signer=LinkSigner(keys)),
        worker_id="test",
    )


def diema_area(radius_km: float = 30) -> dict[str, Any]:
    return {"point": {"lat": DIEMA[0], "lon": DIEMA[1]}, "radius_km": radius_km}


async def test_diema_kidnapping_reaches_the_subscriber_in_french_sms_and_is_acknowledged(
    client: Client, factory: Factory, db: Database, settings: Settings
) -> None:
    cso = await factory.caller("planner")
    reporter = await factory.caller("reporter")
    with http_receiver() as receiver:
        answer = await client.post(
            "/api/v1/subscriptions",
            json={
                "channels": [receiver.url("diema")],
                "area": {"zones": ["town_diema"]},
                "format": "sms",
            },
            headers=cso.headers,
        )
        assert answer.status_code == 201, answer.text

        reported = await client.post(
            "/api/v1/incidents",
            json=incident_payload(type="kidnapping", at=DIEMA, sharing_level="green"),
            headers=reporter.headers,
        )
        assert reported.status_code == 201, reported.text
        report = await dispatcher_for(db, settings).drain()
        arrived = receiver.wait_for(1, timeout_s=5)

    assert report.delivered == 1
    assert len(arrived) == 1
    message = arrived[0].body["message"]
    assert message.startswith("Sentinelle: Enlèvement")
    assert "Diéma" in message
    assert len(message) <= 160
    assert arrived[0].key is not None

    listing = (await client.get("/api/v1/alerts", headers=cso.headers)).json()
    assert (listing["alerts"], listing["sent"], listing["delivered"], listing["acknowledged"]) == (
        1,
        1,
        1,
        0,
    )
    code = listing["items"][0]["code"]
    assert code in message

    acked = await client.post(f"/api/v1/alerts/{code.lower()}/ack", headers=cso.headers)
    assert acked.status_code == 200, acked.text
    listing = (await client.get("/api/v1/alerts", headers=cso.headers)).json()
    assert listing["acknowledged"] == 1
    assert listing["items"][0]["acknowledged_by"] == str(cso.user_id)


async def test_full_form_arrives_by_email_with_a_signed_link_that_acknowledges_without_login(
    client: Client, factory: Factory, db: Database, settings: Settings
) -> None:
    cso = await factory.caller("reporter")
    with smtp_receiver() as smtp:
        answer = await client.post(
            "/api/v1/subscriptions",
            json={"channels": [smtp.url()], "area": diema_area(), "language": "en"},
            headers=cso.headers,
        )
        assert answer.status_code == 201, answer.text
        await client.post(
            "/api/v1/incidents",
            json=incident_payload(type="armed_attack", at=DIEMA),
            headers=cso.headers,
        )
        report = await dispatcher_for(db, settings).drain()
        assert report.delivered == 1
        assert len(smtp.messages) == 1
        mail = email.message_from_bytes(smtp.messages[0].content, policy=email.policy.default)
        content = mail.get_body(preferencelist=("plain", "html")).get_content()
    assert "officer@cso.example.org" in smtp.messages[0].rcpt_tos
    assert "Armed attack" in content
    link = next(line for line in content.splitlines() if "/web/alerts/ack/" in line)
    path = link[link.index("/web/alerts/ack/") :].strip()
    code, sig = path.removeprefix("/web/alerts/ack/").split("?sig=")
    listed = (await client.get("/api/v1/alerts", headers=cso.headers)).json()["items"]
    opened = await client.get(path)  # a mail scanner or a preview opening the link
    assert opened.status_code == 200
    assert code in opened.text
    after_open = (await client.get("/api/v1/alerts", headers=cso.headers)).json()["items"]
    assert listed[0]["acknowledged"] is after_open[0]["acknowledged"] is False
    # Links sent before the page existed open it too, acknowledging nothing.
    old_link = await client.get(f"/api/v1/alerts/ack/{code}?sig={sig}", follow_redirects=False)
    assert old_link.status_code == 303
    assert old_link.headers["location"] == path
    first = await client.post(f"/api/v1/alerts/ack/{code}?sig={sig}")
    second = await client.post(f"/api/v1/alerts/ack/{code}?sig={sig}")
    assert first.status_code == 200, first.text
    assert second.status_code == 200
    assert second.json()["already"] is True
    forged = await client.post(f"/api/v1/alerts/ack/{code}?sig=0000")
    assert forged.status_code == 403


async def test_the_in_process_dispatcher_of_serve_delivers_without_being_asked(
    settings: Settings, db: Database, factory: Factory
) -> None:
    live = dataclasses.replace(settings, dispatch_in_process=True)
    cso = await factory.caller("reporter")
    with http_receiver() as receiver:
        async with AsyncTestClient(app=create_app(live, db=db)) as client:
            await client.post(
                "/api/v1/subscriptions",
                json={"channels": [receiver.url("live")], "area": diema_area()},
                headers=cso.headers,
            )
            answer = await client.post(
                "/api/v1/incidents", json=incident_payload(at=DIEMA), headers=cso.headers
            )
            assert answer.status_code == 201
            arrived = await asyncio.to_thread(receiver.wait_for, 1, 10.0)
    assert len(arrived) == 1
    assert arrived[0].path == "/live"
