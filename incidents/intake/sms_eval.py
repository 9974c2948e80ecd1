"""How well the SMS parser reads a corpus of messages with their expected reading.

A reading is a *misread* when the incident type differs, the point is more than 10 km from the
expected one (or a place is invented where none can be known, or none found where one can), or a
count of killed, injured or abducted differs. Perpetrators and dates are scored apart: they are
not part of the misread share the project promises (docs/sms.md). The corpus format is described
in tests/data/README.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from incidents.intake.sms import SmsParse, parse_sms

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


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def score_message(message: CorpusMessage, parsed: SmsParse) -> Reading:
    exp = message.expected
    incident = parsed.incident
    problems: list[str] = []
    if incident.get("type") != exp["type"]:
        problems.append(f"type {incident.get('type')} != {exp['type']}")
    geometry = incident.get("geometry")
    if exp.get("place") is None:
        if geometry is not None:
            problems.append(f"invented place {incident.get('place_name')}")
        elif "location" not in parsed.missing:
            problems.append("unknown place not asked for")
    elif geometry is None:
        problems.append(f"no place (expected {exp['place']})")
    else:
        lon, lat = geometry["coordinates"]
        off = distance_km(lat, lon, exp["lat"], exp["lon"])
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
    return Reading(message, tuple(problems), perpetrator_ok, time_ok)


def score_corpus(
    messages: Iterable[CorpusMessage],
    parse: Callable[[str, datetime], SmsParse] | None = None,
) -> Score:
    read = parse or (lambda text, now: parse_sms(text, now=now))
    return Score([score_message(m, read(m.text, m.received_at)) for m in messages])


def describe(readings: Sequence[Reading]) -> list[str]:
    """One line per misread, for a failing test or the bench's notes."""
    return [f"{r.message.id} {r.message.text!r}: {'; '.join(r.problems)}" for r in readings]
