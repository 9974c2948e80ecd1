"""When an SMS says something happened: `hier soir`, `nuit derniere`, `ce matin`, `12/11`, `vers 7h`.

Mali keeps GMT all year (Africa/Bamako = UTC), so times typed in a message are read as UTC.

- A time (`7h`, `07h30`, `7:30`, `vers 7h`, `a 22h`, `7am`) gives an exact time
  (`time_precision` "exact"); on the day of sending, or the day the message names. A time later
  than the sending time, with no day named, is the day before (`22h` sent at 06:00).
- A day: `aujourd'hui`/`today`, `hier`/`yesterday`, `avant-hier`/`day before yesterday`, a date
  `12/11` or `12/11/2026` (day/month; a date later than the sending day without a year is last
  year's).
- A part of the day without a time: `matin`/`morning` 08:00, `midi` 12:00, `apres-midi`/
  `afternoon` 15:00, `soir`/`evening` 20:00, `nuit`/`night` 23:00 — with "day" precision, the
  hour only places the incident in the day. `nuit derniere`, `last night`, `hier nuit`, and
  `cette nuit` / `tonight` sent before noon mean the night just past: the day before at 23:00.
- Nothing said: the moment the SMS was received, "day" precision.

Never later than the moment of sending.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

Language = Literal["fr", "en"]

# Words that may come before a time or a date and belong to it: "vers 7h", "a 22h", "le 12/11".
_LEAD = r"(?:(?:vers|a|à|at|around|about|environ|aux\s+environs\s+de|des|dès|depuis|by|le|on)\s+)?"
CLOCK = re.compile(
    _LEAD + r"(?<![\w.,])(?P<h>[01]?\d|2[0-3])\s?(?:(?:h|:)(?P<m>[0-5]\d)?|(?P<ampm>am|pm))(?!\w)",
    re.I,
)
DAY_MONTH = re.compile(
    _LEAD + r"(?<![\d/])(?P<d>[0-3]?\d)/(?P<mo>[01]?\d)(?:/(?P<y>\d{2,4}))?(?![\d/])", re.I
)

# (words, days ago, hour of the part of the day, language); longest phrases are tried first.
_PHRASES: tuple[tuple[tuple[str, ...], int | None, int | None, Language], ...] = (
    (("day", "before", "yesterday"), 2, None, "en"),
    (("avant", "hier"), 2, None, "fr"),
    (("nuit", "derniere"), 1, 23, "fr"),
    (("derniere", "nuit"), 1, 23, "fr"),
    (("la", "nuit", "derniere"), 1, 23, "fr"),
    (("last", "night"), 1, 23, "en"),
    (("last", "evening"), 1, 20, "en"),
    (("hier", "nuit"), 1, 23, "fr"),
    (("hier", "soir"), 1, 20, "fr"),
    (("hier", "matin"), 1, 8, "fr"),
    (("hier", "apres", "midi"), 1, 15, "fr"),
    (("yesterday", "evening"), 1, 20, "en"),
    (("yesterday", "morning"), 1, 8, "en"),
    (("yesterday", "afternoon"), 1, 15, "en"),
    (("yesterday", "night"), 1, 23, "en"),
    (("aujourd", "hui"), 0, None, "fr"),
    (("ce", "matin"), 0, 8, "fr"),
    (("ce", "soir"), 0, 20, "fr"),
    (("cet", "apres", "midi"), 0, 15, "fr"),
    (("this", "morning"), 0, 8, "en"),
    (("this", "afternoon"), 0, 15, "en"),
    (("this", "evening"), 0, 20, "en"),
    (("apres", "midi"), None, 15, "fr"),
    (("hier",), 1, None, "fr"),
    (("yesterday",), 1, None, "en"),
    (("today",), 0, None, "en"),
    (("matin",), None, 8, "fr"),
    (("matinee",), None, 8, "fr"),
    (("midi",), None, 12, "fr"),
    (("soir",), None, 20, "fr"),
    (("soiree",), None, 20, "fr"),
    (("morning",), None, 8, "en"),
    (("afternoon",), None, 15, "en"),
    (("evening",), None, 20, "en"),
)
# "cette nuit", "tonight", "la nuit", "night": the night just past when sent before noon.
_NIGHT: tuple[tuple[tuple[str, ...], Language], ...] = (
    (("cette", "nuit"), "fr"),
    (("tonight",), "en"),
    (("la", "nuit"), "fr"),
    (("nuit",), "fr"),
    (("night",), "en"),
)


@dataclass(slots=True)
class TimeWords:
    """The day and part of the day the message's words name, and which words said so."""

    days_ago: int | None = None
    hour: int | None = None
    used: set[int] = field(default_factory=set)
    languages: list[Language] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Typed:
    """A date and a time typed in figures, found and removed from the text."""

    day: tuple[int, int, int | None] | None  # (day, month, year or None)
    clock: tuple[int, int] | None  # (hour, minute)
    text: str


def strip_typed(text: str) -> Typed:
    """Find `12/11[/2026]` and `7h`, `07h30`, `7:30`, `7am` and take them out of the text."""
    day = None
    date_match = DAY_MONTH.search(text)
    if date_match:
        year = date_match.group("y")
        day = (
            int(date_match.group("d")),
            int(date_match.group("mo")),
            int(year) if year else None,
        )
        text = text[: date_match.start()] + " " + text[date_match.end() :]
    clock = None
    clock_match = CLOCK.search(text)
    if clock_match:
        hour = int(clock_match.group("h"))
        ampm = (clock_match.group("ampm") or "").lower()
        if ampm == "pm" and hour < 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
        clock = (hour, int(clock_match.group("m") or 0))
        text = text[: clock_match.start()] + " " + text[clock_match.end() :]
    return Typed(day, clock, text)


def read_time_words(words: Sequence[str], usable: Sequence[bool], now: datetime) -> TimeWords:
    """The relative day and part of the day in normalised words (first phrase of each kind)."""
    found = TimeWords()
    taken = [not u for u in usable]
    for phrase, days, hour, language in sorted(_PHRASES, key=lambda p: -len(p[0])):
        at = _find(words, taken, phrase)
        if at is None:
            continue
        if (days is not None and found.days_ago is not None) or (
            hour is not None and found.hour is not None
        ):
            continue
        for k in range(at, at + len(phrase)):
            taken[k] = True
            found.used.add(k)
        found.languages.append(language)
        if days is not None:
            found.days_ago = days
        if hour is not None:
            found.hour = hour
    if found.hour is None:
        for phrase, language in _NIGHT:
            at = _find(words, taken, phrase)
            if at is None:
                continue
            for k in range(at, at + len(phrase)):
                taken[k] = True
                found.used.add(k)
            found.languages.append(language)
            found.hour = 23
            if found.days_ago is None:
                found.days_ago = 1 if now.hour < 12 else 0
            break
    return found


def _find(words: Sequence[str], taken: Sequence[bool], phrase: Sequence[str]) -> int | None:
    n = len(phrase)
    for i in range(len(words) - n + 1):
        if all(not taken[i + k] and words[i + k] == phrase[k] for k in range(n)):
            return i
    return None


def resolve(now: datetime, typed: Typed, words: TimeWords) -> tuple[datetime, str]:
    """(occurred_at, time_precision) from what was typed and said; never after `now`."""
    base = now
    named_day = False
    if typed.day is not None:
        d, mo, y = typed.day
        try:
            year = now.year if y is None else (y + 2000 if y < 100 else y)
            base = now.replace(year=year, month=mo, day=d)
            named_day = True
            if base.date() > now.date() and y is None:
                base = base.replace(year=base.year - 1)
        except ValueError:
            base = now
    elif words.days_ago:
        base = now - timedelta(days=words.days_ago)
        named_day = True
    elif words.days_ago == 0:
        named_day = True
    if typed.clock is not None:
        hour, minute = typed.clock
        moment = base.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if moment > now and not named_day:
            moment -= timedelta(days=1)  # "22h" sent at 06:00 means last night
        return min(moment, now), "exact"
    if words.hour is not None:
        moment = base.replace(hour=words.hour, minute=0, second=0, microsecond=0)
        return min(moment, now), "day"
    return min(base, now), "day"
