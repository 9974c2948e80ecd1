"""An incident the travellers may see only masked (another organisation's, amber_strict) reaches
them as its masked entry, and only when that entry (its grid-cell centre) is itself in the
corridor: the alert tells no more than the masked entry does."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import shapely

from geo.gazetteer import Gazetteer
from geo.measure import distance_to_line_km
from tests.factories import incident_payload
from tests.missions.conftest import TRAVELLER_PHONE, World, mopti_gao

GRID = 0.25


def _cells_along_the_road() -> tuple[tuple[float, float], tuple[float, float]]:
    """(a point 1 km from the road in a cell whose centre is within 3 km of it, a point 1 km
    from the road in a cell whose centre is more than 12 km from it), as (lat, lon)."""
    g = Gazetteer.load()
    places = [g.resolve(n) for n in ("Mopti", "Douentza", "Hombori", "Gao")]
    line = shapely.LineString([(p.lon, p.lat) for p in places])
    near = far = None
    for f in np.linspace(0.3, 0.95, 400):
        pt = line.interpolate(f, normalized=True)
        cx = (np.floor(pt.x / GRID) + 0.5) * GRID
        cy = (np.floor(pt.y / GRID) + 0.5) * GRID
        d, _ = distance_to_line_km(line, [cx], [cy])
        if near is None and d[0] < 3:
            near = (float(pt.y), float(pt.x))
        if far is None and d[0] > 12:
            far = (float(pt.y), float(pt.x))
    assert near is not None
    assert far is not None
    return near, far


async def test_a_masked_incident_reaches_the_traveller_masked_and_only_when_its_cell_is_near(
    world: World,
) -> None:
    created = await world.client.post(
        "/api/v1/missions", json=mopti_gao(datetime.now(UTC)), headers=world.planner.headers
    )
    mid = created.json()["id"]
    await world.client.post(f"/api/v1/missions/{mid}/approve", headers=world.officer.headers)
    assert (await world.sms("OK"))["status"] == "checked_in"
    near, far = _cells_along_the_road()
    outsider = await world.factory.caller("reporter")
    for at in (far, near):
        answer = await world.client.post(
            "/api/v1/incidents",
            json=incident_payload(type="ied", at=at, days_ago=0.01, sharing_level="amber_strict"),
            headers=outsider.headers,
        )
        assert answer.status_code == 201, answer.text
    await world.deliver()
    got = world.to(TRAVELLER_PHONE)
    assert len(got) == 1, got  # the near cell only
    assert "improvis" not in got[0].lower()
    assert "EEI" not in got[0]
    assert "explosif" in got[0].lower()
