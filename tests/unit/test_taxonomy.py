"""Unit tests for the incident taxonomy and its mappings to ACLED, AWSD and OCHA."""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from importlib.resources import files

import pytest

from incidents.taxonomy import catalogue as taxonomy
from incidents.taxonomy.catalogue import (
    CATEGORIES,
    TYPES,
    UnknownCodeError,
    expand_codes,
    from_acled,
    from_awsd,
    get_type,
    normalize_text,
    ocha_access_category,
    ocha_access_types,
    sub_score_of,
    to_acled,
    to_awsd,
    to_awsd_context,
    type_for_keyword,
)

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")

# The taxonomy promised to clients: removing or moving any of these breaks stored incidents.
REQUIRED_TYPES = {
    "violence": [
        "armed_attack", "ambush", "crossfire", "assault", "killing", "sexual_violence",
        "intercommunal_clash",
    ],
    "explosive": ["ied", "landmine_uxo", "shelling", "airstrike"],
    "abduction": ["kidnapping", "detention", "disappearance"],
    "crime": ["theft", "robbery", "carjacking", "burglary", "looting", "extortion"],
    "threat": ["threat", "harassment", "redline_threat", "reputational_attack"],
    "access": [
        "access_denial", "movement_restriction", "illegal_checkpoint",
        "military_exclusion_zone", "interference", "permit_refusal", "blockade",
    ],
    "unrest": ["demonstration", "riot"],
    "hazard": ["flood", "fire", "road_accident", "epidemic"],
    "displacement": ["population_movement"],
    "other": ["other"],
}  # fmt: skip

EXPECTED_SUB_SCORES = {
    "violence": "violence",
    "explosive": "violence",
    "abduction": "violence",
    "threat": "violence",
    "crime": "crime",
    "access": "access",
    "unrest": "other",
    "hazard": "other",
    "displacement": "other",
    "other": "other",
}

# Every ACLED (event_type, sub_event_type) of the current codebook, written out independently of
# the module so that a dropped pair fails here.
ACLED_PAIRS = [
    ("Battles", "Armed clash"),
    ("Battles", "Government regains territory"),
    ("Battles", "Non-state actor overtakes territory"),
    ("Explosions/Remote violence", "Chemical weapon"),
    ("Explosions/Remote violence", "Air/drone strike"),
    ("Explosions/Remote violence", "Suicide bomb"),
    ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
    ("Explosions/Remote violence", "Remote explosive/landmine/IED"),
    ("Explosions/Remote violence", "Grenade"),
    ("Violence against civilians", "Sexual violence"),
    ("Violence against civilians", "Attack"),
    ("Violence against civilians", "Abduction/forced disappearance"),
    ("Protests", "Peaceful protest"),
    ("Protests", "Protest with intervention"),
    ("Protests", "Excessive force against protesters"),
    ("Riots", "Violent demonstration"),
    ("Riots", "Mob violence"),
    ("Strategic developments", "Agreement"),
    ("Strategic developments", "Arrests"),
    ("Strategic developments", "Change to group/activity"),
    ("Strategic developments", "Disrupted weapons use"),
    ("Strategic developments", "Headquarters or base established"),
    ("Strategic developments", "Looting/property destruction"),
    ("Strategic developments", "Non-violent transfer of territory"),
    ("Strategic developments", "Other"),
]

AWSD_MEANS = [
    "Aerial bombardment", "Bodily assault", "Body-borne IED", "Complex attack",
    "Detention/arrest", "Kidnap-killing", "Kidnapping", "Landmine", "Other Explosives",
    "Rape/sexual assault", "Roadside IED", "Shelling", "Shooting", "Unknown",
    "Vehicle-borne IED",
]  # fmt: skip


@pytest.fixture(name="raw_taxonomy")
def fx_raw_taxonomy() -> dict[str, list[dict[str, object]]]:
    text = files("incidents").joinpath("data/taxonomy.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


# --- structure ----------------------------------------------------------------------------------


def test_codes_are_snake_case() -> None:
    bad = [c for c in [*CATEGORIES, *TYPES] if not SNAKE_CASE.match(c)]
    assert bad == []


def test_codes_are_unique_in_the_data_file(
    raw_taxonomy: dict[str, list[dict[str, object]]],
) -> None:
    type_codes = [row["code"] for row in raw_taxonomy["type"]]
    category_codes = [row["code"] for row in raw_taxonomy["category"]]
    assert len(type_codes) == len(set(type_codes)) == len(TYPES)
    assert len(category_codes) == len(set(category_codes)) == len(CATEGORIES)


@pytest.mark.parametrize("category", list(REQUIRED_TYPES))
def test_required_types_exist_in_their_category(category: str) -> None:
    assert category in CATEGORIES
    for code in REQUIRED_TYPES[category]:
        assert TYPES[code].category == category


def test_every_category_has_types() -> None:
    empty = [c for c in CATEGORIES if not taxonomy.types_in(c)]
    assert empty == []


def test_categories_keep_their_documented_order() -> None:
    assert list(CATEGORIES) == list(REQUIRED_TYPES)


@pytest.mark.parametrize("code", list(TYPES))
def test_type_labels_present_in_both_languages(code: str) -> None:
    itype = TYPES[code]
    assert itype.label_fr.strip()
    assert itype.label_en.strip()
    assert itype.label() == itype.label_fr
    assert itype.label("en") == itype.label_en
    assert itype.label("en-GB") == itype.label_en
    assert itype.label("fr-ML") == itype.label_fr


@pytest.mark.parametrize("code", list(CATEGORIES))
def test_category_labels_present_in_both_languages(code: str) -> None:
    category = CATEGORIES[code]
    assert category.label_fr.strip()
    assert category.label_en.strip()
    assert category.label("en") == category.label_en


@pytest.mark.parametrize(("category", "sub_score"), EXPECTED_SUB_SCORES.items())
def test_category_sub_scores(category: str, sub_score: str) -> None:
    assert CATEGORIES[category].sub_score == sub_score
    for itype in taxonomy.types_in(category):
        assert sub_score_of(itype.code) == sub_score


def test_sub_score_of_unknown_type_raises() -> None:
    with pytest.raises(UnknownCodeError):
        sub_score_of("kidnap")


@pytest.mark.parametrize("code", list(TYPES))
def test_severity_and_weight_within_range(code: str) -> None:
    itype = TYPES[code]
    assert isinstance(itype.default_severity, int)
    assert 1 <= itype.default_severity <= 5
    assert 0.1 <= itype.risk_weight <= 3.0


@pytest.mark.parametrize(
    ("heavier", "lighter"),
    [
        ("kidnapping", "theft"),
        ("ied", "permit_refusal"),
        ("ambush", "harassment"),
        ("robbery", "theft"),
        ("riot", "demonstration"),
    ],
)
def test_more_dangerous_types_weigh_more(heavier: str, lighter: str) -> None:
    assert TYPES[heavier].risk_weight > TYPES[lighter].risk_weight
    assert TYPES[heavier].default_severity >= TYPES[lighter].default_severity


# --- keywords ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(TYPES))
def test_every_type_has_keywords_in_both_languages(code: str) -> None:
    assert TYPES[code].keywords_fr
    assert TYPES[code].keywords_en


def test_no_keyword_points_to_two_types() -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for itype in TYPES.values():
        for keyword in (*itype.keywords_fr, *itype.keywords_en):
            owners[normalize_text(keyword)].add(itype.code)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("enlevement", "kidnapping"),
        ("Enlèvement", "kidnapping"),
        ("RAPT", "kidnapping"),
        ("abduction", "kidnapping"),
        ("eei", "ied"),
        ("engin explosif", "ied"),
        ("mine artisanale", "ied"),
        ("vol", "theft"),
        ("vol à main armée", "robbery"),
        ("embuscade", "ambush"),
        ("faux barrage", "illegal_checkpoint"),
        ("couvre-feu", "movement_restriction"),
        ("déplacés", "population_movement"),
        ("hani", "armed_attack"),
    ],
)
def test_field_keywords_find_their_type(word: str, code: str) -> None:
    assert type_for_keyword(word) == code


@pytest.mark.parametrize("word", ["bonjour", "marché", "siège", "feu", "cessez-le-feu"])
def test_everyday_words_find_no_type(word: str) -> None:
    # "attaque au marché", "siège de l'ONG" must not be read as a demonstration or a blockade
    # once accents are dropped.
    assert type_for_keyword(word) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Enlèvement  d’un  AGENT ", "enlevement d'un agent"),
        ("ÉMEUTE", "emeute"),
        ("", ""),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


# --- lookup and expansion ---------------------------------------------------------------------


def test_get_type_ignores_case_and_spaces() -> None:
    assert get_type(" Kidnapping ").code == "kidnapping"


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("kidnaping", "kidnapping"),
        ("armed-attack", "armed_attack"),
        ("ambsh", "ambush"),
        ("enlevement", "kidnapping"),
        ("landmine", "landmine_uxo"),
    ],
)
def test_unknown_type_suggests_closest(typo: str, suggestion: str) -> None:
    with pytest.raises(UnknownCodeError) as caught:
        get_type(typo)
    assert caught.value.code == typo
    assert caught.value.field == "type"
    assert caught.value.suggestions[0] == suggestion
    assert suggestion in str(caught.value)


def test_unknown_type_without_close_match_lists_valid_codes() -> None:
    with pytest.raises(UnknownCodeError) as caught:
        get_type("zzzz")
    assert caught.value.suggestions == []
    assert "armed_attack" in str(caught.value)
    assert "population_movement" in str(caught.value)


def test_unknown_code_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="kidnapping"):
        get_type("kidnaping")


def test_expand_codes_mixes_categories_and_types() -> None:
    assert expand_codes(["abduction", "theft", "IED"]) == {
        "kidnapping",
        "detention",
        "disappearance",
        "theft",
        "ied",
    }


def test_expand_codes_bare_code_shared_by_category_and_type_means_category() -> None:
    assert expand_codes(["threat"]) == {
        "threat",
        "harassment",
        "redline_threat",
        "reputational_attack",
    }


def test_expand_codes_prefix_selects_type_or_category() -> None:
    assert expand_codes(["type:threat"]) == {"threat"}
    assert expand_codes(["category:unrest", "type:other"]) == {"demonstration", "riot", "other"}


def test_expand_codes_of_all_categories_is_all_types() -> None:
    assert expand_codes(CATEGORIES) == set(TYPES)


def test_expand_codes_empty() -> None:
    assert expand_codes([]) == frozenset()


@pytest.mark.parametrize("codes", [["violence", "kidnaping"], ["type:violence"], ["crimes"]])
def test_expand_codes_unknown_raises_with_field(codes: list[str]) -> None:
    with pytest.raises(UnknownCodeError) as caught:
        expand_codes(codes, field="incident_types")
    assert caught.value.field == "incident_types"
    assert "incident_types" in str(caught.value)


def test_expand_codes_suggests_category() -> None:
    with pytest.raises(UnknownCodeError) as caught:
        expand_codes(["crimes"])
    assert caught.value.suggestions[0] == "crime"


# --- ACLED ------------------------------------------------------------------------------------


def test_acled_table_covers_exactly_the_codebook() -> None:
    assert set(taxonomy.ACLED_TO_TYPE) == set(ACLED_PAIRS)
    assert set(taxonomy.ACLED_FALLBACK) == {e for e, _ in ACLED_PAIRS}


@pytest.mark.parametrize(("event_type", "sub_event_type"), ACLED_PAIRS)
def test_every_acled_sub_event_maps_to_a_type(event_type: str, sub_event_type: str) -> None:
    assert from_acled(event_type, sub_event_type) in TYPES


@pytest.mark.parametrize(
    ("event_type", "sub_event_type", "code"),
    [
        ("Explosions/Remote violence", "Air/drone strike", "airstrike"),
        ("Explosions/Remote violence", "Remote explosive/landmine/IED", "ied"),
        ("Explosions/Remote violence", "Shelling/artillery/missile attack", "shelling"),
        ("Violence against civilians", "Abduction/forced disappearance", "kidnapping"),
        ("Violence against civilians", "Sexual violence", "sexual_violence"),
        ("Strategic developments", "Arrests", "detention"),
        ("Strategic developments", "Looting/property destruction", "looting"),
        ("Protests", "Peaceful protest", "demonstration"),
        ("Riots", "Violent demonstration", "riot"),
        ("Battles", "Armed clash", "armed_attack"),
    ],
)
def test_acled_sub_events_map_as_documented(
    event_type: str, sub_event_type: str, code: str
) -> None:
    assert from_acled(event_type, sub_event_type) == code


@pytest.mark.parametrize(
    ("event_type", "sub_event_type", "code"),
    [
        ("explosions / remote violence", "REMOTE EXPLOSIVE / LANDMINE / IED", "ied"),
        ("  Violence  against   civilians ", "abduction/forced  disappearance", "kidnapping"),
        ("strategic_developments", "arrests", "detention"),
        ("Explosions/Remote violence", "Air / drone strike", "airstrike"),
    ],
)
def test_from_acled_tolerates_case_and_spacing(
    event_type: str, sub_event_type: str, code: str
) -> None:
    assert from_acled(event_type, sub_event_type) == code


@pytest.mark.parametrize(
    ("event_type", "sub_event_type", "code"),
    [
        ("Battles", None, "armed_attack"),
        ("Explosions/Remote violence", "", "ied"),
        ("Riots", "Something new", "riot"),
        ("Strategic developments", None, "other"),
        ("Remote violence", None, "ied"),
    ],
)
def test_from_acled_falls_back_on_event_type(
    event_type: str, sub_event_type: str | None, code: str
) -> None:
    assert from_acled(event_type, sub_event_type) == code


def test_from_acled_unknown_event_type_raises() -> None:
    with pytest.raises(UnknownCodeError) as caught:
        from_acled("Battle", "Armed clash")
    assert caught.value.field == "event_type"
    assert caught.value.suggestions[0] == "Battles"


@pytest.mark.parametrize("code", list(TYPES))
def test_to_acled_gives_a_codebook_pair(code: str) -> None:
    assert to_acled(code) in set(ACLED_PAIRS)


@pytest.mark.parametrize("code", sorted(set(taxonomy.ACLED_TO_TYPE.values())))
def test_acled_round_trip_for_types_acled_produces(code: str) -> None:
    assert from_acled(*to_acled(code)) == code


def test_to_acled_unknown_type_raises() -> None:
    with pytest.raises(UnknownCodeError):
        to_acled("kidnaping")


# --- AWSD -------------------------------------------------------------------------------------


def test_awsd_table_covers_every_means() -> None:
    assert set(taxonomy.AWSD_TO_TYPE) == set(AWSD_MEANS)


@pytest.mark.parametrize("means", AWSD_MEANS)
def test_every_awsd_means_maps_to_a_type(means: str) -> None:
    assert from_awsd(means) in TYPES


@pytest.mark.parametrize(
    ("means", "context", "code"),
    [
        ("Kidnapping", None, "kidnapping"),
        ("Kidnap-killing", None, "kidnapping"),
        ("Shooting", None, "armed_attack"),
        ("Shooting", "Ambush", "ambush"),
        ("shooting", "combat / crossfire", "crossfire"),
        ("Bodily assault", None, "assault"),
        ("Bodily assault", "Mob violence", "riot"),
        ("Roadside IED", "Ambush", "ied"),
        ("Vehicle-born IED", None, "ied"),
        ("LANDMINE", None, "landmine_uxo"),
        ("Rape or serious sexual assault", None, "sexual_violence"),
        ("Aerial bombardment", None, "airstrike"),
        ("", None, "other"),
    ],
)
def test_from_awsd(means: str, context: str | None, code: str) -> None:
    assert from_awsd(means, context) == code


def test_from_awsd_unknown_means_raises_with_suggestion() -> None:
    with pytest.raises(UnknownCodeError) as caught:
        from_awsd("Kidnaping")
    assert caught.value.field == "means"
    assert "Kidnapping" in caught.value.suggestions


@pytest.mark.parametrize("code", list(TYPES))
def test_to_awsd_gives_a_known_means_or_none(code: str) -> None:
    assert to_awsd(code) in {*AWSD_MEANS, None}


@pytest.mark.parametrize("code", ["theft", "threat", "flood", "demonstration", "other"])
def test_non_violent_types_are_not_awsd_incidents(code: str) -> None:
    assert to_awsd(code) is None


# AWSD has no means for these: exporting them loses the type (documented in docs/taxonomy.md).
AWSD_LOSSY = {"killing", "disappearance", "intercommunal_clash"}


@pytest.mark.parametrize("code", [c for c in TYPES if to_awsd(c) and c not in AWSD_LOSSY])
def test_awsd_round_trip(code: str) -> None:
    means = to_awsd(code)
    assert means is not None
    assert from_awsd(means, to_awsd_context(code)) == code


# --- OCHA -------------------------------------------------------------------------------------


def test_every_type_has_an_ocha_decision() -> None:
    assert set(taxonomy.TYPE_TO_OCHA_ACCESS) == set(TYPES)
    assert set(taxonomy.TYPE_TO_ACLED) == set(TYPES)
    assert set(taxonomy.TYPE_TO_AWSD) == set(TYPES)


@pytest.mark.parametrize("code", list(TYPES))
def test_ocha_category_in_range(code: str) -> None:
    assert ocha_access_category(code) in {*range(1, 10), None}


@pytest.mark.parametrize("code", [t.code for t in taxonomy.types_in("access")])
def test_every_access_type_is_an_ocha_access_constraint(code: str) -> None:
    assert ocha_access_category(code) is not None


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("movement_restriction", 3),
        ("illegal_checkpoint", 3),
        ("interference", 4),
        ("kidnapping", 5),
        ("shelling", 7),
        ("ied", 8),
        ("landmine_uxo", 8),
        ("flood", 9),
        ("demonstration", None),
    ],
)
def test_ocha_access_category(code: str, category: int | None) -> None:
    assert ocha_access_category(code) == category


def test_ocha_access_types_is_the_inverse() -> None:
    for number in taxonomy.OCHA_ACCESS_CATEGORIES:
        for code in ocha_access_types(number):
            assert ocha_access_category(code) == number
    assert "permit_refusal" in ocha_access_types(3)


def test_ocha_access_types_rejects_unknown_category() -> None:
    with pytest.raises(UnknownCodeError) as caught:
        ocha_access_types(10)
    assert caught.value.field == "ocha_category"


def test_ocha_categories_are_the_nine_of_the_framework() -> None:
    assert list(taxonomy.OCHA_ACCESS_CATEGORIES) == list(range(1, 10))
    for label_fr, label_en in taxonomy.OCHA_ACCESS_CATEGORIES.values():
        assert label_fr.strip()
        assert label_en.strip()


# --- data file checks -------------------------------------------------------------------------


def _row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        # A code with labels in the vocabulary (incidents/vocabulary/.../terms.po).
        "code": "burglary",
        "category": "crime",
        "default_severity": 2,
        "risk_weight": 1.0,
        "keywords_fr": ["nouveau"],
        "keywords_en": ["new"],
    }
    row.update(changes)
    return row


@pytest.mark.parametrize(
    "changes",
    [
        {"code": "NewType"},
        {"category": "crimes"},
        {"default_severity": 6},
        {"default_severity": 0},
        {"risk_weight": 3.5},
        {"risk_weight": 0.0},
    ],
)
def test_bad_data_row_is_rejected_at_load(changes: dict[str, object]) -> None:
    with pytest.raises(taxonomy.TaxonomyDataError):
        taxonomy._parse_types([_row(**changes)], CATEGORIES)


def test_valid_data_row_loads() -> None:
    loaded = taxonomy._parse_types([_row()], CATEGORIES)
    assert loaded["burglary"].default_severity == 2
    assert loaded["burglary"].label("fr") == TYPES["burglary"].label("fr")
