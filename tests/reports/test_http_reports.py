"""GET /api/v1/reports/weekly: the report as PDF or HTML, bad input as problem+json naming the
field, and another organisation's restricted incidents only as aggregates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import DIEMA, GAO, KIDAL, Caller, Factory, incident_payload

pytestmark = pytest.mark.postgres


def _last_week() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday() + 7)
    return monday.isoformat(), (monday + timedelta(days=6)).isoformat()


def _days_ago_in_last_week(offset: int) -> float:
    """Days ago of a moment in last week (Monday + offset days, noon)."""
    now = datetime.now(UTC)
    monday = now.date() - timedelta(days=now.weekday() + 7)
    at = datetime(monday.year, monday.month, monday.day, 12, tzinfo=UTC) + timedelta(days=offset)
    return (now - at).total_seconds() / 86400


async def _report(
    client: AsyncTestClient, caller: Caller, **params: str
) -> tuple[int, str, dict[str, str]]:
    start, end = _last_week()
    query = {"from": start, "to": end, "format": "html", **params}
    answer = await client.get("/api/v1/reports/weekly", params=query, headers=caller.headers)
    return answer.status_code, answer.text, dict(answer.headers)


async def test_an_empty_period_says_no_incident_and_still_draws_the_map(
    client: AsyncTestClient, factory: Factory
) -> None:
    viewer = await factory.caller("planner")
    status, html, _ = await _report(client, viewer)
    assert status == 200, html
    assert "Aucun incident signalé" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="map"' in html
    status, html, _ = await _report(client, viewer, lang="en")
    assert "No incident reported" in html


async def test_the_pdf_is_small_and_is_a_pdf(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    body = incident_payload(days_ago=_days_ago_in_last_week(2), sharing_level="green")
    assert (
        await client.post("/api/v1/incidents", json=body, headers=reporter.headers)
    ).status_code == 201
    start, end = _last_week()
    answer = await client.get(
        "/api/v1/reports/weekly",
        params={"from": start, "to": end},
        headers={**reporter.headers, "Accept": "application/pdf"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/pdf")
    assert answer.content.startswith(b"%PDF")
    assert len(answer.content) <= 500_000


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"lang": "de"}, "lang", "de"),
        ({"zones": "atlantis"}, "zones", "atlantis"),
        ({"from": "2026-01-01", "to": "2026-06-30"}, "to", "92"),
        ({"from": "2026-13-01", "to": "2026-06-30"}, "from", "YYYY-MM-DD"),
        ({"format": "docx"}, "format", "docx"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field(
    client: AsyncTestClient,
    factory: Factory,
    params: dict[str, str],
    field: str,
    words: str,
) -> None:
    viewer = await factory.caller("planner")
    answer = await client.get(
        "/api/v1/reports/weekly",
        params={**params},
        headers={**viewer.headers, "Accept-Language": "en"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["field"] == field
    assert words in problem["detail"]


async def test_a_period_too_long_is_refused_in_french_with_the_reason(
    client: AsyncTestClient, factory: Factory
) -> None:
    viewer = await factory.caller("planner")
    answer = await client.get(
        "/api/v1/reports/weekly",
        params={"from": "2026-01-01", "to": "2026-06-30"},
        headers={**viewer.headers, "Accept-Language": "fr"},
    )
    assert answer.status_code == 422
    assert "92 jours" in answer.json()["detail"]


def _map_symbols(html: str) -> int:
    svg = html[html.index('class="map"') : html.index("</svg>", html.index('class="map"'))]
    return svg.count('stroke="#fff" stroke-width="0.6"')


async def test_another_organisations_restricted_incidents_are_only_aggregates(
    client: AsyncTestClient, factory: Factory
) -> None:
    owner_org = await factory.org("Association Kénédougou Solidarité")
    reporter = await factory.caller("reporter", org_id=owner_org)
    outsider = await factory.caller("planner")
    restricted = []
    # Three restricted reports > 5 km and > 6 h apart (three events), one shared one.
    for k, (level, at) in enumerate([("amber", DIEMA), ("amber_strict", GAO), ("amber", KIDAL)]):
        body = incident_payload(
            type="kidnapping",
            at=at,
            days_ago=_days_ago_in_last_week(k),
            sharing_level=level,
            place_name=f"Lieu-secret-{k}",
            description=f"Récit confidentiel {k}",
        )
        answer = await client.post("/api/v1/incidents", json=body, headers=reporter.headers)
        assert answer.status_code == 201, answer.text
        restricted.append(answer.headers["location"])
    shared = incident_payload(
        type="robbery",
        at=(13.45, -6.26),
        days_ago=_days_ago_in_last_week(4),
        sharing_level="green",
        place_name="Marché public",
    )
    assert (
        await client.post("/api/v1/incidents", json=shared, headers=reporter.headers)
    ).status_code == 201

    status, own_html, _ = await _report(client, reporter)
    assert status == 200
    assert "Lieu-secret-0" in own_html  # the organisation sees its own reports in full
    assert _map_symbols(own_html) == 4

    status, html, _ = await _report(client, outsider)
    assert status == 200
    # Counted (four incidents), but the restricted ones as aggregates only.
    assert "4 incidents signalés sur la période" in html
    assert "Diffusion restreinte" in html
    for secret in ("Lieu-secret", "Récit confidentiel", "Enlèvement", "Kénédougou"):
        assert secret not in html
    assert "Marché public" in html  # the green one is seen in full
    # Only the incident seen in full is drawn on the map.
    assert _map_symbols(html) == 1
    # No day of a restricted incident: its rows carry no date.
    masked_rows = re.findall(r'<tr class="masked">(.*?)</tr>', html, flags=re.S)
    assert masked_rows
    assert all(not re.search(r"\d{2}/\d{2}/\d{4}", row) for row in masked_rows)

    # Moving a restricted incident by about a kilometre (same area, same day) changes
    # nothing the outsider gets: no symbol, count, order or text follows its exact place.
    location = restricted[0]
    moved = await client.patch(
        location,
        json={"lat": DIEMA[0] + 0.01, "lon": DIEMA[1] + 0.01},
        headers={**reporter.headers, "If-Match": '"1"'},
    )
    assert moved.status_code == 200, moved.text
    status, again, _ = await _report(client, outsider)
    assert again == html


async def test_a_signed_link_with_a_wrong_signature_is_a_plain_404(
    client: AsyncTestClient, factory: Factory
) -> None:
    answer = await client.get(
        "/api/v1/public/reports/8a8f2c1e-1111-4222-8333-944455556666", params={"sig": "0" * 32}
    )
    assert answer.status_code == 404
    other = await client.get("/api/v1/public/reports/not-an-id", params={"sig": "x"})
    assert other.status_code == 404
    assert other.json()["detail"] == answer.json()["detail"]


async def test_zones_restrict_the_report_to_the_incidents_inside_them(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    for k, at in enumerate((DIEMA, GAO)):
        body = incident_payload(at=at, days_ago=_days_ago_in_last_week(k), sharing_level="green")
        answer = await client.post("/api/v1/incidents", json=body, headers=reporter.headers)
        assert answer.status_code == 201
    status, everywhere, _ = await _report(client, reporter)
    assert "2 incidents signalés sur la période" in everywhere
    status, diema, _ = await _report(client, reporter, zones="town_diema")
    assert status == 200
    assert "1 incidents signalés sur la période" in diema
