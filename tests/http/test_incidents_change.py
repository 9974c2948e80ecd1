"""GET/PATCH/retract one incident: ETags, If-Match, who may change what."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import GAO, Caller, Factory, incident_payload

URL = "/api/v1/incidents"


async def report(client: AsyncTestClient, caller: Caller, **kw: Any) -> str:
    response = await client.post(URL, json=incident_payload(**kw), headers=caller.headers)
    assert response.status_code == 201, response.text
    return f"{URL}/{response.json()['id']}"


def if_match(caller: Caller, etag: str) -> dict[str, str]:
    return {**caller.headers, "If-Match": etag}


async def test_get_by_id_gives_the_feature_and_its_etag(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    location = await report(client, reporter, place_name="Diéma")
    response = await client.get(location, headers=reporter.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    assert response.headers["etag"] == '"1"'
    assert response.json()["properties"]["place_name"] == "Diéma"


async def test_unknown_id_is_404_problem(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    response = await client.get(f"{URL}/{uuid.uuid4()}", headers=reporter.headers)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_patch_with_if_match_changes_it_and_bumps_the_etag(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    location = await report(client, reporter, severity=3)
    response = await client.patch(
        location,
        json={"severity": 5, "place_name": "Diéma centre"},
        headers=if_match(reporter, '"1"'),
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    props = response.json()["properties"]
    assert (props["severity"], props["place_name"], props["version"]) == (5, "Diéma centre", 2)
    again = await client.get(location, headers=reporter.headers)
    assert again.headers["etag"] == '"2"'
    assert again.json()["properties"]["severity"] == 5


async def test_patch_can_move_the_incident(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    location = await report(client, reporter)
    response = await client.patch(
        location, json={"lat": GAO[0], "lon": GAO[1]}, headers=if_match(reporter, '"1"')
    )
    assert response.status_code == 200, response.text
    assert response.json()["geometry"]["coordinates"] == [GAO[1], GAO[0]]
    near_gao = await client.get(
        URL, params={"near": f"{GAO[0]},{GAO[1]}", "radius_km": 5}, headers=reporter.headers
    )
    assert [f["id"] for f in near_gao.json()["features"]] == [response.json()["id"]]


async def test_stale_if_match_is_412_and_changes_nothing(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    location = await report(client, reporter, severity=3)
    first = await client.patch(location, json={"severity": 4}, headers=if_match(reporter, '"1"'))
    assert first.status_code == 200
    stale = await client.patch(location, json={"severity": 1}, headers=if_match(reporter, '"1"'))
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(location, headers=reporter.headers)).json()["properties"][
        "severity"
    ] == 4


async def test_patch_without_if_match_is_428(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    location = await report(client, reporter)
    response = await client.patch(location, json={"severity": 2}, headers=reporter.headers)
    assert response.status_code == 428
    assert response.json()["field"] == "If-Match"


async def test_patch_with_garbage_if_match_is_422(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    location = await report(client, reporter)
    response = await client.patch(location, json={"severity": 2}, headers=if_match(reporter, "abc"))
    assert response.status_code == 422
    assert response.json()["field"] == "If-Match"


async def test_patch_validates_like_a_report(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    location = await report(client, reporter, severity=3)
    for body, field in (
        ({"severity": 6}, "severity"),
        ({"type": "alien"}, "type"),
        ({"lat": 95, "lon": 1}, "lat"),
    ):
        response = await client.patch(location, json=body, headers=if_match(reporter, '"1"'))
        assert response.status_code == 422, body
        assert response.json()["field"] == field
    assert (await client.get(location, headers=reporter.headers)).headers["etag"] == '"1"'


async def test_reporter_of_another_organisation_cannot_patch_or_retract(
    client: AsyncTestClient, factory: Factory
) -> None:
    owner = await factory.caller("reporter")
    stranger = await factory.caller("reporter")
    # green: the stranger may read it (an amber one would be 404 to them, see test_sharing*).
    location = await report(client, owner, severity=3, sharing_level="green")
    patched = await client.patch(location, json={"severity": 1}, headers=if_match(stranger, '"1"'))
    assert patched.status_code == 403
    assert patched.headers["content-type"].startswith("application/problem+json")
    retracted = await client.post(f"{location}/retract", json={}, headers=stranger.headers)
    assert retracted.status_code == 403
    props = (await client.get(location, headers=owner.headers)).json()["properties"]
    assert (props["severity"], props["status"], props["version"]) == (3, "reported", 1)


async def test_a_colleague_of_the_same_organisation_may_patch(
    client: AsyncTestClient, factory: Factory
) -> None:
    owner = await factory.caller("reporter")
    colleague = await factory.caller("reporter", org_id=owner.org_id)
    location = await report(client, owner)
    response = await client.patch(
        location, json={"severity": 2}, headers=if_match(colleague, '"1"')
    )
    assert response.status_code == 200, response.text


async def test_planner_cannot_patch(client: AsyncTestClient, factory: Factory) -> None:
    owner = await factory.caller("reporter")
    planner = await factory.caller("planner", org_id=owner.org_id)
    location = await report(client, owner)
    response = await client.patch(location, json={"severity": 2}, headers=if_match(planner, '"1"'))
    assert response.status_code == 403


@pytest.mark.parametrize("status", ["verified", "disputed"])
async def test_only_officers_verify_or_dispute(
    client: AsyncTestClient, factory: Factory, status: str
) -> None:
    reporter = await factory.caller("reporter")
    officer = await factory.caller("officer", org_id=reporter.org_id)
    location = await report(client, reporter)
    refused = await client.patch(
        location, json={"status": status}, headers=if_match(reporter, '"1"')
    )
    assert refused.status_code == 403
    accepted = await client.patch(
        location, json={"status": status}, headers=if_match(officer, '"1"')
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["properties"]["status"] == status


@pytest.mark.parametrize("status", ["verified", "disputed"])
async def test_reporter_cannot_report_an_incident_as_verified(
    client: AsyncTestClient, factory: Factory, status: str
) -> None:
    reporter = await factory.caller("reporter")
    response = await client.post(
        URL, json=incident_payload(status=status), headers=reporter.headers
    )
    assert response.status_code in (403, 422)
    assert response.json()["field"] == "status"


async def test_status_retracted_only_through_retract(
    client: AsyncTestClient, factory: Factory
) -> None:
    officer = await factory.caller("officer")
    location = await report(client, officer)
    response = await client.patch(
        location, json={"status": "retracted"}, headers=if_match(officer, '"1"')
    )
    assert response.status_code == 422
    assert response.json()["field"] == "status"


async def test_retract_keeps_it_readable_but_out_of_lists(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    location = await report(client, reporter, description="Vol de moto")
    response = await client.post(
        f"{location}/retract", json={"reason": "double saisie"}, headers=reporter.headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    props = response.json()["properties"]
    assert props["status"] == "retracted"
    assert "double saisie" in props["description"]
    listed = await client.get(URL, headers=reporter.headers)
    assert listed.json()["features"] == []
    read = await client.get(location, headers=reporter.headers)
    assert read.status_code == 200
    assert read.json()["properties"]["status"] == "retracted"
    again = await client.post(f"{location}/retract", headers=reporter.headers)
    assert again.status_code == 200
    assert again.headers["etag"] == '"2"'


async def test_retract_of_unknown_incident_is_404(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    response = await client.post(f"{URL}/{uuid.uuid4()}/retract", json={}, headers=reporter.headers)
    assert response.status_code == 404
