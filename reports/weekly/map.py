"""The report's map as SVG, drawn from the service's own zones and incidents (no tiles, no
network): the country outline, the régions, the zones coloured by level, towns and the
period's incidents seen in full as symbols by UN category. Masked entries are never drawn."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

import shapely

from reports.categories import UN_CATEGORIES, label

LEVEL_COLOURS = {
    None: "#e6e6e6",
    1: "#d9efd3",
    2: "#fff3b0",
    3: "#fdc77a",
    4: "#f0804f",
    5: "#c7372f",
}
CATEGORY_COLOURS = {
    "armed_conflict": "#7a0019",
    "terrorism": "#000000",
    "crime": "#1f4e9c",
    "civil_unrest": "#6a3d9a",
    "hazards": "#1b7837",
    "access": "#b35806",
}
# Simplification of outlines, in degrees (about 2 km): keeps the PDF small.
TOLERANCE = 0.02


@dataclass(frozen=True, slots=True)
class MapZone:
    geometry: shapely.Geometry
    level: int | None


@dataclass(frozen=True, slots=True)
class MapTown:
    name: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class MapPoint:
    lon: float
    lat: float
    un_category: str


class Projection:
    """Longitude and latitude to SVG pixels (equirectangular at the area's mid-latitude)."""

    def __init__(self, bounds: Sequence[float], width: float, margin: float = 8.0) -> None:
        min_lon, min_lat, max_lon, max_lat = bounds
        self.kx = math.cos(math.radians((min_lat + max_lat) / 2))
        span_x = max((max_lon - min_lon) * self.kx, 1e-6)
        span_y = max(max_lat - min_lat, 1e-6)
        self.scale = (width - 2 * margin) / span_x
        self.width = width
        self.height = span_y * self.scale + 2 * margin
        self.min_lon, self.max_lat, self.margin = min_lon, max_lat, margin

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        x = self.margin + (lon - self.min_lon) * self.kx * self.scale
        y = self.margin + (self.max_lat - lat) * self.scale
        return x, y


def _rings(geom: shapely.Geometry) -> Iterable[Sequence[tuple[float, float]]]:
    for poly in getattr(geom, "geoms", [geom]):
        if poly.geom_type == "Polygon":
            yield list(poly.exterior.coords)
            for hole in poly.interiors:
                yield list(hole.coords)
        elif poly.geom_type in ("MultiPolygon", "GeometryCollection"):
            yield from _rings(poly)


def path_data(geom: shapely.Geometry, proj: Projection) -> str:
    simple = shapely.simplify(geom, TOLERANCE, preserve_topology=True)
    parts = []
    for ring in _rings(simple):
        points = [proj.xy(x, y) for x, y in ring]
        if len(points) < 3:
            continue
        parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points) + "Z")
    return "".join(parts)


def symbol(code: str, x: float, y: float, r: float = 3.2) -> str:
    colour = CATEGORY_COLOURS.get(code, "#333")
    style = f'fill="{colour}" stroke="#fff" stroke-width="0.6"'
    if code == "terrorism":  # triangle
        return (
            f'<path d="M{x:.1f},{y - r:.1f}L{x + r:.1f},{y + r:.1f}L{x - r:.1f},{y + r:.1f}Z" '
            f"{style}/>"
        )
    if code == "crime":  # square
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" {style}/>'
    if code == "civil_unrest":  # diamond
        return (
            f'<path d="M{x:.1f},{y - r:.1f}L{x + r:.1f},{y:.1f}L{x:.1f},{y + r:.1f}'
            f'L{x - r:.1f},{y:.1f}Z" {style}/>'
        )
    if code == "access":  # bar (a road block)
        return f'<rect x="{x - r:.1f}" y="{y - r / 2:.1f}" width="{2 * r:.1f}" height="{r:.1f}" {style}/>'
    if code == "hazards":  # inverted triangle
        return (
            f'<path d="M{x - r:.1f},{y - r:.1f}L{x + r:.1f},{y - r:.1f}L{x:.1f},{y + r:.1f}Z" '
            f"{style}/>"
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" {style}/>'


def render_map(
    *,
    outline: shapely.Geometry,
    regions: Sequence[shapely.Geometry],
    zones: Sequence[MapZone],
    towns: Sequence[MapTown],
    points: Sequence[MapPoint],
    lang: str,
    width: float = 520.0,
    title: str = "",
) -> str:
    """The map as one <svg> element (inline in the HTML, vector in the PDF)."""
    proj = Projection(shapely.bounds(outline).tolist(), width)
    height = proj.height
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="map" viewBox="0 0 {width:.0f} '
        f'{height:.0f}" width="{width:.0f}" height="{height:.0f}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#f4f8fb"/>',
        f'<path d="{path_data(outline, proj)}" fill="#ffffff" stroke="none"/>',
    ]
    for zone in zones:
        colour = LEVEL_COLOURS.get(zone.level, LEVEL_COLOURS[None])
        out.append(
            f'<path d="{path_data(zone.geometry, proj)}" fill="{colour}" stroke="#9a9a9a" '
            'stroke-width="0.4" fill-rule="evenodd"/>'
        )
    for region in regions:
        out.append(
            f'<path d="{path_data(region, proj)}" fill="none" stroke="#555" stroke-width="0.9"/>'
        )
    out.append(
        f'<path d="{path_data(outline, proj)}" fill="none" stroke="#111" stroke-width="1.6"/>'
    )
    for p in points:
        x, y = proj.xy(p.lon, p.lat)
        out.append(symbol(p.un_category, x, y))
    for town in towns:
        x, y = proj.xy(town.lon, town.lat)
        name = escape(town.name)
        # A white halo under the name, then the name (paint-order is not read everywhere).
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.8" fill="#111"/>'
            f'<text x="{x + 3:.1f}" y="{y - 2:.1f}" font-size="8" fill="#fff" stroke="#fff" '
            f'stroke-width="2">{name}</text>'
            f'<text x="{x + 3:.1f}" y="{y - 2:.1f}" font-size="8" fill="#111">{name}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def legend(lang: str, levels: Iterable[int | None] = (1, 2, 3, 4, 5)) -> list[tuple[str, str]]:
    """(svg of the symbol, label) for each UN category."""
    return [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" viewBox="0 0 10 10">'
            f"{symbol(code, 5, 5, 4)}</svg>",
            label(code, lang),
        )
        for code in UN_CATEGORIES
    ]


__all__ = ["LEVEL_COLOURS", "MapPoint", "MapTown", "MapZone", "legend", "render_map"]
