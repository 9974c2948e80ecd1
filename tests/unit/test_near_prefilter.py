"""The SQL prefilter of `near` (an ellipse inside the bounding box) never drops a point within the
radius: checked against the geodesic distance, at every latitude the box allows."""

from __future__ import annotations

import numpy as np
import pytest

from geo.measure import bbox_around, geodesic_distance_km
from incidents.records.store import near_ellipse


@pytest.mark.parametrize("radius_km", [0.5, 5.0, 50.0, 200.0, 500.0])
def test_every_point_within_the_radius_passes_the_sql_ellipse(radius_km: float) -> None:
    rng = np.random.default_rng(int(radius_km * 10))
    checked = 0
    for lat0, lon0 in zip(rng.uniform(-85, 85, 300), rng.uniform(-175, 175, 300), strict=True):
        window = bbox_around(float(lat0), float(lon0), radius_km)
        ks = near_ellipse(float(lat0), float(lon0), radius_km, window)
        if ks is None:  # the box spans every longitude: no ellipse, nothing dropped
            continue
        kx, ky = ks
        lons = rng.uniform(window[0], window[2], 2000)
        lats = rng.uniform(window[1], window[3], 2000)
        inside = geodesic_distance_km(lon0, lat0, lons, lats) <= radius_km
        plane = (kx * (lons - lon0)) ** 2 + (ky * (lats - lat0)) ** 2
        reach = radius_km * 1.01 + 0.01
        assert (plane[inside] <= reach * reach).all()
        checked += int(inside.sum())
    assert checked > 10_000


def test_the_ellipse_drops_the_corners_of_the_box() -> None:
    """What it is for: the box's corners are beyond the radius and SQL leaves them out."""
    lat0, lon0, radius = 16.27, -0.04, 50.0  # Gao
    window = bbox_around(lat0, lon0, radius)
    ks = near_ellipse(lat0, lon0, radius, window)
    assert ks is not None
    kx, ky = ks
    corner = (kx * (window[2] - lon0)) ** 2 + (ky * (window[3] - lat0)) ** 2
    assert corner > (radius * 1.01 + 0.01) ** 2


def test_no_ellipse_where_the_box_spans_every_longitude() -> None:
    window = bbox_around(89.5, 10.0, 100.0)
    assert near_ellipse(89.5, 10.0, 100.0, window) is None
