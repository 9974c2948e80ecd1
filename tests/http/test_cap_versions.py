"""CAP through the real feed: one immutable message per incident version (Alert, Update,
Cancel, each referencing the one before), every geometry type (a road ambush as a corridor),
validated by capvalidator and by the CAP 1.2 rules the schema cannot check."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
import shapely
from capvalidator import Validator
from litestar import Litestar
from litestar.testing import AsyncTestClient
from lxml import etree
from sqlalchemy import select

from incidents.db import Database
from incidents.interop.cap import cap_time
from incidents.records.tables import IncidentRow
from incidents.sharing.tables import AuditRow
from tests.factories import DIEMA, MENAKA, Caller, Factory, incident_payload

ATOM = "{http://www.w3.org/2005/Atom}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
FEED = "/api/v1/alerts/cap"
HOUR = timedelta(hours=1)
NARRATIVE = "Embuscade contre le convoi de l'ONG Gamma, chauffeur Issa blessé"
# The Diéma - Nioro du Sahel road, west to east then north (lon, lat), about 90 km.
road_diema_nioro = {
    "type": "LineString",
    "coordinates": [[-9.183, 14.541], [-9.45, 14.85], [-9.60, 15.23]],
}


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def subscribe_near(client: AsyncTestClient[Litestar], officer: Caller, at: Any) -> None:
    subscription = {
        "channels": ["json://127.0.0.1:9/hook"],
        "area": {"kind": "point", "lat": at[0], "lon": at[1], "radius_km": 100},
    }
    made = await client.post("/api/v1/subscriptions", json=subscription, headers=officer.headers)
    assert made.status_code == 201, made.text


async def public_incident(
    client: AsyncTestClient[Litestar], officer: Caller, **extra: Any
) -> dict[str, Any]:
    body = incident_payload(sharing_level="clear", description=NARRATIVE, **extra)
    if "geometry" in extra:
        del body["lat"], body["lon"]
    answer = await client.post("/api/v1/incidents", json=body, headers=officer.headers)
    assert answer.status_code == 201, answer.text
    feature: dict[str, Any] = answer.json()
    return feature


async def feed_links(client: AsyncTestClient[Litestar]) -> list[str]:
    feed = etree.fromstring((await client.get(FEED)).content)
    return [e.find(f"{ATOM}link").get("href") for e in feed.findall(f"{ATOM}entry")]


async def message_of(client: AsyncTestClient[Litestar], incident_id: str) -> tuple[str, bytes]:
    """(path, bytes) of the incident's message as the feed links it; fetched twice, the same."""
    [link] = [u for u in await feed_links(client) if incident_id in u]
    first = await client.get(path_of(link))
    again = await client.get(path_of(link))
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("application/cap+xml")
    assert again.content == first.content
    return path_of(link), first.content


def checked(document: bytes) -> etree._Element:
    """The message, after capvalidator's schema check and the rules the schema leaves out."""
    passed, why = Validator(document).schema()
    assert passed, why
    alert = etree.fromstring(document)
    msg_type = alert.findtext(f"{CAP}msgType")
    references = alert.findtext(f"{CAP}references")
    # CAP 1.2 §3.2.1: Update and Cancel name the messages they supersede; an Alert does not.
    assert (references is not None) is (msg_type in ("Update", "Cancel"))
    for reference in (references or "").split():
        sender, identifier, sent = reference.split(",")
        assert sender == alert.findtext(f"{CAP}sender")
        assert identifier != alert.findtext(f"{CAP}identifier")
        assert datetime.fromisoformat(sent) <= datetime.fromisoformat(alert.findtext(f"{CAP}sent"))
    for info in alert.findall(f"{CAP}info"):
        # A withdrawn report is cancelled, never announced as a threat that went away.
        assert (info.findtext(f"{CAP}responseType") == "AllClear") is False
        for polygon in info.findall(f"{CAP}area/{CAP}polygon"):
            pairs = polygon.text.split()
            assert len(pairs) >= 4
            assert pairs[0] == pairs[-1]
    assert NARRATIVE not in document.decode()
    return alert


def version_time(properties: dict[str, Any]) -> str:
    return cap_time(properties["updated_at"] or properties["created_at"])


async def reported_an_hour_ago(db: Database, incident_id: str) -> None:
    """Move the incident's first version (and its audit) an hour back, so that what happens next
    is told apart from it by its time, whatever the speed of the machine."""
    async with db.transaction() as session:
        row = await session.get(IncidentRow, uuid.UUID(incident_id))
        assert row is not None
        row.reported_at -= HOUR
        row.created_at -= HOUR
        row.updated_at -= HOUR
        for audited in await session.scalars(
            select(AuditRow).where(AuditRow.target_id == incident_id)
        ):
            audited.at -= HOUR


async def test_each_version_is_one_immutable_message_referencing_the_one_before(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database
) -> None:
    officer = await factory.caller("officer")
    await subscribe_near(client, officer, MENAKA)
    created = await public_incident(client, officer, type="ambush", at=MENAKA, severity=4)
    incident_id = created["id"]
    await reported_an_hour_ago(db, incident_id)
    created = (await client.get(f"/api/v1/incidents/{incident_id}", headers=officer.headers)).json()

    first_path, first = await message_of(client, incident_id)
    v1 = checked(first)
    assert v1.findtext(f"{CAP}identifier") == f"{incident_id}-v1"
    assert v1.findtext(f"{CAP}msgType") == "Alert"
    assert v1.findtext(f"{CAP}sent") == version_time(created["properties"])

    # Something audited about the incident that is not a new version of it: no new message.
    stranger = await factory.caller("officer")
    asked = await client.post(
        f"/api/v1/incidents/{incident_id}/sharing-requests",
        json={"sharing_level": "green", "reason": "moins large"},
        headers=stranger.headers,
    )
    assert asked.status_code == 201, asked.text
    assert (await message_of(client, incident_id))[1] == first

    changed = await client.patch(
        f"/api/v1/incidents/{incident_id}",
        json={"severity": 5},
        headers={**officer.headers, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    second_path, second = await message_of(client, incident_id)
    v2 = checked(second)

    assert second_path != first_path
    # Superseded, not rewritten: 410 naming the message that replaces it, in the asker's language.
    gone = await client.get(first_path, headers={"Accept-Language": "fr"})
    assert gone.status_code == 410, gone.text
    assert gone.headers["content-type"] == "application/problem+json"
    assert gone.json()["superseded_by"] == f"{incident_id}-v2"
    assert gone.json()["latest"].endswith(f"{FEED}/{incident_id}-v2.xml")
    assert "remplacé par" in gone.json()["detail"]
    assert v2.findtext(f"{CAP}identifier") == f"{incident_id}-v2"
    assert v2.findtext(f"{CAP}msgType") == "Update"
    assert v2.findtext(f"{CAP}sent") == version_time(changed.json()["properties"])
    assert v2.findtext(f"{CAP}references") == (
        f"{v1.findtext(f'{CAP}sender')},{incident_id}-v1,{v1.findtext(f'{CAP}sent')}"
    )
    assert v2.findtext(f"{CAP}info/{CAP}severity") == "Extreme"

    retracted = await client.post(
        f"/api/v1/incidents/{incident_id}/retract",
        json={"reason": "doublon"},
        headers=officer.headers,
    )
    assert retracted.status_code == 200, retracted.text
    _, third = await message_of(client, incident_id)
    v3 = checked(third)

    assert v3.findtext(f"{CAP}identifier") == f"{incident_id}-v3"
    assert v3.findtext(f"{CAP}msgType") == "Cancel"
    assert v3.findtext(f"{CAP}references") == (
        f"{v1.findtext(f'{CAP}sender')},{incident_id}-v2,{v2.findtext(f'{CAP}sent')}"
    )
    # The plain id still answers the latest message.
    latest = await client.get(f"{FEED}/{incident_id}.xml")
    assert latest.content == third


async def test_superseded_and_unknown_messages_answer_alike(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    officer = await factory.caller("officer")
    await subscribe_near(client, officer, MENAKA)
    created = await public_incident(client, officer, type="ambush", at=MENAKA)
    incident_id = created["id"]
    hidden = await client.post(
        "/api/v1/incidents",
        json=incident_payload(type="ambush", at=MENAKA, sharing_level="amber"),
        headers=officer.headers,
    )

    answers = [
        await client.get(f"{FEED}/{name}.xml")
        for name in (
            f"{incident_id}-v9",
            f"{hidden.json()['id']}-v1",
            "3f0c8e4e-0000-4000-8000-000000000000-v1",
            f"{incident_id}-vx",
        )
    ]

    assert [a.status_code for a in answers] == [404] * 4
    assert {a.headers["content-type"] for a in answers} == {"application/problem+json"}


@pytest.mark.parametrize(
    ("geometry", "shape_tag"),
    [
        (road_diema_nioro, "polygon"),
        ({"type": "MultiPoint", "coordinates": [[-9.183, 14.541], [-9.3, 14.7]]}, "circle"),
        (
            {
                "type": "MultiLineString",
                "coordinates": [road_diema_nioro["coordinates"], [[-9.183, 14.541], [-9.0, 14.4]]],
            },
            "polygon",
        ),
    ],
    ids=["road", "points", "roads"],
)
async def test_every_geometry_type_is_a_cap_area(
    client: AsyncTestClient[Litestar],
    factory: Factory,
    geometry: dict[str, Any],
    shape_tag: str,
) -> None:
    officer = await factory.caller("officer")
    await subscribe_near(client, officer, DIEMA)
    body = {"type": "ambush", "location_precision": "near", "geometry": geometry}
    created = await public_incident(client, officer, **body)

    _, document = await message_of(client, created["id"])
    alert = checked(document)

    for info in alert.findall(f"{CAP}info"):
        area = info.find(f"{CAP}area")
        shapes = area.findall(f"{CAP}{shape_tag}")
        assert shapes
        if shape_tag == "polygon":
            description = area.findtext(f"{CAP}areaDesc")
            assert "5 km" in description
            corridor = shapely.union_all(
                [
                    shapely.Polygon([tuple(map(float, p.split(",")))[::-1] for p in s.text.split()])
                    for s in shapes
                ]
            )
            # Every vertex of the road lies inside the corridor, and the corridor is narrow.
            assert corridor.contains(shapely.geometry.shape(geometry))
            assert corridor.area < shapely.geometry.shape(geometry).length * 0.2
