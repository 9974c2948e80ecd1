"""Short field SMS (French or English) read as an incident report or an alert acknowledgement.

Syntax (docs/sms.md): `TYPE PLACE [COUNTS] [WHEN] [free words]`, in any order, e.g.
`ENLEVEMENT DIEMA 2 staff`, `IED 14.54 -9.19 route Kayes`, `kidnapping near Nioro 1 aid worker`;
`OK K7F3Q` acknowledges alert K7F3Q. Words are compared without case or accents, small typos in
type words and place names are tolerated. Mali keeps GMT all year, so times are read as UTC.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal

from rapidfuzz import fuzz, process

from incidents.interop.rows import (
    IncidentInput,
    PlaceFinder,
    default_gazetteer,
    empty_impact,
    iso_utc,
    severity_for,
)
from incidents.taxonomy.catalogue import TYPES, normalize_text

Language = Literal["fr", "en"]
SMS_LENGTH = 160


# ---------------------------------------------------------------------------- vocabulary
# Everything below is compared in normalised form (lower case, no accents).


def _tokens(text: str) -> list[str]:
    return re.findall(r"\d+|[^\W\d_]+", text)


def _norm_tokens(text: str) -> tuple[str, ...]:
    return tuple(_tokens(normalize_text(text)))


@dataclass(frozen=True, slots=True)
class _Keyword:
    words: tuple[str, ...]
    code: str
    language: Language | None


@cache
def _keywords() -> tuple[_Keyword, ...]:
    """Type keywords and labels, longest first so "vol a main armee" beats "vol"."""
    found: dict[tuple[str, ...], _Keyword] = {}
    for itype in TYPES.values():
        for language, words in (
            ("fr", (*itype.keywords_fr, itype.label_fr)),
            ("en", (*itype.keywords_en, itype.label_en)),
        ):
            for word in words:
                key = _norm_tokens(word)
                if not key:
                    continue
                if key not in found:
                    found[key] = _Keyword(key, itype.code, language)  # type: ignore[arg-type]
                elif found[key].language != language:  # "ied", "carjacking": no hint
                    found[key] = _Keyword(key, found[key].code, None)
    for word, (code, language) in _SMS_KEYWORDS.items():
        found.setdefault(_norm_tokens(word), _Keyword(_norm_tokens(word), code, language))
    return tuple(sorted(found.values(), key=lambda k: -len(k.words)))


# Words seen in field SMS that the taxonomy does not list (it describes types, not SMS slang).
_SMS_KEYWORDS: dict[str, tuple[str, Language]] = {
    "explosion": ("ied", "fr"),
    "explosions": ("ied", "fr"),
    "explose": ("ied", "fr"),
    "tir": ("armed_attack", "fr"),
    "enlev": ("kidnapping", "fr"),
    "kidnap": ("kidnapping", "en"),
    "braquage": ("robbery", "fr"),
    "braque": ("robbery", "fr"),
}


@cache
def _fuzzy_choices() -> dict[str, _Keyword]:
    """One-word keywords long enough for typo matching ("enlevemnt" -> enlevement)."""
    return {k.words[0]: k for k in _keywords() if len(k.words) == 1 and len(k.words[0]) >= 5}


def _list(text: str) -> list[str]:
    return text.split()


def _words(language: Language | None, text: str) -> dict[str, Language | None]:
    return dict.fromkeys(text.split(), language)


def _phrases(language: Language | None, text: str) -> dict[tuple[str, ...], Language | None]:
    return {tuple(p.split()): language for p in text.split(",")}


# Outcome nouns after a number ("3 morts") and the impact field they fill.
_COUNT_NOUNS: dict[str, tuple[str, Language | None]] = {
    **{
        w: ("killed", lang)
        for w, lang in _words(
            "fr",
            """mort morts tue tues tuee tuees deces
        decede decedes cadavres corps""",
        ).items()
    },
    **{w: ("killed", lang) for w, lang in _words("en", "dead killed death deaths bodies").items()},
    **{
        w: ("injured", lang)
        for w, lang in _words(
            "fr",
            """blesse blesses blessee blessees
        blessure blessures""",
        ).items()
    },
    **{w: ("injured", lang) for w, lang in _words("en", "injured wounded injuries hurt").items()},
    **{
        w: ("abducted", lang)
        for w, lang in _words(
            "fr",
            """enleve enleves enlevee enlevees
        kidnappe kidnappes otage otages""",
        ).items()
    },
    **{
        w: ("abducted", lang)
        for w, lang in _words(
            "en",
            """abducted kidnapped hostage
        hostages""",
        ).items()
    },
    **{
        w: ("detained", lang)
        for w, lang in _words(
            "fr",
            """arrete arretes detenu detenus
        interpelles""",
        ).items()
    },
    **{w: ("detained", lang) for w, lang in _words("en", "arrested detained").items()},
    **{
        w: ("missing", lang)
        for w, lang in _words(
            "fr",
            """disparu disparus disparue
        disparues""",
        ).items()
    },
    **{w: ("missing", lang) for w, lang in _words("en", "missing").items()},
}
# Words naming aid workers: they set impact.aid_workers_affected, with or without a number.
_AID_WORKERS: dict[tuple[str, ...], Language | None] = {
    **_phrases(None, "staff, staffs, personnel"),
    **_phrases(
        "fr",
        """humanitaire, humanitaires, agent, agents, employe, employes, collegue,
        collegues, agent humanitaire, agents humanitaires, travailleur humanitaire,
        travailleurs humanitaires, personnel humanitaire, agent ong, agents ong, ong""",
    ),
    **_phrases(
        "en",
        """aid worker, aid workers, humanitarian worker, humanitarian workers,
        humanitarian staff, ngo staff, colleague, colleagues, employee, employees, ngo""",
    ),
}
# Other people after a number: their count follows the type ("3 civils" in a kidnapping).
_PEOPLE: dict[str, Language | None] = {
    **_words(
        "fr",
        """soldats militaires gendarmes policiers personne personnes civil civils
        villageois individus femmes enfants hommes commercant commercants passager passagers
        eleveur eleveurs chauffeur chauffeurs""",
    ),
    **_words(
        "en",
        """soldiers policemen people person persons civilian civilians villagers
        women children men trader traders passenger passengers herder herders driver
        drivers""",
    ),
}
# Where a people count goes when no outcome word says it: the type's own harm.
_TYPE_COUNT_FIELD = {
    "kidnapping": "abducted",
    "killing": "killed",
    "detention": "detained",
    "disappearance": "missing",
    "assault": "injured",
}
_NUMBER_WORDS = {
    w: i + 1
    for i, words in enumerate(
        [
            "un une one",
            "deux two",
            "trois three",
            "quatre four",
            "cinq five",
            "six",
            "sept seven",
            "huit eight",
            "neuf nine",
            "dix ten",
        ]
    )
    for w in words.split()
}
_PERPETRATORS: dict[str, str] = {
    **dict.fromkeys(
        _list("""armee army fama militaires militaire soldats soldiers gendarmes
        gendarmerie police policiers"""),
        "state_forces",
    ),
    **dict.fromkeys(
        _list("""jihadistes djihadistes terroristes jnim gsim eigs isgs isis jihadists
        terrorists insurges rebelles rebels insurgents"""),
        "non_state_armed_group",
    ),
    **dict.fromkeys(
        _list("dozo dozos milice milices militia militias chasseurs"), "community_militia"
    ),
    **dict.fromkeys(
        _list("""wagner barkhane minusma russes russians mercenaires mercenaries
        etrangers"""),
        "foreign_forces",
    ),
    **dict.fromkeys(_list("voleurs criminels thieves criminals braqueurs"), "criminal"),
}
_NEAR: dict[tuple[str, ...], Language | None] = {
    **_phrases("fr", "pres, vers, proche, environs, alentours, a cote, non loin, sortie"),
    **_phrases("en", "near, around, outside, close, nearby"),
}
_DAYS_AGO: dict[tuple[str, ...], tuple[int, Language]] = {
    ("hier",): (1, "fr"),
    ("avant", "hier"): (2, "fr"),
    ("yesterday",): (1, "en"),
    ("day", "before", "yesterday"): (2, "en"),
    ("last", "night"): (1, "en"),
    **dict.fromkeys(_phrases("fr", "aujourd hui, ce matin, ce soir, cette nuit"), (0, "fr")),
    **dict.fromkeys(_phrases("en", "today, this morning, tonight, this evening"), (0, "en")),
}
# Words that are neither type, count nor place; they still tell the language.
_STOP_WORDS: dict[str, Language | None] = {
    **_words(
        "fr",
        """le la les de du des au aux et dans sur avec dont par pour entre axe route
        ville village quartier secteur l d a un une est sont ont ete nos notre materiel vehicule
        moto motos camion bureau base ce cette matin soir nuit heures signale cercle region
        commune sans victime tous suspects armes hommes inconnus individus""",
    ),
    **_words(
        "en",
        """the of in at on and with an to from road town our office vehicle car truck
        by were was is are between morning evening night district reported unknown armed men
        suspected""",
    ),
    **_words(None, "h min gps ok km"),
}

_COORDINATES = re.compile(
    r"(?<![\w.,])(?P<ns>[NSns]\s?)?(?P<lat>[-+]?\d{1,2}[.,]\d{2,})\s*(?P<ns2>[NSns])?"
    r"\s*[,;/ ]\s*(?P<ew>[EWOewo]\s?)?(?P<lon>[-+]?\d{1,3}[.,]\d{2,})\s*(?P<ew2>[EWOewo])?"
    r"(?![\w.,])"
)
_CLOCK = re.compile(r"(?<![\w.,])(?P<h>[01]?\d|2[0-3])(?:h|:)(?P<m>[0-5]\d)?(?!\w)", re.I)
_DAY_MONTH = re.compile(r"(?<![\d/])(?P<d>[0-3]?\d)/(?P<mo>[01]?\d)(?:/(?P<y>\d{2,4}))?(?![\d/])")
_ACK = re.compile(
    r"^\s*(?:ok|ack|recu|bien recu|vu|lu|roger)\s*[:#\-]?\s*(?P<code>[a-z0-9]{4,10})?\s*[.!]*\s*$",
    re.I,
)
_HELP = {"aide", "help", "syntaxe", "syntax", "?"}
# A box around the Sahel: coordinates outside it that fit when swapped were typed lon first.
_SAHEL = (4.0, 28.0, -18.0, 16.0)


# ---------------------------------------------------------------------------- result


@dataclass(slots=True)
class SmsParse:
    """What an SMS said: a report (complete or not) or an alert acknowledgement."""

    kind: Literal["report", "ack", "incomplete"]
    incident: IncidentInput = field(default_factory=dict)
    ack_code: str | None = None
    missing: list[str] = field(default_factory=list)
    language: Language = "fr"
    unknown_place: str | None = None

    def reply(self, language: str | None = None) -> str:
        """The answer SMS (at most 160 GSM characters) in the sender's language."""
        lang: Language = "en" if (language or self.language).lower().startswith("en") else "fr"
        return fit_sms(to_gsm7(_reply_text(self, lang)))


def _reply_text(parse: SmsParse, lang: Language) -> str:
    fr = lang == "fr"
    if parse.kind == "ack":
        return (
            f"Sentinelle: accusé de réception de l'alerte {parse.ack_code} enregistré. Merci."
            if fr
            else f"Sentinelle: alert {parse.ack_code} acknowledged. Thank you."
        )
    if "ack_code" in parse.missing:
        return (
            "Sentinelle: pour confirmer une alerte, envoyez OK suivi du code reçu, ex: OK K7F3Q"
            if fr
            else "Sentinelle: to acknowledge an alert send OK and its code, e.g. OK K7F3Q"
        )
    if "type" in parse.missing and "location" in parse.missing:
        return (
            "Sentinelle: message non compris. Envoyez TYPE LIEU NOMBRE, ex: ENLEVEMENT DIEMA "
            "2 staff ou IED 14.54 -9.19. Types: ATTAQUE IED ENLEVEMENT VOL MENACE BARRAGE"
            if fr
            else "Sentinelle: message not understood. Send TYPE PLACE COUNT, e.g. KIDNAPPING "
            "DIEMA 2 staff or IED 14.54 -9.19. Types: ATTACK IED KIDNAPPING THEFT THREAT"
        )
    if "type" in parse.missing:
        return (
            "Sentinelle: type d'incident non reconnu. Renvoyez avec le type en premier, ex: "
            "ATTAQUE, IED, ENLEVEMENT, VOL, MENACE, BARRAGE, EMBUSCADE"
            if fr
            else "Sentinelle: incident type not recognised. Send again starting with the type, "
            "e.g. ATTACK, IED, KIDNAPPING, THEFT, THREAT, CHECKPOINT, AMBUSH"
        )
    if "location" in parse.missing:
        if parse.unknown_place:
            return (
                f"Sentinelle: lieu {parse.unknown_place} inconnu. Renvoyez avec une localité "
                "proche ou les coordonnées GPS, ex: IED 14.54 -9.19"
                if fr
                else f"Sentinelle: place {parse.unknown_place} unknown. Send again with a "
                "nearby town or GPS coordinates, e.g. IED 14.54 -9.19"
            )
        return (
            "Sentinelle: lieu non reconnu. Renvoyez avec la localité ou les coordonnées GPS "
            "(lat lon), ex: VOL GAO ou IED 14.54 -9.19"
            if fr
            else "Sentinelle: place not recognised. Send again with the town or GPS coordinates "
            "(lat lon), e.g. THEFT GAO or IED 14.54 -9.19"
        )
    return _confirmation(parse.incident, lang)


def _confirmation(incident: IncidentInput, lang: Language) -> str:
    itype = TYPES[incident["type"]]
    label = itype.label_fr if lang == "fr" else itype.label_en
    place = incident.get("place_name") or ""
    if incident.get("location_precision") == "exact":
        lon, lat = incident["geometry"]["coordinates"]
        place = f"{lat:.4f} {lon:.4f}"
    impact = incident.get("impact", {})
    words = {
        "fr": {
            "killed": "mort(s)",
            "injured": "blessé(s)",
            "abducted": "enlevé(s)",
            "detained": "détenu(s)",
            "missing": "disparu(s)",
        },
        "en": {
            "killed": "killed",
            "injured": "injured",
            "abducted": "abducted",
            "detained": "detained",
            "missing": "missing",
        },
    }[lang]
    counts = ", ".join(f"{impact[k]} {w}" for k, w in words.items() if impact.get(k))
    if impact.get("aid_workers_affected"):
        aid = "humanitaires" if lang == "fr" else "aid workers"
        counts = f"{counts}, {aid}" if counts else aid
    day = incident["occurred_at"][:10]
    where = (
        (" près de " if lang == "fr" else " near ")
        if incident.get("location_precision") == "near"
        else (" à " if lang == "fr" else " at ")
    )
    body = f"{label}{where}{place} le {day}" if lang == "fr" else f"{label}{where}{place} on {day}"
    if counts:
        body += f" ({counts})"
    if lang == "fr":
        return f"Sentinelle: reçu {body}. Merci. Pour corriger, renvoyez le message complet."
    return f"Sentinelle: received {body}. Thank you. To correct, send the full message again."


# ---------------------------------------------------------------------------- GSM-7
# The one GSM-7 encoder of Sentinelle: alerts.core.render sends with it what intake reads with it.

# GSM 03.38 default alphabet (127 characters; 0x1B is the escape to the extension table).
# Note: 0x09 is the capital Ç; the lowercase ç is not in the set and is transliterated.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table characters cost two septets (escape + character).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

_TRANSLITERATION = {
    "ç": "c",
    "œ": "oe",
    "Œ": "OE",
    "À": "A",
    "Â": "A",
    "È": "E",
    "Ê": "E",
    "Ë": "E",
    "Î": "I",
    "Ï": "I",
    "Ô": "O",
    "Ù": "U",
    "Û": "U",
    "Ÿ": "Y",
    "ÿ": "y",
    "’": "'",
    "‘": "'",
    "‚": ",",
    "`": "'",
    "´": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "«": '"',
    "»": '"',
    "‹": "<",
    "›": ">",
    "–": "-",
    "—": "-",
    "‑": "-",
    "−": "-",
    "…": "...",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\t": " ",
    "°": "o",
    "•": "-",
    "·": ".",
    "×": "x",
}


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM-7 default alphabet or its extension table."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def gsm7_length(text: str) -> int:
    """Length in septets: extension characters (€, [, ], {, }, ^, ~, |, \\, form feed) count 2."""
    length = 0
    for c in text:
        if c in GSM7_BASIC:
            length += 1
        elif c in GSM7_EXTENSION:
            length += 2
        else:
            raise ValueError(f"{c!r} is not a GSM-7 character; transliterate with to_gsm7()")
    return length


def to_gsm7(text: str) -> str:
    """Transliterate to GSM-7: keep é, è, à, ù, É, Ç...; ê -> e, ç -> c, œ -> oe, others -> ?."""
    out = []
    for c in unicodedata.normalize("NFC", text):
        if c in GSM7_BASIC or c in GSM7_EXTENSION:
            out.append(c)
        elif c in _TRANSLITERATION:
            out.append(_TRANSLITERATION[c])
        else:
            base = "".join(
                d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d)
            )
            out.append(base if base and is_gsm7(base) else "?")
    return "".join(out)


#: Longest SMS we read: 10 concatenated segments.
SMS_MAX_SEGMENTS = 10
# Characters per segment (alone, in a concatenated message), by alphabet.
_SEGMENT = {"gsm7": (160, 153), "ucs2": (70, 67)}


@dataclass(frozen=True, slots=True)
class SmsSize:
    """How a phone network carries a text: GSM-7 septets or UCS-2 code units, in segments."""

    alphabet: Literal["gsm7", "ucs2"]
    units: int
    segments: int

    @property
    def max_units(self) -> int:
        """The most units `SMS_MAX_SEGMENTS` segments of this alphabet carry (1,530 or 670)."""
        return _SEGMENT[self.alphabet][1] * SMS_MAX_SEGMENTS


def sms_size(text: str) -> SmsSize:
    """The alphabet the text needs and how many segments it takes, as a phone would send it."""
    if is_gsm7(text):
        alphabet: Literal["gsm7", "ucs2"] = "gsm7"
        units = gsm7_length(text)
    else:
        alphabet = "ucs2"
        units = len(text.encode("utf-16-le")) // 2  # characters beyond the BMP take two units
    single, multi = _SEGMENT[alphabet]
    segments = 1 if units <= single else -(-units // multi)
    return SmsSize(alphabet, units, segments)


def fit_sms(text: str) -> str:
    """At most SMS_LENGTH septets (extension characters count two), cut at a word, with a dot."""
    if gsm7_length(text) <= SMS_LENGTH:
        return text
    cut = text
    while cut and gsm7_length(cut) > SMS_LENGTH - 1:
        cut = cut[:-1]
    return cut.rsplit(" ", 1)[0].rstrip(" ,.(") + "."


# ---------------------------------------------------------------------------- parsing


@dataclass(slots=True)
class _Token:
    text: str  # as typed
    norm: str  # lower case, no accents
    used: bool = False


class _Votes:
    def __init__(self) -> None:
        self.fr = 0
        self.en = 0

    def add(self, language: Language | None) -> None:
        if language == "fr":
            self.fr += 1
        elif language == "en":
            self.en += 1

    @property
    def language(self) -> Language:
        return "en" if self.en > self.fr else "fr"


def parse_sms(text: str, *, now: datetime, gazetteer: PlaceFinder | None = None) -> SmsParse:
    """Read one SMS. `now` is when it was received (aware datetime); it dates the incident
    unless the message says "hier" / "yesterday", a day (12/03) or a time (14h30)."""
    places = gazetteer if gazetteer is not None else default_gazetteer()
    stripped = " ".join(text.split())
    ack = _ACK.match(normalize_text(stripped))
    if ack:
        raw_code = ack.group("code")
        language: Language = "en" if normalize_text(stripped).startswith(("ack", "roger")) else "fr"
        if raw_code and _looks_like_code(stripped, raw_code):
            return SmsParse("ack", ack_code=raw_code.upper(), language=language)
        return SmsParse("incomplete", missing=["ack_code"], language=language)

    votes = _Votes()
    if normalize_text(stripped) in _HELP:
        lang: Language = "en" if normalize_text(stripped) in {"help", "syntax"} else "fr"
        return SmsParse("incomplete", missing=["type", "location"], language=lang)

    # Coordinates first: their digits must not be read as counts or times.
    geometry = None
    match = _COORDINATES.search(stripped)
    if match:
        geometry = _geometry_from(match)
        if geometry is not None:
            stripped_rest = stripped[: match.start()] + " " + stripped[match.end() :]
        else:
            stripped_rest = stripped
    else:
        stripped_rest = stripped

    typed, has_time, year_given, rest = _clock_and_date(stripped_rest, now)
    tokens = [_Token(t, normalize_text(t)) for t in _tokens(rest)]
    occurred, time_precision = _when(tokens, now, votes, typed, has_time, year_given)

    impact = empty_impact()
    people_counts = _read_counts(tokens, impact, votes)
    code = _read_type(tokens, votes, places)
    if code is None:
        code = _type_from_counts(impact)
    if code is not None:
        target = _TYPE_COUNT_FIELD.get(code)
        if target and people_counts and not impact[target]:
            impact[target] = people_counts

    perpetrator = _read_perpetrator(tokens)
    near = _read_near(tokens, votes)
    for tok in tokens:
        if not tok.used and tok.norm in _STOP_WORDS:
            votes.add(_STOP_WORDS[tok.norm])
            tok.used = tok.norm not in {"route", "axe"}  # "route Kayes" still names Kayes

    incident: IncidentInput = {
        "occurred_at": iso_utc(occurred),
        "time_precision": time_precision,
        "impact": impact,
        "description": " ".join(text.split()),
        "status": "reported",
    }
    if perpetrator:
        incident["perpetrator"] = perpetrator
    missing: list[str] = []
    if code is None:
        missing.append("type")
    else:
        incident["type"] = code
        incident["severity"] = severity_for(TYPES[code].default_severity, impact)

    leftover = [t for t in tokens if not t.used and not t.norm.isdigit()]
    unknown_place = None
    if geometry is not None:
        incident["geometry"] = geometry
        incident["location_precision"] = "exact"
        words = [t.text for t in leftover if t.norm not in _STOP_WORDS or t.norm in {"route"}]
        if words:
            incident["place_name"] = " ".join(words)
    else:
        place = places.search_in_text([t.text for t in leftover if t.norm not in _STOP_WORDS])
        if place is not None:
            incident["geometry"] = {
                "type": "Point",
                "coordinates": [round(place.lon, 6), round(place.lat, 6)],
            }
            incident["location_precision"] = "near" if near else "locality"
            incident["place_name"] = place.name
        else:
            missing.append("location")
            candidates = [
                t.text for t in leftover if len(t.norm) >= 4 and t.norm not in _STOP_WORDS
            ]
            unknown_place = candidates[0] if len(candidates) == 1 else None
    return SmsParse(
        "incomplete" if missing else "report",
        incident=incident,
        missing=missing,
        language=votes.language,
        unknown_place=unknown_place,
    )


def _looks_like_code(message: str, code: str) -> bool:
    """Alert codes are typed in capitals or hold a digit; "ok merci" acknowledges nothing."""
    as_typed = message.split()[-1].strip(".!")
    return any(c.isdigit() for c in code) or as_typed.isupper()


def _geometry_from(match: re.Match[str]) -> dict[str, object] | None:
    lat = float(match.group("lat").replace(",", "."))
    lon = float(match.group("lon").replace(",", "."))
    ns = (match.group("ns") or match.group("ns2") or "").strip().lower()
    ew = (match.group("ew") or match.group("ew2") or "").strip().lower()
    if ns == "s":
        lat = -abs(lat)
    if ew in {"w", "o"}:  # O = ouest
        lon = -abs(lon)
    if not _in_sahel(lat, lon) and _in_sahel(lon, lat):
        lat, lon = lon, lat
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}


def _in_sahel(lat: float, lon: float) -> bool:
    south, north, west, east = _SAHEL
    return south <= lat <= north and west <= lon <= east


def _clock_and_date(text: str, now: datetime) -> tuple[datetime | None, bool, bool, str]:
    """A day ("12/03") and a time ("14h30") typed in the message, removed from the text.

    Returns (day or None, whether a time was given, whether the year was given, text left).
    """
    day = None
    year_given = False
    date_match = _DAY_MONTH.search(text)
    if date_match:
        try:
            year = int(date_match.group("y") or now.year)
            day = now.replace(
                year=year + 2000 if year < 100 else year,
                month=int(date_match.group("mo")),
                day=int(date_match.group("d")),
            )
            year_given = bool(date_match.group("y"))
            text = text[: date_match.start()] + " " + text[date_match.end() :]
        except ValueError:
            day = None
    clock = _CLOCK.search(text)
    if clock:
        base = day or now
        day = base.replace(
            hour=int(clock.group("h")), minute=int(clock.group("m") or 0), second=0, microsecond=0
        )
        text = text[: clock.start()] + " " + text[clock.end() :]
    return day, clock is not None, year_given, text


def _when(
    tokens: list[_Token],
    now: datetime,
    votes: _Votes,
    typed: datetime | None,
    has_time: bool,
    year_given: bool,
) -> tuple[datetime, str]:
    """(occurred_at, time_precision) from the day words and any typed day or time."""
    days_ago = 0
    for words, (days, language) in sorted(_DAYS_AGO.items(), key=lambda kv: -len(kv[0])):
        at = next((i for i in range(len(tokens)) if _match_at(tokens, i, words)), None)
        if at is not None:
            _use(tokens, at, len(words))
            votes.add(language)
            days_ago = days
            break
    if typed is None:
        return now - timedelta(days=days_ago), "day"
    moment = typed - timedelta(days=days_ago)
    if moment > now and not year_given:
        # "22h" sent at 06:00 means last night; "28/12" sent in January means last year.
        moment -= timedelta(days=1) if has_time and typed.date() == now.date() else timedelta(0)
        if moment > now:
            moment = moment.replace(year=moment.year - 1)
    return moment, "exact" if has_time else "day"


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    return any(tuple(haystack[i : i + n]) == tuple(needle) for i in range(len(haystack) - n + 1))


def _match_at(tokens: list[_Token], i: int, words: Sequence[str]) -> bool:
    n = len(words)
    if i + n > len(tokens):
        return False
    return all(not tokens[i + k].used and tokens[i + k].norm == words[k] for k in range(n))


def _use(tokens: list[_Token], i: int, n: int) -> None:
    for k in range(i, i + n):
        tokens[k].used = True


def _read_counts(tokens: list[_Token], impact: dict[str, Any], votes: _Votes) -> int:
    """Fill impact from "3 morts", "2 staff enlevés"...; returns the count of people whose fate
    the message does not say (it then follows the incident type)."""
    unassigned = 0
    for i, tok in enumerate(tokens):
        if tok.used:
            continue
        number = int(tok.norm) if tok.norm.isdigit() else _NUMBER_WORDS.get(tok.norm)
        if number is None or i + 1 >= len(tokens):
            continue
        j = i + 1
        people = False
        for words, language in sorted(_AID_WORKERS.items(), key=lambda kv: -len(kv[0])):
            if _match_at(tokens, j, words):
                impact["aid_workers_affected"] = True
                votes.add(language)
                _use(tokens, j, len(words))
                j += len(words)
                people = True
                break
        if not people and j < len(tokens) and tokens[j].norm in _PEOPLE:
            votes.add(_PEOPLE[tokens[j].norm])
            tokens[j].used = True
            j += 1
            people = True
        if j < len(tokens) and not tokens[j].used and tokens[j].norm in _COUNT_NOUNS:
            target, language = _COUNT_NOUNS[tokens[j].norm]
            votes.add(language)
            impact[target] = int(impact[target]) + number
            _use(tokens, i, j + 1 - i)
        elif people:
            unassigned += number
            _use(tokens, i, j - i)
    for i in range(len(tokens)):  # "staff" without a number still flags aid workers
        for words, language in _AID_WORKERS.items():
            if _match_at(tokens, i, words):
                impact["aid_workers_affected"] = True
                votes.add(language)
                _use(tokens, i, len(words))
    return unassigned


def _read_type(tokens: list[_Token], votes: _Votes, places: PlaceFinder) -> str | None:
    """The first type keyword in the message; exact words before typo-tolerant ones."""
    best: tuple[int, _Keyword] | None = None
    for keyword in _keywords():
        for i in range(len(tokens)):
            if _match_at(tokens, i, keyword.words) and (best is None or i < best[0]):
                best = (i, keyword)
                break
    if best is not None:
        i, keyword = best
        _use(tokens, i, len(keyword.words))
        votes.add(keyword.language)
        return keyword.code
    choices = _fuzzy_choices()
    for tok in tokens:
        if tok.used or len(tok.norm) < 5 or tok.norm in _STOP_WORDS or tok.norm in _PERPETRATORS:
            continue
        found = process.extractOne(tok.norm, list(choices), scorer=fuzz.ratio, score_cutoff=84)
        if not found:
            continue
        place = places.lookup(tok.text)
        if place is not None and fuzz.ratio(normalize_text(place.name), tok.norm) >= found[1]:
            continue  # "Menaka" is a town, not a typo of "menace"
        tok.used = True
        keyword = choices[found[0]]
        votes.add(keyword.language)
        return keyword.code
    return None


def _type_from_counts(impact: dict[str, Any]) -> str | None:
    """ "2 enlevés Diéma" says kidnapping even without a type word."""
    for field_name, code in (
        ("abducted", "kidnapping"),
        ("killed", "killing"),
        ("detained", "detention"),
        ("missing", "disappearance"),
    ):
        if impact.get(field_name):
            return code
    return None


def _read_perpetrator(tokens: list[_Token]) -> str | None:
    for tok in tokens:
        if not tok.used and tok.norm in _PERPETRATORS:
            tok.used = True
            return _PERPETRATORS[tok.norm]
    return None


def _read_near(tokens: list[_Token], votes: _Votes) -> bool:
    for i in range(len(tokens)):
        for words, language in _NEAR.items():
            if _match_at(tokens, i, words):
                _use(tokens, i, len(words))
                votes.add(language)
                return True
    return False
