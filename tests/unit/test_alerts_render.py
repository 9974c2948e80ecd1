"""Alert messages: SMS within 160 GSM-7 characters, full forms, languages and masked fields."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest

from alerts.core.render import (
    CODE_ALPHABET,
    GSM7_BASIC,
    SMS_MAX,
    gsm7_length,
    is_gsm7,
    new_alert_code,
    parse_ack_reply,
    render_broadcast,
    render_incident_alert,
    render_level_change,
    to_gsm7,
)
from incidents.records.model import Impact
from incidents.taxonomy.catalogue import TYPES

occurred = datetime(2026, 11, 24, 14, 5, tzinfo=UTC)
long_french_place = (
    "Sébékoro-Kéniéba, à côté du marché hebdomadaire, cercle de Kéniéba, région de Kayes, "
    "près de la frontière guinéenne où l'on prévoit une forte hausse des déplacements forcés"
)


@pytest.fixture(name="view")
def fx_view():
    return {
        "type": "armed_attack",
        "occurred_at": occurred,
        "place_name": "Diéma",
        "severity": 4,
        "status": "verified",
        "impact": Impact(killed=2, injured=1),
        "perpetrator": "non_state_armed_group",
        "description": "Des hommes armés ont attaqué le poste.",
    }


# --- GSM-7 -------------------------------------------------------------------------------------


def test_gsm7_basic_table_has_127_characters_plus_escape():
    assert len(GSM7_BASIC) == 127


@pytest.mark.parametrize("char", list("éèàùìòÉÇÄÖÑÜäöñüÅåÆæßØø@£$¥§¿¡"))
def test_characters_in_the_gsm7_table(char):
    assert is_gsm7(char)
    assert to_gsm7(char) == char


@pytest.mark.parametrize(
    ("char", "plain"),
    [
        ("ç", "c"),
        ("ê", "e"),
        ("â", "a"),
        ("î", "i"),
        ("ô", "o"),
        ("û", "u"),
        ("ë", "e"),
        ("ï", "i"),
        ("œ", "oe"),
        ("Œ", "OE"),
        ("È", "E"),
        ("À", "A"),
        ("Ê", "E"),
        ("’", "'"),
        ("«", '"'),
        ("–", "-"),
        ("…", "..."),
        ("\u202f", " "),
    ],
)
def test_characters_outside_gsm7_are_transliterated(char, plain):
    assert not is_gsm7(char)
    assert to_gsm7(char) == plain


def test_unmappable_characters_become_question_marks():
    assert to_gsm7("Tombouctou ⵜⵓⵎⴱⵓⵜ") == "Tombouctou ??????"


@pytest.mark.parametrize(
    ("text", "length"),
    [("Gao", 3), ("Prix: 5€", 9), ("[Kidal]", 9), ("a\\b|c", 7), ("", 0)],
)
def test_gsm7_length_counts_extension_characters_twice(text, length):
    assert gsm7_length(text) == length


def test_gsm7_length_refuses_characters_it_cannot_send():
    with pytest.raises(ValueError, match="transliterate"):
        gsm7_length("façade")


# --- SMS ---------------------------------------------------------------------------------------


def test_french_sms_has_type_place_time_severity_and_reply_code(view):
    sms = render_incident_alert(view, language="fr", format="sms", code="K7F3Q", link=None)
    assert sms.title == ""
    assert sms.body.startswith("Sentinelle: Attaque armée - Diéma, 24/11 14h05")
    assert "Gravité 4/5" in sms.body
    assert sms.body.endswith("Rep: OK K7F3Q")
    assert is_gsm7(sms.body)


def test_english_sms(view):
    sms = render_incident_alert(view, language="en", format="sms", code="K7F3Q", link=None)
    assert "Armed attack - Diéma, 24/11 14:05" in sms.body
    assert "Severity 4/5" in sms.body
    assert "verified" in sms.body
    assert sms.body.endswith("OK K7F3Q")


def test_sms_time_is_bamako_local_time(view):
    view["occurred_at"] = datetime(2026, 11, 24, 23, 59, tzinfo=UTC)
    sms = render_incident_alert(view, format="sms", code="K7F3Q", link=None)
    assert "24/11 23h59" in sms.body
    lagos = render_incident_alert(
        view, format="sms", code="K7F3Q", link=None, local_tz="Africa/Lagos"
    )
    assert "25/11 00h59" in lagos.body


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("type_code", sorted(TYPES))
def test_every_type_fits_one_sms_with_a_long_french_place(type_code, language, view):
    view.update(
        type=type_code,
        place_name=long_french_place,
        impact=Impact(killed=12, injured=30, abducted=4, aid_workers_affected=True),
    )
    sms = render_incident_alert(view, language=language, format="sms", code="K7F3Q", link=None)
    assert is_gsm7(sms.body)
    assert gsm7_length(sms.body) <= SMS_MAX
    assert to_gsm7(TYPES[type_code].label(language)) in sms.body
    assert "Sébékoro-Kéniéba" in sms.body
    assert ("24/11 14h05" if language == "fr" else "24/11 14:05") in sms.body
    assert "4/5" in sms.body
    assert sms.body.endswith("OK K7F3Q")


def test_sms_transliterates_accents_outside_gsm7(view):
    view["place_name"] = "Forêt de Boucle du Baoulé, près de Kati-Çoura"
    sms = render_incident_alert(view, format="sms", code="K7F3Q", link=None)
    assert "Foret de Boucle du Baoulé" in sms.body
    assert "ç" not in sms.body
    assert is_gsm7(sms.body)


def test_day_precision_shows_the_date_without_a_clock_time(view):
    view["time_precision"] = "day"
    sms = render_incident_alert(view, format="sms", code="K7F3Q", link=None)
    assert ", 24/11." in sms.body
    assert "14h05" not in sms.body


# --- full form ---------------------------------------------------------------------------------


def test_full_french_form(view):
    msg = render_incident_alert(
        view, language="fr", format="full", code="K7F3Q", link="https://sentinelle.example/i/1"
    )
    assert msg.title == "[Sentinelle] Attaque armée – Diéma – gravité 4/5"
    for line in (
        "Type : Attaque armée",
        "Catégorie : Violence",
        "Lieu : Diéma",
        "Date : 24/11/2026 14h05 (heure de Bamako), 24/11 14:05 UTC",
        "Gravité : 4/5",
        "Statut : vérifié",
        "Bilan : 2 morts, 1 blessé",
        "Auteur présumé : groupe armé non étatique",
        "Des hommes armés ont attaqué le poste.",
        "Pour accuser réception, répondez « OK K7F3Q ».",
        "Détails : https://sentinelle.example/i/1",
    ):
        assert line in msg.body.splitlines()


def test_full_english_form(view):
    msg = render_incident_alert(view, language="en", format="full", code=None, link=None)
    assert msg.title == "[Sentinelle] Armed attack – Diéma – severity 4/5"
    lines = msg.body.splitlines()
    assert "Category: Violence" in lines
    assert "Status: verified" in lines
    assert "Impact: 2 killed, 1 injured" in lines
    assert "acknowledge" not in msg.body


def test_fields_absent_from_the_view_are_not_rendered(view):
    full_view = {**view, "actor": "Katiba Macina", "description": "Témoin: Moussa Traoré"}
    masked_view = {k: v for k, v in full_view.items() if k not in ("actor", "description")}
    masked_view["perpetrator"] = None
    for fmt in ("sms", "full"):
        shown = render_incident_alert(full_view, format=fmt, code="K7F3Q", link=None)
        hidden = render_incident_alert(masked_view, format=fmt, code="K7F3Q", link=None)
        assert "Moussa" not in hidden.title + hidden.body
        assert "Katiba" not in hidden.title + hidden.body
        assert "armé non étatique" not in hidden.body
        if fmt == "full":
            assert "Katiba Macina" in shown.body


def test_reporting_organisation_and_user_are_never_rendered(view):
    view.update(
        org_id=uuid.UUID(int=7),
        user_id=uuid.UUID(int=9),
        org="ONG Espoir du Sahel",
        org_name="ONG Espoir du Sahel",
        reporter="Awa Diallo",
        reported_by="Awa Diallo",
    )
    for fmt in ("sms", "full"):
        for lang in ("fr", "en"):
            msg = render_incident_alert(view, language=lang, format=fmt, code="K7F3Q", link=None)
            text = msg.title + msg.body
            assert "Espoir" not in text
            assert "Awa" not in text
            assert str(uuid.UUID(int=7)) not in text


def test_dataclass_views_are_accepted(view):
    @dataclasses.dataclass
    class View:
        type: str
        occurred_at: datetime
        place_name: str | None
        severity: int
        actor: str | None = None

    msg = render_incident_alert(
        View("ied", occurred, "Gao", 5), language="en", format="full", code=None, link=None
    )
    assert msg.body.splitlines()[0] == f"Type: {TYPES['ied'].label('en')}"
    assert "Place: Gao" in msg.body.splitlines()
    assert "Actor" not in msg.body


def test_missing_place_falls_back_to_the_zone_name(view):
    del view["place_name"]
    view["zones"] = [{"id": "ML0105", "name": "Cercle de Diéma"}]
    msg = render_incident_alert(view, format="full", code=None, link=None)
    assert "Lieu : Cercle de Diéma" in msg.body.splitlines()


# --- level changes and broadcasts ----------------------------------------------------------------


def test_level_change_sms_and_full():
    sms = render_level_change("Cercle de Diéma", 3, 4, language="fr", format="sms", code="K7F3Q")
    assert sms.body == "Risque en hausse - Cercle de Diéma: 3 -> 4 (élevé). Rep: OK K7F3Q"
    full = render_level_change("Ménaka", 5, 3, language="en", format="full", changed_at=occurred)
    assert full.title == "[Sentinelle] Risk falling – Ménaka: 5 → 3"
    assert "Risk level: 5 (extreme) → 3 (substantial)" in full.body.splitlines()


def test_level_change_sms_fits_for_a_long_zone_name():
    sms = render_level_change(long_french_place, 1, 5, format="sms", code="K7F3Q")
    assert gsm7_length(sms.body) <= SMS_MAX
    assert sms.body.endswith("(extreme). Rep: OK K7F3Q")  # ê is not GSM-7: e


def test_broadcast_uses_the_preferred_language_then_falls_back():
    message = {"fr": "Route Gao-Ansongo fermée", "en": "Gao-Ansongo road closed"}
    assert "road closed" in render_broadcast(message, "routine", language="en").body
    assert "fermée" in render_broadcast({"fr": message["fr"]}, "routine", language="en").body
    assert "road closed" in render_broadcast({"en": message["en"], "fr": ""}, language="fr").body


def test_broadcast_without_text_is_refused():
    with pytest.raises(ValueError, match="message"):
        render_broadcast({"fr": "  "}, "flash")


def test_flash_broadcast_sms_is_marked_and_fits():
    sms = render_broadcast({"fr": long_french_place * 3}, "flash", format="sms", code="K7F3Q")
    assert sms.body.startswith("FLASH Sentinelle: ")
    assert sms.body.endswith("... Rep: OK K7F3Q")
    assert gsm7_length(sms.body) <= SMS_MAX
    full = render_broadcast({"fr": "Restez à la base."}, "flash", format="full")
    assert full.title == "[Sentinelle] FLASH – Message de Sentinelle"


# --- codes -------------------------------------------------------------------------------------


def test_alert_codes_are_short_unambiguous_and_random():
    codes = {new_alert_code() for _ in range(500)}
    assert len(codes) > 490
    assert all(len(c) == 5 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("0O1I") & set("".join(codes))


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        ("OK K7F3Q", "K7F3Q"),
        ("ok k7f3q", "K7F3Q"),
        ("Ok: K7F3Q merci", "K7F3Q"),
        ("K7F3Q", "K7F3Q"),
        ("bien reçu", None),
        ("OK", None),
    ],
)
def test_ack_replies_are_parsed(reply, code):
    assert parse_ack_reply(reply) == code


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_alerts_name_levels_as_the_api_and_the_pages_do(level: int) -> None:
    from incidents.risk.model import LEVEL_LABELS

    other = 1 if level != 1 else 2
    fr, en = LEVEL_LABELS[level]
    assert f"{level} ({fr})" in render_level_change("Gao", other, level, format="full").body
    english = render_level_change("Gao", other, level, language="en", format="full")
    assert f"{level} ({en})" in english.body
