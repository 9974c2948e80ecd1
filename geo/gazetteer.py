"""Gazetteer of Mali localities (packaged GeoNames extract) with typo-tolerant name lookup."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

__all__ = [
    "IMPORTED_PLACES_FILE",
    "PLACE_COLUMNS",
    "Gazetteer",
    "Locality",
    "PlaceFileError",
    "PlaceRecord",
    "UnknownPlaceError",
    "normalize_name",
    "parse_place_file",
    "place_rows",
    "read_places",
    "write_places",
]

EARTH_RADIUS_KM = 6371.0088
# Below this similarity (0-100) a name is not taken as a typo of a known place.
LOOKUP_CUTOFF = 84.0
# Names this short only match exactly: "Ber" vs "Bla" is too close to call.
MIN_FUZZY_LENGTH = 5
# Packaged village names shorter than this are not looked up at all ("Tin", "Dah").
MIN_VILLAGE_LENGTH = 4
# Packaged village names that are mostly ordinary words in messages (French words, peoples'
# names): never read as a village ("balle perdue", "site", "les Bambara"). Towns and imported
# places of those names are still found.
_VILLAGE_STOPWORDS = frozenset(
    {
        "balle",
        "site",
        "jour",
        "camp",
        "poste",
        "gare",
        "marche",
        "route",
        "centre",
        "ville",
        "village",
        "foire",
        "bambara",
        "songhai",
        "sonrai",
        "bella",
        "mossi",
        "peul",
        "peulh",
        "peuls",
        "dogon",
        "bozo",
        "arabe",
        "touareg",
        "maure",
        "maures",
        "bandit",
        "bandits",
    }
)
# Words that are place names but mostly appear in messages as ordinary French words.
_AMBIGUOUS_WORDS = frozenset({"bla", "san", "ber", "koro", "sibi", "bamba", "kati", "fana"})


@dataclass(frozen=True)
class Locality:
    name: str
    lat: float
    lon: float
    admin1: str | None
    population: int | None
    # Where the entry comes from: "geonames:<id>", "curated: <reference>", "cod:<pcode>".
    source: str = field(default="", compare=False)
    kind: str = field(default="populated_place", compare=False)


@dataclass(frozen=True)
class PlaceRecord:
    """One gazetteer entry: the locality and the other names it is known by."""

    locality: Locality
    alternate_names: tuple[str, ...] = ()


class PlaceFileError(ValueError):
    """A gazetteer file that cannot be read; ``where`` names the line (or the file)."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


class UnknownPlaceError(ValueError):
    """A place name the gazetteer does not know; ``suggestions`` lists the closest names."""

    def __init__(self, name: str, suggestions: Sequence[str], field: str = "place") -> None:
        self.name = name
        self.suggestions = list(suggestions)
        self.field = field
        hint = (
            f"did you mean {', '.join(self.suggestions)}?"
            if self.suggestions
            else "give coordinates instead (e.g. 14.54, -9.19)"
        )
        super().__init__(f"{field}: unknown place {name!r}; {hint}")


def normalize_name(text: str) -> str:
    """Lower case, no accents, punctuation and hyphens as spaces, single spaces.

    >>> normalize_name("  Nioro-du-Sahel ")
    'nioro du sahel'
    >>> normalize_name("Ménaka")
    'menaka'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w]+|_", " ", stripped.casefold()).split())


class Gazetteer:
    """Name → locality lookups over the packaged Mali localities."""

    def __init__(
        self, *tiers: Sequence[tuple[Locality, Sequence[str]]], fallback_tiers: int = 0
    ) -> None:
        """Entries in tiers (packaged towns, imported, packaged villages): a name of an earlier
        tier wins. The last `fallback_tiers` tiers stay last when places are imported."""
        self._tiers = [list(t) for t in tiers]
        self._fallback_tiers = fallback_tiers
        self._flat = [entry for tier in self._tiers for entry in tier]
        self.localities: list[Locality] = [loc for tier in tiers for loc, _ in tier]
        # Towns and imported places: what a map labels (the packaged villages are only names
        # to read in a report, never drawn: fifteen thousand points would weigh on a phone).
        self.towns: list[Locality] = [
            loc for tier in self._tiers[: len(self._tiers) - fallback_tiers] for loc, _ in tier
        ]
        self._index: dict[str, Locality] = {}
        # Names of the fallback (village) tiers: matched exactly only, never as a typo, and
        # only when long enough not to be a fragment of another name ("Tin" of "Tin-Hama").
        self._village_keys: set[str] = set()
        first_fallback = len(self._tiers) - fallback_tiers
        for number, tier in enumerate(self._tiers):
            village = number >= first_fallback
            # Main names win over alternate names; larger places win ties (entries sorted).
            names = [(loc, [loc.name]) for loc, _ in tier] + [(loc, alts) for loc, alts in tier]
            for loc, spellings in names:
                for spelling in spellings:
                    key = normalize_name(spelling)
                    if not key or key in self._index:
                        continue
                    if village:
                        if len(key) < MIN_VILLAGE_LENGTH or key in _VILLAGE_STOPWORDS:
                            continue
                        self._village_keys.add(key)
                    self._index[key] = loc
        # Keys a typo may stand for: towns and imported places, not the packaged villages.
        self._keys = [k for k in self._index if k not in self._village_keys]
        self._coords: npt.NDArray[np.float64] | None = None
        self._max_words = max((k.count(" ") + 1 for k in self._index), default=1)

    @classmethod
    def load(cls, places_file: Path | None = None) -> Gazetteer:
        """The packaged gazetteer (parsed once per process), with the places imported into
        `places_file` (``sentinelle places import``) when it exists.

        Packaged names win over imported ones; among imported places, seats of government
        (capital, region, cercle, commune) win over villages of the same name.
        """
        packaged = _load_packaged()
        if places_file is None or not places_file.is_file():
            return packaged
        with places_file.open("r", encoding="utf-8", newline="") as fh:
            imported = list(read_places(fh))
        return packaged.extended(imported)

    def extended(self, records: Iterable[PlaceRecord]) -> Gazetteer:
        """This gazetteer and `records` after it (its own names win)."""
        extra = sorted(
            ((r.locality, r.alternate_names) for r in records),
            key=lambda e: (_KIND_RANK.get(e[0].kind, len(_KIND_RANK)), -(e[0].population or 0)),
        )
        # Imported places come before the packaged villages: a deployment's own list (the OCHA
        # COD seats) names a place before GeoNames' or OSM's village of the same name.
        split = len(self._tiers) - self._fallback_tiers
        return Gazetteer(
            *self._tiers[:split],
            extra,
            *self._tiers[split:],
            fallback_tiers=self._fallback_tiers,
        )

    def __len__(self) -> int:
        return len(self.localities)

    def lookup(self, name: str) -> Locality | None:
        """The locality for a name, tolerant to accents, case, punctuation and small typos."""
        key = normalize_name(name)
        if not key:
            return None
        exact = self._index.get(key)
        if exact is not None or len(key) < MIN_FUZZY_LENGTH:
            return exact
        match = process.extractOne(key, self._keys, scorer=fuzz.ratio, score_cutoff=LOOKUP_CUTOFF)
        return self._index[match[0]] if match else None

    def resolve(self, name: str, *, field: str = "place") -> Locality:
        """Like :meth:`lookup` but raises UnknownPlaceError with suggestions."""
        found = self.lookup(name)
        if found is None:
            raise UnknownPlaceError(name, [s.name for s in self.suggest(name)], field)
        return found

    def suggest(self, name: str, limit: int = 5) -> list[Locality]:
        """Closest known localities, best first, without duplicates."""
        key = normalize_name(name)
        if not key:
            return []
        matches = process.extract(
            key, self._keys, scorer=fuzz.WRatio, limit=limit * 4, score_cutoff=50
        )
        out: list[Locality] = []
        for match_key, _score, _ in matches:
            loc = self._index[match_key]
            if loc not in out:
                out.append(loc)
            if len(out) == limit:
                break
        return out

    def nearby(self, lat: float, lon: float, radius_km: float) -> list[PlaceRecord]:
        """Entries within `radius_km` of a point (great-circle distance), nearest first."""
        if self._coords is None:
            self._coords = np.radians(
                np.array([(loc.lat, loc.lon) for loc in self.localities], dtype=np.float64)
            ).reshape(-1, 2)
        phi, lam = np.radians(lat), np.radians(lon)
        lats, lons = self._coords[:, 0], self._coords[:, 1]
        hav = (
            np.sin((lats - phi) / 2) ** 2
            + np.cos(phi) * np.cos(lats) * np.sin((lons - lam) / 2) ** 2
        )
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))
        near = np.flatnonzero(km <= radius_km)
        near = near[np.argsort(km[near], kind="stable")]
        entries = self._flat
        return [PlaceRecord(entries[i][0], tuple(entries[i][1])) for i in near.tolist()]

    def search_in_text(self, words: Sequence[str]) -> Locality | None:
        """First place named among message tokens; longer names ("Nioro du Sahel") win.

        Exact (normalised) matches are tried before typo-tolerant ones; common words that are
        also village names ("san", "bla") only count when nothing better is found.
        """
        tokens = [t for w in words for t in normalize_name(w).split()]
        fallback: Locality | None = None
        village: Locality | None = None
        for size in range(min(self._max_words, len(tokens)), 0, -1):
            for start in range(len(tokens) - size + 1):
                key = " ".join(tokens[start : start + size])
                loc = self._index.get(key)
                if loc is None:
                    continue
                if size == 1 and key in _AMBIGUOUS_WORDS:
                    fallback = fallback or loc
                    continue
                if key in self._village_keys:
                    # A town or imported place named anywhere in the message wins.
                    village = village or loc
                    continue
                return loc
        for size in range(min(2, len(tokens)), 0, -1):
            for start in range(len(tokens) - size + 1):
                key = " ".join(tokens[start : start + size])
                if len(key) < MIN_FUZZY_LENGTH + 1:
                    continue
                match = process.extractOne(key, self._keys, scorer=fuzz.ratio, score_cutoff=88)
                if match:
                    return self._index[match[0]]
        return fallback or village


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip() else None


# The packaged files (geo/data, see SOURCES.md): towns (GeoNames cities500 and curated rows),
# then villages (GeoNames' other populated places, then OpenStreetMap's), a name of the towns'
# file winning over a village of the same name.
PACKAGED_TOWNS = "mali_localities.csv"
PACKAGED_VILLAGES = ("mali_villages.csv", "mali_villages_osm.csv")


def _packaged_entries(name: str) -> list[tuple[Locality, tuple[str, ...]]]:
    source = resources.files("geo") / "data" / name
    with source.open("r", encoding="utf-8") as fh:
        return [(r.locality, r.alternate_names) for r in read_places(fh)]


@cache
def _load_packaged() -> Gazetteer:
    towns = _packaged_entries(PACKAGED_TOWNS)
    towns.sort(key=lambda e: -(e[0].population or 0))
    villages = [e for name in PACKAGED_VILLAGES for e in _packaged_entries(name)]
    villages.sort(
        key=lambda e: (_KIND_RANK.get(e[0].kind, len(_KIND_RANK)), -(e[0].population or 0))
    )
    return Gazetteer(towns, villages, fallback_tiers=1)


# --- gazetteer files -----------------------------------------------------------------------------

# Places imported with `sentinelle places import` live in this file of the data directory
# (SENTINELLE_VAR_DIR), read at start-up after the packaged gazetteer.
IMPORTED_PLACES_FILE = "places.csv"
# The columns of geo/data/mali_localities.csv, also those of the imported places file.
PLACE_COLUMNS = (
    "name",
    "ascii_name",
    "alternate_names",
    "lat",
    "lon",
    "admin1",
    "population",
    "kind",
    "source",
)
# Seats first: a commune seat and a village of the same name are usually told apart that way.
PLACE_KINDS = (
    "national_capital",
    "region_capital",
    "cercle_capital",
    "commune_seat",
    "populated_place",
)
_KIND_RANK = {k: i for i, k in enumerate(PLACE_KINDS)}
# OCHA COD populated places: popPlaceCl -> kind.
_COD_KINDS = {"1": PLACE_KINDS[0], "2": PLACE_KINDS[1], "3": PLACE_KINDS[2], "4": PLACE_KINDS[3]}
_COD_COLUMNS = {"featureNam", "latitude", "longitude"}
_GEONAMES_FIELDS = 19


def read_places(lines: Iterable[str]) -> Iterator[PlaceRecord]:
    """Entries of a file in PLACE_COLUMNS format (the packaged CSV, the imported places)."""
    for row in csv.DictReader(lines):
        loc = Locality(
            name=row["name"],
            lat=float(row["lat"]),
            lon=float(row["lon"]),
            admin1=row["admin1"] or None,
            population=_int_or_none(row["population"]),
            source=row.get("source") or "",
            kind=row.get("kind") or "populated_place",
        )
        alternates = [a for a in (row.get("alternate_names") or "").split("|") if a]
        yield PlaceRecord(loc, tuple(dict.fromkeys([row["ascii_name"], *alternates])))


def place_rows(records: Iterable[PlaceRecord]) -> Iterator[dict[str, str]]:
    """Records as PLACE_COLUMNS rows (what read_places reads back)."""
    for r in records:
        loc = r.locality
        yield {
            "name": loc.name,
            "ascii_name": _ascii(loc.name),
            "alternate_names": "|".join(a for a in r.alternate_names if a != loc.name),
            "lat": f"{loc.lat:.5f}",
            "lon": f"{loc.lon:.5f}",
            "admin1": loc.admin1 or "",
            "population": "" if loc.population is None else str(loc.population),
            "kind": loc.kind,
            "source": loc.source,
        }


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")


def parse_place_file(
    fh: IO[str], *, country: str = "ML", progress: Callable[[int], None] | None = None
) -> tuple[str, list[PlaceRecord], int]:
    """(format, places, rows skipped) of a gazetteer file, whole or not at all.

    Formats: the OCHA COD populated places CSV (``featureNam``, ``popPlaceCl``, ``latitude``,
    ``longitude``...), GeoNames' tab-separated dump (``ML.txt``, ``allCountries.txt``,
    ``cities500.txt``: populated places, feature class P, of `country`), and this project's own
    CSV (PLACE_COLUMNS). Raises PlaceFileError naming the line of the first bad row.
    """
    head = fh.readline()
    if not head.strip():
        raise PlaceFileError("line 1", "the file is empty: nothing was imported")
    rest = _chained(head, fh)
    if head.count("\t") >= _GEONAMES_FIELDS - 2:
        return "geonames", *_geonames(rest, country.upper(), progress)
    header = next(csv.reader([head]))
    if {h.strip() for h in header} >= _COD_COLUMNS:
        return "cod", *_cod(rest, progress)
    if set(PLACE_COLUMNS[:6]) <= {h.strip() for h in header}:
        return "sentinelle", *_own(rest, progress)
    raise PlaceFileError(
        "line 1",
        "not a gazetteer this command reads: give the OCHA COD populated places CSV "
        "(columns featureNam, latitude, longitude) or a GeoNames tab-separated dump (ML.txt)",
    )


def _chained(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def _coordinates(lat_text: str, lon_text: str, where: str) -> tuple[float, float]:
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise PlaceFileError(
            where, f"latitude/longitude {lat_text!r}, {lon_text!r} are not numbers"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise PlaceFileError(where, f"latitude/longitude {lat}, {lon} are out of range")
    return lat, lon


def _tick(progress: Callable[[int], None] | None, n: int) -> None:
    if progress is not None and n % 1000 == 0:
        progress(1000)


def _cod(
    lines: Iterable[str], progress: Callable[[int], None] | None
) -> tuple[list[PlaceRecord], int]:
    out: list[PlaceRecord] = []
    skipped = 0
    for n, row in enumerate(csv.DictReader(lines), start=1):
        _tick(progress, n)
        where = f"line {n + 1}"
        name = _value(row.get("featureNam"))
        if not name:
            skipped += 1
            continue
        lat, lon = _coordinates(row.get("latitude") or "", row.get("longitude") or "", where)
        pcode = _value(row.get("pcode"))
        alternates = [
            a for a in (_value(row.get(k)) for k in ("featureRef", "featureAlt", "featureA_1")) if a
        ]
        loc = Locality(
            name=name,
            lat=lat,
            lon=lon,
            admin1=_value(row.get("admin1Name")),
            population=None,
            source=f"cod:{pcode}" if pcode else "cod",
            kind=_COD_KINDS.get((row.get("popPlaceCl") or "").strip(), "populated_place"),
        )
        out.append(PlaceRecord(loc, tuple(dict.fromkeys(a for a in alternates if a != name))))
    return out, skipped


def _value(text: str | None) -> str | None:
    """A field's text, None for empty and the "NA" OCHA files use for a missing value."""
    if text is None:
        return None
    text = text.strip()
    return None if text in ("", "NA") else text


def _geonames(
    lines: Iterable[str], country: str, progress: Callable[[int], None] | None
) -> tuple[list[PlaceRecord], int]:
    out: list[PlaceRecord] = []
    skipped = 0
    for n, line in enumerate(lines, start=1):
        _tick(progress, n)
        if not line.strip():
            continue
        cols = line.rstrip("\n").split("\t")
        where = f"line {n}"
        if len(cols) < _GEONAMES_FIELDS:
            raise PlaceFileError(
                where, f"{len(cols)} tab-separated fields, GeoNames has {_GEONAMES_FIELDS}"
            )
        if cols[6] != "P" or cols[8].upper() != country:
            skipped += 1
            continue
        lat, lon = _coordinates(cols[4], cols[5], where)
        alternates = [a for a in cols[3].split(",") if a and a != cols[1]]
        loc = Locality(
            name=cols[1],
            lat=lat,
            lon=lon,
            admin1=None,
            population=int(cols[14]) if cols[14].strip().isdigit() and int(cols[14]) else None,
            source=f"geonames:{cols[0]}",
            kind=_GEONAMES_KINDS.get(cols[7], "populated_place"),
        )
        out.append(PlaceRecord(loc, tuple(dict.fromkeys([cols[2], *alternates]))))
    return out, skipped


# GeoNames feature codes of seats of government.
_GEONAMES_KINDS = {
    "PPLC": PLACE_KINDS[0],
    "PPLA": PLACE_KINDS[1],
    "PPLA2": PLACE_KINDS[2],
    "PPLA3": PLACE_KINDS[3],
}


def _own(
    lines: Iterable[str], progress: Callable[[int], None] | None
) -> tuple[list[PlaceRecord], int]:
    out: list[PlaceRecord] = []
    reader = read_places(lines)
    n = 1
    while True:
        n += 1
        try:
            record = next(reader)
        except StopIteration:
            return out, 0
        except (KeyError, ValueError) as exc:
            raise PlaceFileError(f"line {n}", f"not a valid row ({exc})") from None
        _tick(progress, n)
        _coordinates(str(record.locality.lat), str(record.locality.lon), f"line {n}")
        out.append(record)


def write_places(records: Iterable[PlaceRecord]) -> str:
    """The PLACE_COLUMNS CSV text of `records`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(PLACE_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(place_rows(records))
    return buffer.getvalue()
