"""One-off build script: extract Mali and neighbour outlines from Natural Earth into GeoJSON.

Not imported at run time. It was run once to produce ``mali_region_outlines.geojson``; rerun it only
to refresh the data (see SOURCES.md)::

    pip download geopandas==0.14.4 --no-deps -d /tmp/gpd
    unzip -q /tmp/gpd/geopandas-0.14.4-py3-none-any.whl -d /tmp/gpd/x
    python geo/data/build_outlines.py \
        /tmp/gpd/x/geopandas/datasets/naturalearth_lowres/naturalearth_lowres.shp

The shapefile is read with the standard library (polygon shapes and dBase attributes only), so the
build needs no GIS package beyond shapely.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

ISO3 = ("MLI", "MRT", "DZA", "NER", "BFA", "SEN", "GIN", "CIV")
OUT = Path(__file__).with_name("mali_region_outlines.geojson")


def read_dbf(path: Path) -> list[dict[str, str]]:
    cpg = path.with_suffix(".cpg")
    encoding = cpg.read_text().strip() if cpg.exists() else "utf-8"
    data = path.read_bytes()
    n_records, header_len, record_len = struct.unpack("<xxxxIHH", data[:12])
    fields: list[tuple[str, int]] = []
    pos = 32
    while data[pos] != 0x0D:
        name = data[pos : pos + 11].split(b"\x00")[0].decode("ascii")
        fields.append((name, data[pos + 16]))
        pos += 32
    rows = []
    for i in range(n_records):
        rec = data[header_len + i * record_len : header_len + (i + 1) * record_len]
        off = 1  # deletion flag
        row = {}
        for name, length in fields:
            row[name] = rec[off : off + length].decode(encoding).strip()
            off += length
        rows.append(row)
    return rows


def read_polygons(path: Path) -> list[shapely.Geometry]:
    data = path.read_bytes()
    pos = 100
    geoms: list[shapely.Geometry] = []
    while pos < len(data):
        _num, length = struct.unpack(">ii", data[pos : pos + 8])
        content = data[pos + 8 : pos + 8 + 2 * length]
        pos += 8 + 2 * length
        shape_type = struct.unpack("<i", content[:4])[0]
        if shape_type != 5:
            geoms.append(shapely.Polygon())
            continue
        n_parts, n_points = struct.unpack("<ii", content[36:44])
        parts = list(struct.unpack(f"<{n_parts}i", content[44 : 44 + 4 * n_parts]))
        base = 44 + 4 * n_parts
        coords = struct.unpack(f"<{2 * n_points}d", content[base : base + 16 * n_points])
        pts = list(zip(coords[0::2], coords[1::2], strict=True))
        rings = [pts[a:b] for a, b in zip(parts, [*parts[1:], n_points], strict=True)]
        # Shapefile outer rings are clockwise, holes counter-clockwise.
        polys: list[list[Any]] = []
        for ring in rings:
            if shapely.LinearRing(ring).is_ccw and polys:
                polys[-1].append(ring)
            else:
                polys.append([ring])
        geoms.append(
            shapely.MultiPolygon([shapely.Polygon(p[0], p[1:]) for p in polys])
            if len(polys) > 1
            else shapely.Polygon(polys[0][0], polys[0][1:])
        )
    return geoms


def _base(geom: shapely.Geometry) -> BaseGeometry:
    # Standalone script: the same narrowing as geo.geometry.base_geometry, without importing geo.
    if not isinstance(geom, BaseGeometry):
        raise TypeError(f"not a shapely geometry: {type(geom).__name__}")
    return geom


def main(shp: str) -> None:
    shp_path = Path(shp)
    rows = read_dbf(shp_path.with_suffix(".dbf"))
    geoms = read_polygons(shp_path)
    features: list[dict[str, Any]] = []
    for row, geom in zip(rows, geoms, strict=True):
        if row["iso_a3"] in ISO3:
            geom = shapely.set_precision(geom, 1e-6)
            features.append(
                {
                    "type": "Feature",
                    "properties": {"iso_a3": row["iso_a3"], "name": row["name"]},
                    "geometry": mapping(_base(geom)),
                }
            )
    features.sort(key=lambda f: ISO3.index(f["properties"]["iso_a3"]))
    doc = {
        "type": "FeatureCollection",
        "source": "Natural Earth 1:110m admin-0 countries (public domain), via geopandas 0.14.4",
        "features": features,
    }
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(features)} countries)")


if __name__ == "__main__":
    main(sys.argv[1])
