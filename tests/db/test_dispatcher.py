"""The dispatcher on real SQLite and PostgreSQL, delivering through Apprise to a local receiver."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, insert, select

from alerts.core.service import AlertService
from alerts.core.tables import AlertRow, DeliveryRow
from alerts.delivery.channels import AppriseNotifier, ChannelPolicy, DeliveryResult, FakeNotifier
from alerts.delivery.dispatcher import DispatchConfig, Dispatcher
from alerts.delivery.keys import LinkSigner, secret_keys
from alerts.delivery.secrets import SecretBox
from alerts.outbox.writer import OutboxConfig
from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database
from incidents.identity.accounts import Principal
from incidents.records.model import Role
from incidents.records.schemas import IncidentIn
from incidents.records.service import IncidentService
from incidents.zones.tables import ZoneLevelChangeRow, ZoneRow
from tests.alert_receivers import http_receiver
from tests.factories import DIEMA, GAO, Factory, incident_payload

FAST_RETRIES = {
    "dispatch_backoff_base_seconds": 0.01,
    "dispatch_backoff_cap_seconds": 0.05,
    "dispatch_max_attempts": 3,
    "channel_rate_per_minute": 100_000,
}


@pytest.fixture(name="fast")
def fx_fast(settings: Settings) -> Settings:
    return dataclasses.replace(settings, **FAST_RETRIES)


@dataclasses.dataclass
class World:
    incidents: IncidentService
    alerts: AlertService
    reporter: Principal
    subscriber: Principal


@pytest.fixture(name="world")
async def fx_world(fast: Settings, db: Database, factory: Factory) -> World:
    app = create_app(fast, db=db)
    reporter = await factory.caller("reporter")
    subscriber = await factory.caller("officer")
    return World(
        incidents=app.state.container.incidents,
        alerts=app.state.container.alerts,
        reporter=Principal(reporter.user_id, reporter.org_id, Role.REPORTER),
        subscriber=Principal(subscriber.user_id, subscriber.org_id, Role.OFFICER),
    )


def dispatcher(
    db: Database,
    settings: Settings,
    notifier: Any = None,
    *,
    worker_id: str = "test",
    clock: Any = None,
) -> Dispatcher:
    keys = secret_keys(settings)
    extra = {} if clock is None else {"clock": clock}
    return Dispatcher(
        db,
        notifier
        or AppriseNotifier(timeout_s=5, policy=ChannelPolicy.from_settings("", "127.0.0.1")),
        SecretBox(keys),
        config=DispatchConfig.from_settings(settings),
        outbox=OutboxConfig(public_url=settings.public_url, signer=LinkSigner(keys)),
        worker_id=worker_id,
        **extra,
    )


async def subscribe(world: World, channels: Sequence[str], **extra: Any) -> uuid.UUID:
    body = {
        "channels": list(channels),
        "area": {"point": {"lat": DIEMA[0], "lon": DIEMA[1]}, "radius_km": 50},
        **extra,
    }
    out = await world.alerts.create_subscription(world.subscriber, body, now=datetime.now(UTC))
    return out.id


_REPORTS = itertools.count()


async def report_near_diema(world: World, **extra: Any) -> None:
    """A new event each time: 7.2 h apart, within 3 days, so no two are linked as one event."""
    extra.setdefault("days_ago", 0.2 + next(_REPORTS) % 9 * 0.3)
    data = msgspec.convert(incident_payload(at=DIEMA, **extra), IncidentIn)
    await world.incidents.report(world.reporter, data, now=datetime.now(UTC))


async def deliveries(db: Database) -> list[DeliveryRow]:
    async with db.read() as session:
        return list((await session.execute(select(DeliveryRow).order_by(DeliveryRow.id))).scalars())


async def settle(d: Dispatcher, until: Any, rounds: int = 100) -> None:
    for _ in range(rounds):
        await d.run_once()
        if await until():
            return
        await asyncio.sleep(0.02)


async def test_a_receiver_failing_twice_then_recovering_gets_the_alert_once_after_3_attempts(
    world: World, db: Database, fast: Settings
) -> None:
    with http_receiver(fail_first=2) as receiver:
        await subscribe(world, [receiver.url()])
        await report_near_diema(world)
        d = dispatcher(db, fast)

        async def delivered() -> bool:
            return (await deliveries(db))[0].status == "delivered"

        await settle(d, delivered)
    [row] = await deliveries(db)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    assert receiver.requests == 3
    assert len(receiver.received) == 1
    assert receiver.received[0].key == row.idempotency_key


async def test_a_receiver_that_stays_down_leaves_a_dead_letter_with_the_reason(
    world: World, db: Database, fast: Settings
) -> None:
    with http_receiver(always_fail=True) as receiver:
        await subscribe(world, [receiver.url()])
        await report_near_diema(world)
        d = dispatcher(db, fast)

        async def dead() -> bool:
            return (await deliveries(db))[0].status == "dead"

        await settle(d, dead)
    [row] = await deliveries(db)
    assert row.status == "dead"
    assert row.attempts == fast.dispatch_max_attempts == receiver.requests
    assert row.last_error is not None
    assert "gave up after 3 attempts" in row.last_error
    assert row.last_error.endswith("delivery failed: rejected_by_receiver")


async def test_each_channel_is_delivered_and_logged_on_its_own(
    world: World, db: Database, fast: Settings
) -> None:
    with http_receiver() as up, http_receiver(always_fail=True) as down:
        await subscribe(world, [up.url("a"), down.url("b")])
        await report_near_diema(world)
        await dispatcher(db, fast).run_once()
    rows = await deliveries(db)
    assert [(r.channel_index, r.status) for r in rows] == [(0, "delivered"), (1, "failed")]
    assert len(up.received) == 1


async def test_two_dispatchers_at_once_never_send_the_same_delivery(
    world: World, db: Database, fast: Settings
) -> None:
    for i in range(30):
        await subscribe(world, [f"json://127.0.0.1:9/s{i}"])
    await report_near_diema(world)

    class Slow(FakeNotifier):
        async def send(self, url: str, title: str, body: str) -> DeliveryResult:
            await asyncio.sleep(0.005)
            return await super().send(url, title, body)

    one, two = Slow(), Slow()
    small = dataclasses.replace(fast, dispatch_batch=7)
    await asyncio.gather(
        dispatcher(db, small, one, worker_id="one").drain(),
        dispatcher(db, small, two, worker_id="two").drain(),
    )
    sent = [c.url for c in one.calls + two.calls]
    assert len(sent) == 30
    assert len(set(sent)) == 30
    assert all(r.status == "delivered" for r in await deliveries(db))


async def test_an_unchanged_incident_is_not_alerted_twice_but_an_escalation_is(
    world: World, db: Database, fast: Settings
) -> None:
    await subscribe(world, ["json://127.0.0.1:9/x"])
    data = msgspec.convert(incident_payload(at=DIEMA, severity=3), IncidentIn)
    reported = await world.incidents.report(world.reporter, data, now=datetime.now(UTC))
    officer = dataclasses.replace(world.subscriber)
    await world.incidents.patch(
        officer,
        reported.incident.id,
        msgspec.convert({"place_name": "Diéma"}, _patch()),
        if_match=1,
        now=datetime.now(UTC),
    )
    assert len(await deliveries(db)) == 1
    await world.incidents.patch(
        officer,
        reported.incident.id,
        msgspec.convert({"severity": 5}, _patch()),
        if_match=2,
        now=datetime.now(UTC),
    )
    assert len(await deliveries(db)) == 2


def _patch() -> Any:
    from incidents.records.schemas import IncidentPatch

    return IncidentPatch


async def test_paused_subscriptions_and_incidents_elsewhere_make_no_alert(
    world: World, db: Database
) -> None:
    await subscribe(world, ["json://127.0.0.1:9/x"], paused=True)
    await subscribe(world, ["json://127.0.0.1:9/y"])
    data = msgspec.convert(incident_payload(at=GAO), IncidentIn)
    await world.incidents.report(world.reporter, data, now=datetime.now(UTC))
    await report_near_diema(world)
    rows = await deliveries(db)
    assert [r.channel_masked for r in rows] == ["json://127.0.0.1:9/y"]


async def test_an_unacknowledged_flash_alert_is_resent_then_escalated_to_the_secondary_channel(
    world: World, db: Database, fast: Settings
) -> None:
    await subscribe(
        world, ["json://127.0.0.1:9/primary"], secondary_channel="json://127.0.0.1:9/boss"
    )
    await report_near_diema(world, severity=5)
    clock = [datetime.now(UTC)]
    notifier = FakeNotifier()
    d = dispatcher(db, fast, notifier, clock=lambda: clock[0])
    await d.drain()
    clock[0] += timedelta(minutes=fast.ack_timeout_minutes, seconds=1)
    await d.drain()
    clock[0] += timedelta(minutes=fast.ack_timeout_minutes)
    await d.drain()
    await d.drain()
    targets = [c.url.split("?")[0] for c in notifier.calls]
    assert targets == [
        "json://127.0.0.1:9/primary",
        "json://127.0.0.1:9/primary",
        "json://127.0.0.1:9/boss",
    ]
    assert "REMINDER" in notifier.calls[1].title or "REMINDER" in notifier.calls[1].body
    assert len({r.idempotency_key for r in await deliveries(db)}) == 3


async def test_an_acknowledged_flash_alert_is_not_resent(
    world: World, db: Database, fast: Settings
) -> None:
    await subscribe(world, ["json://127.0.0.1:9/primary"])
    await report_near_diema(world, severity=5)
    clock = [datetime.now(UTC)]
    notifier = FakeNotifier()
    d = dispatcher(db, fast, notifier, clock=lambda: clock[0])
    await d.drain()
    async with db.read() as session:
        code = (await session.execute(select(AlertRow.code))).scalar_one()
    await world.alerts.acknowledge(world.subscriber, code, now=clock[0])
    clock[0] += timedelta(minutes=3 * fast.ack_timeout_minutes)
    await d.drain()
    assert len(notifier.calls) == 1


async def test_a_zone_level_change_alerts_the_subscriptions_naming_the_zone_once(
    world: World, db: Database, fast: Settings
) -> None:
    now = datetime.now(UTC)
    from shapely.geometry import box

    from geo.geometry import to_wkb

    async with db.transaction() as session:
        await session.execute(
            insert(ZoneRow).values(
                id="kayes-diema",
                code="kayes-diema",
                name_fr="Diéma",
                name_en="Diema",
                kind="admin2",
                parent_code=None,
                geometry_wkb=to_wkb(box(-9.6, 14.2, -8.8, 14.9)),
                min_lon=-9.6,
                min_lat=14.2,
                max_lon=-8.8,
                max_lat=14.9,
                area_km2=7000.0,
                provenance="test",
                approximate=True,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
    await subscribe(world, ["json://127.0.0.1:9/z"], min_level=3, format="sms")
    await world.alerts.create_subscription(
        world.subscriber,
        {
            "channels": ["json://127.0.0.1:9/zones"],
            "area": {"zones": ["kayes-diema"]},
            "min_level": 5,
        },
        now=now,
    )
    async with db.transaction() as session:
        await session.execute(
            insert(ZoneLevelChangeRow).values(
                zone_id="kayes-diema",
                from_level=2,
                to_level=4,
                score=0.7,
                at=now,
                cause="test",
            )
        )
    notifier = FakeNotifier()
    d = dispatcher(db, fast, notifier)
    report = await d.drain()
    await d.drain()
    assert report.alerts_created == 1
    [call] = notifier.calls
    assert call.url.startswith("json://127.0.0.1:9/z")
    assert "Diéma" in call.body
    assert "2 -> 4" in call.body
    async with db.read() as session:
        kinds = (
            await session.execute(select(AlertRow.kind, func.count()).group_by(AlertRow.kind))
        ).all()
    assert kinds == [("level_change", 1)]


async def test_quiet_hours_hold_routine_alerts_but_not_flash_ones(
    world: World, db: Database, fast: Settings
) -> None:
    local_now = datetime.now(UTC)  # Africa/Bamako is UTC all year
    start = (local_now - timedelta(hours=1)).strftime("%H:%M")
    end = (local_now + timedelta(hours=2)).strftime("%H:%M")
    await subscribe(world, ["json://127.0.0.1:9/q"], quiet_hours=f"{start}-{end}")
    await report_near_diema(world, severity=3)
    await report_near_diema(world, severity=5)
    notifier = FakeNotifier()
    await dispatcher(db, fast, notifier).drain()
    assert len(notifier.calls) == 1
    async with db.read() as session:
        held = (
            (
                await session.execute(
                    select(DeliveryRow.next_attempt_at).where(DeliveryRow.status == "pending")
                )
            )
            .scalars()
            .all()
        )
    assert len(held) == 1
    assert held[0] > datetime.now(UTC) + timedelta(minutes=90)


async def test_the_channel_rate_limit_holds_back_a_flood_to_one_address(
    world: World, db: Database, fast: Settings
) -> None:
    await subscribe(world, ["json://127.0.0.1:9/flood"])
    for _ in range(4):
        await report_near_diema(world)
    notifier = FakeNotifier()
    slow = dataclasses.replace(fast, channel_rate_per_minute=2)
    report = await dispatcher(db, slow, notifier).run_once()
    assert (report.delivered, report.deferred) == (2, 2)
    held = [r for r in await deliveries(db) if r.status == "pending"]
    assert len(held) == 2
    assert all(r.attempts == 0 and r.next_attempt_at > datetime.now(UTC) for r in held)
