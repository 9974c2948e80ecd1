"""Incident categories and types: labels, weights, keywords, mappings to ACLED, AWSD and OCHA."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType
from typing import Any, Final

from rapidfuzz import fuzz, process

from incidents.vocabulary.catalogue import LANGUAGES
from incidents.vocabulary.catalogue import has_term as _has_term
from incidents.vocabulary.catalogue import translations as _translations

SUB_SCORES: Final = ("violence", "crime", "access", "other")
SEVERITY_MIN: Final = 1
SEVERITY_MAX: Final = 5
RISK_WEIGHT_MIN: Final = 0.1
RISK_WEIGHT_MAX: Final = 3.0


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    label_fr: str
    label_en: str
    sub_score: str

    def label(self, language: str = "fr") -> str:
        return self.label_en if _is_english(language) else self.label_fr


@dataclass(frozen=True, slots=True)
class IncidentType:
    code: str
    category: str
    label_fr: str
    label_en: str
    default_severity: int
    risk_weight: float
    keywords_fr: tuple[str, ...]
    keywords_en: tuple[str, ...]

    def label(self, language: str = "fr") -> str:
        """French unless `language` is English ("en", "en-GB"): French is the working language."""
        return self.label_en if _is_english(language) else self.label_fr


def _is_english(language: str) -> bool:
    return language.strip().lower().replace("_", "-").split("-")[0] == "en"


class UnknownCodeError(ValueError):
    """A code that is neither a known type nor category; `suggestions` holds the closest codes."""

    def __init__(
        self,
        code: str,
        suggestions: list[str],
        *,
        field: str = "type",
        kind: str = "incident type",
        valid: Iterable[str] = (),
    ) -> None:
        self.code = code
        self.suggestions = suggestions
        self.field = field
        if suggestions:
            hint = "did you mean " + " or ".join(repr(s) for s in suggestions) + "?"
        else:
            hint = "valid values: " + ", ".join(valid)
        super().__init__(f"{field}: unknown {kind} {code!r}; {hint}")


# --- Categories and types --------------------------------------------------------------------
# The table lives in data/taxonomy.toml so that focal points can review codes and keywords
# without reading Python. It is read once, at import, and checked: a bad edit fails loudly here.

_CODE_RE: Final = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


class TaxonomyDataError(ValueError):
    """data/taxonomy.toml breaks a rule of the taxonomy (a developer error, not a user one)."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise TaxonomyDataError(f"incidents/data/taxonomy.toml: {message}")


def _labels(kind: str, row: dict[str, Any]) -> tuple[str, str]:
    """(French, English) label of a category or type, from the one vocabulary."""
    code = str(row["code"])
    _check(
        "label_fr" not in row and "label_en" not in row,
        f"{kind} {code!r}: labels live in incidents/vocabulary/locale/*/LC_MESSAGES/terms.po",
    )
    for lang in LANGUAGES:
        _check(
            _has_term(kind, code, lang),
            f"{kind} {code!r} has no label in incidents/vocabulary/locale/{lang}/LC_MESSAGES/"
            f'terms.po (msgctxt "{kind}", msgid "{code}")',
        )
    fr, en = (_translations("terms", lang).pgettext(kind, code) for lang in ("fr", "en"))
    return fr, en


def _parse_categories(rows: list[dict[str, Any]]) -> dict[str, Category]:
    categories: dict[str, Category] = {}
    for row in rows:
        _check(bool(_CODE_RE.match(str(row["code"]))), f"category {row['code']!r} not snake_case")
        label_fr, label_en = _labels("category", row)
        category = Category(
            code=str(row["code"]),
            label_fr=label_fr,
            label_en=label_en,
            sub_score=str(row["sub_score"]),
        )
        _check(bool(_CODE_RE.match(category.code)), f"category {category.code!r} not snake_case")
        _check(category.code not in categories, f"category {category.code!r} defined twice")
        _check(category.sub_score in SUB_SCORES, f"category {category.code!r}: bad sub_score")
        categories[category.code] = category
    return categories


def _parse_types(
    rows: list[dict[str, Any]], categories: Mapping[str, Category]
) -> dict[str, IncidentType]:
    types: dict[str, IncidentType] = {}
    for row in rows:
        _check(bool(_CODE_RE.match(str(row["code"]))), f"type {row['code']!r} not snake_case")
        label_fr, label_en = _labels("type", row)
        itype = IncidentType(
            code=str(row["code"]),
            category=str(row["category"]),
            label_fr=label_fr,
            label_en=label_en,
            default_severity=int(row["default_severity"]),
            risk_weight=float(row["risk_weight"]),
            keywords_fr=tuple(str(k) for k in row["keywords_fr"]),
            keywords_en=tuple(str(k) for k in row["keywords_en"]),
        )
        where = f"type {itype.code!r}"
        _check(bool(_CODE_RE.match(itype.code)), f"{where} not snake_case")
        _check(itype.code not in types, f"{where} defined twice")
        _check(itype.category in categories, f"{where}: unknown category {itype.category!r}")
        _check(
            SEVERITY_MIN <= itype.default_severity <= SEVERITY_MAX,
            f"{where}: default_severity outside {SEVERITY_MIN}-{SEVERITY_MAX}",
        )
        _check(
            RISK_WEIGHT_MIN <= itype.risk_weight <= RISK_WEIGHT_MAX,
            f"{where}: risk_weight outside {RISK_WEIGHT_MIN}-{RISK_WEIGHT_MAX}",
        )
        types[itype.code] = itype
    return types


def _load() -> tuple[Mapping[str, Category], Mapping[str, IncidentType]]:
    text = files("incidents").joinpath("data/taxonomy.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    categories = _parse_categories(data["category"])
    types = _parse_types(data["type"], categories)
    return MappingProxyType(categories), MappingProxyType(types)


_LOADED: Final = _load()
CATEGORIES: Final[Mapping[str, Category]] = _LOADED[0]
TYPES: Final[Mapping[str, IncidentType]] = _LOADED[1]

_TYPES_BY_CATEGORY: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {c: tuple(t.code for t in TYPES.values() if t.category == c) for c in CATEGORIES}
)


# --- Text normalisation and keywords ----------------------------------------------------------

_APOSTROPHES: Final = str.maketrans({"’": "'", "`": "'", "´": "'"})


def normalize_text(text: str) -> str:
    """Lower case, no accents, typographic apostrophes made plain, runs of spaces collapsed.

    >>> normalize_text("  Enlèvement  d’un  AGENT ")
    "enlevement d'un agent"
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.split())


def _build_keyword_index() -> Mapping[str, str]:
    index: dict[str, str] = {}
    for itype in TYPES.values():
        for keyword in (*itype.keywords_fr, *itype.keywords_en):
            key = normalize_text(keyword)
            owner = index.setdefault(key, itype.code)
            # One keyword, one type: otherwise an SMS parser could not decide.
            _check(owner == itype.code, f"keyword {keyword!r} in both {owner!r} and {itype.code!r}")
    return MappingProxyType(index)


KEYWORD_INDEX: Final[Mapping[str, str]] = _build_keyword_index()
"""Normalised keyword (French or English) -> type code; longest keywords should be tried first."""


def type_for_keyword(word: str) -> str | None:
    """The type code a single keyword or phrase stands for, or None (no fuzzy matching here)."""
    return KEYWORD_INDEX.get(normalize_text(word))


# --- Lookup -----------------------------------------------------------------------------------


def _suggest(code: str, choices: Iterable[str], limit: int = 3) -> list[str]:
    """Closest codes: an exact keyword hit first ("enlevement" -> kidnapping), then fuzzy codes."""
    choices = list(choices)
    suggestions: list[str] = []
    by_keyword = type_for_keyword(code.replace("_", " "))
    if by_keyword is not None and by_keyword in choices:
        suggestions.append(by_keyword)
    query = normalize_text(code).replace(" ", "_")
    for match, _score, _index in process.extract(
        query, choices, scorer=fuzz.ratio, limit=limit, score_cutoff=80
    ):
        if match not in suggestions:
            suggestions.append(match)
    return suggestions[:limit]


def _clean_code(code: str) -> str:
    return code.strip().lower()


def get_type(code: str, *, field: str = "type") -> IncidentType:
    """The incident type for `code` (surrounding spaces and case ignored)."""
    itype = TYPES.get(_clean_code(code))
    if itype is None:
        raise UnknownCodeError(code, _suggest(code, TYPES), field=field, valid=TYPES)
    return itype


def get_category(code: str, *, field: str = "category") -> Category:
    category = CATEGORIES.get(_clean_code(code))
    if category is None:
        raise UnknownCodeError(
            code, _suggest(code, CATEGORIES), field=field, kind="category", valid=CATEGORIES
        )
    return category


def types_in(category: str) -> tuple[IncidentType, ...]:
    """The types of one category, in taxonomy order."""
    return tuple(TYPES[c] for c in _TYPES_BY_CATEGORY[get_category(category).code])


def category_of(type_code: str) -> Category:
    return CATEGORIES[get_type(type_code).category]


def sub_score_of(type_code: str) -> str:
    """Which risk sub-score ("violence", "crime", "access", "other") the type feeds."""
    return category_of(type_code).sub_score


def expand_codes(codes: Iterable[str], *, field: str = "types") -> frozenset[str]:
    """Type and category codes -> the set of type codes they cover.

    "threat" and "other" are both a category and a type: the bare code means the whole category;
    write "type:threat" for the single type (and "category:x" to be explicit).
    """
    expanded: set[str] = set()
    for raw in codes:
        code = _clean_code(raw)
        prefix, _, name = code.rpartition(":")
        if prefix == "type":
            expanded.add(get_type(name, field=field).code)
        elif prefix == "category":
            expanded.update(_TYPES_BY_CATEGORY[get_category(name, field=field).code])
        elif not prefix and code in CATEGORIES:
            expanded.update(_TYPES_BY_CATEGORY[code])
        elif not prefix and code in TYPES:
            expanded.add(code)
        else:
            choices = [*TYPES, *(c for c in CATEGORIES if c not in TYPES)]
            raise UnknownCodeError(
                raw,
                _suggest(name, choices),
                field=field,
                kind="type or category code",
                valid=choices,
            )
    return frozenset(expanded)


# --- ACLED ------------------------------------------------------------------------------------
# ACLED codebook event types and sub-event types (2019 onwards), in codebook order.

ACLED_EVENT_TYPES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "Battles": (
            "Armed clash",
            "Government regains territory",
            "Non-state actor overtakes territory",
        ),
        "Explosions/Remote violence": (
            "Chemical weapon",
            "Air/drone strike",
            "Suicide bomb",
            "Shelling/artillery/missile attack",
            "Remote explosive/landmine/IED",
            "Grenade",
        ),
        "Violence against civilians": (
            "Sexual violence",
            "Attack",
            "Abduction/forced disappearance",
        ),
        "Protests": (
            "Peaceful protest",
            "Protest with intervention",
            "Excessive force against protesters",
        ),
        "Riots": ("Violent demonstration", "Mob violence"),
        "Strategic developments": (
            "Agreement",
            "Arrests",
            "Change to group/activity",
            "Disrupted weapons use",
            "Headquarters or base established",
            "Looting/property destruction",
            "Non-violent transfer of territory",
            "Other",
        ),
    }
)

# Battles are coded armed_attack, not crossfire: ACLED says nothing about who was caught in them.
# Remote explosives are ied: in central and northern Mali nearly all are improvised devices.
# Disrupted weapons use (mostly IEDs found and defused) is ied too: a device on a road is an IED
# threat on that road whether or not it went off. Excessive force against protesters is an armed
# attack: what matters for staff nearby is armed force used on a crowd, not the protest.
ACLED_TO_TYPE: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {
        ("Battles", "Armed clash"): "armed_attack",
        ("Battles", "Government regains territory"): "armed_attack",
        ("Battles", "Non-state actor overtakes territory"): "armed_attack",
        ("Explosions/Remote violence", "Chemical weapon"): "shelling",
        ("Explosions/Remote violence", "Air/drone strike"): "airstrike",
        ("Explosions/Remote violence", "Suicide bomb"): "ied",
        ("Explosions/Remote violence", "Shelling/artillery/missile attack"): "shelling",
        ("Explosions/Remote violence", "Remote explosive/landmine/IED"): "ied",
        ("Explosions/Remote violence", "Grenade"): "armed_attack",
        ("Violence against civilians", "Sexual violence"): "sexual_violence",
        ("Violence against civilians", "Attack"): "armed_attack",
        ("Violence against civilians", "Abduction/forced disappearance"): "kidnapping",
        ("Protests", "Peaceful protest"): "demonstration",
        ("Protests", "Protest with intervention"): "demonstration",
        ("Protests", "Excessive force against protesters"): "armed_attack",
        ("Riots", "Violent demonstration"): "riot",
        ("Riots", "Mob violence"): "riot",
        ("Strategic developments", "Agreement"): "other",
        ("Strategic developments", "Arrests"): "detention",
        ("Strategic developments", "Change to group/activity"): "other",
        ("Strategic developments", "Disrupted weapons use"): "ied",
        ("Strategic developments", "Headquarters or base established"): "other",
        ("Strategic developments", "Looting/property destruction"): "looting",
        ("Strategic developments", "Non-violent transfer of territory"): "other",
        ("Strategic developments", "Other"): "other",
    }
)

ACLED_FALLBACK: Final[Mapping[str, str]] = MappingProxyType(
    {
        "Battles": "armed_attack",
        "Explosions/Remote violence": "ied",
        "Violence against civilians": "armed_attack",
        "Protests": "demonstration",
        "Riots": "riot",
        "Strategic developments": "other",
    }
)
"""Type for a known event_type whose sub_event_type is missing or not in ACLED_TO_TYPE."""

# Pre-2019 ACLED exports used other event type names; they still turn up in archives.
_ACLED_LEGACY_EVENT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "Battle-No change of territory": "Battles",
        "Battle-Government regains territory": "Battles",
        "Battle-Non-state actor overtakes territory": "Battles",
        "Remote violence": "Explosions/Remote violence",
        "Riots/Protests": "Riots",
        "Strategic development": "Strategic developments",
        "Non-violent transfer of territory": "Strategic developments",
        "Headquarters or base established": "Strategic developments",
    }
)

# Types outside ACLED's scope (hazards, displacement) export as Strategic developments / Other;
# exporters that must not invent ACLED events should skip ACLED_OUT_OF_SCOPE.
ACLED_OUT_OF_SCOPE: Final = frozenset(
    {"flood", "fire", "road_accident", "epidemic", "population_movement"}
)

_SD_OTHER: Final = ("Strategic developments", "Other")
_VAC_ATTACK: Final = ("Violence against civilians", "Attack")
_LOOTING: Final = ("Strategic developments", "Looting/property destruction")
_IED: Final = ("Explosions/Remote violence", "Remote explosive/landmine/IED")
_ABDUCTION: Final = ("Violence against civilians", "Abduction/forced disappearance")

# Aid workers are civilians, so attacks against them are Violence against civilians in ACLED.
TYPE_TO_ACLED: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "armed_attack": _VAC_ATTACK,
        "ambush": _VAC_ATTACK,
        "crossfire": ("Battles", "Armed clash"),
        "assault": _VAC_ATTACK,
        "killing": _VAC_ATTACK,
        "sexual_violence": ("Violence against civilians", "Sexual violence"),
        "intercommunal_clash": ("Battles", "Armed clash"),
        "ied": _IED,
        "landmine_uxo": _IED,
        "shelling": ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
        "airstrike": ("Explosions/Remote violence", "Air/drone strike"),
        "kidnapping": _ABDUCTION,
        "detention": ("Strategic developments", "Arrests"),
        "disappearance": _ABDUCTION,
        "theft": _LOOTING,
        "robbery": _LOOTING,
        "carjacking": _LOOTING,
        "burglary": _LOOTING,
        "looting": _LOOTING,
        "extortion": _SD_OTHER,
        "threat": _SD_OTHER,
        "harassment": _SD_OTHER,
        "redline_threat": _SD_OTHER,
        "reputational_attack": _SD_OTHER,
        "access_denial": _SD_OTHER,
        "movement_restriction": _SD_OTHER,
        "illegal_checkpoint": _SD_OTHER,
        "military_exclusion_zone": _SD_OTHER,
        "interference": _SD_OTHER,
        "permit_refusal": _SD_OTHER,
        "blockade": _SD_OTHER,
        "demonstration": ("Protests", "Peaceful protest"),
        "riot": ("Riots", "Violent demonstration"),
        "flood": _SD_OTHER,
        "fire": _SD_OTHER,
        "road_accident": _SD_OTHER,
        "epidemic": _SD_OTHER,
        "population_movement": _SD_OTHER,
        "other": _SD_OTHER,
    }
)


def _label_key(text: str) -> str:
    """Comparable form of a label from an outside dataset: case, accents, spacing ignored."""
    key = normalize_text(text.replace("_", " "))
    key = re.sub(r"\s*/\s*", "/", key)
    return re.sub(r"\s*-\s*", "-", key)


_ACLED_EVENT_KEYS: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{_label_key(k): v for k, v in _ACLED_LEGACY_EVENT_TYPES.items()},
        **{_label_key(k): k for k in ACLED_EVENT_TYPES},
    }
)
_ACLED_PAIR_KEYS: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {(e, _label_key(s)): t for (e, s), t in ACLED_TO_TYPE.items()}
)


def from_acled(event_type: str, sub_event_type: str | None) -> str:
    """Our type code for an ACLED event; unknown sub-event types fall back on the event type.

    Raises UnknownCodeError (field "event_type") when the event type itself is not ACLED's.
    """
    canonical = _ACLED_EVENT_KEYS.get(_label_key(event_type))
    if canonical is None:
        raise UnknownCodeError(
            event_type,
            _suggest_label(event_type, ACLED_EVENT_TYPES),
            field="event_type",
            kind="ACLED event type",
            valid=ACLED_EVENT_TYPES,
        )
    if sub_event_type:
        found = _ACLED_PAIR_KEYS.get((canonical, _label_key(sub_event_type)))
        if found is not None:
            return found
    return ACLED_FALLBACK[canonical]


def to_acled(type_code: str) -> tuple[str, str]:
    """(event_type, sub_event_type) closest to our type; see ACLED_OUT_OF_SCOPE."""
    return TYPE_TO_ACLED[get_type(type_code).code]


def _suggest_label(text: str, labels: Iterable[str]) -> list[str]:
    return [
        match
        for match, _score, _index in process.extract(
            text,
            list(labels),
            scorer=fuzz.WRatio,
            processor=_label_key,
            limit=2,
            score_cutoff=70,
        )
    ]


# --- AWSD -------------------------------------------------------------------------------------
# Aid Worker Security Database "Means of attack" values, as published in its CSV exports.

AWSD_MEANS: Final = (
    "Aerial bombardment",
    "Bodily assault",
    "Body-borne IED",
    "Complex attack",
    "Detention/arrest",
    "Kidnap-killing",
    "Kidnapping",
    "Landmine",
    "Other Explosives",
    "Rape/sexual assault",
    "Roadside IED",
    "Shelling",
    "Shooting",
    "Unknown",
    "Vehicle-borne IED",
)

# Kidnap-killing is kidnapping: the abduction is what staff security measures must prevent; the
# death is recorded in the impact. Complex attacks (explosives plus gunfire) are armed attacks.
AWSD_TO_TYPE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "Aerial bombardment": "airstrike",
        "Bodily assault": "assault",
        "Body-borne IED": "ied",
        "Complex attack": "armed_attack",
        "Detention/arrest": "detention",
        "Kidnap-killing": "kidnapping",
        "Kidnapping": "kidnapping",
        "Landmine": "landmine_uxo",
        "Other Explosives": "ied",
        "Rape/sexual assault": "sexual_violence",
        "Roadside IED": "ied",
        "Shelling": "shelling",
        "Shooting": "armed_attack",
        "Unknown": "other",
        "Vehicle-borne IED": "ied",
    }
)

# AWSD spells some values differently across years and in its codebook.
_AWSD_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "Vehicle-born IED": "Vehicle-borne IED",
        "Rape or serious sexual assault": "Rape/sexual assault",
        "Landmine or UXO detonation": "Landmine",
        "Other explosives": "Other Explosives",
        "Unspecified": "Unknown",
        "Detention": "Detention/arrest",
    }
)

# AWSD "Attack context" refines a shooting: the means alone cannot tell an ambush from crossfire.
AWSD_CONTEXT_REFINEMENT: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {
        ("Shooting", "Ambush"): "ambush",
        ("Shooting", "Combat/Crossfire"): "crossfire",
        ("Bodily assault", "Mob violence"): "riot",
    }
)

# Only types that AWSD records (killings, kidnappings, serious injuries, sexual assault, detention)
# have a means; None means "not an AWSD incident". killing is Unknown: the type says nothing of
# the weapon.
TYPE_TO_AWSD: Final[Mapping[str, str | None]] = MappingProxyType(
    {
        "armed_attack": "Shooting",
        "ambush": "Shooting",
        "crossfire": "Shooting",
        "assault": "Bodily assault",
        "killing": "Unknown",
        "sexual_violence": "Rape/sexual assault",
        "intercommunal_clash": "Shooting",
        "ied": "Roadside IED",
        "landmine_uxo": "Landmine",
        "shelling": "Shelling",
        "airstrike": "Aerial bombardment",
        "kidnapping": "Kidnapping",
        "detention": "Detention/arrest",
        "disappearance": "Unknown",
        "theft": None,
        "robbery": None,
        "carjacking": None,
        "burglary": None,
        "looting": None,
        "extortion": None,
        "threat": None,
        "harassment": None,
        "redline_threat": None,
        "reputational_attack": None,
        "access_denial": None,
        "movement_restriction": None,
        "illegal_checkpoint": None,
        "military_exclusion_zone": None,
        "interference": None,
        "permit_refusal": None,
        "blockade": None,
        "demonstration": None,
        "riot": "Bodily assault",
        "flood": None,
        "fire": None,
        "road_accident": None,
        "epidemic": None,
        "population_movement": None,
        "other": None,
    }
)

_AWSD_KEYS: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{_label_key(k): v for k, v in _AWSD_ALIASES.items()},
        **{_label_key(m): m for m in AWSD_MEANS},
    }
)
_AWSD_CONTEXT_KEYS: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {(m, _label_key(c)): t for (m, c), t in AWSD_CONTEXT_REFINEMENT.items()}
)


def from_awsd(means: str, context: str | None = None) -> str:
    """Our type code for an AWSD means of attack, refined by the attack context when given.

    An empty means is "Unknown"; any other unknown value raises UnknownCodeError (field "means").
    """
    canonical = _AWSD_KEYS.get(_label_key(means or "Unknown"))
    if canonical is None:
        raise UnknownCodeError(
            means,
            _suggest_label(means, AWSD_MEANS),
            field="means",
            kind="AWSD means of attack",
            valid=AWSD_MEANS,
        )
    if context:
        refined = _AWSD_CONTEXT_KEYS.get((canonical, _label_key(context)))
        if refined is not None:
            return refined
    return AWSD_TO_TYPE[canonical]


def to_awsd(type_code: str) -> str | None:
    """AWSD means of attack for our type, or None when AWSD would not record such an incident."""
    return TYPE_TO_AWSD[get_type(type_code).code]


_TYPE_TO_AWSD_CONTEXT: Final[Mapping[str, str]] = MappingProxyType(
    {t: c for (_m, c), t in AWSD_CONTEXT_REFINEMENT.items()}
)


def to_awsd_context(type_code: str) -> str | None:
    """AWSD attack context that, with to_awsd(), brings our type back (e.g. ambush -> "Ambush")."""
    return _TYPE_TO_AWSD_CONTEXT.get(get_type(type_code).code)


# --- OCHA access monitoring -------------------------------------------------------------------
# The nine categories of OCHA's Access Monitoring and Reporting Framework, numbered as in it.

OCHA_ACCESS_CATEGORIES: Final[Mapping[int, tuple[str, str]]] = MappingProxyType(
    {
        1: (
            "Refus de reconnaître l'existence de besoins humanitaires ou le droit à l'assistance",
            "Denial of existence of humanitarian needs or entitlements to assistance",
        ),
        2: (
            "Restriction de l'entrée dans le pays des organisations, du personnel ou des biens",
            "Restriction of movement of agencies, personnel or goods into the affected country",
        ),
        3: (
            "Restriction de mouvement à l'intérieur du pays",
            "Restriction of movement within the affected country",
        ),
        4: (
            "Interférence dans la mise en œuvre des activités humanitaires",
            "Interference in the implementation of humanitarian activities",
        ),
        5: (
            "Violence contre le personnel, les biens et les installations humanitaires",
            "Violence against humanitarian personnel, assets and facilities",
        ),
        6: (
            "Restriction ou obstruction de l'accès des populations aux services et à l'assistance",
            "Restriction or obstruction of access to services and assistance"
            " by affected populations",
        ),
        7: (
            "Opérations militaires et hostilités en cours entravant les opérations humanitaires",
            "Military operations and ongoing hostilities impeding humanitarian operations",
        ),
        8: ("Présence de mines et d'engins explosifs", "Presence of mines and explosive devices"),
        9: (
            "Environnement physique (terrain, climat, infrastructures)",
            "Physical environment (terrain, climate, lack of infrastructure)",
        ),
    }
)

# Applies when the incident affected humanitarian staff, assets or operations; a kidnapping of a
# trader is not an access incident. IEDs go with mines (8), as OCHA Mali reports them.
TYPE_TO_OCHA_ACCESS: Final[Mapping[str, int | None]] = MappingProxyType(
    {
        "armed_attack": 5,
        "ambush": 5,
        "crossfire": 7,
        "assault": 5,
        "killing": 5,
        "sexual_violence": 5,
        "intercommunal_clash": 7,
        "ied": 8,
        "landmine_uxo": 8,
        "shelling": 7,
        "airstrike": 7,
        "kidnapping": 5,
        "detention": 5,
        "disappearance": 5,
        "theft": 5,
        "robbery": 5,
        "carjacking": 5,
        "burglary": 5,
        "looting": 5,
        "extortion": 4,
        "threat": 5,
        "harassment": 5,
        "redline_threat": 4,
        "reputational_attack": 4,
        "access_denial": 3,
        "movement_restriction": 3,
        "illegal_checkpoint": 3,
        "military_exclusion_zone": 7,
        "interference": 4,
        "permit_refusal": 3,
        "blockade": 6,
        "demonstration": None,
        "riot": None,
        "flood": 9,
        "fire": None,
        "road_accident": None,
        "epidemic": None,
        "population_movement": None,
        "other": None,
    }
)


def ocha_access_category(type_code: str) -> int | None:
    """OCHA access constraint category (1-9) for our type, or None when it is not one."""
    return TYPE_TO_OCHA_ACCESS[get_type(type_code).code]


def ocha_access_types(category: int) -> tuple[str, ...]:
    """Our type codes that report as OCHA access category `category` (1-9)."""
    if category not in OCHA_ACCESS_CATEGORIES:
        raise UnknownCodeError(
            str(category),
            [],
            field="ocha_category",
            kind="OCHA access category",
            valid=[str(c) for c in OCHA_ACCESS_CATEGORIES],
        )
    return tuple(t for t, c in TYPE_TO_OCHA_ACCESS.items() if c == category)
