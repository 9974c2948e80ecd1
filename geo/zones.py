"""Zones (areas people subscribe to, risk is scored on): Mali defaults and GeoJSON import."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import shapely

from geo.gazetteer import Gazetteer
from geo.geometry import GeometryError, parse_geojson_geometry, repair_polygon
from geo.measure import buffer_km

__all__ = [
    "ZONE_KINDS",
    "Zone",
    "default_zones",
    "detect_cod_fields",
    "mali_area",
    "mali_outline",
    "neighbour_outlines",
    "zones_from_geojson",
]

ZONE_KINDS = ("country", "admin1", "admin2", "border_belt", "town", "custom")

# iso_a3 -> (code suffix, French name, English name); belts exist for these neighbours.
BELT_NEIGHBOURS = {
    "MRT": ("mrt", "Mauritanie", "Mauritania"),
    "DZA": ("dza", "Algérie", "Algeria"),
    "NER": ("ner", "Niger", "Niger"),
    "BFA": ("bfa", "Burkina Faso", "Burkina Faso"),
}

# (code suffix, gazetteer name, French label, English label)
DEFAULT_TOWNS = (
    ("kidal", "Kidal", "Kidal", "Kidal"),
    ("menaka", "Ménaka", "Ménaka", "Menaka"),
    ("gao", "Gao", "Gao", "Gao"),
    ("tombouctou", "Tombouctou", "Tombouctou", "Timbuktu"),
    ("mopti", "Mopti", "Mopti", "Mopti"),
    ("bandiagara", "Bandiagara", "Bandiagara", "Bandiagara"),
    ("douentza", "Douentza", "Douentza", "Douentza"),
    ("segou", "Ségou", "Ségou", "Segou"),
    ("kayes", "Kayes", "Kayes", "Kayes"),
    ("diema", "Diéma", "Diéma", "Diema"),
    ("nioro", "Nioro du Sahel", "Nioro du Sahel", "Nioro du Sahel"),
    ("nara", "Nara", "Nara", "Nara"),
    ("tessalit", "Tessalit", "Tessalit", "Tessalit"),
    ("ansongo", "Ansongo", "Ansongo", "Ansongo"),
    ("bamako", "Bamako", "Bamako", "Bamako"),
)

NATURAL_EARTH = "Natural Earth 1:10m admin-0 (public domain)"
# The shared border is the part of Mali's outline within this distance (degrees) of the
# neighbour's polygon (the two outlines share their border vertices; this absorbs rounding).
_BORDER_SNAP_DEG = 1e-4
# Natural Earth 1:10m borders are generalised and quantised (~0.003°): towns on the border
# (Tinzaouatène, Kirané, Gogui) lie up to ~2 km outside Mali's outline. The country zone and the
# border belts reach this far beyond the outline, so that places on the border count in Mali.
BORDER_MARGIN_KM = 3.0


@dataclass
class Zone:
    id: str
    code: str
    name_fr: str
    name_en: str
    kind: str
    geometry: shapely.Geometry
    parent_code: str | None
    provenance: str
    approximate: bool
    version: int = 1


@cache
def _outlines() -> dict[str, shapely.Geometry]:
    source = resources.files("geo") / "data" / "mali_region_outlines.geojson"
    doc = json.loads(source.read_text(encoding="utf-8"))
    return {
        f["properties"]["iso_a3"]: shapely.from_geojson(json.dumps(f["geometry"]))
        for f in doc["features"]
    }


def mali_outline() -> shapely.Geometry:
    """Mali's outline (Natural Earth 1:10m; generalised by up to a few km at the borders)."""
    return _outlines()["MLI"]


@cache
def mali_area() -> shapely.Geometry:
    """Mali's outline widened by BORDER_MARGIN_KM: the area the default zones cover."""
    return _polygonal(buffer_km(mali_outline(), BORDER_MARGIN_KM, quad_segs=2))


def neighbour_outlines() -> dict[str, shapely.Geometry]:
    """Outlines of Mali's seven neighbours keyed by ISO 3166 alpha-3 code."""
    return {k: v for k, v in _outlines().items() if k != "MLI"}


def _shared_border(mali: shapely.Geometry, other: shapely.Geometry) -> shapely.Geometry:
    return shapely.intersection(shapely.boundary(mali), shapely.buffer(other, _BORDER_SNAP_DEG))


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    repaired, _ = repair_polygon(geom)
    return repaired


@cache
def _default_zones(
    town_radius_km: float, mauritania_belt_km: float, border_belt_km: float, tri_border_km: float
) -> tuple[Zone, ...]:
    mali = mali_outline()
    area = mali_area()
    neighbours = neighbour_outlines()
    margin = f"widened by {BORDER_MARGIN_KM:g} km at the borders (generalised outline)"
    zones = [
        Zone(
            id="mli",
            code="mli",
            name_fr="Mali",
            name_en="Mali",
            kind="country",
            geometry=area,
            parent_code=None,
            provenance=f"{NATURAL_EARTH}; {margin}",
            approximate=True,
        )
    ]
    for iso, (suffix, fr, en) in BELT_NEIGHBOURS.items():
        width = mauritania_belt_km if iso == "MRT" else border_belt_km
        border = _shared_border(mali, neighbours[iso])
        belt = _polygonal(shapely.intersection(buffer_km(border, width), area))
        zones.append(
            Zone(
                id=f"border_{suffix}",
                code=f"border_{suffix}",
                name_fr=f"Bande frontalière {fr} ({width:g} km)",
                name_en=f"{en} border belt ({width:g} km)",
                kind="border_belt",
                geometry=belt,
                parent_code="mli",
                provenance=(
                    f"part of Mali within {width:g} km of the {en} border; {NATURAL_EARTH}, "
                    f"{margin}"
                ),
                approximate=True,
            )
        )
    ner_border = _shared_border(mali, neighbours["NER"])
    bfa_border = _shared_border(mali, neighbours["BFA"])
    tripoint = shapely.centroid(shapely.shortest_line(ner_border, bfa_border))
    liptako = _polygonal(shapely.intersection(buffer_km(tripoint, tri_border_km), area))
    zones.append(
        Zone(
            id="liptako_gourma",
            code="liptako_gourma",
            name_fr=f"Liptako-Gourma (trois frontières, {tri_border_km:g} km)",
            name_en=f"Liptako-Gourma tri-border area ({tri_border_km:g} km)",
            kind="border_belt",
            geometry=liptako,
            parent_code="mli",
            provenance=(
                f"part of Mali within {tri_border_km:g} km of the Mali-Niger-Burkina Faso "
                f"tripoint ({tripoint.x:.3f}, {tripoint.y:.3f}); {NATURAL_EARTH}"
            ),
            approximate=True,
        )
    )
    gazetteer = Gazetteer.load()
    for suffix, place, fr, en in DEFAULT_TOWNS:
        loc = gazetteer.lookup(place)
        if loc is None:  # pragma: no cover - guarded by the gazetteer tests
            raise LookupError(f"default town {place!r} missing from the gazetteer")
        circle = buffer_km(shapely.Point(loc.lon, loc.lat), town_radius_km, quad_segs=32)
        zones.append(
            Zone(
                id=f"town_{suffix}",
                code=f"town_{suffix}",
                name_fr=f"{fr} ({town_radius_km:g} km)",
                name_en=f"{en} ({town_radius_km:g} km)",
                kind="town",
                geometry=circle,
                parent_code="mli",
                provenance=(
                    f"circle of {town_radius_km:g} km around {loc.name} "
                    f"({loc.lat:.4f}, {loc.lon:.4f}), GeoNames (CC BY 4.0)"
                ),
                approximate=True,
            )
        )
    return tuple(zones)


def default_zones(
    *,
    town_radius_km: float = 20.0,
    mauritania_belt_km: float = 175.0,
    border_belt_km: float = 100.0,
    tri_border_km: float = 150.0,
) -> list[Zone]:
    """Zones available before any official boundaries are imported (all ``approximate``).

    Codes: ``mli``; ``border_mrt``, ``border_dza``, ``border_ner``, ``border_bfa``;
    ``liptako_gourma``; ``town_<name>`` (e.g. ``town_kidal``, ``town_diema``).
    """
    for label, value in (
        ("town_radius_km", town_radius_km),
        ("mauritania_belt_km", mauritania_belt_km),
        ("border_belt_km", border_belt_km),
        ("tri_border_km", tri_border_km),
    ):
        if not value > 0:
            raise ValueError(f"{label}: must be a positive number of kilometres")
    built = _default_zones(
        float(town_radius_km),
        float(mauritania_belt_km),
        float(border_belt_km),
        float(tri_border_km),
    )
    return [dataclasses.replace(z) for z in built]


# --- OCHA COD-AB import ----------------------------------------------------------------------

_KIND_BY_LEVEL = {0: "country", 1: "admin1", 2: "admin2"}
_NAME_LANGS = ("FR", "EN", "PT", "ES", "AR")


def detect_cod_fields(properties: Mapping[str, Any]) -> tuple[str, str, str]:
    """(name_field, code_field, kind) for the deepest admin level in COD-AB properties.

    >>> detect_cod_fields({"ADM1_FR": "Kayes", "ADM1_PCODE": "ML01", "ADM0_FR": "Mali"})
    ('ADM1_FR', 'ADM1_PCODE', 'admin1')
    """
    keys = {k.upper(): k for k in properties}
    levels = sorted(
        {int(m.group(1)) for k in keys if (m := re.fullmatch(r"ADM(\d)_PCODE", k))}, reverse=True
    )
    for level in levels:
        for lang in _NAME_LANGS:
            name_key = f"ADM{level}_{lang}"
            if name_key in keys:
                return (
                    keys[name_key],
                    keys[f"ADM{level}_PCODE"],
                    _KIND_BY_LEVEL.get(level, "custom"),
                )
    raise GeometryError(
        "features[0].properties",
        "no OCHA COD-AB fields found (e.g. ADM2_FR and ADM2_PCODE): "
        "pass name_field and code_field explicitly",
    )


def _parent_field(code_field: str) -> str | None:
    m = re.fullmatch(r"ADM(\d)_PCODE", code_field.upper())
    if m and int(m.group(1)) > 0:
        return code_field[:3] + str(int(m.group(1)) - 1) + code_field[4:]
    return None


def _english_field(name_field: str) -> str | None:
    m = re.fullmatch(r"(ADM\d_)[A-Z]{2}", name_field.upper())
    return f"{name_field[:5]}EN" if m else None


def zones_from_geojson(
    fc: Mapping[str, Any],
    *,
    name_field: str | None = None,
    code_field: str | None = None,
    max_vertices: int = 1_000_000,
) -> tuple[list[Zone], list[str]]:
    """Zones from a GeoJSON FeatureCollection of (multi)polygons, e.g. OCHA COD-AB boundaries.

    Returns the zones and a repair report (one line per repaired feature). Invalid polygons are
    repaired; missing names or codes, duplicate codes and non-polygons raise GeometryError.
    """
    if not isinstance(fc, Mapping) or fc.get("type") != "FeatureCollection":
        raise GeometryError("type", "expected a GeoJSON FeatureCollection of polygons")
    features = fc.get("features")
    if not isinstance(features, list) or not features:
        raise GeometryError("features", "the FeatureCollection has no features")
    first_props = features[0].get("properties") if isinstance(features[0], Mapping) else None
    if not isinstance(first_props, Mapping):
        raise GeometryError("features[0].properties", "each feature needs properties")
    kind = "custom"
    if name_field is None or code_field is None:
        detected_name, detected_code, kind = detect_cod_fields(first_props)
        name_field = name_field or detected_name
        code_field = code_field or detected_code
    parent_field = _parent_field(code_field)
    en_field = _english_field(name_field)
    zones: list[Zone] = []
    report: list[str] = []
    seen: set[str] = set()
    for i, feature in enumerate(features):
        where = f"features[{i}]"
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            raise GeometryError(where, "expected a GeoJSON Feature")
        props = feature.get("properties") or {}
        name = props.get(name_field)
        raw_code = props.get(code_field)
        if not isinstance(name, str) or not name.strip():
            raise GeometryError(f"{where}.properties.{name_field}", "missing zone name")
        if not isinstance(raw_code, str | int) or not str(raw_code).strip():
            raise GeometryError(f"{where}.properties.{code_field}", "missing zone code")
        code = _zone_code(str(raw_code))
        if code in seen:
            raise GeometryError(
                f"{where}.properties.{code_field}", f"duplicate zone code {raw_code!r}"
            )
        seen.add(code)
        gtype = (feature.get("geometry") or {}).get("type")
        if gtype not in ("Polygon", "MultiPolygon"):
            raise GeometryError(
                f"{where}.geometry", f"zones must be Polygon or MultiPolygon, got {gtype}"
            )
        geom = _parse_lenient(feature["geometry"], f"{where}.geometry", max_vertices)
        geom, repairs = repair_polygon(geom, field=f"{where}.geometry")
        report.extend(f"{name} ({raw_code}): {line}" for line in repairs)
        parent = props.get(parent_field) if parent_field else None
        name_en = props.get(en_field) if en_field else None
        valid_on = props.get("validOn") or props.get("date")
        zones.append(
            Zone(
                id=code,
                code=code,
                name_fr=name.strip(),
                name_en=(name_en if isinstance(name_en, str) and name_en.strip() else name).strip(),
                kind=kind,
                geometry=geom,
                parent_code=_zone_code(str(parent)) if parent else None,
                provenance=(
                    f"imported from GeoJSON ({name_field}/{code_field} = {raw_code}"
                    + (f", valid on {valid_on}" if valid_on else "")
                    + ")"
                ),
                approximate=False,
            )
        )
    return zones, report


def _zone_code(raw: str) -> str:
    """Stable snake_case code from an external code (``ML0101`` -> ``ml0101``)."""
    return re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")


def _parse_lenient(obj: Any, field: str, max_vertices: int) -> shapely.Geometry:
    """Structure and range checks only: invalid rings are repaired afterwards, not rejected."""
    try:
        return parse_geojson_geometry(obj, field=field, max_vertices=max_vertices)
    except GeometryError as exc:
        if not exc.message.startswith("invalid polygon"):
            raise
        return shapely.from_geojson(json.dumps(obj))
