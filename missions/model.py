"""The mission, pure: states and transitions, check-in words (fr/en), duress, the escalation
schedule. Every function takes `now`; nothing here touches a database, the web or a channel."""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

__all__ = [
    "CHECKIN_WORDS",
    "CODE_PATTERN",
    "Checkin",
    "CheckinKind",
    "Progress",
    "State",
    "Step",
    "TransitionError",
    "check_duress_word",
    "duress_hash",
    "is_mission_code",
    "matches_duress",
    "new_mission_code",
    "next_state",
    "parse_checkin",
    "pending_round",
    "schedule",
    "step_due",
]


class State(enum.StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    ARRIVED = "arrived"
    OVERDUE = "overdue"
    ALARM = "alarm"
    CLOSED = "closed"


# States in which travellers are on the road: check-ins count, escalation runs, incidents alert.
ON_THE_ROAD = frozenset({State.ACTIVE, State.OVERDUE, State.ALARM})
# States in which a check-in is accepted (a planned mission starts with its first check-in).
OPEN = frozenset({State.PLANNED, *ON_THE_ROAD})


class CheckinKind(enum.StrEnum):
    OK = "ok"
    ARRIVED = "arrived"
    LATE = "late"
    HELP = "help"


class TransitionError(ValueError):
    """A transition the mission's state does not allow; `field` names what was asked."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# What each event may do from each state (to the new state).
_TRANSITIONS: dict[str, dict[State, State]] = {
    "start": {State.PLANNED: State.ACTIVE},
    "checkin": {
        State.PLANNED: State.ACTIVE,
        State.ACTIVE: State.ACTIVE,
        State.OVERDUE: State.ACTIVE,
        State.ALARM: State.ACTIVE,
    },
    "arrive": {
        State.PLANNED: State.ARRIVED,
        State.ACTIVE: State.ARRIVED,
        State.OVERDUE: State.ARRIVED,
        State.ALARM: State.ARRIVED,
    },
    "help": {
        State.PLANNED: State.ALARM,
        State.ACTIVE: State.ALARM,
        State.OVERDUE: State.ALARM,
        State.ALARM: State.ALARM,
    },
    "missed": {State.ACTIVE: State.OVERDUE, State.OVERDUE: State.OVERDUE},
    "escalate": {State.OVERDUE: State.ALARM, State.ALARM: State.ALARM},
    "close": {s: State.CLOSED for s in State if s != State.CLOSED},
}

_REFUSALS = {
    "start": "Only a planned mission can start.",
    "checkin": "This mission is {state}: check-ins are recorded only while it is planned or "
    "under way.",
    "arrive": "This mission is {state}: arrival is recorded only while it is planned or under way.",
    "help": "This mission is {state}: ask for help by phone to your security focal point.",
    "missed": "Only a mission under way can miss a check-in.",
    "escalate": "Only an overdue mission escalates.",
    "close": "This mission is already closed.",
}


def next_state(state: State, event: str) -> State:
    """The state after `event` (start, checkin, arrive, help, missed, escalate, close)."""
    allowed = _TRANSITIONS[event]
    if state not in allowed:
        raise TransitionError("state", _REFUSALS[event].format(state=state.value))
    return allowed[state]


# --- codes -----------------------------------------------------------------------------------

# Two letters and two digits, without 0/O and 1/I: never a word (a duress word or a keyword)
# and never an alert code (five characters), so "OK KT42" and "OK K7F3Q" cannot be mistaken.
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "23456789"
CODE_PATTERN = re.compile(rf"^[{_LETTERS}]{{2}}[{_DIGITS}]{{2}}$")


def new_mission_code() -> str:
    letters = [secrets.choice(_LETTERS) for _ in range(2)]
    return "".join([*letters, *(secrets.choice(_DIGITS) for _ in range(2))])


def is_mission_code(word: str) -> bool:
    return bool(CODE_PATTERN.match(word.upper()))


# --- check-in words --------------------------------------------------------------------------


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_WORDS: dict[str, tuple[CheckinKind, Literal["fr", "en"]]] = {
    "ok": (CheckinKind.OK, "fr"),
    "arrive": (CheckinKind.ARRIVED, "fr"),
    "arrivee": (CheckinKind.ARRIVED, "fr"),
    "arrives": (CheckinKind.ARRIVED, "fr"),
    "arrived": (CheckinKind.ARRIVED, "en"),
    "retard": (CheckinKind.LATE, "fr"),
    "late": (CheckinKind.LATE, "en"),
    "aide": (CheckinKind.HELP, "fr"),
    "help": (CheckinKind.HELP, "en"),
    "sos": (CheckinKind.HELP, "fr"),
}
# Every word that starts a check-in (a duress word may be none of them).
CHECKIN_WORDS = frozenset(_WORDS)

_DELAY = re.compile(
    r"^(?:(?P<h>\d{1,2})\s*h(?:eures?|ours?|rs?)?\s*(?P<hm>\d{1,2})?|(?P<m>\d{1,4})\s*(?:mn|min|mins|minutes?|m))$"
)
MAX_DELAY = timedelta(hours=24)
_ALERT_CODE = re.compile(r"^[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{5}$")


@dataclass(frozen=True, slots=True)
class Checkin:
    """What a check-in message says."""

    kind: CheckinKind
    language: Literal["fr", "en"]
    code: str | None = None  # a mission code (two letters, two digits)
    delay: timedelta | None = None  # RETARD 2H
    words: tuple[str, ...] = ()  # the other words, plain (where a duress word hides)
    # A word shaped like an alert code ("OK K7F3Q"): the message acknowledges an alert.
    alert_code: str | None = None
    problem: str | None = None  # why the message could not be read whole (e.g. no delay)


def _delay(tokens: list[str]) -> tuple[timedelta | None, int]:
    """A delay at the start of `tokens` ("2h", "2 h", "1h30", "45min", "90"), and how many
    tokens it took."""
    for take in (2, 1):
        if len(tokens) < take:
            continue
        text = "".join(tokens[:take])
        if take == 1 and text.isdigit():
            minutes = int(text)
            return (timedelta(minutes=minutes), 1) if minutes else (None, 0)
        m = _DELAY.match(text)
        if m:
            if m.group("m"):
                delay = timedelta(minutes=int(m.group("m")))
            else:
                delay = timedelta(hours=int(m.group("h")), minutes=int(m.group("hm") or 0))
            return (delay, take) if delay else (None, 0)
    return None, 0


def parse_checkin(text: str) -> Checkin | None:
    """A check-in (OK, ARRIVE/ARRIVÉ/ARRIVED, RETARD 2H/LATE 2H, AIDE/HELP/SOS), optionally with
    a mission code before or after the keyword; None when the message is no check-in."""
    tokens = [t for t in re.split(r"[\s,.;:!?#\-]+", _plain(text)) if t]
    if not tokens or len(tokens) > 8:
        return None
    code: str | None = None
    if is_mission_code(tokens[0]) and len(tokens) > 1 and tokens[1] in _WORDS:
        code = tokens.pop(0).upper()
    if tokens[0] not in _WORDS:
        return None
    kind, language = _WORDS[tokens.pop(0)]
    delay: timedelta | None = None
    problem: str | None = None
    if kind == CheckinKind.LATE:
        delay, used = _delay(tokens)
        del tokens[:used]
        if delay is None:
            problem = "delay"
        elif delay > MAX_DELAY:
            delay, problem = None, "delay"
    alert_code: str | None = None
    rest: list[str] = []
    for token in tokens:
        if code is None and is_mission_code(token):
            code = token.upper()
            continue
        if kind == CheckinKind.OK and alert_code is None and _ALERT_CODE.match(token.upper()):
            # Five characters of the alert alphabet: an alert code, or (all letters) maybe a
            # word; the service decides by looking the code up.
            alert_code = token.upper()
            if any(c.isdigit() for c in token):
                continue
        rest.append(token)
    return Checkin(kind, language, code, delay, tuple(rest), alert_code, problem)


# --- duress ----------------------------------------------------------------------------------

_DURESS_SHAPE = re.compile(r"^[a-z]{3,24}$")


def check_duress_word(word: str) -> str:
    """The duress word, plain (lower case, no accents); ValueError saying why it cannot be one."""
    plain = _plain(word.strip())
    if not _DURESS_SHAPE.match(plain):
        raise ValueError(
            "a duress word is one word of 3 to 24 letters (no digits, spaces or signs), "
            "easy to slip into an ordinary check-in, e.g. OK MANGUE"
        )
    if plain in CHECKIN_WORDS:
        raise ValueError(
            f"{word.strip()!r} is a check-in keyword: choose a word nobody would send by "
            "accident, e.g. MANGUE"
        )
    return plain


def duress_hash(word: str, salt: str) -> str:
    """What is stored of a duress word: a salted digest (the word is never kept)."""
    return hashlib.sha256(f"{salt}\0{check_duress_word(word)}".encode()).hexdigest()


def matches_duress(words: Sequence[str], digest: str | None, salt: str) -> bool:
    if not digest:
        return False
    for word in words:
        plain = _plain(word)
        if _DURESS_SHAPE.match(plain) and plain not in CHECKIN_WORDS:
            candidate = hashlib.sha256(f"{salt}\0{plain}".encode()).hexdigest()
            if secrets.compare_digest(candidate, digest):
                return True
    return False


# --- schedule and escalation -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a mission stands against its schedule."""

    checkpoints: tuple[datetime, ...]  # expected check-in times (stops, then arrival), sorted
    done: int  # how many have been checked in
    delay: timedelta  # announced delays (RETARD), added to every remaining checkpoint
    grace: timedelta


def schedule(stops: Sequence[datetime], arrival: datetime) -> tuple[datetime, ...]:
    """Expected check-in times: each stop, then the arrival."""
    return (*sorted(stops), arrival)


def pending_round(progress: Progress) -> tuple[int, datetime] | None:
    """The checkpoint now awaited (its index: the escalation round) and the moment it is missed
    (expected time + delays + grace); None when every checkpoint is checked in."""
    if progress.done >= len(progress.checkpoints):
        return None
    due = progress.checkpoints[progress.done] + progress.delay + progress.grace
    return progress.done, due


@dataclass(frozen=True, slots=True)
class Step:
    """One rung of the escalation ladder: step 0 reminds the travellers, step k >= 1 alerts the
    k-th group of responders."""

    round: int
    step: int
    at: datetime


def step_due(
    progress: Progress,
    *,
    ladder: int,
    interval: timedelta,
    fired: Sequence[int],
    now: datetime,
    acknowledged: bool = False,
    last_fired: datetime | None = None,
) -> Step | None:
    """The next step to fire now, or None. Steps fire in order, one at a time: step k is due at
    missed + k * interval, and only once step k-1 has fired, at least `interval` after it
    (`last_fired`): after a stop, the ladder resumes at its pace, each responder given their
    time to answer. Nothing fires once acknowledged."""
    pending = pending_round(progress)
    if pending is None or acknowledged:
        return None
    round_, missed = pending
    done = set(fired)
    for k in range(ladder + 1):
        if k in done:
            continue
        if k > 0 and k - 1 not in done:
            return None
        at = missed + k * interval
        if k > 0 and last_fired is not None:
            at = max(at, last_fired + interval)
        return Step(round_, k, at) if now >= at else None
    return None
