"""Red team, through a real server: lists, filters, cursors and replays tell nothing finer about
an incident the caller may see only masked than its masked entry (coarse unit, grid cell,
category).

Each test plays the attack an outsider would: bisection by moving its own incident, by `since`
and `until`, by `bbox` and `near`; severity and status filters; a replayed Idempotency-Key; and
the cursors of the pages it walks.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from litestar import Litestar

from tests.factories import Caller, Factory, incident_payload

URL = "/api/v1/incidents"
DAY = timedelta(days=1)
# Diéma's 0.25° grid cell: what a masked entry there shows.
CELL_WEST, CELL_SOUTH, CELL_EAST, CELL_NORTH = -9.25, 14.5, -9.0, 14.75
CELL_CENTRE = (-9.125, 14.625)  # lon, lat


def day_start(days_ago: int) -> datetime:
    return (datetime.now(UTC) - days_ago * DAY).replace(hour=0, minute=0, second=0, microsecond=0)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def report(http: httpx.AsyncClient, caller: Caller, **body: Any) -> httpx.Response:
    payload = incident_payload()
    payload.update(body)
    response = await http.post(URL, json=payload, headers=caller.headers)
    assert response.status_code == 201, response.text
    return response


async def listed(http: httpx.AsyncClient, caller: Caller, **params: Any) -> list[dict[str, Any]]:
    response = await http.get(URL, params={"limit": 500, **params}, headers=caller.headers)
    assert response.status_code == 200, response.text
    features: list[dict[str, Any]] = response.json()["features"]
    return features


def masked_in(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in features if f["properties"].get("masked")]


class Mover:
    """The attacker's own incident, whose time it moves back and forth with PATCH."""

    def __init__(self, http: httpx.AsyncClient, caller: Caller, incident_id: str) -> None:
        self.http, self.caller, self.id, self.version = http, caller, incident_id, 1

    async def move_to(self, at: datetime) -> None:
        response = await self.http.patch(
            f"{URL}/{self.id}",
            json={"occurred_at": iso(at)},
            headers={**self.caller.headers, "If-Match": f'"{self.version}"'},
        )
        assert response.status_code == 200, response.text
        self.version = int(response.headers["ETag"].strip('"'))

    async def listed_before_masked(self) -> bool:
        ids = [
            f["id"] if not f["properties"].get("masked") else "masked"
            for f in await listed(self.http, self.caller)
        ]
        return ids.index(self.id) < ids.index("masked")


async def test_moving_ones_own_incident_finds_only_the_masked_day(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    victim = await factory.caller("reporter")
    attacker = await factory.caller("reporter")
    start = day_start(3)
    secret = start + timedelta(hours=14, minutes=37, seconds=12)
    await report(http, victim, occurred_at=iso(secret), sharing_level="red")
    own = await report(http, attacker, occurred_at=iso(start + DAY), sharing_level="amber")
    mover = Mover(http, attacker, own.json()["id"])
    [entry] = masked_in(await listed(http, attacker))
    assert entry["properties"]["occurred_at"].startswith(start.date().isoformat())

    # Bisect the day to the second: newest first, the own incident comes before the masked one
    # exactly when it is later.
    low, high = start, start + DAY
    answers = set()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        await mover.move_to(middle)
        before = await mover.listed_before_masked()
        answers.add(before)
        if before:
            high = middle
        else:
            low = middle
    # Every probe inside the day gets the same answer: the bisection ends at the day's start,
    # which the masked entry shows anyway, never at 14:37:12.
    assert answers == {True}
    assert high - start <= timedelta(seconds=2)
    assert abs(high - secret) > timedelta(hours=14)
    # Just before the day, the own incident comes after: the day boundary is all there is.
    await mover.move_to(start - timedelta(seconds=1))
    assert not await mover.listed_before_masked()


async def test_since_and_until_cannot_narrow_below_the_coarse_unit(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    victim = await factory.caller("reporter")
    attacker = await factory.caller("reporter")
    now = datetime.now(UTC)
    # Reported "sometime that week": its masked entry shows the ISO week.
    week = day_start(21)
    week -= timedelta(days=week.weekday())
    secret = week + timedelta(days=4, hours=9, minutes=5)
    await report(
        http, victim, occurred_at=iso(secret), time_precision="week", sharing_level="amber_strict"
    )
    [entry] = masked_in(await listed(http, attacker))
    assert entry["properties"]["time_precision"] == "week"
    assert entry["properties"]["occurred_at"].startswith(week.date().isoformat())

    async def present(**params: Any) -> bool:
        return bool(masked_in(await listed(http, attacker, **params)))

    # Day by day through the week, on the boundaries an earlier rule accepted as "coarse".
    since = [await present(since=iso(week + n * DAY)) for n in range(8)]
    until = [await present(until=iso(week + n * DAY)) for n in range(8)]
    assert since == [True] + [False] * 7, since
    assert until == [True] * 8, until
    # And to the second inside the day of the secret: nothing moves.
    for probe in (secret - timedelta(seconds=1), secret, secret + timedelta(seconds=1)):
        assert not await present(since=iso(probe))
        assert await present(until=iso(probe))
        assert not await present(since=iso(probe), until=iso(now))
    assert await present(since=iso(week), until=iso(week))


async def test_bbox_and_near_place_it_no_closer_than_its_grid_cell(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    victim = await factory.caller("reporter")
    attacker = await factory.caller("reporter")
    # An area drawn across the western edge of Diéma's cell; its masked entry is that cell.
    area = {
        "type": "Polygon",
        "coordinates": [
            [
                [-9.262, 14.531],
                [-9.210, 14.531],
                [-9.210, 14.552],
                [-9.262, 14.552],
                [-9.262, 14.531],
            ]
        ],
    }
    body = incident_payload()
    body.pop("lat")
    body.pop("lon")
    body.update(geometry=area, sharing_level="red")
    assert (await http.post(URL, json=body, headers=victim.headers)).status_code == 201
    [entry] = masked_in(await listed(http, attacker))
    assert entry["geometry"]["coordinates"] == list(CELL_CENTRE)
    cx, cy = CELL_CENTRE

    async def present(**params: Any) -> bool:
        return bool(masked_in(await listed(http, attacker, **params)))

    def bbox(*box: float) -> str:
        return ",".join(str(v) for v in box)

    # The grid cell to the west holds part of the area, not the masked point: nothing there.
    assert not await present(bbox=bbox(-9.5, CELL_SOUTH, CELL_WEST, CELL_NORTH))
    # Boxes around the real area but not the cell centre: nothing, however tight.
    for box in (
        (-9.27, 14.52, -9.20, 14.56),
        (-9.263, 14.530, -9.209, 14.553),
        (-9.25, 14.5, -9.13, 14.62),
    ):
        assert not await present(bbox=bbox(*box)), box
    # Any box holding the centre finds it, however far the real area is from the box.
    for box in ((cx - 0.001, cy - 0.001, cx + 0.001, cy + 0.001), (cx, cy, cx + 0.2, cy + 0.1)):
        assert await present(bbox=bbox(*box)), box
    # Shrinking circles: the answer follows the distance to the cell centre only.
    centre_lat, centre_lon = 14.541, -9.236  # the middle of the real area
    to_cell = 6371.0088 * math.radians(
        math.hypot((cx - centre_lon) * math.cos(math.radians(cy)), cy - centre_lat)
    )
    for radius in (0.5, 2, 5, to_cell - 1.0):
        assert not await present(near=f"{centre_lat},{centre_lon}", radius_km=radius), radius
    assert await present(near=f"{centre_lat},{centre_lon}", radius_km=to_cell + 1.0)
    assert await present(near=f"{cy},{cx}", radius_km=0.1)


async def test_severity_and_status_filters_say_nothing_about_a_masked_incident(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    victim = await factory.caller("reporter")
    officer = await factory.caller("officer", org_id=victim.org_id)
    attacker = await factory.caller("reporter")
    low = await report(http, victim, severity=1, sharing_level="amber_strict")
    high = await report(
        http, victim, severity=5, sharing_level="amber_strict", occurred_at=iso(day_start(2))
    )
    verified = await http.patch(
        f"{URL}/{high.json()['id']}",
        json={"status": "verified"},
        headers={**officer.headers, "If-Match": '"1"'},
    )
    assert verified.status_code == 200, verified.text
    assert low.json()["properties"]["severity"] == 1
    assert len(masked_in(await listed(http, attacker))) == 2
    for params in (
        {"min_severity": 1},
        {"min_severity": 5},
        {"status": "verified"},
        {"status": "reported"},
        {"status": "reported,verified,disputed"},
    ):
        # Masked entries carry no severity or status: such a filter never matches them, so
        # what it returns is the same whichever severity or status they hide.
        assert masked_in(await listed(http, attacker, **params)) == [], params
    exported = await http.get(
        URL, params={"format": "csv", "min_severity": 5}, headers=attacker.headers
    )
    assert exported.status_code == 200
    assert exported.text.strip().count("\n") == 0  # header only


async def test_a_replayed_idempotency_key_answers_only_what_the_replayer_may_see(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    colleague = await factory.caller("reporter", org_id=reporter.org_id)
    stranger = await factory.caller("reporter")
    body = incident_payload(sharing_level="red", description="Enlèvement, poste de Diéma")
    key = {"Idempotency-Key": "retry-0001"}
    first = await http.post(URL, json=body, headers={**reporter.headers, **key})
    assert first.status_code == 201, first.text
    real_id = first.json()["id"]

    # The same key and body from a colleague, who may not see this red report: no replay, no id,
    # and the same answer whether or not the body matches (it confirms nothing).
    replay = await http.post(URL, json=body, headers={**colleague.headers, **key})
    other = await http.post(URL, json={**body, "severity": 1}, headers={**colleague.headers, **key})
    for answer in (replay, other):
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "Idempotency-Key"
        assert real_id not in answer.text
        assert all(real_id not in v for v in answer.headers.values())
        assert "Enlèvement" not in answer.text
    assert replay.json()["detail"] == other.json()["detail"]

    # Another organisation's key space is its own: a new incident, not a replay.
    theirs = await http.post(URL, json=body, headers={**stranger.headers, **key})
    assert theirs.status_code == 201
    assert theirs.json()["id"] != real_id
    assert "Idempotent-Replayed" not in theirs.headers

    # The reporter's own retry replays, after a change of sharing too, with what it sees now.
    changed = await http.patch(
        f"{URL}/{real_id}",
        json={"sharing_level": "amber_strict"},
        headers={**reporter.headers, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    again = await http.post(URL, json=body, headers={**reporter.headers, **key})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == f"{URL}/{real_id}"
    assert again.json()["properties"]["sharing_level"] == "amber_strict"
    assert again.headers["ETag"] == '"2"'
    # The colleague may now see it in full, yet the key stays the reporter's.
    late = await http.post(URL, json=body, headers={**colleague.headers, **key})
    assert late.status_code == 422
    assert real_id not in late.text
    assert all(real_id not in v for v in late.headers.values())


async def test_cursors_through_masked_entries_skip_and_repeat_nothing_and_hide_times(
    http: httpx.AsyncClient, factory: Factory, app: Litestar
) -> None:
    victim = await factory.caller("reporter")
    attacker = await factory.caller("reporter")
    secrets: list[datetime] = []
    hidden_ids: list[str] = []
    own: set[str] = set()
    for days in (1, 2, 3):
        base = day_start(days)
        for minutes in (75, 400, 900, 1300):  # four masked incidents a day, at odd times
            at = base + timedelta(minutes=minutes, seconds=days * 7 + 3)
            secrets.append(at)
            made = await report(http, victim, occurred_at=iso(at), sharing_level="red")
            hidden_ids.append(made.json()["id"])
        for at in (base, base + timedelta(hours=12), base + DAY - timedelta(seconds=1)):
            own.add((await report(http, attacker, occurred_at=iso(at))).json()["id"])
    whole = await listed(http, attacker)
    assert len(whole) == 21
    for limit in (1, 2, 3, 5):
        seen: list[dict[str, Any]] = []
        cursors: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        for _ in range(40):
            response = await http.get(URL, params=params, headers=attacker.headers)
            assert response.status_code == 200, response.text
            page = response.json()
            seen += page["features"]
            if page["next_cursor"] is None:
                break
            cursors.append(page["next_cursor"])
            params = {"limit": limit, "cursor": page["next_cursor"]}
        # The same entries in the same order as one page: nothing skipped, nothing twice.
        assert [f["id"] for f in seen] == [f["id"] for f in whole], limit
        assert {f["id"] for f in seen if not f["properties"].get("masked")} == own
        assert len({f["id"] for f in seen}) == 21
        for cursor in cursors:
            opened = app.state.container.cipher.open(cursor)  # what the server sealed in it
            for at in secrets:
                for text in (at.isoformat(), at.isoformat().replace("+00:00", "")):
                    assert text not in opened, (limit, opened)
            assert all(ident not in opened for ident in hidden_ids), opened
            json.loads(opened)  # sealed, yet plain data for the server alone
