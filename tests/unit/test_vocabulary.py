"""One vocabulary: every level name, trend word and type label people read (API, alerts in each
format, SMS replies, pages) is the catalogue's entry (incidents/vocabulary), in both languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.core.render import render_incident_alert, render_level_change, to_gsm7
from api.http.routes.zones import risk_out
from api.web import i18n, planner
from incidents import vocabulary
from incidents.intake.sms import parse_sms
from incidents.risk.model import LEVEL_CODES, LEVEL_LABELS, TRENDS
from incidents.risk.service import StoredRisk
from incidents.taxonomy.catalogue import TYPES

now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LANGUAGES = ("fr", "en")
LEVELS = sorted(LEVEL_CODES)
# Every level name the catalogue has, in any language: a surface showing one of another level
# or language is caught by comparing with the one expected.
ALL_LEVEL_NAMES = {
    vocabulary.level_label(code, lang)
    for code in (*LEVEL_CODES.values(), vocabulary.NO_DATA)
    for lang in LANGUAGES
}
# Names used before the catalogue (SMS alerts had their own): never shown again.
RETIRED = ("très faible", "tres faible", "critique", "critical")


def stored(level: int, trend: str = "stable") -> StoredRisk:
    return StoredRisk(
        zone_id="town_diema",
        code="town_diema",
        name="Diéma",
        kind="town",
        score=1.0,
        level=level,
        sub_scores={},
        trend=trend,
        expected_incidents=0.0,
        contributors=[],
        computed_at=now,
    )


def test_every_level_trend_and_no_data_has_an_entry_in_both_languages() -> None:
    for lang in LANGUAGES:
        for code in (*LEVEL_CODES.values(), vocabulary.NO_DATA):
            assert vocabulary.level_label(code, lang).strip()
        for trend in TRENDS:
            assert vocabulary.trend_label(trend, lang).strip()
    assert vocabulary.level_label("no_data", "fr") == "pas de données"
    assert vocabulary.level_label("no_data", "en") == "no data"
    assert [vocabulary.level_label(c, "fr") for c in LEVEL_CODES.values()] == [
        "faible",
        "modéré",
        "notable",
        "élevé",
        "extrême",
    ]
    # Five distinct names per language: two levels never read alike.
    for lang in LANGUAGES:
        assert len({vocabulary.level_label(c, lang) for c in LEVEL_CODES.values()}) == 5


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_late_report_is_marked_with_the_catalogue_words(lang: str) -> None:
    view = {"type": "kidnapping", "occurred_at": now, "place_name": "Diéma", "reported_late": True}
    mark = vocabulary.term("mark", "reported_late", lang)
    assert mark == {"fr": "signalé tardivement", "en": "reported late"}[lang]
    assert mark in render_incident_alert(view, language=lang, format="full").title
    assert to_gsm7(mark) in render_incident_alert(view, language=lang, format="sms").body


def test_an_unknown_code_is_refused_rather_than_shown() -> None:
    with pytest.raises(KeyError):
        vocabulary.level_label("very_low", "fr")
    with pytest.raises(KeyError):
        vocabulary.trend_label("soaring", "en")


def test_the_risk_model_names_levels_from_the_catalogue() -> None:
    for level in LEVELS:
        fr, en = LEVEL_LABELS[level]
        assert fr == vocabulary.level_label(LEVEL_CODES[level], "fr")
        assert en == vocabulary.level_label(LEVEL_CODES[level], "en")


@pytest.mark.parametrize("level", LEVELS)
def test_the_api_gives_the_catalogue_names_of_every_level(level: int) -> None:
    out = risk_out(stored(level))
    assert out.level_label == vocabulary.level_label(LEVEL_CODES[level], "fr")
    assert out.level_label_en == vocabulary.level_label(LEVEL_CODES[level], "en")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("old", "new"), [(a, b) for a in LEVELS for b in LEVELS if a != b])
def test_a_level_change_alert_in_each_format_names_levels_from_the_catalogue(
    lang: str, old: int, new: int
) -> None:
    new_name = vocabulary.level_label(LEVEL_CODES[new], lang)
    old_name = vocabulary.level_label(LEVEL_CODES[old], lang)
    head = vocabulary.level_change_label("rising" if new > old else "falling", lang)
    sms = render_level_change("Diéma", old, new, language=lang, format="sms", changed_at=now)
    assert f"({to_gsm7(new_name)})" in sms.body
    assert sms.body.startswith(to_gsm7(head))
    full = render_level_change("Diéma", old, new, language=lang, format="full", changed_at=now)
    assert f"{old} ({old_name}) → {new} ({new_name})" in full.body
    assert head in full.title
    shown = {n for n in ALL_LEVEL_NAMES if f"({n})" in full.body}
    assert shown == {old_name, new_name}
    for text in (sms.body.lower(), full.body.lower(), full.title.lower()):
        assert not any(word in text for word in RETIRED)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("code", sorted(TYPES))
def test_an_incident_alert_names_the_type_from_the_catalogue(lang: str, code: str) -> None:
    view = {"type": code, "occurred_at": now, "place_name": "Diéma", "status": "reported"}
    label = vocabulary.type_label(code, lang)
    full = render_incident_alert(view, language=lang, format="full")
    assert label in full.title
    category = vocabulary.category_label(TYPES[code].category, lang)
    assert category in full.body
    sms = render_incident_alert(view, language=lang, format="sms")
    assert to_gsm7(label)[:20] in sms.body


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("ENLEVEMENT DIEMA 2 staff", "kidnapping"),
        ("IED 14.54 -9.19", "ied"),
        ("kidnapping Diema 2 staff", "kidnapping"),
    ],
)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_sms_reply_names_the_type_from_the_catalogue(text: str, code: str, lang: str) -> None:
    parse = parse_sms(text, now=now)
    assert parse.incident.get("type") == code
    reply = parse.reply(lang, segments=2)
    assert to_gsm7(vocabulary.type_label(code, lang).split(" (")[0].split(",")[0]) in reply


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_pages_name_levels_and_trends_from_the_catalogue(lang: str) -> None:
    for level in LEVELS:
        assert planner.level_label(level, lang) == vocabulary.level_label(LEVEL_CODES[level], lang)
    for trend in TRENDS:
        assert i18n.trend_label(trend, lang) == vocabulary.trend_label(trend, lang)
    assert i18n.level_label("no_data", lang) == vocabulary.level_label("no_data", lang)
    # The pages' own catalogue holds none of these words: one home for them.
    catalogue = i18n.translations(lang)
    for trend in ("rising", "falling"):
        assert catalogue.gettext(trend) == trend


def test_every_type_and_category_label_is_the_catalogue_entry_in_both_languages() -> None:
    from incidents.taxonomy.catalogue import CATEGORIES

    for lang in LANGUAGES:
        for code, itype in TYPES.items():
            assert itype.label(lang) == vocabulary.term("type", code, lang)
            assert itype.label(lang).strip()
        for code, category in CATEGORIES.items():
            assert category.label(lang) == vocabulary.term("category", code, lang)
    assert TYPES["kidnapping"].label("fr") == "Enlèvement"
    assert TYPES["kidnapping"].label("en") == "Kidnapping"


def test_a_taxonomy_row_with_its_own_label_or_without_one_in_the_catalogue_is_refused() -> None:
    from incidents.taxonomy import catalogue

    row = {"code": "kidnapping", "label_fr": "Rapt"}
    with pytest.raises(catalogue.TaxonomyDataError, match=r"terms\.po"):
        catalogue._labels("type", row)
    with pytest.raises(catalogue.TaxonomyDataError, match='msgid "drone_strike"'):
        catalogue._labels("type", {"code": "drone_strike"})
