"""Red team, alerts (issue 10): filter oracle, zone-name leak, SSRF, subscription ownership, stall.

Every attack runs through HTTP against a real server (tests/live.py). The server of
this module runs WITHOUT the test suite's loopback allowance for channels (see `settings` below):
the SSRF tests must meet the policy a real deployment has.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select, update

from alerts.core.tables import AlertRow, DeliveryRow, SubscriptionRow
from api.settings import Settings
from incidents.db import Database
from tests.factories import DIEMA, Caller, Factory, incident_payload
from tests.live import health_during

TELEGRAM = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321"
# The 0.25° grid cell holding Diéma: lon -9.25..-9.00, lat 14.50..14.75, centre (-9.125, 14.625).
P_WEST = (14.60, -9.22)  # (lat, lon), both inside the cell, on either side of its centre
P_EAST = (14.60, -9.03)


@pytest.fixture(name="settings")
def fx_strict_settings(settings: Settings) -> Settings:
    """The suite's settings without the loopback allowance for channel hosts."""
    if any(f.name == "channel_allow_hosts" for f in dataclasses.fields(settings)):
        return dataclasses.replace(settings, channel_allow_hosts="")
    return settings


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    return {"type": "Polygon", "coordinates": [ring]}


def circle(at: tuple[float, float], km: float = 40) -> dict[str, Any]:
    return {"point": {"lat": at[0], "lon": at[1]}, "radius_km": km}


async def subscribe(http: httpx.AsyncClient, caller: Caller, **body: Any) -> str:
    body.setdefault("channels", [TELEGRAM])
    body.setdefault("area", circle(DIEMA))
    body.setdefault("owner", "organisation")
    answer = await http.post("/api/v1/subscriptions", json=body, headers=caller.headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def report(http: httpx.AsyncClient, caller: Caller, **payload: Any) -> None:
    answer = await http.post(
        "/api/v1/incidents", json=incident_payload(**payload), headers=caller.headers
    )
    assert answer.status_code == 201, answer.text


async def alert_counts(http: httpx.AsyncClient, caller: Caller) -> Counter[str]:
    listing = await http.get("/api/v1/alerts", params={"limit": 500}, headers=caller.headers)
    assert listing.status_code == 200, listing.text
    return Counter(str(a["subscription_id"]) for a in listing.json()["items"])


# --- (a) the alert-filter oracle ---------------------------------------------------------------


async def test_a_masked_recipient_cannot_tell_place_type_or_severity_from_which_filters_fire(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    """Subscriptions differing only by half a grid cell, by a type within the category, by
    min_severity or by status fire identically for two masked incidents of the same category
    and cell that differ in exactly those hidden facts."""
    reporter = await factory.caller("reporter")  # organisation A: amber_strict, B sees it masked
    spy = await factory.caller("officer")  # organisation B
    names: dict[str, str] = {}
    names[await subscribe(http, spy, area={"geometry": box(-9.26, 14.49, -9.11, 14.76)})] = "west"
    names[await subscribe(http, spy, area={"geometry": box(-9.14, 14.49, -8.99, 14.76)})] = "east"
    names[await subscribe(http, spy, types=["kidnapping"])] = "kidnapping"
    names[await subscribe(http, spy, types=["detention"])] = "detention"
    for level in range(1, 6):
        names[await subscribe(http, spy, min_severity=level)] = f"min_severity {level}"
    names[await subscribe(http, spy, statuses=["verified"])] = "verified only"

    async def fired(**incident: Any) -> set[str]:
        before = await alert_counts(http, spy)
        await report(http, reporter, sharing_level="amber_strict", **incident)
        after = await alert_counts(http, spy)
        return {names[s] for s in names if after[s] > before[s]}

    first = await fired(type="kidnapping", at=P_WEST, severity=5)
    second = await fired(type="detention", at=P_EAST, severity=2)
    assert first == second, f"the filters tell the two masked incidents apart: {first ^ second}"
    # Both halves hold the cell's centre: the masked entry is matched there, not at the incident.
    assert {"west", "east", "kidnapping", "detention", "verified only"} <= first


async def test_a_masked_recipient_hears_of_an_incident_once_however_it_escalates(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    """A second alert would tell a masked recipient that severity, status or the toll grew."""
    reporter = await factory.caller("reporter")
    spy = await factory.caller("officer")
    sub = await subscribe(http, spy)
    created = await http.post(
        "/api/v1/incidents",
        json=incident_payload(at=P_WEST, severity=2, sharing_level="amber_strict"),
        headers=reporter.headers,
    )
    assert created.status_code == 201, created.text
    assert (await alert_counts(http, spy))[sub] == 1
    incident = created.json()
    etag = created.headers.get("etag")
    changed = await http.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"severity": 5},
        headers={**reporter.headers, **({"If-Match": etag} if etag else {})},
    )
    assert changed.status_code == 200, changed.text
    assert (await alert_counts(http, spy))[sub] == 1


# --- (b) the zone-name leak --------------------------------------------------------------------


async def test_a_tiny_custom_zone_never_names_a_masked_incident_in_the_alert(
    http: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    spy = await factory.caller("officer")
    trap = f"Piege{uuid.uuid4().hex[:6]}"
    lat, lon = P_WEST
    zone = await http.post(
        "/api/v1/zones",
        json={
            "name_fr": trap,
            "name_en": trap,
            "geometry": box(lon - 0.005, lat - 0.005, lon + 0.005, lat + 0.005),
        },
        headers=spy.headers,
    )
    assert zone.status_code == 201, zone.text
    for fmt in ("full", "sms"):
        await subscribe(http, spy, format=fmt)
    await report(http, reporter, at=P_WEST, sharing_level="amber_strict")

    async with db.read() as session:
        rows = (
            await session.execute(
                select(DeliveryRow.title, DeliveryRow.body, AlertRow.payload)
                .join(AlertRow, AlertRow.id == DeliveryRow.alert_id)
                .where(AlertRow.owner_org_id == spy.org_id)
            )
        ).all()
    assert len(rows) == 2
    for title, body, payload in rows:
        assert trap.lower() not in f"{title} {body} {payload}".lower()


# --- (c) server-side request forgery -----------------------------------------------------------


class ConnectionCounter:
    """A plain TCP server on loopback that counts the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(name="listener")
def fx_listener() -> Iterator[ConnectionCounter]:
    counter = ConnectionCounter()
    yield counter
    counter.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_channel_to_a_loopback_port_is_refused_and_nothing_connects(
    http: httpx.AsyncClient, factory: Factory, listener: ConnectionCounter
) -> None:
    officer = await factory.caller("officer")
    port = listener.port
    for url in (
        f"json://127.0.0.1:{port}/x",
        f"jsons://localhost:{port}/x",
        f"form://[::1]:{port}/x",
        f"xml://2130706433:{port}/x",  # 127.0.0.1 written as a number
        f"json://127.1:{port}/x",
        f"json://[::ffff:127.0.0.1]:{port}/x",
        f"json://0.0.0.0:{port}/x",
        f"mailto://relay.example.org:{port}?from=a@example.org&to=b@example.org&smtp=127.0.0.1",
    ):
        answer = await http.post(
            "/api/v1/subscriptions",
            json={"channels": [TELEGRAM, url], "area": circle(DIEMA)},
            headers=officer.headers,
        )
        assert answer.status_code == 422, (url, answer.text)
        assert answer.json()["field"] == "channels[1]", url
        assert str(port) not in answer.json()["detail"]
    assert listener.connections == 0
    assert (await http.get("/api/v1/subscriptions", headers=officer.headers)).json()["items"] == []


@pytest.mark.parametrize(
    "url",
    [
        "json://169.254.169.254/latest/meta-data/",
        "json://[fd00:ec2::254]/latest/meta-data/",
        "json://metadata.google.internal/computeMetadata/v1/",
        "json://100.100.100.200/latest/meta-data/",
        "json://10.0.0.5:8080/admin",
        "json://192.168.1.1/",
        "jsons://172.16.0.1/",
        "json://[fe80::1]/",
        "json://224.0.0.1/",
        "ntfys://10.1.2.3/topic",
        "gotify://192.168.0.2/token",
    ],
)
async def test_link_local_metadata_and_private_hosts_are_refused(
    http: httpx.AsyncClient, factory: Factory, url: str
) -> None:
    officer = await factory.caller("officer")
    answer = await http.post(
        "/api/v1/subscriptions",
        json={"channels": [url], "area": circle(DIEMA)},
        headers=officer.headers,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "channels[0]"
    assert "SENTINELLE_CHANNEL_ALLOW_HOSTS" in answer.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "json://hooks.example.org/x?+X-Api-Key=stolen",
        "json://hooks.example.org/x?%2BAuthorization=Bearer%20x",
        "json://hooks.example.org/x?%20Host=internal",
        "jsons://hooks.example.org/x?method=GET",
        "json://hooks.example.org/x?METHOD=DELETE",
        "form://hooks.example.org/x?-redirect=http://127.0.0.1/",
        "xml://hooks.example.org/x?:message=forged",
        "json://hooks.example.org/x?a=b;+X-Evil=1",
        "mailto://user:pw@example.org?to=a@example.org&+Bcc=spy@example.org",
        "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321?+X-Evil=1",
    ],
)
async def test_method_and_header_overrides_are_refused(
    http: httpx.AsyncClient, factory: Factory, url: str
) -> None:
    officer = await factory.caller("officer")
    answer = await http.post(
        "/api/v1/subscriptions",
        json={"channels": [TELEGRAM, url], "area": circle(DIEMA)},
        headers=officer.headers,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "channels[1]"


@pytest.mark.parametrize(
    "scheme_url", ["apprise://10.0.0.1/key", "rsyslog://10.0.0.1", "mqtt://10.0.0.1/t"]
)
async def test_schemes_off_the_allow_list_are_refused(
    http: httpx.AsyncClient, factory: Factory, scheme_url: str
) -> None:
    officer = await factory.caller("officer")
    answer = await http.post(
        "/api/v1/subscriptions",
        json={"channels": [scheme_url], "area": circle(DIEMA)},
        headers=officer.headers,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "channels[0]"
    assert "SENTINELLE_CHANNEL_SCHEMES" in answer.json()["detail"]


async def test_a_stored_loopback_channel_is_refused_at_delivery_and_the_log_shows_no_port_state(
    http: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    app: Litestar,
    settings: Settings,
    listener: ConnectionCounter,
) -> None:
    """A subscription saved before the policy (or a name that later resolves to loopback)
    still never reaches the loopback port; an open and a closed port read the same."""
    officer = await factory.caller("officer")
    open_sub = await subscribe(http, officer)
    closed_sub = await subscribe(http, officer)
    box_ = app.state.container.alerts.box
    async with db.transaction() as session:
        for sid, port in ((open_sub, listener.port), (closed_sub, closed_port())):
            await session.execute(
                update(SubscriptionRow)
                .where(SubscriptionRow.id == uuid.UUID(sid))
                .values(
                    channels_encrypted=[box_.encrypt(f"json://127.0.0.1:{port}/hook")],
                    channels_masked=[f"json://127.0.0.1:{port}/hook"],
                )
            )
    app.state.container.alerts.cache.invalidate()
    sent = await http.post(
        "/api/v1/alerts/broadcast",
        json={"area": circle(DIEMA, 10), "message": {"fr": "Essai"}},
        headers=officer.headers,
    )
    assert sent.status_code == 201, sent.text

    from api.cli.alerts import build_dispatcher

    dispatcher = build_dispatcher(db, settings, "red-team")
    await dispatcher.drain(max_rounds=3)
    assert listener.connections == 0

    errors = {}
    for alert in (await http.get("/api/v1/alerts", headers=officer.headers)).json()["items"]:
        log = await http.get(f"/api/v1/alerts/{alert['id']}/deliveries", headers=officer.headers)
        assert log.status_code == 200, log.text
        [delivery] = log.json()["items"]
        errors[str(alert["subscription_id"])] = delivery["last_error"]
    assert set(errors) == {open_sub, closed_sub}
    assert errors[open_sub] == errors[closed_sub]
    assert errors[open_sub].endswith("delivery failed: refused_by_policy")


# --- (d) another organisation's subscriptions --------------------------------------------------


async def test_another_organisation_cannot_read_change_delete_or_test_a_subscription(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    owner = await factory.caller("officer")
    sub = await subscribe(http, owner)
    for role in ("reporter", "officer", "admin"):
        other = await factory.caller(role)
        path = f"/api/v1/subscriptions/{sub}"
        assert (await http.get(path, headers=other.headers)).status_code == 404
        assert (
            await http.patch(path, json={"paused": True}, headers=other.headers)
        ).status_code == 404
        assert (await http.post(f"{path}/test", headers=other.headers)).status_code == 404
        assert (await http.delete(path, headers=other.headers)).status_code == 404
    kept = await http.get(f"/api/v1/subscriptions/{sub}", headers=owner.headers)
    assert kept.status_code == 200
    assert kept.json()["paused"] is False


async def test_members_change_only_what_they_own_and_read_only_alerts_sent_to_them(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    officer = await factory.caller("officer")
    reporter = await factory.caller("reporter", org_id=officer.org_id)
    org_sub = await subscribe(http, officer)
    personal = await subscribe(http, officer, owner="user")
    path = f"/api/v1/subscriptions/{org_sub}"
    # The organisation's subscription: officers and admins change it, a reporter cannot.
    assert (
        await http.patch(path, json={"paused": True}, headers=reporter.headers)
    ).status_code == 403
    assert (await http.delete(path, headers=reporter.headers)).status_code == 403
    assert (await http.post(f"{path}/test", headers=reporter.headers)).status_code == 403
    # A colleague's personal subscription does not exist for the others.
    assert (
        await http.get(f"/api/v1/subscriptions/{personal}", headers=reporter.headers)
    ).status_code == 404
    # Alerts: the reporter neither reads nor acknowledges the officer's.
    sent = await http.post(
        "/api/v1/alerts/broadcast",
        json={"area": circle(DIEMA, 10), "message": {"fr": "x"}},
        headers=officer.headers,
    )
    assert sent.status_code == 201, sent.text
    items = (await http.get("/api/v1/alerts", headers=officer.headers)).json()["items"]
    assert {str(a["subscription_id"]) for a in items} == {org_sub, personal}
    assert (await http.get("/api/v1/alerts", headers=reporter.headers)).json()["items"] == []
    for alert in items:
        ack = await http.post(f"/api/v1/alerts/{alert['code']}/ack", headers=reporter.headers)
        assert ack.status_code == 404
        log = await http.get(f"/api/v1/alerts/{alert['code']}/deliveries", headers=reporter.headers)
        assert log.status_code == 404


async def test_a_broadcast_answer_does_not_count_other_organisations_subscriptions(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    """Otherwise bisecting broadcast areas maps where other organisations work."""
    watched = await factory.caller("officer")
    await subscribe(http, watched, area=circle(P_WEST, 1))
    spy = await factory.caller("officer")
    sent = await http.post(
        "/api/v1/alerts/broadcast",
        json={"area": circle(P_WEST, 2), "message": {"fr": "x"}},
        headers=spy.headers,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["alerts"] == 0
    assert sum((await alert_counts(http, watched)).values()) == 1  # it did reach them


# --- (e) stall ---------------------------------------------------------------------------------


def long_route(vertices: int = 1_000) -> dict[str, Any]:
    """A self-crossing zigzag: the worst case for buffering a corridor."""
    step = 12.0 / vertices
    coords = [[-11.0 + i * step, 13.0 + (0.2 if i % 2 else 0.0)] for i in range(vertices)]
    return {"type": "LineString", "coordinates": coords}


def largest_polygon(vertices: int = 9_999) -> dict[str, Any]:
    import math

    ring = [
        [
            -9.2 + 0.5 * math.cos(2 * math.pi * i / vertices) * (1 + 0.1 * (i % 2)),
            14.5 + 0.5 * math.sin(2 * math.pi * i / vertices) * (1 + 0.1 * (i % 2)),
        ]
        for i in range(vertices)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


async def test_the_largest_allowed_subscription_keeps_health_responsive(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    officer = await factory.caller("officer")
    pad = "a" * 1900
    channels = [f"{TELEGRAM}?x={pad[:1850]}" for _ in range(5)] + [
        f"jsons://hooks{i}.example.org/{pad}" for i in range(5)
    ]
    for area in ({"route": long_route(), "corridor_km": 50}, {"geometry": largest_polygon()}):
        largest = {"channels": channels, "types": ["violence", "abduction"] * 50, "area": area}
        answer, worst = await health_during(
            http, http.post("/api/v1/subscriptions", json=largest, headers=officer.headers)
        )
        assert answer.status_code == 201, answer.text[:500]
        assert worst <= 1.0, (
            f"the server loop held one callback for {worst:.2f} of the allowance during the largest "
            "subscription: heavy work belongs off the event loop"
        )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channels": [TELEGRAM] * 11}, "channels"),
        ({"channels": [TELEGRAM] * 5000}, "channels"),
        ({"channels": [TELEGRAM + "?x=" + "a" * 2100]}, "channels[0]"),
        ({"types": ["violence"] * 101}, "types"),
        ({"area": {"zones": [f"z{i}" for i in range(51)]}}, "area.zones"),
        ({"area": {"route": long_route(1_001)}}, "area.route.coordinates"),
        ({"area": {"route": long_route(100), "corridor_km": 51}}, "area.corridor_km"),
        ({"area": {"geometry": largest_polygon(10_001)}}, "area.geometry.coordinates"),
        ({"quiet_hours": " " * 40 + "22:00-06:00"}, "quiet_hours"),
        ({"statuses": ["reported"] * 20}, "statuses"),
    ],
)
async def test_over_the_limits_is_a_clear_422_and_health_stays_responsive(
    http: httpx.AsyncClient, factory: Factory, change: dict[str, Any], field: str
) -> None:
    officer = await factory.caller("officer")
    body = {"channels": [TELEGRAM], "area": circle(DIEMA), **change}
    answer, worst = await health_during(
        http, http.post("/api/v1/subscriptions", json=body, headers=officer.headers)
    )
    assert answer.status_code == 422, answer.text[:300]
    assert answer.json()["field"] == field
    assert worst <= 1.0
