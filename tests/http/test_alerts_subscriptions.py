"""/api/v1/subscriptions and /api/v1/alerts over HTTP: the contract, masking, error answers."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import DIEMA, Factory, incident_payload

Client = AsyncTestClient[Litestar]
TELEGRAM = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321"
SIGNAL = "signal://127.0.0.1:8080/+22370000001/+22376543210"


def body(**extra: Any) -> dict[str, Any]:
    return {
        "channels": ["json://127.0.0.1:9/hook"],
        "area": {"point": {"lat": DIEMA[0], "lon": DIEMA[1]}, "radius_km": 25},
        **extra,
    }


async def test_a_subscription_is_created_read_changed_and_deleted_with_channels_masked(
    client: Client, factory: Factory
) -> None:
    caller = await factory.caller("reporter")
    created = await client.post(
        "/api/v1/subscriptions",
        json=body(channels=[TELEGRAM, SIGNAL], types=["abduction"], quiet_hours="22:00-06:00"),
        headers=caller.headers,
    )
    assert created.status_code == 201, created.text
    sub = created.json()
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in created.text
    assert "76543210" not in created.text
    assert sub["area"] == {"point": {"lat": DIEMA[0], "lon": DIEMA[1]}, "radius_km": 25}
    assert "kidnapping" in sub["types"]
    assert (sub["language"], sub["format"], sub["quiet_hours"]) == ("fr", "full", "22:00-06:00")

    listed = (await client.get("/api/v1/subscriptions", headers=caller.headers)).json()
    assert [s["id"] for s in listed["items"]] == [sub["id"]]
    changed = await client.patch(
        f"/api/v1/subscriptions/{sub['id']}",
        json={"paused": True, "language": "en"},
        headers=caller.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["paused"], changed.json()["language"]) == (True, "en")
    assert changed.json()["channels"] == sub["channels"]
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in changed.text

    gone = await client.delete(f"/api/v1/subscriptions/{sub['id']}", headers=caller.headers)
    assert gone.status_code == 204
    missing = await client.get(f"/api/v1/subscriptions/{sub['id']}", headers=caller.headers)
    assert missing.status_code == 404


async def test_another_organisation_cannot_see_a_subscription(
    client: Client, factory: Factory
) -> None:
    owner = await factory.caller("reporter")
    stranger = await factory.caller("admin")
    sub = (await client.post("/api/v1/subscriptions", json=body(), headers=owner.headers)).json()
    answer = await client.get(f"/api/v1/subscriptions/{sub['id']}", headers=stranger.headers)
    assert answer.status_code == 404
    listed = (await client.get("/api/v1/subscriptions", headers=stranger.headers)).json()
    assert listed["items"] == []


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"channels": ["json://127.0.0.1:9/ok", "nonsense://what"]}, "channels[1]"),
        ({"channels": ["json://127.0.0.1:9/ok", "no scheme at all"]}, "channels[1]"),
        ({"channels": []}, "channels"),
        ({"area": {}}, "area"),
        ({"area": {"zones": []}}, "area.zones"),
        ({"area": {"zones": ["atlantis"]}}, "area.zones[0]"),
        (
            {"area": {"geometry": {"type": "Polygon", "coordinates": []}}},
            "area.geometry.coordinates",
        ),
        ({"area": {"point": {"lat": 14.5, "lon": -9.1}, "radius_km": 0}}, "area.radius_km"),
        ({"area": {"point": {"lat": 14.5, "lon": -9.1}, "radius_km": -3}}, "area.radius_km"),
        ({"area": {"point": {"lat": 14.5, "lon": -9.1}, "radius_km": 501}}, "area.radius_km"),
        ({"quiet_hours": "late evening"}, "quiet_hours"),
        ({"quiet_hours": "25:00-06:00"}, "quiet_hours"),
        ({"types": ["kidnaping_typo_xyz"]}, "types[0]"),
        ({"format": "pigeon"}, "format"),
        ({"secondary_channel": "nonsense://x"}, "secondary_channel"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_subscriptions_are_refused_naming_the_field(
    client: Client, factory: Factory, patch: dict[str, Any], field: str
) -> None:
    caller = await factory.caller("reporter")
    answer = await client.post("/api/v1/subscriptions", json=body(**patch), headers=caller.headers)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["field"] == field
    assert field in problem["detail"]


async def test_a_broadcast_by_a_reporter_is_forbidden(client: Client, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    answer = await client.post(
        "/api/v1/alerts/broadcast",
        json={"area": {"zones": ["town_diema"]}, "message": {"fr": "Route fermée"}},
        headers=reporter.headers,
    )
    assert answer.status_code == 403


async def test_an_officer_broadcast_reaches_the_subscriptions_in_its_area(
    client: Client, factory: Factory
) -> None:
    cso = await factory.caller("planner")
    officer = await factory.caller("officer")
    await client.post("/api/v1/subscriptions", json=body(format="sms"), headers=cso.headers)
    far = body(area={"point": {"lat": 16.27, "lon": -0.04}, "radius_km": 20})
    await client.post("/api/v1/subscriptions", json=far, headers=cso.headers)
    # The answer counts the sender's organisation's subscriptions only (issue 10: how many
    # other organisations' subscriptions an area reaches would map where they work).
    await client.post("/api/v1/subscriptions", json=body(), headers=officer.headers)
    answer = await client.post(
        "/api/v1/alerts/broadcast",
        json={
            "area": {"zones": ["town_diema"]},
            "priority": "flash",
            "message": {"fr": "Axe Diéma-Nioro fermé", "en": "Diema-Nioro road closed"},
        },
        headers=officer.headers,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["alerts"] == 1
    alerts = (await client.get("/api/v1/alerts", headers=cso.headers)).json()
    assert [(a["kind"], a["priority"]) for a in alerts["items"]] == [("broadcast", "flash")]
    log = await client.get(
        f"/api/v1/alerts/{alerts['items'][0]['id']}/deliveries", headers=cso.headers
    )
    assert log.status_code == 200
    [delivery] = log.json()["items"]
    assert (delivery["status"], delivery["attempts"]) == ("pending", 0)
    assert delivery["channel"] == "json://127.0.0.1:9/hook"
    admin = await factory.caller("admin", org_id=officer.org_id)
    logged = await client.get(
        "/api/v1/audit", params={"action": "alert.broadcast"}, headers=admin.headers
    )
    assert logged.status_code == 200, logged.text
    [entry] = logged.json()["entries"]
    assert entry["actor_user_id"] == str(officer.user_id)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"area": {"zones": ["town_diema"]}, "message": {}}, "message"),
        ({"area": {"zones": ["town_diema"]}, "message": {"de": "Hallo"}}, "message.de"),
        (
            {"area": {"zones": ["town_diema"]}, "message": {"fr": "x"}, "priority": "max"},
            "priority",
        ),
        ({"area": {}, "message": {"fr": "x"}}, "area"),
    ],
)
async def test_bad_broadcasts_are_refused_naming_the_field(
    client: Client, factory: Factory, payload: dict[str, Any], field: str
) -> None:
    officer = await factory.caller("officer")
    answer = await client.post("/api/v1/alerts/broadcast", json=payload, headers=officer.headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field


async def test_an_unknown_code_is_not_found_and_acknowledging_twice_is_fine(
    client: Client, factory: Factory
) -> None:
    cso = await factory.caller("reporter")
    unknown = await client.post("/api/v1/alerts/ZZZZZ/ack", headers=cso.headers)
    assert unknown.status_code == 404
    unsigned = await client.post("/api/v1/alerts/ack/ZZZZZ?sig=abc")
    assert unsigned.status_code == 403

    await client.post("/api/v1/subscriptions", json=body(), headers=cso.headers)
    await client.post("/api/v1/incidents", json=incident_payload(at=DIEMA), headers=cso.headers)
    code = (await client.get("/api/v1/alerts", headers=cso.headers)).json()["items"][0]["code"]
    first = await client.post(f"/api/v1/alerts/{code}/ack", headers=cso.headers)
    second = await client.post(f"/api/v1/alerts/{code}/ack", headers=cso.headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["acknowledged_at"] == second.json()["acknowledged_at"]
    assert (first.json()["already"], second.json()["already"]) == (False, True)
    stranger = await factory.caller("officer")
    other_org = await client.post(f"/api/v1/alerts/{code}/ack", headers=stranger.headers)
    assert other_org.status_code == 404


async def test_alerts_never_carry_the_reporter_or_the_narrative(
    client: Client, factory: Factory
) -> None:
    cso = await factory.caller("planner")
    reporter = await factory.caller("reporter")
    await client.post("/api/v1/subscriptions", json=body(), headers=cso.headers)
    await client.post(
        "/api/v1/incidents",
        json=incident_payload(
            at=DIEMA,
            sharing_level="green",
            actor="Commandant Untel",
            description="Le chauffeur Moussa a été enlevé",
        ),
        headers=reporter.headers,
    )
    alert = (await client.get("/api/v1/alerts", headers=cso.headers)).json()["items"][0]
    from sqlalchemy import select

    from alerts.core.tables import DeliveryRow

    db = client.app.state.container.db
    async with db.read() as session:
        texts = (await session.execute(select(DeliveryRow.title, DeliveryRow.body))).all()
    assert alert["kind"] == "incident"
    text = " ".join(t + b for t, b in texts)
    assert "Moussa" not in text
    assert "Untel" not in text
    assert "Enlèvement" in text


async def test_deleting_a_subscription_drops_its_unsent_messages(
    client: Client, factory: Factory
) -> None:
    cso = await factory.caller("reporter")
    sub = (await client.post("/api/v1/subscriptions", json=body(), headers=cso.headers)).json()
    await client.post("/api/v1/incidents", json=incident_payload(at=DIEMA), headers=cso.headers)
    alert = (await client.get("/api/v1/alerts", headers=cso.headers)).json()["items"][0]
    await client.delete(f"/api/v1/subscriptions/{sub['id']}", headers=cso.headers)
    log = await client.get(f"/api/v1/alerts/{alert['code']}/deliveries", headers=cso.headers)
    [delivery] = log.json()["items"]
    assert delivery["status"] == "dead"
    assert "deleted" in delivery["last_error"]
