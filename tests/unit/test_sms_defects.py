"""The SMS misreadings of issue 14, each as written by a focal point, read right now."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from geo.gazetteer import Gazetteer
from incidents.intake.sms import SMS_LENGTH, SmsParse, fit_sms, gsm7_length, parse_sms
from incidents.intake.sms_eval import distance_km
from tests.unit.sms_gazetteers import fx_cod_gazetteer

__all__ = ["fx_cod_gazetteer"]


# A Saturday morning in Bamako (Africa/Bamako is UTC all year).
NOW = datetime(2026, 11, 14, 9, 40, tzinfo=UTC)


def place(name: str) -> tuple[float, float]:
    found = Gazetteer.load().lookup(name)
    assert found is not None, name
    return found.lat, found.lon


def point(parsed: SmsParse) -> tuple[float, float]:
    lon, lat = parsed.incident["geometry"]["coordinates"]
    return lat, lon


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return distance_km(a[0], a[1], b[0], b[1])


def midpoint(a: str, b: str) -> tuple[float, float]:
    (lat1, lon1), (lat2, lon2) = place(a), place(b)
    return (lat1 + lat2) / 2, (lon1 + lon2) / 2


def test_armed_men_who_abducted_two_agents_on_the_diema_nioro_road_at_7() -> None:
    parsed = parse_sms(
        "Bonjour, des hommes armes ont enleve 2 de nos agents sur l axe Diema Nioro vers 7h",
        now=NOW,
    )

    incident = parsed.incident
    assert parsed.kind == "report"
    assert incident["type"] == "kidnapping"
    assert incident["impact"]["abducted"] == 2
    assert incident["impact"]["aid_workers_affected"] is True
    assert incident["location_precision"] == "near"
    assert parsed.road == ("Diéma", "Nioro du Sahel")
    # A point between them, far from either town.
    assert km(point(parsed), midpoint("Diéma", "Nioro du Sahel")) < 2
    assert km(point(parsed), place("Diéma")) > 30
    assert km(point(parsed), place("Nioro du Sahel")) > 30
    assert incident["occurred_at"] == "2026-11-14T07:00:00Z"
    assert incident["time_precision"] == "exact"
    assert "axe Diéma - Nioro du Sahel" in parsed.reply()


@pytest.mark.parametrize(
    "message",
    [
        "embuscade contre FAMa pres de Boni, 5 morts",
        "Embuscade contre les FAMa a Boni 5 morts",
        "embuscade tendue aux FAMa pres de Boni 5 morts",
        "attaque du camp FAMa de Boni 5 morts",
        "attaque des FAMa a Boni 5 morts",
    ],
)
def test_the_army_named_as_target_is_not_the_perpetrator(message: str) -> None:
    parsed = parse_sms(message, now=NOW)

    assert parsed.incident["impact"]["killed"] == 5
    assert "perpetrator" not in parsed.incident
    assert parsed.incident["place_name"] == "Boni"


@pytest.mark.parametrize(
    ("message", "perpetrator"),
    [
        ("embuscade contre FAMa pres de Boni par des jihadistes", "non_state_armed_group"),
        ("attaque des FAMa par les terroristes a Dioura", "non_state_armed_group"),
        ("vol de moto a Gao par des bandits armes", "criminal"),
        ("vol de moto a Gao par des bandits", "criminal"),
        ("Robbery of our office in Gao by armed bandits", "criminal"),
        ("3 civils tues par des militaires a Sofara", "state_forces"),
        ("les dozos ont tue 3 bergers a Koro", "community_militia"),
        ("2 NGO staff kidnapped near Menaka by ISGS", "non_state_armed_group"),
    ],
)
def test_par_and_by_name_the_perpetrator(message: str, perpetrator: str) -> None:
    assert parse_sms(message, now=NOW).incident["perpetrator"] == perpetrator


@pytest.mark.parametrize(
    ("message", "a", "b"),
    [
        ("attaque sur la route de nioro apres diema", "Diéma", "Nioro du Sahel"),
        ("EEI entre Bandiagara et Douentza", "Bandiagara", "Douentza"),
        ("ambush between Gao and Ansongo", "Gao", "Ansongo"),
        ("braquage axe Kayes-Diema", "Kayes", "Diéma"),
        ("Armed robbery on the road from Mopti to Bandiagara", "Mopti", "Bandiagara"),
        ("IED Ansongo Menaka road", "Ansongo", "Ménaka"),
    ],
)
def test_a_place_on_a_road_is_between_its_towns(message: str, a: str, b: str) -> None:
    parsed = parse_sms(message, now=NOW)

    assert parsed.incident["location_precision"] == "near"
    assert km(point(parsed), midpoint(a, b)) < 5
    assert min(km(point(parsed), place(a)), km(point(parsed), place(b))) > 10


@pytest.mark.parametrize(
    ("message", "a", "b"),
    [
        ("EEI entre Sevare et Douentza", "Sevare", "Douentza"),
        ("attaque axe Konna Bore", "Konna", "Boré"),
        ("braquage entre sevari et Fatoma", "Sevare", "Fatoma"),
    ],
)
def test_places_a_deployment_imported_are_read_by_their_sms_spellings(
    message: str, a: str, b: str, cod_gazetteer: Gazetteer
) -> None:
    """Sévaré, Konna, Boré... were unknown until the GeoNames villages were packaged: the
    packaged gazetteer reads their SMS spellings, and so does one with the OCHA COD populated
    places imported (`sentinelle places import`), at the COD's points."""
    packaged = parse_sms(message, now=NOW)
    (lat1, lon1), (lat2, lon2) = (place(a), place(b))
    assert packaged.incident["location_precision"] == "near"
    assert km(point(packaged), ((lat1 + lat2) / 2, (lon1 + lon2) / 2)) < 2

    parsed = parse_sms(message, now=NOW, gazetteer=cod_gazetteer)

    (lat1, lon1), (lat2, lon2) = (_at(cod_gazetteer, n) for n in (a, b))
    assert parsed.incident["location_precision"] == "near"
    assert km(point(parsed), ((lat1 + lat2) / 2, (lon1 + lon2) / 2)) < 2


def _at(gazetteer: Gazetteer, name: str) -> tuple[float, float]:
    found = gazetteer.lookup(name)
    assert found is not None, name
    assert found.source.startswith(("cod:", "geonames:")), name
    return found.lat, found.lon


def test_n_km_from_a_towards_b_is_on_that_line() -> None:
    parsed = parse_sms("attaque a 30 km de Gao vers Bourem, 2 morts", now=NOW)

    assert parsed.incident["location_precision"] == "near"
    assert km(point(parsed), place("Gao")) == pytest.approx(30, abs=1)
    assert km(point(parsed), place("Bourem")) == pytest.approx(
        km(place("Gao"), place("Bourem")) - 30, abs=1
    )
    assert parsed.incident["impact"]["killed"] == 2


def test_at_the_edge_of_a_town_on_the_road_out_is_that_town() -> None:
    parsed = parse_sms("EEI a la sortie de Douentza vers Boni ce matin", now=NOW)

    assert parsed.incident["place_name"] == "Douentza"
    assert parsed.incident["location_precision"] == "near"


@pytest.mark.parametrize(
    ("message", "occurred_at", "precision"),
    [
        ("attaque Gao nuit derniere", "2026-11-13T23:00:00Z", "day"),
        ("attaque Gao la nuit derniere 2 morts", "2026-11-13T23:00:00Z", "day"),
        ("vol au bureau de Gao cette nuit", "2026-11-13T23:00:00Z", "day"),
        ("enleve 3 commercants a Ansongo hier soir", "2026-11-13T20:00:00Z", "day"),
        ("attaque Kidal ce matin", "2026-11-14T08:00:00Z", "day"),
        ("enlevement a Bandiagara le 12/11", "2026-11-12T09:40:00Z", "day"),
        ("enlevement a Tessalit le 12/11 a 22h", "2026-11-12T22:00:00Z", "exact"),
        ("attaque Gao vers 7h", "2026-11-14T07:00:00Z", "exact"),
        ("attack in Gao last night", "2026-11-13T23:00:00Z", "day"),
        ("attack in Gao yesterday evening", "2026-11-13T20:00:00Z", "day"),
        ("vol Gao ce soir", "2026-11-14T09:40:00Z", "day"),  # never after the SMS
    ],
)
def test_relative_times(message: str, occurred_at: str, precision: str) -> None:
    parsed = parse_sms(message, now=NOW)

    assert parsed.incident["occurred_at"] == occurred_at
    assert parsed.incident["time_precision"] == precision


def test_nuit_derniere_is_not_a_place_name() -> None:
    parsed = parse_sms("IED nuit derniere Zorglubville", now=NOW)

    assert parsed.unknown_place == "Zorglubville"
    with_coordinates = parse_sms("IED 14.54 -9.19 nuit derniere", now=NOW)
    assert "place_name" not in with_coordinates.incident


@pytest.mark.parametrize(
    ("message", "lat", "lon"),
    [
        ("IED 14,62 -8,12 ce matin", 14.62, -8.12),
        ("IED 14,6 -8,1", 14.6, -8.1),
        ("IED lat 14,62 lon -8,12", 14.62, -8.12),
        ("attaque 16,27 ; -0,05 hier soir", 16.27, -0.05),
        ("Braquage N 14,35 W 3,61", 14.35, -3.61),
    ],
)
def test_decimal_commas_in_coordinates(message: str, lat: float, lon: float) -> None:
    parsed = parse_sms(message, now=NOW)

    assert parsed.incident["location_precision"] == "exact"
    assert parsed.incident["geometry"]["coordinates"] == pytest.approx([lon, lat])


@pytest.mark.parametrize(
    ("message", "code", "impact"),
    [
        ("kidnappe: notre chauffeur a Tombouctou", "kidnapping", {"abducted": 1}),
        ("2 agents enlevés à Gao", "kidnapping", {"abducted": 2}),
        ("3 personnes enlevees a Gao", "kidnapping", {"abducted": 3}),
        ("JNIM a enleve 5 personnes a Gao", "kidnapping", {"abducted": 5}),
        ("Des individus armes ont tue 2 chauffeurs a Gao", "killing", {"killed": 2}),
        ("attaque a Gao: 4 tués, 7 blessés", "armed_attack", {"killed": 4, "injured": 7}),
        ("3 douaniers tues a Gao", "killing", {"killed": 3}),
        ("un berger tue par balle pres de Gao", "killing", {"killed": 1}),
        ("village pillé par des hommes armes pres de Gao", "looting", {}),
        ("boutiques pillees a Gao", "looting", {}),
        ("Explosion d un engin a Gao, pas de blesse", "ied", {"injured": 0}),
        ("ied hit our car near Gao no one hurt", "ied", {"injured": 0}),
        ("attack on Gao airport with rockets", "shelling", {}),
        ("2 soldats tues dans l explosion d une mine a Gao", "landmine_uxo", {"killed": 2}),
    ],
)
def test_verb_forms_and_plurals(message: str, code: str, impact: dict[str, int]) -> None:
    parsed = parse_sms(message, now=NOW)

    assert parsed.incident["type"] == code
    for name, value in impact.items():
        assert parsed.incident["impact"][name] == value, name


@pytest.mark.parametrize(
    ("message", "name", "language", "asks"),
    [
        ("IED a Tinabaw hier, 2 morts", "Tinabaw", "fr", "ville la plus proche"),
        ("enlevement a Tin-Kouzaret 2 staff", "Tin", "fr", "ville la plus proche"),
        ("IED near Intahaka this morning", "Intahaka", "en", "nearest town"),
    ],
)
def test_an_unknown_place_asks_for_the_nearest_town(
    message: str, name: str, language: str, asks: str
) -> None:
    parsed = parse_sms(message, now=NOW)

    assert parsed.kind == "incomplete"
    assert parsed.missing == ["location"]
    assert "geometry" not in parsed.incident
    assert parsed.unknown_place is not None
    assert parsed.unknown_place.startswith(name)
    reply = parsed.reply()
    assert asks in reply
    assert gsm7_length(reply) <= SMS_LENGTH


def _words_of(text: str) -> set[str]:
    return set(re.findall(r"[\w'()-]+", text))


LONG = (
    "Bonjour, ce matin vers 6h30 des hommes armes ont enleve 3 de nos agents humanitaires, "
    "tue 2 chauffeurs et blesse 4 passagers sur l axe Nioro du Sahel Diema"
)


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("reference", [None, "K7Q2XZ"])
def test_a_long_reply_never_cuts_a_word_and_fits_one_sms(
    language: str, reference: str | None
) -> None:
    parsed = parse_sms(LONG, now=NOW)

    reply = parsed.reply(language, reference=reference)

    assert gsm7_length(reply) <= SMS_LENGTH
    full = parsed.reply(language, reference=reference, segments=4)
    assert _words_of(reply.rstrip(".")) <= _words_of(full)
    assert reply.endswith(".")


def test_more_segments_allowed_give_the_full_reply() -> None:
    parsed = parse_sms(LONG, now=NOW)

    one = parsed.reply("fr")
    two = parsed.reply("fr", segments=2)

    assert gsm7_length(two) <= 306
    assert "renvoyez le message complet dans l'heure" in two
    assert len(two) > len(one)


@pytest.mark.parametrize("segments", [1, 2, 3])
def test_fit_sms_cuts_between_words(segments: int) -> None:
    text = " ".join(f"mot{i}long" for i in range(200))

    fitted = fit_sms(text, segments=segments)

    assert gsm7_length(fitted) <= (160 if segments == 1 else 153 * segments)
    assert set(fitted.rstrip(".").split()) <= set(text.split())
