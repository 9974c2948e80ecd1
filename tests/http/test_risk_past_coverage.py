"""History with coverage: a zone that had too little data on a past day is "no data" on that
day (`?at=` and the history), with the last incident up to that day the viewer sees in full —
never level 1, never an incident that occurred after that day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from tests.factories import Caller, Factory
from tests.http.test_risk_coverage import zone_id
from tests.http.test_zones_api import report


def day(days_ago: float) -> str:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    return at.replace(hour=0, minute=0, second=0, microsecond=0).isoformat().replace("+00:00", "Z")


def on(days_ago: float) -> str:
    return day(days_ago)[:10]


async def at(client: AsyncTestClient, caller: Caller, zid: str, days_ago: float) -> dict[str, Any]:
    answer = await client.get(
        f"/api/v1/zones/{zid}/risk", params={"at": day(days_ago)}, headers=caller.headers
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def history(client: AsyncTestClient, caller: Caller, zid: str) -> list[dict[str, Any]]:
    answer = await client.get(
        f"/api/v1/zones/{zid}/risk/history",
        params={"from": day(120), "to": day(0), "step": "7d"},
        headers=caller.headers,
    )
    assert answer.status_code == 200, answer.text
    points: list[dict[str, Any]] = answer.json()["points"]
    return points


async def test_a_past_day_before_anything_happened_is_no_data_and_tells_nothing_later(
    client: AsyncTestClient, factory: Factory
) -> None:
    planner = await factory.caller("officer")
    zid = await zone_id(client, planner, "town_diema")
    await report(client, planner, type="armed_attack", days_ago=30, sharing_level="green")

    before = await at(client, planner, zid, 60)
    after = await at(client, planner, zid, 10)

    assert (before["level"], before["level_code"], before["coverage"]) == (
        None,
        "no_data",
        "no_data",
    )
    assert before["level_label"] == "pas de données"
    assert before["last_incident_on"] is None  # the attack came later: not known on that day
    assert after["coverage"] == "data"
    assert after["level"] >= 1
    got = await history(client, planner, zid)
    early = [p for p in got if p["at"] < day(30)]
    late = [p for p in got if p["at"] > day(29)]
    assert early
    assert late
    assert all(p["level"] is None and p["level_code"] == "no_data" for p in early), early
    assert all(p["last_incident_on"] is None for p in early)
    assert all(p["coverage"] == "data" and p["level"] >= 1 for p in late), late


async def test_the_last_incident_known_on_that_day_is_given_as_far_as_the_viewer_sees_it(
    client: AsyncTestClient, factory: Factory
) -> None:
    """An attack 805 days ago (out of the 730-day window 60 days ago): no data on that day,
    the attack's day as the last known incident — to those who read it in full. Another
    organisation's amber_strict report of the same age tells outsiders nothing."""
    planner = await factory.caller("officer")
    other = await factory.caller("reporter")
    zid = await zone_id(client, planner, "town_diema")
    await report(client, planner, type="armed_attack", days_ago=805.5, sharing_level="green")
    await report(client, other, type="ied", days_ago=800.5, sharing_level="amber_strict")
    await report(client, planner, type="armed_attack", days_ago=30, sharing_level="green")

    others_view = await at(client, other, zid, 60)
    theirs = await at(client, planner, zid, 60)

    assert others_view["level"] is None
    assert theirs["level"] is None
    assert others_view["last_incident_on"] == on(800.5)  # its own report
    assert theirs["last_incident_on"] == on(805.5)  # the masked one is not theirs to date
    early = [p for p in await history(client, planner, zid) if day(58) < p["at"] < day(30)]
    assert early
    assert all(p["last_incident_on"] == on(805.5) for p in early), early
