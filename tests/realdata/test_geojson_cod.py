"""Every COD-AB zone of Mali, served as GeoJSON, is RFC 7946 geometry by an outside validator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geojson_validator
import pytest
import shapely
from shapely.geometry import shape

from geo.geometry import repair_polygon, to_geojson

pytestmark = pytest.mark.realdata

COD_AB = ("mli_admbnda_adm1_1m_gov_20211220.geojson", "mli_admbnda_adm2_1m_gov_20211220.geojson")
# geojson-validator's RFC 7946 checks that make a geometry wrong, not merely unusual.
RFC_7946 = ("unclosed", "less_three_unique_nodes", "exterior_not_ccw", "interior_not_cw")
BROKEN = ("self_intersection", "inner_and_exterior_ring_intersect", "duplicate_nodes")


def served_zones(shared_data: Path, name: str) -> list[tuple[str, dict[str, Any]]]:
    """(zone name, geometry as the zones API serves it): stored as the import stores it."""
    document = json.loads((shared_data / name).read_text(encoding="utf-8"))
    served = []
    for feature in document["features"]:
        properties = feature["properties"]
        label = properties.get("ADM2_FR") or properties.get("ADM1_FR")
        stored, _report = repair_polygon(shape(feature["geometry"]))
        served.append((str(label), to_geojson(stored)))
    return served


@pytest.mark.parametrize("name", COD_AB)
def test_every_cod_ab_zone_is_valid_rfc_7946_after_rounding(shared_data: Path, name: str) -> None:
    zones = served_zones(shared_data, name)
    collection = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": g, "properties": {}} for _, g in zones],
    }

    report = geojson_validator.validate_geometries(
        collection, criteria_invalid=RFC_7946, criteria_problematic=BROKEN
    )

    labels = [label for label, _ in zones]

    def named(found: dict[str, list[int]]) -> dict[str, list[str]]:
        return {check: [labels[i] for i in where] for check, where in found.items()}

    assert named(report["invalid"]) == {}
    assert named(report["problematic"]) == {}
    # A second opinion from GEOS: valid, and the same polygonal type as the stored zone.
    invalid = [label for label, g in zones if not shapely.is_valid(shape(g))]
    assert invalid == []
    assert len(zones) >= (10 if "adm1" in name else 40)
