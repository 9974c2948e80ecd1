"""The pure mission model: states, check-in words in French and English, duress, the ladder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from missions.model import (
    CheckinKind,
    Progress,
    State,
    TransitionError,
    check_duress_word,
    duress_hash,
    is_mission_code,
    matches_duress,
    new_mission_code,
    next_state,
    parse_checkin,
    pending_round,
    schedule,
    step_due,
)

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "kind", "language"),
    [
        ("OK", CheckinKind.OK, "fr"),
        ("ok", CheckinKind.OK, "fr"),
        ("ARRIVE", CheckinKind.ARRIVED, "fr"),
        ("Arrivé", CheckinKind.ARRIVED, "fr"),
        ("arrivée", CheckinKind.ARRIVED, "fr"),
        ("ARRIVED", CheckinKind.ARRIVED, "en"),
        ("AIDE", CheckinKind.HELP, "fr"),
        ("HELP", CheckinKind.HELP, "en"),
        ("RETARD 2H", CheckinKind.LATE, "fr"),
        ("LATE 2H", CheckinKind.LATE, "en"),
    ],
)
def test_keywords_in_french_and_english(text: str, kind: CheckinKind, language: str) -> None:
    parsed = parse_checkin(text)
    assert parsed is not None
    assert (parsed.kind, parsed.language) == (kind, language)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("RETARD 2H", 120),
        ("late 2 h", 120),
        ("retard 1h30", 90),
        ("LATE 45min", 45),
        ("late 90", 90),
    ],
)
def test_a_delay_is_read_in_hours_and_minutes(text: str, minutes: int) -> None:
    parsed = parse_checkin(text)
    assert parsed is not None
    assert parsed.delay == timedelta(minutes=minutes)


def test_a_delay_missing_or_over_a_day_is_a_problem_not_a_guess() -> None:
    assert parse_checkin("RETARD").problem == "delay"  # type: ignore[union-attr]
    assert parse_checkin("LATE 30H").problem == "delay"  # type: ignore[union-attr]


def test_the_mission_code_goes_before_or_after_the_keyword() -> None:
    assert parse_checkin("OK kt42").code == "KT42"  # type: ignore[union-attr]
    assert parse_checkin("KT42 arrive").code == "KT42"  # type: ignore[union-attr]
    assert parse_checkin("retard 2h KT42").code == "KT42"  # type: ignore[union-attr]


def test_an_alert_acknowledgement_is_not_taken_for_a_mission_code() -> None:
    parsed = parse_checkin("OK K7F3Q")
    assert parsed is not None
    assert parsed.code is None
    assert parsed.alert_code == "K7F3Q"


def test_other_messages_are_no_check_in() -> None:
    assert parse_checkin("enlevement a diema hier") is None
    assert parse_checkin("") is None


def test_mission_codes_are_two_letters_two_digits_never_a_word() -> None:
    codes = {new_mission_code() for _ in range(200)}
    assert all(is_mission_code(c) for c in codes)
    assert not is_mission_code("HELP")
    assert not is_mission_code("K7F3Q")


def test_duress_word_is_found_among_the_words_and_stored_as_a_digest() -> None:
    digest = duress_hash("Mangue", "user-1")
    assert "mangue" not in digest
    parsed = parse_checkin("OK MANGUE")
    assert parsed is not None
    assert matches_duress(parsed.words, digest, "user-1")
    assert not matches_duress(parsed.words, digest, "user-2")
    assert not matches_duress(("banane",), digest, "user-1")


@pytest.mark.parametrize("word", ["OK", "arrivé", "help", "RETARD", "a1b2", "deux mots", "ab"])
def test_a_duress_word_cannot_be_a_keyword_or_not_a_word(word: str) -> None:
    with pytest.raises(ValueError, match=r"duress word|check-in keyword"):
        check_duress_word(word)


def test_transitions() -> None:
    assert next_state(State.PLANNED, "start") == State.ACTIVE
    assert next_state(State.ACTIVE, "missed") == State.OVERDUE
    assert next_state(State.OVERDUE, "escalate") == State.ALARM
    assert next_state(State.ALARM, "checkin") == State.ACTIVE
    assert next_state(State.ACTIVE, "arrive") == State.ARRIVED
    assert next_state(State.ARRIVED, "close") == State.CLOSED
    with pytest.raises(TransitionError):
        next_state(State.CLOSED, "checkin")
    with pytest.raises(TransitionError):
        next_state(State.ARRIVED, "start")


def _progress(done: int, delay: timedelta = timedelta(0)) -> Progress:
    checkpoints = schedule(
        [T0 + timedelta(hours=2), T0 + timedelta(hours=4)], T0 + timedelta(hours=6)
    )
    return Progress(checkpoints, done, delay, timedelta(minutes=30))


def test_the_awaited_checkpoint_is_missed_after_its_grace_and_delays() -> None:
    assert pending_round(_progress(0)) == (0, T0 + timedelta(hours=2, minutes=30))
    assert pending_round(_progress(2, timedelta(hours=1))) == (
        2,
        T0 + timedelta(hours=7, minutes=30),
    )
    assert pending_round(_progress(3)) is None


def test_the_ladder_fires_in_order_one_step_at_a_time_and_stops_when_acknowledged() -> None:
    progress = _progress(2)  # the arrival is awaited: missed at +6h30
    missed = T0 + timedelta(hours=6, minutes=30)
    every = timedelta(minutes=15)
    kw = {"ladder": 3, "interval": every}
    assert step_due(progress, fired=[], now=missed - timedelta(seconds=1), **kw) is None
    first = step_due(progress, fired=[], now=missed, **kw)
    assert first is not None
    assert (first.round, first.step) == (2, 0)
    # Long after: still step by step, never skipping one and never one twice.
    late = missed + timedelta(hours=5)
    assert step_due(progress, fired=[0], now=late, **kw).step == 1  # type: ignore[union-attr]
    assert step_due(progress, fired=[0, 1], now=late, **kw).step == 2  # type: ignore[union-attr]
    assert step_due(progress, fired=[0, 1, 2, 3], now=late, **kw) is None
    assert step_due(progress, fired=[0], now=missed + every - timedelta(seconds=1), **kw) is None
    assert step_due(progress, fired=[0], now=late, acknowledged=True, **kw) is None
    # After a stop, the ladder resumes at its pace: one interval after the last step fired.
    restarted = step_due(progress, fired=[0, 1], now=late, last_fired=late - every / 2, **kw)
    assert restarted is None
    resumed = step_due(progress, fired=[0, 1], now=late, last_fired=late - every, **kw)
    assert resumed is not None
    assert resumed.step == 2
