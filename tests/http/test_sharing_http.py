"""Sharing through HTTP: masked lists, 404 when hidden, trust networks, red, consent, audit."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database
from incidents.identity.accounts import delete_user
from incidents.records.tables import IncidentRow
from incidents.sharing.rules import HIDDEN_ORGANISATION, MASKED_PROPERTIES
from tests.factories import DIEMA, KIDAL, Caller, Factory, incident_payload

URL = "/api/v1/incidents"
NARRATIVE = "Deux agents enlevés au poste de contrôle de Diéma"


async def report(client: AsyncTestClient, caller: Caller, **kw: Any) -> dict[str, Any]:
    kw.setdefault("description", NARRATIVE)
    kw.setdefault("actor", "Groupe X")
    response = await client.post(URL, json=incident_payload(**kw), headers=caller.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_masked(feature: dict[str, Any]) -> None:
    assert set(feature) == {"type", "id", "geometry", "properties"}
    assert set(feature["properties"]) == MASKED_PROPERTIES
    assert feature["properties"]["masked"] is True
    text = repr(feature)
    assert NARRATIVE not in text
    assert "Groupe X" not in text


async def listed(client: AsyncTestClient, caller: Caller, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(URL, params=params, headers=caller.headers)
    assert response.status_code == 200, response.text
    features: list[dict[str, Any]] = response.json()["features"]
    return features


async def test_another_org_gets_404_by_id_and_a_masked_entry_in_lists(
    client: AsyncTestClient, factory: Factory
) -> None:
    owner = await factory.caller("reporter")
    stranger = await factory.caller("reporter")
    created = await report(client, owner, sharing_level="amber")
    by_id = await client.get(f"{URL}/{created['id']}", headers=stranger.headers)
    assert by_id.status_code == 404
    absent = await client.get(f"{URL}/{uuid.uuid4()}", headers=stranger.headers)
    # Hidden and absent answer alike: nothing confirms that the incident exists.
    assert by_id.json()["detail"].replace(created["id"], "X") == absent.json()["detail"].replace(
        absent.json()["instance"].rsplit("/", 1)[1], "X"
    )
    [entry] = await listed(client, stranger)
    assert_masked(entry)
    assert entry["id"] != created["id"]
    assert entry["geometry"]["coordinates"] == [-9.125, 14.625]  # Diéma's 0.25° cell centre
    opaque = await client.get(f"{URL}/{entry['id']}", headers=stranger.headers)
    assert opaque.status_code == 404
    [mine] = await listed(client, owner)
    assert mine["properties"]["description"] == NARRATIVE


async def test_narrow_filters_leave_masked_entries_out(
    client: AsyncTestClient, factory: Factory
) -> None:
    owner = await factory.caller("reporter")
    stranger = await factory.caller("reporter")
    await report(client, owner, sharing_level="amber", severity=4)
    # A bbox on the grid and whole categories only use what the masked view shows.
    assert len(await listed(client, stranger, bbox="-9.25,14.5,-9.0,14.75", type="abduction")) == 1
    # Narrower filters would reveal the exact place, the type or the severity: masked left out.
    for params in (
        {"bbox": "-9.19,14.54,-9.18,14.55"},
        {"type": "kidnapping"},
        {"min_severity": 4},
        {"near": f"{DIEMA[0]},{DIEMA[1]}", "radius_km": 1},
    ):
        assert await listed(client, stranger, **params) == [], params
    assert len(await listed(client, owner, min_severity=4)) == 1


async def test_cursor_is_opaque(client: AsyncTestClient, factory: Factory) -> None:
    owner = await factory.caller("reporter")
    stranger = await factory.caller("reporter")
    for days in (1, 2):
        await report(client, owner, days_ago=days)
    page = await client.get(URL, params={"limit": 1}, headers=stranger.headers)
    cursor = page.json()["next_cursor"]
    assert cursor.startswith("fernet:")
    second = await client.get(URL, params={"limit": 1, "cursor": cursor}, headers=stranger.headers)
    assert len(second.json()["features"]) == 1
    bad = await client.get(URL, params={"cursor": "fernet:nonsense"}, headers=stranger.headers)
    assert bad.status_code == 422
    assert bad.json()["field"] == "cursor"


async def test_trust_network_opens_amber_to_its_members(
    client: AsyncTestClient, factory: Factory
) -> None:
    owner = await factory.caller("reporter")
    admin = await factory.caller("admin", org_id=owner.org_id)
    partner = await factory.caller("reporter")
    partner_admin = await factory.caller("admin", org_id=partner.org_id)
    created = await report(client, owner, sharing_level="amber")
    strict = await report(client, owner, sharing_level="amber_strict")
    assert (await client.get(f"{URL}/{created['id']}", headers=partner.headers)).status_code == 404
    net = await client.post(
        "/api/v1/trust-networks",
        headers=admin.headers,
        json={"name": "Réseau Kidal", "org_ids": [str(partner.org_id)]},
    )
    assert net.status_code == 201, net.text
    assert net.json()["org_ids"] == [str(owner.org_id)]
    # Invited, not yet a member: nothing opens until the partner's admin accepts.
    assert (await client.get(f"{URL}/{created['id']}", headers=partner.headers)).status_code == 404
    [invitation] = (
        await client.get("/api/v1/trust-network-invitations", headers=partner_admin.headers)
    ).json()
    accepted = await client.post(
        f"/api/v1/trust-network-invitations/{invitation['id']}/accept",
        headers=partner_admin.headers,
    )
    assert accepted.status_code == 200, accepted.text
    seen = await client.get(f"{URL}/{created['id']}", headers=partner.headers)
    assert seen.status_code == 200
    assert seen.json()["properties"]["description"] == NARRATIVE
    assert seen.json()["properties"]["organisation_id"] == str(owner.org_id)
    assert "reported_by" not in seen.json()["properties"]
    assert (await client.get(f"{URL}/{strict['id']}", headers=partner.headers)).status_code == 404
    removed = await client.delete(
        f"/api/v1/trust-networks/{net.json()['id']}/members/{partner.org_id}", headers=admin.headers
    )
    assert removed.status_code == 200
    assert (await client.get(f"{URL}/{created['id']}", headers=partner.headers)).status_code == 404


@pytest.mark.parametrize("role", ["reporter", "officer", "planner"])
async def test_trust_network_change_by_a_non_admin_is_403(
    client: AsyncTestClient, factory: Factory, role: str
) -> None:
    caller = await factory.caller(role)
    response = await client.post(
        "/api/v1/trust-networks",
        headers=caller.headers,
        json={"name": "X", "org_ids": [str(caller.org_id)]},
    )
    assert response.status_code == 403


async def test_red_is_for_the_author_and_the_people_they_name(
    client: AsyncTestClient, factory: Factory
) -> None:
    author = await factory.caller("reporter")
    colleague = await factory.caller("reporter", org_id=author.org_id)
    friend = await factory.caller("officer")
    officer = await factory.caller("officer")
    created = await report(client, author, sharing_level="red")
    location = f"{URL}/{created['id']}"
    for outsider in (colleague, friend, officer):
        assert (await client.get(location, headers=outsider.headers)).status_code == 404
    named = await client.put(
        f"{location}/named-viewers",
        headers=author.headers,
        json={"user_ids": [str(friend.user_id)]},
    )
    assert named.status_code == 200, named.text
    assert (await client.get(location, headers=friend.headers)).status_code == 200
    assert (await client.get(location, headers=officer.headers)).status_code == 404
    by_colleague = await client.put(
        f"{location}/named-viewers", headers=colleague.headers, json={"user_ids": []}
    )
    assert by_colleague.status_code == 404


async def test_hide_my_organisation_even_from_officers(
    client: AsyncTestClient, factory: Factory
) -> None:
    owner = await factory.caller("reporter")
    officer = await factory.caller("officer")
    created = await report(client, owner, sharing_level="amber", hide_organisation=True)
    props = (await client.get(f"{URL}/{created['id']}", headers=officer.headers)).json()[
        "properties"
    ]
    assert props["organisation"] == HIDDEN_ORGANISATION
    assert "organisation_id" not in props
    assert "reported_by" not in props
    own = (await client.get(f"{URL}/{created['id']}", headers=owner.headers)).json()["properties"]
    assert own["organisation_id"] == str(owner.org_id)


async def test_officer_changes_sharing_only_with_consent(
    client: AsyncTestClient, factory: Factory
) -> None:
    owner = await factory.caller("reporter")
    officer = await factory.caller("officer")
    created = await report(client, owner, sharing_level="amber")
    location = f"{URL}/{created['id']}"
    direct = await client.patch(
        location, json={"sharing_level": "green"}, headers={**officer.headers, "If-Match": '"1"'}
    )
    assert direct.status_code == 403
    assert direct.json()["field"] == "sharing_level"
    asked = await client.post(
        f"{location}/sharing-requests",
        headers=officer.headers,
        json={"sharing_level": "green", "reason": "Convoy planning"},
    )
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    by_officer = await client.post(
        f"/api/v1/sharing-requests/{request_id}/accept", headers=officer.headers
    )
    assert by_officer.status_code == 404
    pending = await client.get(
        "/api/v1/sharing-requests", params={"state": "pending"}, headers=owner.headers
    )
    assert [r["id"] for r in pending.json()] == [request_id]
    accepted = await client.post(
        f"/api/v1/sharing-requests/{request_id}/accept", headers=owner.headers
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "accepted"
    now = (await client.get(location, headers=owner.headers)).json()["properties"]
    assert (now["sharing_level"], now["version"]) == ("green", 2)
    again = await client.post(
        f"/api/v1/sharing-requests/{request_id}/refuse", headers=owner.headers
    )
    assert again.status_code == 409


async def test_officer_status_change_and_reads_are_audited_with_address(
    client: AsyncTestClient, factory: Factory
) -> None:
    owner = await factory.caller("reporter")
    officer = await factory.caller("officer")
    admin = await factory.caller("admin", org_id=officer.org_id)
    created = await report(client, owner, sharing_level="amber")
    location = f"{URL}/{created['id']}"
    assert (await client.get(location, headers=officer.headers)).status_code == 200
    verified = await client.patch(
        location, json={"status": "verified"}, headers={**officer.headers, "If-Match": '"1"'}
    )
    assert verified.status_code == 200, verified.text
    log = await client.get("/api/v1/audit", params={"target": created["id"]}, headers=admin.headers)
    assert log.status_code == 200, log.text
    entries = log.json()["entries"]
    actions = [e["action"] for e in entries]
    assert {"incident.read", "incident.status_changed"} <= set(actions)
    assert "incident.created" not in actions  # the owner's organisation's, not the admin's
    change = next(e for e in entries if e["action"] == "incident.status_changed")
    assert change["actor_user_id"] == str(officer.user_id)
    assert change["details"] == {"from": "reported", "to": "verified"}
    assert change["address"]
    assert NARRATIVE not in log.text
    by_actor = await client.get(
        "/api/v1/audit",
        params={"actor": str(officer.user_id), "action": "incident."},
        headers=admin.headers,
    )
    assert {e["actor_user_id"] for e in by_actor.json()["entries"]} == {str(officer.user_id)}
    tokens = await client.get(
        "/api/v1/audit", params={"action": "token.used"}, headers=admin.headers
    )
    assert str(officer.user_id) in {e["actor_user_id"] for e in tokens.json()["entries"]}
    assert (await client.get("/api/v1/audit", headers=officer.headers)).status_code == 403


async def test_admins_read_only_their_own_organisations_audit(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter_a = await factory.caller("reporter")
    admin_a = await factory.caller("admin", org_id=reporter_a.org_id)
    admin_b = await factory.caller("admin")
    created = await report(client, reporter_a, sharing_level="amber")
    params = {"target": created["id"]}
    own = await client.get("/api/v1/audit", params=params, headers=admin_a.headers)
    assert own.status_code == 200, own.text
    assert "incident.created" in {e["action"] for e in own.json()["entries"]}
    other = await client.get("/api/v1/audit", params=params, headers=admin_b.headers)
    assert other.status_code == 200, other.text
    assert other.json()["entries"] == []
    everything = await client.get("/api/v1/audit", params={"limit": 500}, headers=admin_b.headers)
    assert str(reporter_a.user_id) not in everything.text
    assert created["id"] not in everything.text


async def test_exports_are_audited_and_unknown_format_is_422(
    client: AsyncTestClient, factory: Factory
) -> None:
    owner = await factory.caller("reporter")
    stranger = await factory.caller("reporter")
    admin = await factory.caller("admin", org_id=stranger.org_id)
    await report(client, owner)
    csv = await client.get(URL, params={"format": "csv"}, headers=stranger.headers)
    assert csv.status_code == 200
    assert NARRATIVE not in csv.text
    assert "Groupe X" not in csv.text
    assert "abduction" in csv.text
    assert (
        await client.get(URL, params={"format": "xlsx"}, headers=owner.headers)
    ).status_code == 422
    log = await client.get(
        "/api/v1/audit", params={"action": "incidents.exported"}, headers=admin.headers
    )
    assert log.json()["entries"][0]["details"] == {"format": "csv", "count": 1}


async def test_narrative_is_encrypted_at_rest(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    owner = await factory.caller("reporter")
    created = await report(client, owner)
    async with db.read() as session:
        stored = (
            await session.execute(
                select(IncidentRow.description).where(IncidentRow.id == uuid.UUID(created["id"]))
            )
        ).scalar_one()
    assert stored.startswith("fernet:")
    assert NARRATIVE not in stored
    assert created["properties"]["description"] == NARRATIVE


async def test_public_feed_shows_only_clear(client: AsyncTestClient, factory: Factory) -> None:
    owner = await factory.caller("reporter")
    clear = await report(client, owner, sharing_level="clear")
    await report(client, owner, sharing_level="green", at=KIDAL)
    response = await client.get("/api/v1/public/incidents")
    assert response.status_code == 200, response.text
    assert [f["id"] for f in response.json()["features"]] == [clear["id"]]


async def test_token_of_a_deleted_user_is_401(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    caller = await factory.caller("reporter")
    assert (await client.get(URL, headers=caller.headers)).status_code == 200
    from datetime import UTC, datetime

    async with db.transaction() as session:
        await delete_user(session, caller.user_id, now=datetime.now(UTC))
    assert (await client.get(URL, headers=caller.headers)).status_code == 401


async def test_organisation_export_and_deletion_keep_risk_only(
    client: AsyncTestClient, factory: Factory
) -> None:
    admin = await factory.caller("admin")
    reporter = await factory.caller("reporter", org_id=admin.org_id)
    officer = await factory.caller("officer")
    created = await report(client, reporter, sharing_level="green")
    export = await client.get("/api/v1/organisations/me/export", headers=admin.headers)
    assert export.status_code == 200, export.text
    body = export.json()
    assert [i["id"] for i in body["incidents"]] == [created["id"]]
    assert body["incidents"][0]["properties"]["description"] == NARRATIVE
    assert {u["id"] for u in body["users"]} == {str(admin.user_id), str(reporter.user_id)}
    assert "token_hash" not in export.text
    denied = await client.delete("/api/v1/organisations/me", headers=reporter.headers)
    assert denied.status_code == 403
    # Deleting an organisation is the platform operator's act, not its own admin's.
    assert (
        await client.delete("/api/v1/organisations/me", headers=admin.headers)
    ).status_code == 403
    operator = await factory.operator()
    gone = await client.delete(f"/api/v1/organisations/{admin.org_id}", headers=operator.headers)
    assert gone.status_code == 200, gone.text
    assert gone.json()["incidents_kept_anonymous"] == 1
    assert (await client.get(URL, headers=reporter.headers)).status_code == 401
    [entry] = await listed(client, officer)
    assert_masked(entry)
    assert (await client.get(f"{URL}/{created['id']}", headers=officer.headers)).status_code == 404


async def test_oversized_and_deeply_nested_json_never_500(
    client: AsyncTestClient, factory: Factory
) -> None:
    caller = await factory.caller("reporter")
    headers = {**caller.headers, "content-type": "application/json"}
    big = b'{"type": "kidnapping", "description": "' + b"x" * 1_100_000 + b'"}'
    assert (await client.post(URL, content=big, headers=headers)).status_code == 413
    deep = b'{"geometry": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = await client.post(URL, content=deep, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "nested" in response.json()["detail"]


async def test_security_headers_and_strict_cors(client: AsyncTestClient, factory: Factory) -> None:
    caller = await factory.caller("reporter")
    response = await client.get(URL, headers={**caller.headers, "Origin": "https://evil.example"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options(
        URL, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_rate_limit_per_token_answers_429(
    settings: Settings, db: Database, factory: Factory
) -> None:
    caller = await factory.caller("reporter")
    other = await factory.caller("reporter")
    app = create_app(replace(settings, rate_limit_per_minute=2), db=db)
    async with AsyncTestClient(app=app) as limited:
        codes = [(await limited.get(URL, headers=caller.headers)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        # Another token from the same address still has its own allowance.
        assert (await limited.get(URL, headers=other.headers)).status_code == 200


CSV_MASKED_COLUMNS = {
    "id",
    "category",
    "occurred_at",
    "time_precision",
    "lat",
    "lon",
    "location_precision",
}


async def test_every_response_a_masked_viewer_gets_carries_only_masked_fields(
    client: AsyncTestClient, factory: Factory
) -> None:
    import csv
    import io

    owner = await factory.caller("reporter")
    officer = await factory.caller("officer")
    created = await report(client, owner, sharing_level="red", place_name="Poste de Diéma")
    secrets = (
        NARRATIVE,
        "Groupe X",
        "Diéma",
        created["id"],
        str(owner.org_id),
        str(owner.user_id),
        str(DIEMA[0]),
        str(DIEMA[1]),
    )
    responses = {}
    geojson = await client.get(URL, headers=officer.headers)
    [entry] = geojson.json()["features"]
    assert_masked(entry)
    responses["list"] = geojson
    exported = await client.get(URL, params={"format": "csv"}, headers=officer.headers)
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert {k for k, v in row.items() if v} == CSV_MASKED_COLUMNS
    responses["csv"] = exported
    responses["get"] = await client.get(f"{URL}/{created['id']}", headers=officer.headers)
    responses["get_opaque"] = await client.get(f"{URL}/{entry['id']}", headers=officer.headers)
    responses["request"] = await client.post(
        f"{URL}/{created['id']}/sharing-requests",
        headers=officer.headers,
        json={"sharing_level": "green"},
    )
    responses["patch"] = await client.patch(
        f"{URL}/{created['id']}",
        json={"severity": 1},
        headers={**officer.headers, "If-Match": '"1"'},
    )
    for name in ("get", "get_opaque", "request", "patch"):
        assert responses[name].status_code == 404, name
        assert set(responses[name].json()) == {"type", "title", "status", "detail", "instance"}
    for name, response in responses.items():
        body = response.text.replace(f"/api/v1/incidents/{created['id']}", "")
        body = body.replace(f"incident {created['id']}", "")  # echo of the id the caller sent
        for secret in secrets:
            assert secret not in body, (name, secret)
