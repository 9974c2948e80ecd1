"""/metrics: the outbox depth an operator watches rises with an alert and falls once it is sent;
only the platform operator's token (or a scraper on the server itself) reads it; and after
realistic traffic it names no place, incident, token, phone number or narrative."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from alerts.core.tables import WorkerHeartbeatRow
from alerts.delivery.channels import AppriseNotifier, ChannelPolicy
from alerts.delivery.dispatcher import DispatchConfig, Dispatcher
from alerts.delivery.keys import LinkSigner, secret_keys
from alerts.delivery.secrets import SecretBox
from alerts.outbox.writer import OutboxConfig
from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database, create_engine
from tests.alert_receivers import HttpReceiver, http_receiver
from tests.factories import BAMAKO, DIEMA, GAO, KIDAL, MENAKA, Caller, Factory, incident_payload
from tests.live import fx_http, fx_live_url

Client = AsyncTestClient[Litestar]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

__all__ = ["fx_http", "fx_live_url"]  # the real-server fixtures, for the loopback tests


def samples(text: str) -> Samples:
    """Every sample of a scrape by (name, sorted labels); parsing fails on a malformed scrape."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(scrape: Samples, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: Client, operator: Caller) -> Samples:
    answer = await client.get("/metrics", headers=operator.headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(answer.text)


def dispatcher_for(db: Database, settings: Settings) -> Dispatcher:
    keys = secret_keys(settings)
    return Dispatcher(
        db,
        AppriseNotifier(timeout_s=5, policy=ChannelPolicy.from_settings("", "127.0.0.1")),
        SecretBox(keys),
        config=DispatchConfig.from_settings(settings),
        outbox=OutboxConfig(public_url=settings.public_url, signer=LinkSigner(keys)),
        worker_id="metrics-test",
    )


async def subscribe(client: Client, caller: Caller, receiver: HttpReceiver, path: str) -> None:
    answer = await client.post(
        "/api/v1/subscriptions",
        json={"channels": [receiver.url(path)], "area": {"zones": ["town_diema"]}},
        headers=caller.headers,
    )
    assert answer.status_code == 201, answer.text


async def test_outbox_depth_rises_with_an_alert_and_falls_once_it_is_delivered(
    client: Client, factory: Factory, db: Database, settings: Settings
) -> None:
    operator = await factory.operator()
    planner = await factory.caller("planner")
    reporter = await factory.caller("reporter")
    with http_receiver() as receiver:
        await subscribe(client, planner, receiver, "diema")
        before = await scrape(client, operator)
        assert value(before, "sentinelle_outbox_deliveries", state="pending") == 0

        reported = await client.post(
            "/api/v1/incidents",
            json=incident_payload(type="kidnapping", at=DIEMA, sharing_level="green"),
            headers=reporter.headers,
        )
        assert reported.status_code == 201, reported.text
        queued = await scrape(client, operator)
        assert value(queued, "sentinelle_outbox_deliveries", state="pending") == 1
        assert (
            value(queued, "sentinelle_alert_deliveries_total", scheme="json", outcome="delivered")
            == 0
        )

        report = await dispatcher_for(db, settings).drain()
        assert report.delivered == 1
        assert len(receiver.wait_for(1, timeout_s=5)) == 1
        sent = await scrape(client, operator)

    assert value(sent, "sentinelle_outbox_deliveries", state="pending") == 0
    assert value(sent, "sentinelle_outbox_deliveries", state="dead") == 0
    assert value(sent, "sentinelle_alert_deliveries_total", scheme="json", outcome="delivered") == 1
    assert value(sent, "sentinelle_alert_dead_letters") == 0
    # The report went through this process: its route is counted by template.
    assert (
        value(
            sent,
            "sentinelle_http_requests_total",
            method="POST",
            route="/api/v1/incidents",
            status="201",
        )
        == 1
    )


async def test_every_api_process_reports_the_same_outbox_and_counts_its_own_requests(
    client: Client, factory: Factory, settings: Settings
) -> None:
    operator = await factory.operator()
    planner = await factory.caller("planner")
    reporter = await factory.caller("reporter")
    with http_receiver() as receiver:
        await subscribe(client, planner, receiver, "two")
        reported = await client.post(
            "/api/v1/incidents",
            json=incident_payload(at=DIEMA, sharing_level="green"),
            headers=reporter.headers,
        )
        assert reported.status_code == 201, reported.text
    # A second API process: its own app, its own connections, the same database.
    other = create_app(settings, db=Database(create_engine(settings.database_url, pooled=False)))
    async with AsyncTestClient(app=other) as second:
        here, there = await scrape(client, operator), await scrape(second, operator)
    pending = "sentinelle_outbox_deliveries"
    assert value(here, pending, state="pending") == value(there, pending, state="pending") == 1
    posted = {"method": "POST", "route": "/api/v1/incidents", "status": "201"}
    assert value(here, "sentinelle_http_requests_total", **posted) == 1
    assert value(there, "sentinelle_http_requests_total", **posted) == 0


async def test_a_delivery_given_up_is_a_dead_letter(
    client: Client, factory: Factory, db: Database, settings: Settings
) -> None:
    operator = await factory.operator()
    planner = await factory.caller("planner")
    reporter = await factory.caller("reporter")
    with http_receiver(always_fail=True) as receiver:
        await subscribe(client, planner, receiver, "down")
        reported = await client.post(
            "/api/v1/incidents",
            json=incident_payload(at=DIEMA, sharing_level="green"),
            headers=reporter.headers,
        )
        assert reported.status_code == 201, reported.text
        one_try = Settings(**{**settings.__dict__, "dispatch_max_attempts": 1})
        await dispatcher_for(db, one_try).drain()
    after = await scrape(client, operator)
    assert value(after, "sentinelle_outbox_deliveries", state="dead") == 1
    assert value(after, "sentinelle_alert_dead_letters") == 1
    assert value(after, "sentinelle_alert_deliveries_total", scheme="json", outcome="dead") == 1


async def test_the_dispatchers_heartbeat_age_is_read_from_the_database(
    client: Client, factory: Factory, db: Database
) -> None:
    operator = await factory.operator()
    assert ("sentinelle_dispatcher_heartbeat_age_seconds", ()) not in await scrape(client, operator)
    # A dispatcher elsewhere (another process, another machine) beat ten minutes ago.
    now = datetime.now(UTC)
    async with db.transaction() as session:
        session.add(
            WorkerHeartbeatRow(
                worker_id="elsewhere:1",
                kind="dispatch",
                started_at=now - timedelta(hours=1),
                beat_at=now - timedelta(minutes=10),
            )
        )
    stale = await scrape(client, operator)
    assert 590 <= value(stale, "sentinelle_dispatcher_heartbeat_age_seconds") <= 3600
    assert value(stale, "sentinelle_dispatchers_live") == 0
    assert value(stale, "sentinelle_database_up") == 1


# --------------------------------------------------------------------------- who may scrape


@pytest.mark.parametrize("role", ["reporter", "officer", "planner", "admin"])
async def test_an_organisations_token_is_refused_whatever_its_role(
    client: Client, factory: Factory, role: str
) -> None:
    caller = await factory.caller(role)
    answer = await client.get("/metrics", headers=caller.headers)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "operator" in answer.json()["detail"]
    assert "sentinelle_" not in answer.text


async def test_another_organisations_officer_is_refused_in_french(
    client: Client, factory: Factory
) -> None:
    stranger = await factory.caller("officer")
    answer = await client.get("/metrics", headers={**stranger.headers, "Accept-Language": "fr"})
    assert answer.status_code == 403
    assert answer.json()["detail"] == "Il faut l'un de ces rôles : operator."


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer stl_not_a_real_token_at_all"},
        {"Authorization": "Basic b3BlcmF0b3I6cGFzcw=="},
    ],
    ids=["no-token-from-afar", "unknown-token", "not-bearer"],
)
async def test_without_a_valid_token_from_afar_the_answer_is_401(
    client: Client, headers: dict[str, str]
) -> None:
    # The test client is not on loopback: it is a caller from elsewhere.
    answer = await client.get("/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "sentinelle_" not in answer.text


async def test_a_scraper_on_the_server_itself_needs_no_token(http: httpx.AsyncClient) -> None:
    answer = await http.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert value(samples(answer.text), "sentinelle_database_up") == 1


@pytest.mark.parametrize(
    "header",
    [
        {"X-Forwarded-For": "203.0.113.9"},
        {"Forwarded": "for=203.0.113.9"},
        {"X-Real-IP": "203.0.113.9"},
    ],
)
async def test_a_request_relayed_by_a_proxy_on_the_server_is_not_local(
    http: httpx.AsyncClient, header: dict[str, str]
) -> None:
    # nginx on the same machine reaches the API from 127.0.0.1 on behalf of anyone.
    answer = await http.get("/metrics", headers=header)
    assert answer.status_code == 401


async def test_a_refused_scrape_is_audited(client: Client, factory: Factory, db: Database) -> None:
    from sqlalchemy import select

    from incidents.sharing.tables import AuditRow

    caller = await factory.caller("admin")
    await client.get("/metrics", headers=caller.headers)
    async with db.read() as session:
        rows = (
            await session.scalars(select(AuditRow).where(AuditRow.action == "authz.denied"))
        ).all()
    assert [r.actor_user_id for r in rows] == [caller.user_id]


# --------------------------------------------------------------------------- nothing leaks

PHONE = "+22376451289"
NARRATIVE = "Le chauffeur Boubacar Traoré a été enlevé près du marché, appelez le +223 76 45 12 89"
ACTOR = "Commandant Ag Intalla"


async def realistic_traffic(client: Client, factory: Factory) -> tuple[list[str], list[str]]:
    """Reports with narratives and phones in several towns, reads by id, searches by place;
    returns the incident ids and the tokens used."""
    reporter = await factory.caller("reporter")
    officer = await factory.caller("officer", org_id=reporter.org_id)
    outsider = await factory.caller("planner")
    ids: list[str] = []
    with http_receiver() as receiver:
        await client.post(
            "/api/v1/subscriptions",
            json={"channels": [receiver.url(f"alert/{PHONE}")], "area": {"zones": ["town_kidal"]}},
            headers=outsider.headers,
        )
        for days, at in enumerate((KIDAL, MENAKA, GAO, BAMAKO, DIEMA), start=1):
            answer = await client.post(
                "/api/v1/incidents",
                json=incident_payload(
                    at=at,
                    days_ago=days,
                    description=NARRATIVE,
                    actor=ACTOR,
                    place_name="Kidal" if at == KIDAL else "Ménaka",
                    sharing_level="amber",
                ),
                headers=reporter.headers,
            )
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
    for incident_id in ids:
        await client.get(f"/api/v1/incidents/{incident_id}", headers=officer.headers)
        await client.get(f"/api/v1/incidents/{incident_id}", headers=outsider.headers)
    await client.get("/api/v1/places?q=Kidal", headers=outsider.headers)
    await client.get("/api/v1/zones?q=M%C3%A9naka", headers=outsider.headers)
    await client.get(f"/api/v1/incidents?near={KIDAL[0]},{KIDAL[1]}", headers=officer.headers)
    await client.get("/api/v1/nowhere/Kidal/" + str(uuid.uuid4()), headers=officer.headers)
    await client.get(f"/api/v1/incidents/{ids[0]}", headers={"Authorization": "Bearer stl_x"})
    return ids, [reporter.token, officer.token, outsider.token]


def secrets_found(text: str, ids: list[str], tokens: list[str]) -> list[str]:
    words = ["Kidal", "kidal", "Ménaka", "menaka", "Boubacar", "Traoré", "Intalla", "chauffeur"]
    words += [PHONE, "76 45 12 89", "76451289", "stl_", *ids, *tokens]
    words += [i.replace("-", "") for i in ids]
    return [w for w in words if w in text]


async def test_the_scrape_names_no_place_incident_token_phone_or_narrative(
    client: Client, factory: Factory
) -> None:
    ids, tokens = await realistic_traffic(client, factory)
    operator = await factory.operator()
    answer = await client.get("/metrics", headers=operator.headers)
    assert answer.status_code == 200
    assert secrets_found(answer.text, ids, [*tokens, operator.token]) == []
    routes = {
        dict(labels).get("route")
        for (name, labels) in samples(answer.text)
        if name == "sentinelle_http_requests_total"
    }
    assert "/api/v1/incidents/{incident_id:uuid}" in routes or any(
        r and "{incident_id" in r for r in routes
    )
    assert "(unmatched)" in routes
