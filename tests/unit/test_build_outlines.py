"""The TopoJSON reader of geo/data/build_outlines.py (how the packaged outlines were made)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import shapely

SCRIPT = Path(__file__).resolve().parents[2] / "geo" / "data" / "build_outlines.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_outlines", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Two unit squares side by side, west (0..1) and east (1..2), sharing the arc x = 1, quantised
# on a 0.5° grid from (10, 20) and delta-encoded as TopoJSON writes them.
two_squares: dict[str, Any] = {
    "type": "Topology",
    "transform": {"scale": [0.5, 0.5], "translate": [10.0, 20.0]},
    "arcs": [
        [[2, 0], [0, 1], [0, 1]],  # shared: (11, 20) -> (11, 20.5) -> (11, 21)
        [[2, 2], [-2, 0], [0, -2], [2, 0]],  # west: (11, 21) -> (10, 21) -> (10, 20) -> (11, 20)
        [[2, 0], [2, 0], [0, 2], [-2, 0]],  # east: (11, 20) -> (12, 20) -> (12, 21) -> (11, 21)
    ],
    "objects": {
        "countries": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Polygon", "id": "001", "arcs": [[0, 1]]},
                {"type": "MultiPolygon", "id": "002", "arcs": [[[2, -1]]]},
            ],
        }
    },
}


def test_arcs_are_delta_decoded_and_dequantised() -> None:
    arcs = _script().decode_arcs(two_squares)
    assert arcs[0] == [(11.0, 20.0), (11.0, 20.5), (11.0, 21.0)]
    assert arcs[1][0] == (11.0, 21.0)
    assert arcs[1][-1] == (11.0, 20.0)


def test_rings_follow_arcs_and_reversed_arcs_into_polygons_sharing_their_border() -> None:
    build = _script()
    arcs = build.decode_arcs(two_squares)
    west, east = (
        build.geometry(g, arcs) for g in two_squares["objects"]["countries"]["geometries"]
    )
    assert west.equals(shapely.box(10, 20, 11, 21))
    assert east.equals(shapely.box(11, 20, 12, 21))
    shared = shapely.intersection(shapely.boundary(west), shapely.boundary(east))
    assert shapely.length(shared) == 1.0


def test_simplification_keeps_arc_ends() -> None:
    build = _script()
    wiggly = [[(0.0, 0.0), (0.5, 0.0001), (1.0, 0.0), (2.0, 0.0)]]
    simple = build.simplify_arcs(wiggly, 0.001)
    assert simple == [[(0.0, 0.0), (2.0, 0.0)]]
