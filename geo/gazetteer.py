"""Gazetteer of Mali localities (packaged GeoNames extract) with typo-tolerant name lookup."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rapidfuzz import fuzz, process

__all__ = ["Gazetteer", "Locality", "UnknownPlaceError", "normalize_name"]

# Below this similarity (0-100) a name is not taken as a typo of a known place.
LOOKUP_CUTOFF = 84.0
# Names this short only match exactly: "Ber" vs "Bla" is too close to call.
MIN_FUZZY_LENGTH = 5
# Words that are place names but mostly appear in messages as ordinary French words.
_AMBIGUOUS_WORDS = frozenset({"bla", "san", "ber", "koro", "sibi", "bamba", "kati", "fana"})


@dataclass(frozen=True)
class Locality:
    name: str
    lat: float
    lon: float
    admin1: str | None
    population: int | None


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

    def __init__(self, entries: Sequence[tuple[Locality, Sequence[str]]]) -> None:
        self.localities: list[Locality] = [loc for loc, _ in entries]
        self._index: dict[str, Locality] = {}
        # Main names win over alternate names; larger places win ties (entries sorted by size).
        for loc, _ in entries:
            self._index.setdefault(normalize_name(loc.name), loc)
        for loc, alternates in entries:
            for alt in alternates:
                key = normalize_name(alt)
                if key:
                    self._index.setdefault(key, loc)
        self._keys = list(self._index)
        self._max_words = max((k.count(" ") + 1 for k in self._keys), default=1)

    @classmethod
    def load(cls) -> Gazetteer:
        """The packaged gazetteer (parsed once per process)."""
        return _load_packaged()

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

    def search_in_text(self, words: Sequence[str]) -> Locality | None:
        """First place named among message tokens; longer names ("Nioro du Sahel") win.

        Exact (normalised) matches are tried before typo-tolerant ones; common words that are
        also village names ("san", "bla") only count when nothing better is found.
        """
        tokens = [t for w in words for t in normalize_name(w).split()]
        fallback: Locality | None = None
        for size in range(min(self._max_words, len(tokens)), 0, -1):
            for start in range(len(tokens) - size + 1):
                key = " ".join(tokens[start : start + size])
                loc = self._index.get(key)
                if loc is None:
                    continue
                if size == 1 and key in _AMBIGUOUS_WORDS:
                    fallback = fallback or loc
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
        return fallback


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip() else None


@cache
def _load_packaged() -> Gazetteer:
    source = resources.files("geo") / "data" / "mali_localities.csv"
    entries: list[tuple[Locality, list[str]]] = []
    with source.open("r", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            loc = Locality(
                name=row["name"],
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                admin1=row["admin1"] or None,
                population=_int_or_none(row["population"]),
            )
            alternates = [a for a in row["alternate_names"].split("|") if a]
            entries.append((loc, [row["ascii_name"], *alternates]))
    entries.sort(key=lambda e: -(e[0].population or 0))
    return Gazetteer(entries)
