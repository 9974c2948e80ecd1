"""Border towns lie inside Mali and inside their border's belt (issue 18, item 6).

The default zones come from Natural Earth 1:10m (geo/data/mali_region_outlines.geojson); these
tests hold them to every place of the packaged gazetteer, and to the OCHA COD seats of
government when ../shared/data is present.
"""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely

from geo.gazetteer import Gazetteer
from geo.zones import (
    BELT_NEIGHBOURS,
    BORDER_MARGIN_KM,
    Zone,
    _shared_border,
    default_zones,
    mali_outline,
    neighbour_outlines,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
COD_PLACES = SHARED / "mli_populated_places_cod_2015.csv"
BELT_KM = {"MRT": 175.0, "DZA": 100.0, "NER": 100.0, "BFA": 100.0}
GEOD = pyproj.Geod(ellps="WGS84")
# buffer_km is exact to ~0.4 % at 1,000 km from its centre: a place this close to the belt's
# edge (relative to its width) may fall on either side.
EDGE_TOLERANCE = 0.02


@pytest.fixture(name="zones", scope="module")
def fx_zones() -> dict[str, Zone]:
    return {
        z.code: z
        for z in default_zones(mauritania_belt_km=BELT_KM["MRT"], border_belt_km=BELT_KM["DZA"])
    }


def _unit_vectors(lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lons), np.radians(lats)
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _border_km(
    lons: np.ndarray, lats: np.ndarray, border: shapely.Geometry, beyond_km: float
) -> np.ndarray:
    """Geodesic distance (km) from each point to the border line, densified to ~1 km; points
    surely farther than `beyond_km` get a lower bound of theirs instead (still > beyond_km).

    The lower bound: planar distance in degrees × 95 km (a degree is ≥ 99 km below 27° N).
    The others: the nearest vertices on the sphere (chord length, vectorised) are candidates,
    and the WGS84 geodesic picks among them (sphere and ellipsoid distances differ by < 0.7 %,
    so the vertex nearest on the ellipsoid is within 2 % of the nearest chord)."""
    lons, lats = np.asarray(lons, float), np.asarray(lats, float)
    assert lats.max() < 27.0
    out = shapely.distance(shapely.points(lons, lats), border) * 95.0
    todo = np.flatnonzero(out <= beyond_km)
    coords = shapely.get_coordinates(shapely.segmentize(border, 0.01))
    vertices = _unit_vectors(coords[:, 0], coords[:, 1])
    points = _unit_vectors(lons[todo], lats[todo])
    out[todo] = np.inf
    for start in range(0, len(todo), 512):
        block = points[start : start + 512]
        chord = np.linalg.norm(block[:, None, :] - vertices[None, :, :], axis=2)
        rows, cols = np.nonzero(chord <= chord.min(axis=1, keepdims=True) * 1.02 + 1e-12)
        picked = todo[start + rows]
        _, _, metres = GEOD.inv(lons[picked], lats[picked], coords[cols, 0], coords[cols, 1])
        np.minimum.at(out, picked, np.asarray(metres) / 1000.0)
    return out


def test_every_packaged_place_lies_in_mali(zones: dict[str, Zone]) -> None:
    mali = zones["mli"].geometry
    places = Gazetteer.load().localities
    outside = [p.name for p in places if not shapely.contains_xy(mali, p.lon, p.lat)]
    assert not outside, f"gazetteer places outside the Mali zone: {outside}"


@pytest.mark.parametrize("iso", sorted(BELT_KM))
def test_places_within_a_belts_width_of_a_border_lie_in_that_belt(
    zones: dict[str, Zone], iso: str
) -> None:
    suffix = BELT_NEIGHBOURS[iso][0]
    belt = zones[f"border_{suffix}"].geometry
    width = BELT_KM[iso]
    places = Gazetteer.load().localities
    lons = np.array([p.lon for p in places])
    lats = np.array([p.lat for p in places])
    border = _shared_border(mali_outline(), neighbour_outlines()[iso])
    km = _border_km(lons, lats, border, beyond_km=width * (1 + 2 * EDGE_TOLERANCE))
    inside = shapely.contains_xy(belt, lons, lats)
    near = km <= width * (1 - EDGE_TOLERANCE)
    far = km >= width * (1 + EDGE_TOLERANCE)
    missed = [
        f"{p.name} ({d:.0f} km)"
        for p, d, n, i in zip(places, km, near, inside, strict=True)
        if n and not i
    ]
    extra = [
        f"{p.name} ({d:.0f} km)"
        for p, d, f, i in zip(places, km, far, inside, strict=True)
        if f and i
    ]
    assert not missed, f"within {width:g} km of the {iso} border but not in its belt: {missed}"
    assert not extra, f"farther than {width:g} km from the {iso} border but in its belt: {extra}"
    assert near.sum() >= 1  # the test looks at real places


def test_tinzaouatene_is_in_mali_and_in_the_algerian_belt(zones: dict[str, Zone]) -> None:
    town = Gazetteer.load().lookup("Tinzaouatène")
    assert town is not None, "Tinzaouatène is a known place"
    assert Gazetteer.load().lookup("Tinzawatene") == town
    holding = {c for c, z in zones.items() if shapely.contains_xy(z.geometry, town.lon, town.lat)}
    assert {"mli", "border_dza"} <= holding
    # The outline alone (generalised) leaves it just outside: the margin is what takes it in.
    assert not shapely.contains_xy(mali_outline(), town.lon, town.lat)


def test_brief_places_are_known_and_placed(zones: dict[str, Zone]) -> None:
    gazetteer = Gazetteer.load()
    expected = {
        "Tinzaouatène": "border_dza",
        "Diéma": "border_mrt",
        "Sefeto": "border_mrt",
        "Nioro": "border_mrt",
        "Sandaré": "border_mrt",
        "Kidal": "mli",
        "Ménaka": "border_ner",
        "Tessalit": "border_dza",
    }
    for name, code in expected.items():
        place = gazetteer.lookup(name)
        assert place is not None, name
        assert shapely.contains_xy(zones[code].geometry, place.lon, place.lat), (name, code)


def test_outline_file_is_the_1_10m_one_and_small() -> None:
    source = resources.files("geo") / "data" / "mali_region_outlines.geojson"
    text = source.read_text(encoding="utf-8")
    assert len(text.encode()) < 400_000
    doc = json.loads(text)
    assert "1:10m" in doc["source"]
    assert {f["properties"]["iso_a3"] for f in doc["features"]} >= set(BELT_KM) | {"MLI"}
    # Mali and each neighbour share their border vertices: the shared border is a line.
    for iso in BELT_KM:
        assert shapely.length(_shared_border(mali_outline(), neighbour_outlines()[iso])) > 5.0


@pytest.mark.skipif(not COD_PLACES.exists(), reason=f"{COD_PLACES} absent (real OCHA data)")
def test_every_cod_seat_of_government_lies_in_the_mali_zone(zones: dict[str, Zone]) -> None:
    with COD_PLACES.open(encoding="utf-8") as fh:
        seats = [r for r in csv.DictReader(fh) if r["popPlaceCl"] in {"1", "2", "3", "4"}]
    assert len(seats) == 700
    lons = np.array([float(r["longitude"]) for r in seats])
    lats = np.array([float(r["latitude"]) for r in seats])
    outside = ~shapely.contains_xy(zones["mli"].geometry, lons, lats)
    assert not outside.any(), [seats[i]["featureNam"] for i in np.flatnonzero(outside)]
    # Without the margin three are outside (Tinzawatène, Kirané, Gogui): it is needed.
    raw_outside = ~shapely.contains_xy(mali_outline(), lons, lats)
    assert 0 < raw_outside.sum() <= 5
    assert BORDER_MARGIN_KM <= 3.0


@pytest.mark.skipif(not COD_PLACES.exists(), reason=f"{COD_PLACES} absent (real OCHA data)")
@pytest.mark.parametrize("iso", sorted(BELT_KM))
def test_cod_seats_within_a_belts_width_of_a_border_lie_in_that_belt(
    zones: dict[str, Zone], iso: str
) -> None:
    with COD_PLACES.open(encoding="utf-8") as fh:
        seats = [r for r in csv.DictReader(fh) if r["popPlaceCl"] in {"1", "2", "3", "4"}]
    lons = np.array([float(r["longitude"]) for r in seats])
    lats = np.array([float(r["latitude"]) for r in seats])
    width = BELT_KM[iso]
    border = _shared_border(mali_outline(), neighbour_outlines()[iso])
    km = _border_km(lons, lats, border, beyond_km=width * (1 + 2 * EDGE_TOLERANCE))
    belt = zones[f"border_{BELT_NEIGHBOURS[iso][0]}"].geometry
    inside = shapely.contains_xy(belt, lons, lats)
    near = km <= width * (1 - EDGE_TOLERANCE)
    far = km >= width * (1 + EDGE_TOLERANCE)
    assert not (near & ~inside).any(), [
        seats[i]["featureNam"] for i in np.flatnonzero(near & ~inside)
    ]
    assert not (far & inside).any(), [seats[i]["featureNam"] for i in np.flatnonzero(far & inside)]
    assert near.sum() >= 1  # real seats near every border (3 near Algeria)
