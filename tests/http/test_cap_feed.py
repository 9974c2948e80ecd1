"""GET /api/v1/alerts/cap: the Atom index and CAP 1.2 messages, valid against the OASIS schema."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from lxml import etree

from tests.factories import DIEMA, MENAKA, Caller, Factory, incident_payload

XSD = Path(__file__).resolve().parents[2] / "incidents" / "interop" / "data" / "CAP-v1.2.xsd"
ATOM = "{http://www.w3.org/2005/Atom}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
NOW = datetime(2024, 3, 14, 10, 30, tzinfo=UTC)
NARRATIVE = "Convoi de l'ONG Alpha arrêté, chauffeur Moussa retenu"

point_alert_at_diema = {
    "id": "6a1f0e52-6c55-4d5e-9d0e-0f7d0c2b1a11",
    "type": "kidnapping",
    "severity": 5,
    "status": "verified",
    "geometry": {"type": "Point", "coordinates": [DIEMA[1], DIEMA[0]]},
    "location_precision": "locality",
    "place_name": "Diéma",
    "occurred_at": NOW - timedelta(hours=3),
    "sent": NOW - timedelta(hours=1),
    "updated": NOW - timedelta(hours=1),
}
polygon_alert_near_menaka = {
    "id": "0b8c2b55-3c1e-4bd0-8e5c-4b3cf2a3d222",
    "type": "ied",
    "severity": 3,
    "status": "retracted",
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[2.3, 15.8], [2.5, 15.8], [2.5, 16.0], [2.3, 16.0], [2.3, 15.8]]],
    },
    "place_name": "Ménaka",
    "occurred_at": NOW - timedelta(days=1),
    "version": 2,
    "identifier": "0b8c2b55-3c1e-4bd0-8e5c-4b3cf2a3d222-v2",
    "sent": NOW - timedelta(hours=2),
    "previous": ("0b8c2b55-3c1e-4bd0-8e5c-4b3cf2a3d222-v1", NOW - timedelta(days=1)),
}


class FakePublicAlerts:
    def __init__(self, alerts: list[Mapping[str, Any]]) -> None:
        self.alerts = {str(a.get(k)): a for a in alerts for k in ("id", "identifier")}

    async def list_public(self, now: datetime) -> list[Mapping[str, Any]]:
        return [a for key, a in self.alerts.items() if key == str(a["id"])]

    async def get_public(self, alert_id: str, now: datetime) -> Mapping[str, Any] | None:
        return self.alerts.get(alert_id)


@pytest.fixture(name="schema", scope="module")
def fx_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


@pytest.fixture(name="cap_client")
async def fx_cap_client(
    app: Litestar, client: AsyncTestClient[Litestar]
) -> AsyncTestClient[Litestar]:
    app.state.container.public_alerts = FakePublicAlerts(
        [point_alert_at_diema, polygon_alert_near_menaka]
    )
    return client


async def test_every_alert_in_the_atom_index_is_valid_cap_1_2(
    cap_client: AsyncTestClient[Litestar], schema: etree.XMLSchema
) -> None:
    index = await cap_client.get("/api/v1/alerts/cap")

    assert index.status_code == 200
    assert index.headers["content-type"].startswith("application/atom+xml")
    feed = etree.fromstring(index.content)
    links = [e.find(f"{ATOM}link").get("href") for e in feed.findall(f"{ATOM}entry")]
    assert len(links) == 2
    for link in links:
        path = "/" + link.split("/", 3)[3]
        answer = await cap_client.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/cap+xml")
        document = etree.fromstring(answer.content)
        schema.assertValid(document)


async def test_cap_message_says_what_where_and_how_sure(
    cap_client: AsyncTestClient[Litestar],
) -> None:
    answer = await cap_client.get(f"/api/v1/alerts/cap/{point_alert_at_diema['id']}.xml")

    alert = etree.fromstring(answer.content)
    assert alert.findtext(f"{CAP}identifier") == point_alert_at_diema["id"]
    infos = alert.findall(f"{CAP}info")
    assert [i.findtext(f"{CAP}language") for i in infos] == ["fr-FR", "en-US"]
    assert {i.findtext(f"{CAP}severity") for i in infos} == {"Extreme"}
    assert {i.findtext(f"{CAP}certainty") for i in infos} == {"Observed"}
    assert infos[0].find(f"{CAP}area/{CAP}circle") is not None


async def test_alert_that_may_not_be_public_is_404(
    cap_client: AsyncTestClient[Litestar],
) -> None:
    answer = await cap_client.get("/api/v1/alerts/cap/3f0c8e4e-0000-4000-8000-000000000000.xml")

    assert answer.status_code == 404


async def alerted_incident(client: AsyncTestClient[Litestar], officer: Caller, **extra: Any) -> str:
    body = incident_payload(at=MENAKA, days_ago=0.1, **extra)
    answer = await client.post("/api/v1/incidents", json=body, headers=officer.headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


@pytest.mark.parametrize(("sharing_level", "public"), [("clear", True), ("amber", False)])
async def test_only_alerted_incidents_shared_as_clear_are_published(
    client: AsyncTestClient[Litestar],
    factory: Factory,
    schema: etree.XMLSchema,
    sharing_level: str,
    public: bool,
) -> None:
    officer = await factory.caller("officer")
    subscription = {
        "channels": ["json://127.0.0.1:9/hook"],
        "area": {"kind": "point", "lat": MENAKA[0], "lon": MENAKA[1], "radius_km": 50},
    }
    made = await client.post("/api/v1/subscriptions", json=subscription, headers=officer.headers)
    # The feed publishes alerted incidents only, so the subscription must be made.
    assert made.status_code == 201, made.text
    incident_id = await alerted_incident(
        client, officer, sharing_level=sharing_level, description=NARRATIVE
    )

    feed = etree.fromstring((await client.get("/api/v1/alerts/cap")).content)
    message = await client.get(f"/api/v1/alerts/cap/{incident_id}.xml")

    ids = [e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")]
    assert any(incident_id in str(i) for i in ids) is public
    assert message.status_code == (200 if public else 404)
    if public:
        document = etree.fromstring(message.content)
        schema.assertValid(document)
        assert NARRATIVE not in message.text
