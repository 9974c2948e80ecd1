"""Where an SMS says something happened: a locality, a point on a road, or N km from a town.

Field SMS name places the way people speak of them: `a Gao`, `pres de Boni`, `axe Diema Nioro`,
`entre Sevare et Douentza`, `route de Nioro apres Diema`, `a 30 km de Gao vers Bourem`,
`a la sortie de Douentza`. This module finds the place names among the words left once the
type, counts, times and perpetrator are read, and turns the way they are combined into a point:

- one place: the place (precision "near" after `pres de`, `near`, `a N km de`...);
- two places on a road (`axe`, `route`, `entre … et`, `between`, `road`, `RN16`, `de A a B`):
  the midpoint of A and B, precision "near" — the road is known, not where on it;
- `N km de A` with B named too: the point N km from A on the straight line towards B
  (precision "near"); without B, or with a compass word, N km in that direction from A;
- `a la sortie de A`, `a l entree de A`: A itself (precision "near"), even when `vers B` follows.

Places come from the gazetteer the service is configured with: the packaged GeoNames list
(geo/data/mali_localities.csv) and the places a deployment imported (`sentinelle places import`,
e.g. the OCHA COD populated places of Mali). `SMS_SPELLINGS` only says which spellings name the
same place; it holds no coordinates.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from rapidfuzz import fuzz, process

from incidents.interop.rows import PlaceFinder

# Spellings field SMS use for places, by the name teams write (ours, no coordinates): the point
# always comes from the gazetteer the service runs with (the packaged GeoNames list, then the
# places a deployment imported with `sentinelle places import`, e.g. the OCHA COD populated
# places). A spelling is tried against the gazetteer with the others of its group, so "sevari"
# finds the gazetteer's "Sevare" and "Anefis" the COD's "Anefif". Names of places, not data.
SMS_SPELLINGS: dict[str, tuple[str, ...]] = {
    "Sévaré": ("sevare", "sevari"),
    "Diafarabé": ("diafarabe",),
    "Toguéré-Coumbé": ("toguere coumbe", "togere coumbe", "togueré-coumbé"),
    "Kendié": ("kendie",),
    "Diallassagou": ("dialassagou",),
    "Mondoro": ("mondoro habe",),
    "Boré": ("bore",),
    "Bambara Maoudé": ("bambara maoude", "bambara-maoude"),
    "Ouatagouna": ("ouattagouna", "watagouna"),
    "Labbezanga": ("labezanga",),
    "Talataye": ("talatay",),
    "Anéfis": ("anefis", "anefif"),
    "Tinzaouatène": ("tinzaouatene", "tin zaouatene", "tinzawaten", "tinzawatene"),
    "Sandaré": ("sandare",),
    "Kéniéba": ("kenieba", "keniéba"),
    "Didiéni": ("didieni",),
}


# Words before a place that make it near rather than at the place.
NEAR_WORDS = frozenset(
    [
        "pres",
        "proche",
        "environs",
        "alentours",
        "autour",
        "cote",
        "loin",
        "sortie",
        "entree",
        "abords",
        "near",
        "around",
        "outside",
        "nearby",
        "close",
        "vicinity",
    ]
)
# Words that put two places on one road.
ROAD_WORDS = frozenset(
    ["axe", "route", "routes", "troncon", "rn", "road", "highway", "between", "entre"]
)
# Words before a place naming an area around the incident, not its place ("cercle de Douentza").
ADMIN_WORDS = frozenset(["cercle", "region", "commune", "district", "province"])
# Words before a place saying where people came from, not where it happened.
ORIGIN_WORDS = frozenset(["venant", "provenance", "originaires", "fuyant", "from"])
_COMPASS = {
    "nord": 0.0,
    "north": 0.0,
    "sud": 180.0,
    "south": 180.0,
    "est": 90.0,
    "east": 90.0,
    "ouest": 270.0,
    "west": 270.0,
}
# Words joining two places of one road: "de Gao a Bourem", "Gao vers Ansongo", "Gao to Gossi".
_JOINS = frozenset(["vers", "direction", "towards", "to", "a", "et", "and"])
_EARTH_KM = 6371.0088
#: Two places further apart than this are not read as the ends of one stretch of road.
MAX_ROAD_KM = 600.0


@dataclass(frozen=True, slots=True)
class Named:
    """A place found in the message: `start`/`end` index the words it spans."""

    name: str
    lat: float
    lon: float
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Where:
    """The point read, its precision, a name for it and the places it was read from."""

    lat: float
    lon: float
    precision: str  # "locality" | "near"
    name: str
    places: tuple[Named, ...]
    road: tuple[str, str] | None = None
    km: float | None = None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join(
        "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
        .lower()
        .split()
    )


@cache
def _spelling_groups() -> dict[str, tuple[str, ...]]:
    """Every folded spelling -> its group (the name teams write first)."""
    index: dict[str, tuple[str, ...]] = {}
    for name, others in SMS_SPELLINGS.items():
        group = (name, *others)
        for spelling in group:
            index[_fold(spelling)] = group
    return index


def _spelt(key: str, finder: PlaceFinder) -> tuple[str, float, float] | None:
    """The gazetteer's place for a spelling of SMS_SPELLINGS (or a near typo of one)."""
    index = _spelling_groups()
    group = index.get(key)
    if group is None and len(key) >= 6:
        found = process.extractOne(key, list(index), scorer=fuzz.ratio, score_cutoff=88)
        group = index[found[0]] if found else None
    if group is None:
        return None
    for spelling in group:
        place = finder.lookup(spelling)
        if place is not None and _fold(place.name) in {_fold(s) for s in group}:
            return group[0], place.lat, place.lon
    return None


def locate(name: str, finder: PlaceFinder) -> tuple[float, float] | None:
    """The point of a place by one of its names: its group of spellings, else the gazetteer's
    own entry of that exact name (no typo tolerance). None when the gazetteer lacks it."""
    key = _fold(name)
    spelt = _spelt(key, finder) if key in _spelling_groups() else None
    if spelt is not None:
        return spelt[1], spelt[2]
    place = finder.lookup(name)
    if place is not None and _fold(place.name) == key:
        return place.lat, place.lon
    return None


def find_places(
    words: Sequence[str],
    usable: Sequence[bool],
    finder: PlaceFinder,
    is_common: Callable[[str], bool],
) -> list[Named]:
    """Places named among `words` (normalised tokens) where `usable` is True, left to right.

    Longer names win ("Nioro du Sahel" over "Nioro"); `is_common(word)` says a word is an
    ordinary word of the vocabulary, never read alone as a (misspelt) place name.
    """
    found: list[Named] = []
    i = 0
    n = len(words)
    while i < n:
        hit: Named | None = None
        for size in (3, 2, 1):
            if i + size > n or not all(usable[i : i + size]):
                continue
            key = " ".join(words[i : i + size])
            if size == 1 and (len(key) < 3 or key.isdigit() or is_common(key)):
                continue
            if size > 1 and (is_common(words[i]) or is_common(words[i + size - 1])):
                continue
            spelt = _spelt(key, finder)
            if spelt is not None:
                hit = Named(spelt[0], spelt[1], spelt[2], i, i + size)
                break
            place = finder.lookup(key)
            if place is not None and size > 1 and _fold(place.name) != key:
                # A near spelling of a longer name ("Kal Tessalit") does not swallow words
                # that are places as written ("Kidal Tessalit road": Kidal, then Tessalit).
                first = finder.lookup(words[i])
                if first is not None and _fold(first.name) == words[i]:
                    continue
            if place is not None and (size > 1 or len(key) >= 4 or _fold(place.name) == key):
                hit = Named(place.name, place.lat, place.lon, i, i + size)
                break
        if hit is not None:
            found.append(hit)
            i = hit.end
        else:
            i += 1
    return found


def read_where(words: Sequence[str], places: Sequence[Named]) -> Where | None:
    """The point the message means, from its places and the words around them."""
    if not places:
        return None
    distinct: list[Named] = []
    for place in places:
        if all(place.name != d.name for d in distinct):
            distinct.append(place)
    # "cercle de Douentza", "venant de Menaka": another place is the incident's, except on a
    # road ("from Mopti to Bandiagara").
    main = [p for p in distinct if not _before(words, p, ADMIN_WORDS, 3)] or distinct[:1]
    if not (len(main) > 1 and _on_road(words, main[0], main[1])):
        main = [p for p in main if not _before(words, p, ORIGIN_WORDS, 3)] or main[:1]
    first = main[0]
    near = any(_before(words, p, NEAR_WORDS, 3) for p in main[:1])
    km = _km_before(words, first)
    # "a la sortie de Douentza vers Boni": at the edge of the town, whatever follows.
    if _before(words, first, frozenset({"sortie", "entree", "outskirts"}), 3):
        return Where(first.lat, first.lon, "near", first.name, (first,))
    second = next((p for p in main[1:] if p.name != first.name), None)
    if second is not None and _on_road(words, first, second):
        length = distance_km(first.lat, first.lon, second.lat, second.lon)
        if length <= MAX_ROAD_KM:
            # "N km de A ... B" counts from the place N km is said of (A), towards the other.
            if km is None:
                km_second = _km_before(words, second)
                if km_second is not None:
                    first, second, km = second, first, km_second
            name = f"{first.name} - {second.name}"
            if km is not None and 0 < km < length:
                lat, lon = towards(first.lat, first.lon, second.lat, second.lon, km)
                return Where(
                    lat,
                    lon,
                    "near",
                    f"{km:g} km de {first.name} vers {second.name}",
                    (first, second),
                    road=(first.name, second.name),
                    km=km,
                )
            lat, lon = towards(first.lat, first.lon, second.lat, second.lon, length / 2)
            return Where(lat, lon, "near", name, (first, second), road=(first.name, second.name))
    if km is not None:
        bearing = _compass_near(words, first)
        if bearing is not None:
            lat, lon = _offset(first.lat, first.lon, km, bearing)
            return Where(lat, lon, "near", f"{km:g} km de {first.name}", (first,), km=km)
        return Where(first.lat, first.lon, "near", first.name, (first,), km=km)
    return Where(first.lat, first.lon, "near" if near else "locality", first.name, (first,))


def _before(words: Sequence[str], place: Named, markers: frozenset[str], span: int) -> bool:
    return any(w in markers for w in words[max(0, place.start - span) : place.start])


def _on_road(words: Sequence[str], a: Named, b: Named) -> bool:
    """Two places joined as a road: a road word near them, `de A a B`, `A vers B`, `A-B`."""
    lo, hi = min(a.start, b.start), max(a.end, b.end)
    window = words[max(0, lo - 6) : min(len(words), hi + 3)]
    if any(w in ROAD_WORDS or (w.startswith("rn") and w[2:].isdigit()) for w in window):
        return True
    between = words[min(a.end, b.end) : max(a.start, b.start)]
    if not between:  # "Gao Ansongo", "Diema-Nioro": two places side by side
        return True
    return len(between) <= 2 and any(w in _JOINS for w in between)


def _km_before(words: Sequence[str], place: Named) -> float | None:
    """`a 30 km de Gao`, `30km from Gao`, `10 km apres Diema`, `25 km au nord de Gao`."""
    window = list(words[max(0, place.start - 6) : place.start])
    for k in range(len(window) - 1):
        if window[k].isdigit() and window[k + 1] == "km":
            rest = window[k + 2 :]
            if len(rest) <= 4:
                return float(window[k])
    return None


def _compass_near(words: Sequence[str], place: Named) -> float | None:
    for w in words[max(0, place.start - 4) : place.start]:
        if w in _COMPASS:
            return _COMPASS[w]
    return None


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * math.asin(math.sqrt(h))


def towards(lat1: float, lon1: float, lat2: float, lon2: float, km: float) -> tuple[float, float]:
    """The point `km` from (lat1, lon1) on the straight line to (lat2, lon2)."""
    length = distance_km(lat1, lon1, lat2, lon2)
    if length == 0:
        return lat1, lon1
    f = km / length
    return lat1 + (lat2 - lat1) * f, lon1 + (lon2 - lon1) * f


def _offset(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    b = math.radians(bearing)
    dlat = km * math.cos(b) / 111.32
    dlon = km * math.sin(b) / (111.32 * max(0.01, math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon
