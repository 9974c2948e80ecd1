"""One-off build script: Mali and neighbour outlines from Natural Earth 1:10m TopoJSON to GeoJSON.

Not imported at run time. It was run once to produce ``mali_region_outlines.geojson``; rerun it only
to refresh the data (see SOURCES.md)::

    cd /tmp && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python geo/data/build_outlines.py /tmp/package/countries-10m.json

The TopoJSON is decoded here (quantised, delta-encoded arcs shared by neighbouring countries).
Each arc is simplified once, its end points kept, before the rings are assembled: Mali and a
neighbour then still share exactly the same border line, which the border belts rely on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

# ISO 3166 alpha-3 -> numeric (the ids world-atlas uses).
ISO3 = {
    "MLI": "466",
    "MRT": "478",
    "DZA": "012",
    "NER": "562",
    "BFA": "854",
    "SEN": "686",
    "GIN": "324",
    "CIV": "384",
}
OUT = Path(__file__).with_name("mali_region_outlines.geojson")
# Douglas-Peucker tolerance, degrees (~110 m): the 1:10m data is quantised to about 0.002-0.004°.
TOLERANCE_DEG = 0.001
PRECISION_DEG = 1e-5

Point = tuple[float, float]


def decode_arcs(topology: dict[str, Any]) -> list[list[Point]]:
    """Absolute WGS84 positions of every arc: undo the delta encoding, then the quantisation."""
    transform = topology.get("transform")
    arcs: list[list[Point]] = []
    for arc in topology["arcs"]:
        if transform is None:
            arcs.append([(float(p[0]), float(p[1])) for p in arc])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        x = y = 0
        points: list[Point] = []
        for dx, dy, *_ in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def simplify_arcs(arcs: Sequence[list[Point]], tolerance: float) -> list[list[Point]]:
    """Each arc simplified on its own; its two ends (where arcs meet) never move."""
    out: list[list[Point]] = []
    for arc in arcs:
        if len(arc) < 3 or tolerance <= 0:
            out.append(list(arc))
            continue
        line = shapely.simplify(shapely.LineString(arc), tolerance, preserve_topology=False)
        out.append([(float(x), float(y)) for x, y in shapely.get_coordinates(line)])
    return out


def ring(indices: Sequence[int], arcs: Sequence[list[Point]]) -> list[Point]:
    """A ring from arc indices; ``~i`` (negative) is arc i reversed. Shared ends appear once."""
    points: list[Point] = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def geometry(obj: dict[str, Any], arcs: Sequence[list[Point]]) -> shapely.Geometry:
    polygons = [obj["arcs"]] if obj["type"] == "Polygon" else obj["arcs"]
    parts = []
    for rings in polygons:
        shell, *holes = (ring(r, arcs) for r in rings)
        if len(shell) >= 4:
            parts.append(shapely.Polygon(shell, [h for h in holes if len(h) >= 4]))
    geom: shapely.Geometry = shapely.MultiPolygon(parts) if len(parts) > 1 else parts[0]
    if not shapely.is_valid(geom):
        geom = shapely.make_valid(geom)
    return shapely.set_precision(geom, PRECISION_DEG)


def _base(geom: shapely.Geometry) -> BaseGeometry:
    # Standalone script: the same narrowing as geo.geometry.base_geometry, without importing geo.
    if not isinstance(geom, BaseGeometry):
        raise TypeError(f"not a shapely geometry: {type(geom).__name__}")
    return geom


def main(topojson: str) -> None:
    topology = json.loads(Path(topojson).read_text(encoding="utf-8"))
    arcs = simplify_arcs(decode_arcs(topology), TOLERANCE_DEG)
    by_id = {g.get("id"): g for g in topology["objects"]["countries"]["geometries"]}
    features: list[dict[str, Any]] = []
    for iso3, numeric in ISO3.items():
        obj = by_id[numeric]
        features.append(
            {
                "type": "Feature",
                "properties": {"iso_a3": iso3, "name": obj["properties"]["name"]},
                "geometry": mapping(_base(geometry(obj, arcs))),
            }
        )
    doc = {
        "type": "FeatureCollection",
        "source": (
            "Natural Earth 1:10m admin-0 countries (public domain), TopoJSON of the npm package "
            f"world-atlas 2.0.2 (ISC); arcs simplified to {TOLERANCE_DEG}°"
        ),
        "features": features,
    }
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(features)} countries, {OUT.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main(sys.argv[1])
