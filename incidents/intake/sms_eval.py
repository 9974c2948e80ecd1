"""How well the SMS parser reads a corpus of messages with their expected reading.

A reading is a *misread* when the incident type differs, the point is more than 10 km from the
expected one (or a place is invented where none can be known, or none found where one can), or a
count of killed, injured or abducted differs. Perpetrators and dates are scored apart: they are
not part of the misread share the project promises (docs/sms.md). The corpus format is described
in tests/data/README.md.

The corpus names its expected places (`Gao`, `Gao - Ansongo`, `30 km from Gao towards Bourem`)
without their coordinates: the expected point is that of the named places in the gazetteer the
parser is scored with (the packaged one, or with the places a deployment imported), so no
coordinates of a third-party gazetteer are kept in the repository. A message whose place that
gazetteer lacks is a misread ("needs imported places"), whatever the parser read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from incidents.intake.sms import SmsParse, parse_sms
from incidents.intake.sms_places import distance_km as distance_km
from incidents.intake.sms_places import locate, towards
from incidents.interop.rows import PlaceFinder, default_gazetteer, fold

#: A place read further than this from the expected point is a misread.
PLACE_TOLERANCE_KM = 10.0
#: The share of misreads the project aims to stay under.
MISREAD_TARGET = 0.03
COUNTS = ("killed", "injured", "abducted")


@dataclass(frozen=True, slots=True)
class CorpusMessage:
    id: str
    split: str
    lang: str
    received_at: datetime
    text: str
    expected: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reading:
    """One message scored: `problems` is empty when it was read right."""

    message: CorpusMessage
    problems: tuple[str, ...]
    perpetrator_ok: bool | None  # None: the message states no perpetrator (or target)
    time_ok: bool | None  # None: the message says no time
    #: The expected place is one the gazetteer scored with lacks (a deployment imports it).
    needs_import: bool = False

    @property
    def misread(self) -> bool:
        return bool(self.problems)


@dataclass(slots=True)
class Score:
    readings: list[Reading] = field(default_factory=list)

    def part(self, split: str | None) -> list[Reading]:
        return [r for r in self.readings if split is None or r.message.split == split]

    def misread_rate(self, split: str | None = None) -> float:
        part = self.part(split)
        return sum(r.misread for r in part) / len(part) if part else 0.0

    def rate_of(self, attribute: str, split: str | None = None) -> float:
        """Share of wrong perpetrators ("perpetrator_ok") or times ("time_ok") among those stated."""
        checked = [getattr(r, attribute) for r in self.part(split)]
        stated = [ok for ok in checked if ok is not None]
        return sum(not ok for ok in stated) / len(stated) if stated else 0.0

    def misreads(self, split: str | None = None) -> list[Reading]:
        return [r for r in self.part(split) if r.misread]


def load_corpus(path: Path) -> list[CorpusMessage]:
    messages = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            messages.append(
                CorpusMessage(
                    id=row["id"],
                    split=row["split"],
                    lang=row["lang"],
                    received_at=datetime.fromisoformat(row["received_at"]),
                    text=row["text"],
                    expected=row["expected"],
                )
            )
    return messages


_KM_LABEL = re.compile(r"(\d+(?:\.\d+)?) km from (.+) towards (.+)")
_QUALIFIED = re.compile(r"(.+) \((.+)\)")


class UnknownExpectedPlace(LookupError):
    """A corpus label names a place the gazetteer lacks."""


def expected_point(expected: dict[str, Any], places: PlaceFinder) -> tuple[float, float] | None:
    """The point a message's expectation means, from its place label and `places`.

    Labels: `coordinates` (the `lat`/`lon` the message itself gives), a place name (`Name
    (Region)` for one of several places of that name), `A - B`
    (the middle of the straight line from A to B) or `N km from A towards B`. None when no
    place can be known; UnknownExpectedPlace when `places` lacks a named place.
    """
    label = expected.get("place")
    if label is None:
        return None
    if label == "coordinates":
        return float(expected["lat"]), float(expected["lon"])

    def at(name: str) -> tuple[float, float]:
        qualified = _QUALIFIED.fullmatch(name)
        if qualified is not None:  # "Sofara (Mopti)": the one of that region, of homonyms
            for loc in getattr(places, "localities", ()):
                if (fold(loc.name), fold(loc.admin1 or "")) == (
                    fold(qualified[1]),
                    fold(qualified[2]),
                ):
                    return loc.lat, loc.lon
            raise UnknownExpectedPlace(name)
        point = locate(name, places)
        if point is None:
            raise UnknownExpectedPlace(name)
        return point

    km = _KM_LABEL.fullmatch(label)
    if km is not None:
        return towards(*at(km[2]), *at(km[3]), float(km[1]))
    if " - " in label:
        (lat1, lon1), (lat2, lon2) = (at(n) for n in label.split(" - ", 1))
        return towards(lat1, lon1, lat2, lon2, distance_km(lat1, lon1, lat2, lon2) / 2)
    return at(label)


def score_message(
    message: CorpusMessage, parsed: SmsParse, places: PlaceFinder | None = None
) -> Reading:
    """Score one reading; expected points come from `places` (the parser's gazetteer)."""
    exp = message.expected
    incident = parsed.incident
    problems: list[str] = []
    if incident.get("type") != exp["type"]:
        problems.append(f"type {incident.get('type')} != {exp['type']}")
    geometry = incident.get("geometry")
    needs_import = False
    try:
        point = expected_point(exp, places if places is not None else default_gazetteer())
    except UnknownExpectedPlace as missing:
        point, needs_import = None, True
        problems.append(f"{missing} is not in the gazetteer (needs imported places)")
    if needs_import:
        pass
    elif point is None:
        if geometry is not None:
            problems.append(f"invented place {incident.get('place_name')}")
        elif "location" not in parsed.missing:
            problems.append("unknown place not asked for")
    elif geometry is None:
        problems.append(f"no place (expected {exp['place']})")
    else:
        lon, lat = geometry["coordinates"]
        off = distance_km(lat, lon, *point)
        if off > PLACE_TOLERANCE_KM:
            problems.append(f"place {incident.get('place_name')} {off:.0f} km off {exp['place']}")
    impact = incident.get("impact") or {}
    for name in COUNTS:
        if int(impact.get(name) or 0) != int(exp.get(name) or 0):
            problems.append(f"{name} {impact.get(name)} != {exp.get(name)}")
    perpetrator_ok = None
    if "perpetrator" in exp:
        perpetrator_ok = incident.get("perpetrator") == exp["perpetrator"]
    time_ok = None
    if "date" in exp:
        occurred = str(incident.get("occurred_at") or "")
        time_ok = occurred[:10] == exp["date"]
        if "hour" in exp:
            time_ok = time_ok and occurred[11:13] == f"{exp['hour']:02d}"
    return Reading(message, tuple(problems), perpetrator_ok, time_ok, needs_import)


def score_corpus(
    messages: Iterable[CorpusMessage],
    parse: Callable[[str, datetime], SmsParse] | None = None,
    *,
    places: PlaceFinder | None = None,
) -> Score:
    """Read every message with `places` (default: the packaged gazetteer) and score it."""
    gazetteer = places if places is not None else default_gazetteer()
    read = parse or (lambda text, now: parse_sms(text, now=now, gazetteer=gazetteer))
    return Score([score_message(m, read(m.text, m.received_at), gazetteer) for m in messages])


def describe(readings: Sequence[Reading]) -> list[str]:
    """One line per misread, for a failing test or the bench's notes."""
    return [f"{r.message.id} {r.message.text!r}: {'; '.join(r.problems)}" for r in readings]
