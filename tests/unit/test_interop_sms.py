"""Field SMS: realistic French and English messages, with typos, read as reports or acks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from incidents.intake.sms import SMS_LENGTH, SMS_MAX_SEGMENTS, parse_sms, sms_size
from incidents.taxonomy.catalogue import TYPES

# A Thursday morning in Bamako (GMT all year).
received_at = datetime(2024, 3, 14, 10, 30, tzinfo=UTC)
today = "2024-03-14"
yesterday = "2024-03-13"

REPORTS: list[tuple[str, str, str, str, dict[str, Any], str]] = [
    # message, type, place_name, location_precision, impact subset, language
    (
        "ENLEVEMENT DIEMA 2 staff",
        "kidnapping",
        "Diéma",
        "locality",
        {"abducted": 2, "aid_workers_affected": True},
        "fr",
    ),
    ("VOL materiel Gao", "theft", "Gao", "locality", {}, "fr"),
    ("ATTAQUE ARMEE Menaka 3 morts", "armed_attack", "Ménaka", "locality", {"killed": 3}, "fr"),
    (
        "kidnapping near Nioro 1 aid worker",
        "kidnapping",
        "Nioro du Sahel",
        "near",
        {"abducted": 1, "aid_workers_affected": True},
        "en",
    ),
    (
        "enlevemnt Tombouctu 2 humanitaires",
        "kidnapping",
        "Tombouctou",
        "locality",
        {"abducted": 2, "aid_workers_affected": True},
        "fr",
    ),
    (
        "Enlèvement à Ménaka 1 agent ONG",
        "kidnapping",
        "Ménaka",
        "locality",
        {"abducted": 1, "aid_workers_affected": True},
        "fr",
    ),
    (
        "attaque Mopti 3 tués 5 blessés",
        "armed_attack",
        "Mopti",
        "locality",
        {"killed": 3, "injured": 5},
        "fr",
    ),
    (
        "2 staff enlevés Diéma",
        "kidnapping",
        "Diéma",
        "locality",
        {"abducted": 2, "aid_workers_affected": True},
        "fr",
    ),
    ("explosion Tessalit 4 soldats tues", "ied", "Tessalit", "locality", {"killed": 4}, "fr"),
    ("barrage illegal Douentza", "illegal_checkpoint", "Douentza", "locality", {}, "fr"),
    (
        "ambush near Gao 2 killed 3 injured",
        "ambush",
        "Gao",
        "near",
        {"killed": 2, "injured": 3},
        "en",
    ),
    ("menace Kidal", "threat", "Kidal", "locality", {}, "fr"),
    (
        "Braquage véhicule ONG près de Mopti",
        "robbery",
        "Mopti",
        "near",
        {"aid_workers_affected": True},
        "fr",
    ),
    ("theft at Timbuktu office", "theft", "Tombouctou", "locality", {}, "en"),
    ("EMBUSCADE axe Bourem", "ambush", "Bourem", "locality", {}, "fr"),
    ("ataque Ansongo 2 morts", "armed_attack", "Ansongo", "locality", {"killed": 2}, "fr"),
    ("Embuscde Douentza", "ambush", "Douentza", "locality", {}, "fr"),
    (
        "carjacking Kidal ngo staff safe",
        "carjacking",
        "Kidal",
        "locality",
        {"aid_workers_affected": True},
        "en",
    ),
    (
        "EEI bankass 1 mort 2 blesses",
        "ied",
        "Bankass",
        "locality",
        {"killed": 1, "injured": 2},
        "fr",
    ),
    ("Frappe de drone Niafunké", "airstrike", "Niafunké", "locality", {}, "fr"),
    ("arrestation 3 personnes Ségou", "detention", "Ségou", "locality", {"detained": 3}, "fr"),
    (
        "kidnap Menaka two aid workers",
        "kidnapping",
        "Ménaka",
        "locality",
        {"abducted": 2, "aid_workers_affected": True},
        "en",
    ),
    ("Tirs croisés à Goundam, 1 blessé", "crossfire", "Goundam", "locality", {"injured": 1}, "fr"),
    ("cambriolage bureau Koutiala", "burglary", "Koutiala", "locality", {}, "fr"),
    ("TOMBOUCTOU rapt 1 commerçant", "kidnapping", "Tombouctou", "locality", {"abducted": 1}, "fr"),
    ("roadblock outside Hombori", "illegal_checkpoint", "Hombori", "near", {}, "en"),
]


@pytest.mark.parametrize(
    ("message", "code", "place", "precision", "impact", "language"),
    REPORTS,
    ids=[r[0] for r in REPORTS],
)
def test_report_is_read(
    message: str, code: str, place: str, precision: str, impact: dict[str, Any], language: str
) -> None:
    parsed = parse_sms(message, now=received_at)

    assert parsed.kind == "report", parsed.missing
    assert parsed.incident["type"] == code
    assert parsed.incident["place_name"] == place
    assert parsed.incident["location_precision"] == precision
    assert parsed.incident["geometry"]["type"] == "Point"
    for key, value in impact.items():
        assert parsed.incident["impact"][key] == value, key
    assert parsed.language == language
    assert parsed.incident["description"] == message
    assert parsed.incident["occurred_at"].startswith(today)


def test_counts_not_mentioned_stay_zero() -> None:
    parsed = parse_sms("VOL materiel Gao", now=received_at)

    assert parsed.incident["impact"] == {
        "killed": 0,
        "injured": 0,
        "abducted": 0,
        "detained": 0,
        "missing": 0,
        "aid_workers_affected": False,
    }


@pytest.mark.parametrize(
    ("message", "lat", "lon"),
    [
        ("IED 14.54 -9.19 route Kayes", 14.54, -9.19),
        ("IED 14,54 -9,19", 14.54, -9.19),
        ("IED -9.19 14.54", 14.54, -9.19),  # typed lon first: swapped back into the Sahel
        ("attaque N16.27 W0.04", 16.27, -0.04),
    ],
)
def test_coordinates_give_an_exact_location(message: str, lat: float, lon: float) -> None:
    parsed = parse_sms(message, now=received_at)

    assert parsed.kind == "report"
    assert parsed.incident["location_precision"] == "exact"
    assert parsed.incident["geometry"]["coordinates"] == pytest.approx([lon, lat])


def test_coordinates_keep_the_words_around_them_as_place_name() -> None:
    parsed = parse_sms("IED 14.54 -9.19 route Kayes", now=received_at)

    assert parsed.incident["type"] == "ied"
    assert parsed.incident["place_name"] == "route Kayes"


@pytest.mark.parametrize(
    ("message", "occurred_at", "precision"),
    [
        ("attaque Gao hier", "2024-03-13T10:30:00Z", "day"),
        ("ambush near Gao yesterday 2 killed", "2024-03-13T10:30:00Z", "day"),
        ("vol Kayes avant-hier", "2024-03-12T10:30:00Z", "day"),
        ("attaque Gao 08h15", "2024-03-14T08:15:00Z", "exact"),
        ("embuscade axe Gao Ansongo 22h", "2024-03-13T22:00:00Z", "exact"),  # last night
        ("attaque Tombouctou 12/03 22h 10 morts", "2024-03-12T22:00:00Z", "exact"),
        ("vol Gao", "2024-03-14T10:30:00Z", "day"),
    ],
)
def test_when(message: str, occurred_at: str, precision: str) -> None:
    parsed = parse_sms(message, now=received_at)

    assert parsed.incident["occurred_at"] == occurred_at
    assert parsed.incident["time_precision"] == precision


def test_time_is_not_read_from_a_count() -> None:
    parsed = parse_sms("enlevement Gao 2 humanitaires", now=received_at)

    assert parsed.incident["occurred_at"] == "2024-03-14T10:30:00Z"
    assert parsed.incident["impact"]["abducted"] == 2


@pytest.mark.parametrize(
    ("message", "perpetrator"),
    [
        ("attaque jihadistes Boni", "non_state_armed_group"),
        ("menace militaires Kidal", "state_forces"),
        ("attaque dozos Bankass 3 morts", "community_militia"),
    ],
)
def test_perpetrator(message: str, perpetrator: str) -> None:
    assert parse_sms(message, now=received_at).incident["perpetrator"] == perpetrator


def test_severity_rises_with_deaths() -> None:
    theft = parse_sms("vol Gao", now=received_at).incident
    deadly = parse_sms("vol Gao 12 morts", now=received_at).incident

    assert theft["severity"] == TYPES["theft"].default_severity
    assert deadly["severity"] == 5


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("OK K7F3Q", "K7F3Q"),
        ("ok k7f3q", "K7F3Q"),
        ("Reçu: AB12C", "AB12C"),
        ("ACK ZQXJP", "ZQXJP"),
    ],
)
def test_acknowledgement(message: str, code: str) -> None:
    parsed = parse_sms(message, now=received_at)

    assert parsed.kind == "ack"
    assert parsed.ack_code == code
    assert code in parsed.reply()


def test_ok_without_a_code_asks_for_it() -> None:
    parsed = parse_sms("ok merci", now=received_at)

    assert parsed.kind == "incomplete"
    assert parsed.missing == ["ack_code"]
    assert "OK K7F3Q" in parsed.reply()


@pytest.mark.parametrize("message", ["blabla Gao", "il y a un probleme a Mopti"])
def test_unknown_type_reply_asks_for_the_type_in_french(message: str) -> None:
    parsed = parse_sms(message, now=received_at)

    assert parsed.kind == "incomplete"
    assert parsed.missing == ["type"]
    assert "type d'incident" in parsed.reply()
    assert parsed.incident["place_name"] in {"Gao", "Mopti"}


def test_unknown_type_reply_in_english() -> None:
    parsed = parse_sms("something happened near Gao", now=received_at)

    assert parsed.missing == ["type"]
    assert parsed.language == "en"
    assert "incident type not recognised" in parsed.reply()


def test_unknown_place_is_named_in_the_reply() -> None:
    parsed = parse_sms("IED Zorglubville", now=received_at)

    assert parsed.kind == "incomplete"
    assert parsed.missing == ["location"]
    assert parsed.incident["type"] == "ied"
    assert "Zorglubville" in parsed.reply()
    assert "14.54 -9.19" in parsed.reply()


def test_nothing_understood_gives_the_syntax() -> None:
    parsed = parse_sms("bonjour", now=received_at)

    assert parsed.missing == ["type", "location"]
    assert "ENLEVEMENT DIEMA 2 staff" in parsed.reply()
    assert "KIDNAPPING" in parsed.reply("en")


def test_confirmation_repeats_what_was_understood() -> None:
    parsed = parse_sms("ENLEVEMENT DIEMA 2 staff", now=received_at)

    reply = parsed.reply()
    assert "Enlèvement" in reply
    assert "Diéma" in reply
    assert "2 enlevé" in reply
    assert "Kidnapping" in parsed.reply("en")


@pytest.mark.parametrize("message", [r[0] for r in REPORTS] + ["bonjour", "ok", "IED", "OK K7F3Q"])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_reply_is_one_gsm_sms(message: str, language: str) -> None:
    reply = parse_sms(message, now=received_at).reply(language)

    assert 0 < len(reply) <= SMS_LENGTH
    assert not set(reply) - set(
        "@£$¥èéùìòÇØøÅåÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )


@pytest.mark.parametrize(
    ("text", "alphabet", "segments"),
    [
        ("a" * 160, "gsm7", 1),
        ("a" * 161, "gsm7", 2),
        ("é" * 1530, "gsm7", 10),  # é is in the GSM-7 alphabet
        ("a" * 1531, "gsm7", 11),
        ("€" * 765, "gsm7", 10),  # extension characters take two septets
        ("€" * 766, "gsm7", 11),
        ("ê" * 70, "ucs2", 1),  # ê is not: the whole message goes as UCS-2
        ("ê" * 71, "ucs2", 2),
        ("ê" * 670, "ucs2", 10),
        ("ê" * 671, "ucs2", 11),
        ("🙂" * 335, "ucs2", 10),  # beyond the BMP: two UTF-16 units each
        ("🙂" * 336, "ucs2", 11),
    ],
)
def test_sms_size_counts_segments_in_the_alphabet_the_text_needs(
    text: str, alphabet: str, segments: int
) -> None:
    size = sms_size(text)

    assert (size.alphabet, size.segments) == (alphabet, segments)
    assert size.max_units == (1530 if alphabet == "gsm7" else 670)
    assert (size.segments <= SMS_MAX_SEGMENTS) == (segments <= 10)
