"""Short field SMS (French or English) read as an incident report or an alert acknowledgement.

Syntax (docs/sms.md): `TYPE PLACE [COUNTS] [WHEN] [free words]`, in any order, e.g.
`ENLEVEMENT DIEMA 2 staff`, `IED 14.54 -9.19 route Kayes`, `kidnapping near Nioro 1 aid worker`;
`OK K7F3Q` acknowledges alert K7F3Q. Words are compared without case or accents, small typos in
type words and place names are tolerated, and messages written as sentences are read too:
`des hommes armes ont enleve 2 de nos agents sur l axe Diema Nioro vers 7h`. Places on roads
and around towns: incidents.intake.sms_places; times: incidents.intake.sms_times (Mali keeps
GMT all year, so times are read as UTC).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Literal

from rapidfuzz import fuzz, process

from incidents.intake import sms_places, sms_times
from incidents.interop.rows import (
    IncidentInput,
    PlaceFinder,
    default_gazetteer,
    empty_impact,
    iso_utc,
    severity_for,
)
from incidents.taxonomy.catalogue import TYPES, normalize_text
from incidents.vocabulary import type_label

Language = Literal["fr", "en"]
SMS_LENGTH = 160


# ---------------------------------------------------------------------------- vocabulary
# Everything below is compared in normalised form (lower case, no accents).


def _tokens(text: str) -> list[str]:
    return re.findall(r"\d+|[^\W\d_]+", text)


def _norm_tokens(text: str) -> tuple[str, ...]:
    return tuple(_tokens(normalize_text(text)))


def _stem(word: str) -> str:
    """Plural and feminine endings off: "tuees" -> "tue", "rockets" -> "rocket"."""
    if len(word) > 3 and word.endswith("s"):
        word = word[:-1]
    return word


# Type keywords come in tiers; in a message the best tier wins, then the earliest keyword.
# 1: words naming the event ("embuscade", "braquage", "mine"); 2: words any violent incident
# uses ("attaque", "tirs", "explosion") and past participles ("pillé", "enlevé"); an abduction
# count then says kidnapping; 3: words naming the actors, not the event ("hommes armés",
# "bandits armés", "gunmen"); last, the other counts (killed -> killing...).
_GENERIC = frozenset(
    {
        ("attaque",),
        ("attaques",),
        ("attack",),
        ("assaut",),
        ("incident",),
        ("explosion",),
        ("explosions",),
        ("explose",),
        ("engin",),
        ("tir",),
        ("tirs",),
        ("coups", "de", "feu"),
        ("fusillade",),
        ("shooting",),
        ("gunfire",),
        ("raid",),
        ("autre",),
        ("other",),
        ("divers",),
    }
)
_WEAK = frozenset(
    {
        ("hommes", "armes"),
        ("hommes", "armes", "non", "identifies"),
        ("hani",),
        ("gunmen",),
        ("bandits", "armes"),
        ("bandits",),
        ("coupeurs", "de", "route"),
        ("tue",),
        ("tues",),
        ("killed",),
        ("voleurs",),
        ("thieves",),
        ("emporte",),
        ("emportes",),
    }
)


@dataclass(frozen=True, slots=True)
class _Keyword:
    words: tuple[str, ...]
    code: str
    language: Language | None
    tier: int


def _tier(words: tuple[str, ...], as_written: str) -> int:
    if words in _WEAK:
        return 3
    if words in _GENERIC:
        return 2
    written = as_written.strip()
    if len(words) == 1 and (
        written.endswith(("é", "és", "ée", "ées"))
        or (written.endswith("ed") and not written.endswith("eed"))
    ):
        return 2
    return 1


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
                    found[key] = _Keyword(key, itype.code, language, _tier(key, word))  # type: ignore[arg-type]
                elif found[key].language != language:  # "ied", "carjacking": no hint
                    found[key] = _Keyword(key, found[key].code, None, found[key].tier)
    for word, (code, language) in _SMS_KEYWORDS.items():
        key = _norm_tokens(word)
        found.setdefault(key, _Keyword(key, code, language, _tier(key, word)))
    return tuple(sorted(found.values(), key=lambda k: -len(k.words)))


# Words seen in field SMS that the taxonomy does not list (it describes types, not SMS slang).
_SMS_KEYWORDS: dict[str, tuple[str, Language]] = {
    "explosion": ("ied", "fr"),
    "explosions": ("ied", "fr"),
    "explose": ("ied", "fr"),
    "engin": ("ied", "fr"),
    "tir": ("armed_attack", "fr"),
    "enlev": ("kidnapping", "fr"),
    "kidnap": ("kidnapping", "en"),
    "kidnappé": ("kidnapping", "fr"),
    "kidnappés": ("kidnapping", "fr"),
    "braquage": ("robbery", "fr"),
    "braqué": ("robbery", "fr"),
    "braqueurs": ("robbery", "fr"),
    "mines": ("landmine_uxo", "fr"),
    "manif": ("demonstration", "fr"),
    "pillés": ("looting", "fr"),
    "voleurs": ("theft", "fr"),
    "thieves": ("theft", "en"),
    "emporte": ("theft", "fr"),
    "emportés": ("theft", "fr"),
    "véhicule emporté": ("carjacking", "fr"),
    "emporté le véhicule": ("carjacking", "fr"),
    "vol du véhicule": ("carjacking", "fr"),
    "stole our vehicle": ("carjacking", "en"),
    "check point": ("illegal_checkpoint", "fr"),
    "refus d accès": ("access_denial", "fr"),
    "refus de passage": ("access_denial", "fr"),
    "passage refusé": ("access_denial", "fr"),
    "demi tour": ("access_denial", "fr"),
    "fermée": ("movement_restriction", "fr"),
    "fermées": ("movement_restriction", "fr"),
    "closed": ("movement_restriction", "en"),
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


# Outcome words (nouns after a number, "3 morts"; participles before or after, "ont enleve 2",
# "2 enleves") and the impact field they fill; compared after _stem.
_OUTCOMES: dict[str, tuple[str, Language | None]] = {
    **dict.fromkeys(
        _list(
            """mort morte tue tuee deces dece decede decedee cadavre assassine\n        execute egorge"""
        ),
        ("killed", "fr"),
    ),
    **dict.fromkeys(_list("dead killed death bodie body"), ("killed", "en")),
    **dict.fromkeys(_list("blesse blessee blessure bless"), ("injured", "fr")),
    **dict.fromkeys(_list("injured wounded injurie hurt"), ("injured", "en")),
    **dict.fromkeys(
        _list("enleve enlevee kidnappe kidnappee otage rapte enlevement"), ("abducted", "fr")
    ),
    **dict.fromkeys(_list("abducted kidnapped hostage"), ("abducted", "en")),
    **dict.fromkeys(_list("arrete arretee detenu detenue interpelle"), ("detained", "fr")),
    **dict.fromkeys(_list("arrested detained"), ("detained", "en")),
    **dict.fromkeys(_list("disparu disparue"), ("missing", "fr")),
    **dict.fromkeys(_list("missing"), ("missing", "en")),
}
# Verbs that only come before the people they affect: "kidnap 3 traders", "ont tue 2 civils".
_OUTCOME_VERBS: dict[str, tuple[str, Language | None]] = {
    **dict.fromkeys(_list("enlever kidnapper"), ("abducted", "fr")),
    **dict.fromkeys(_list("kidnap abduct"), ("abducted", "en")),
    **dict.fromkeys(_list("tuer abattu abattue"), ("killed", "fr")),
    **dict.fromkeys(_list("kill"), ("killed", "en")),
    **dict.fromkeys(_list("blessant"), ("injured", "fr")),
}
# Words naming aid workers: they set impact.aid_workers_affected, with or without a number.
_AID_WORKERS: dict[tuple[str, ...], Language | None] = {
    **_phrases(None, "staff, staffs, staf, personnel"),
    **_phrases(
        "fr",
        """humanitaire, humanitaires, agent, agents, employe, employes, collegue,
        collegues, agent humanitaire, agents humanitaires, travailleur humanitaire,
        travailleurs humanitaires, personnel humanitaire, agent ong, agents ong, ong,
        agents de l ong, agent de l ong, volontaire, volontaires""",
    ),
    **_phrases(
        "en",
        """aid worker, aid workers, humanitarian worker, humanitarian workers,
        humanitarian staff, ngo staff, colleague, colleagues, employee, employees, ngo,
        ngo workers, ngo worker""",
    ),
}
# Other people after a number: their count follows the type ("3 civils" in a kidnapping).
_PEOPLE: dict[str, Language | None] = {
    **_words(
        "fr",
        """soldats soldat militaires militaire gendarmes gendarme policiers policier personne
        personnes pers civil civils villageois individus femmes femme enfants enfant hommes homme
        commercant commercants passager passagers eleveur eleveurs chauffeur chauffeurs
        bergers berger jeunes jeune douaniers douanier enseignants enseignant gardien gardiens
        chef chefs comptable coordinateur coordinatrice infirmier infirmiere medecin maire
        fille filles garcon garcons fideles pecheurs agriculteurs orpailleurs elus casques
        bleus""",
    ),
    **_words(
        "en",
        """soldiers soldier policemen people person persons civilian civilians villagers
        women children men trader traders passenger passengers herder herders driver
        drivers guard guards teacher teachers nurse doctor girl girls boy boys""",
    ),
}
# Singular people without a number: "notre chauffeur", "le gardien", "our driver".
_SINGULAR_DETERMINERS = frozenset(
    _list("notre le la l du son sa leur mon ma our the their his a an")
)
_SINGULAR_PEOPLE = frozenset(
    _list("""agent chauffeur gardien chef berger comptable coordinateur coordinatrice employe
    collegue volontaire enseignant commercant infirmier infirmiere medecin maire driver guard
    colleague employee teacher nurse doctor""")
)
# Things counted in messages, whose numbers are not people.
_NOT_PEOPLE = frozenset(
    _list("""km h heure heures jour jours semaine semaines mois an ans minute minutes fois moto motos
    vehicule vehicules camion camions voiture voitures bus pick pickup tonnes sacs tetes ordinateurs
    telephones hours days weeks months years minutes times motorbikes motorbike vehicles vehicle
    cars car trucks truck""")
)
# Words between a number and the people: "2 de nos agents", "3 of our staff".
_FILLERS = frozenset(_list("de des d nos notre leurs ses of our their the les"))
# "pas de blesse", "aucun mort", "sans victime", "no one hurt": an outcome said to be nil.
_NEGATIONS = frozenset(_list("pas aucun aucune sans no none nobody zero ni"))
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
            "onze eleven",
            "douze twelve",
        ]
    )
    for w in words.split()
}
_NUMBER_WORDS.update({"quinze": 15, "vingt": 20, "fifteen": 15, "twenty": 20, "trente": 30})
_PERPETRATORS: dict[tuple[str, ...], str] = {
    **{
        (w,): "state_forces"
        for w in _list("""armee army fama militaires militaire soldats soldiers gendarmes
        gendarmerie police policiers forces""")
    },
    **{
        (w,): "non_state_armed_group"
        for w in _list("""jihadistes djihadistes jihadiste djihadiste terroristes terroriste
        jnim gsim eigs isgs isis jihadists jihadist terrorists insurges rebelles rebels
        insurgents csp cma""")
    },
    ("etat", "islamique"): "non_state_armed_group",
    ("groupe", "arme"): "non_state_armed_group",
    ("groupes", "armes"): "non_state_armed_group",
    ("armed", "group"): "non_state_armed_group",
    ("armed", "groups"): "non_state_armed_group",
    **{(w,): "community_militia" for w in _list("dozo dozos milice milices militia militias")},
    ("chasseurs",): "community_militia",
    **{
        (w,): "foreign_forces"
        for w in _list("wagner barkhane minusma russes russians mercenaires mercenaries etrangers")
    },
    ("africa", "corps"): "foreign_forces",
    **{
        (w,): "criminal"
        for w in _list("""voleurs voleur criminels thieves thief criminals braqueurs bandits
        bandit""")
    },
    ("bandits", "armes"): "criminal",
    ("armed", "bandits"): "criminal",
    ("coupeurs", "de", "route"): "criminal",
}
# Words before an armed actor that make it the target: "embuscade contre FAMa", "camp FAMa".
_TARGET_MARKERS = frozenset(
    _list("""contre sur envers visant camp convoi vehicule vehicules poste base position
    patrouille positions aux tendue cote parmi chez dont among against on targeting convoy
    vehicle patrol camps""")
)
_ATTACK_WORDS = frozenset(_list("attaque attaques attak ataque attack embuscade ambush assaut"))
_BY = frozenset(_list("par by"))
_DETERMINERS = frozenset(_list("les des la le l un une d de du the some armes armed"))
# Words that are neither type, count nor place; they still tell the language.
_STOP_WORDS: dict[str, Language | None] = {
    **_words(
        "fr",
        """le la les de du des au aux et dans sur avec dont par pour entre axe route
        ville village quartier secteur l d a un une est sont ont ete nos notre materiel vehicule
        moto motos camion bureau base ce cette matin soir nuit heures signale cercle region
        commune sans victime tous suspects armes hommes inconnus individus ds pres vers bjr
        bonjour slt salut svp merci alerte urgent info bilan il ils elle y en qui que se sa son
        ses leur leurs mes mon ma depuis apres avant lors pendant suite sous chez contre""",
    ),
    **_words(
        "en",
        """the of in at on and with an to from road town our office vehicle car truck
        by were was is are between morning evening night district reported unknown armed men
        suspected near hit this that no one safe after before their they has have been""",
    ),
    **_words(None, "h min gps ok km"),
}
# Common words of field SMS never read alone as a misspelt place name.
_COMMON = frozenset(
    _list("""vehicule vehicules camion camions convoi marche bureau base camp poste zone village
    ville quartier maison centre sante ecole mosquee eglise site deplaces passage passagers
    chauffeur gardien chef maire equipe mission mobile charrette mariage groupe electrogene
    ordinateurs telephone telephones argent betail vivres magasin entrepot gouvernorat douane
    aeroport airport market office team river fleuve pont bridge puits sain sauf bloquee bloque
    coupees touche detruit intercepte controlent imposent interdisant activites suspended
    activities robbed safe fui perdu brule incendies incendie transport parmi cours lettre
    zakat villages autour mort morts balle balles nord sud est ouest north south east west
    entree sortie bergers berger jeunes agents interdit acces plusieurs venant partir routes
    tenu passage cercle region commune secteur direction kilometres kilometre casques bleus
    volontaires enseignants enseignant coordinateur comptable personnel""")
)

# Decimal degrees, latitude first, with a point or a decimal comma ("14,62 -8,12"), optional
# hemispheres (N/S, E/W/O) and labels ("lat 14,62 lon -8,12").
_COORDINATES = re.compile(
    r"(?:\blat(?:itude)?\s*[:=]?\s*)?"
    r"(?<![\w.,])(?P<ns>[NSns]\s?)?(?P<lat>[-+]?\d{1,2}[.,]\d{1,})\s*(?P<ns2>[NSns])?"
    r"\s*(?:[,;/ ]|\s(?:lon(?:g(?:itude)?)?|lng)\s*[:=]?)\s*"
    r"(?P<ew>[EWOewo]\s?)?(?P<lon>[-+]?\d{1,3}[.,]\d{1,})\s*(?P<ew2>[EWOewo])?"
    r"(?![\w.,])",
    re.I,
)
_ACK = re.compile(
    r"^\s*(?:ok|ack|recu|bien recu|vu|lu|roger)\s*[:#\-]?\s*(?P<code>[a-z0-9]{4,10})?\s*[.!]*\s*$",
    re.I,
)
_HELP = {"aide", "help", "syntaxe", "syntax", "?"}
# A box around the Sahel: coordinates outside it that fit when swapped were typed lon first.
_SAHEL = (4.0, 28.0, -18.0, 16.0)
# Words that start a message meant as a correction or as a new report (docs/sms.md).
CORRECTION_WORDS = frozenset(_list("correction corrige corriger rectif rectification erratum fix"))
NEW_REPORT_WORDS = frozenset(_list("nouveau nouvel nouvelle autre new another"))


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
    #: The two places of a road (`axe Diema Nioro`) the point was read between, if any.
    road: tuple[str, str] | None = None
    #: The message starts with a correction word (`CORRECTION`, `RECTIF`...) or a new-report
    #: word (`NOUVEAU`, `NEW`): how the intake service treats a re-sent message (docs/sms.md).
    intent: Literal["correction", "new"] | None = None

    def reply(
        self,
        language: str | None = None,
        *,
        segments: int = 1,
        reference: str | None = None,
        corrected: bool = False,
    ) -> str:
        """The answer SMS in the sender's language, in GSM-7, within `segments` segments
        (160 septets for one, 153 each when concatenated) and never cut inside a word.

        `reference`: the report's code, quoted first; `corrected`: the message updated the
        sender's earlier report instead of adding one."""
        lang: Language = "en" if (language or self.language).lower().startswith("en") else "fr"
        head = "Sentinelle"
        if reference:
            head += f" {'ref' if lang == 'en' else 'réf'} {reference}"
        limit = segment_budget(segments)
        for parts in _reply_variants(self, lang, corrected):
            text = to_gsm7(f"{head}: " + " ".join(p for p in parts if p))
            if gsm7_length(text) <= limit:
                return text
        return fit_sms(text, segments=segments)


def _reply_variants(parse: SmsParse, lang: Language, corrected: bool) -> list[list[str]]:
    """Replies from the fullest to the shortest: optional sentences are dropped whole."""
    fr = lang == "fr"
    if parse.kind == "ack":
        return [
            [
                f"accusé de réception de l'alerte {parse.ack_code} enregistré.",
                "Merci.",
            ]
            if fr
            else [f"alert {parse.ack_code} acknowledged.", "Thank you."]
        ]
    if "ack_code" in parse.missing:
        return [
            ["pour confirmer une alerte, envoyez OK suivi du code reçu, ex: OK K7F3Q"]
            if fr
            else ["to acknowledge an alert send OK and its code, e.g. OK K7F3Q"]
        ]
    if "type" in parse.missing and "location" in parse.missing:
        return [
            [
                "message non compris. Envoyez TYPE LIEU NOMBRE, ex: ENLEVEMENT DIEMA 2 staff "
                "ou IED 14.54 -9.19. Types: ATTAQUE IED ENLEVEMENT VOL MENACE BARRAGE"
            ]
            if fr
            else [
                "message not understood. Send TYPE PLACE COUNT, e.g. KIDNAPPING DIEMA 2 staff "
                "or IED 14.54 -9.19. Types: ATTACK IED KIDNAPPING THEFT THREAT"
            ]
        ]
    if "type" in parse.missing:
        return [
            [
                "type d'incident non reconnu. Renvoyez avec le type en premier, ex: ATTAQUE, "
                "IED, ENLEVEMENT, VOL, MENACE, BARRAGE, EMBUSCADE"
            ]
            if fr
            else [
                "incident type not recognised. Send again starting with the type, e.g. "
                "ATTACK, IED, KIDNAPPING, THEFT, THREAT, CHECKPOINT, AMBUSH"
            ]
        ]
    if "location" in parse.missing:
        name = parse.unknown_place
        if name and len(name) > 24:
            name = name[:24]
        if name:
            if fr:
                return [
                    [
                        f"lieu {name} inconnu.",
                        "Quelle est la ville la plus proche? Renvoyez le message complet avec",
                        "elle ou les coordonnées GPS, ex: IED 14.54 -9.19",
                    ],
                    [
                        f"lieu {name} inconnu.",
                        "Renvoyez avec la ville la plus proche ou GPS,",
                        "ex: IED 14.54 -9.19",
                    ],
                ]
            return [
                [
                    f"place {name} unknown.",
                    "What is the nearest town? Send the full message again naming it, or GPS",
                    "coordinates, e.g. IED 14.54 -9.19",
                ],
                [
                    f"place {name} unknown.",
                    "Send again with the nearest town or GPS,",
                    "e.g. IED 14.54 -9.19",
                ],
            ]
        return [
            [
                "lieu non reconnu. Renvoyez avec la ville la plus proche ou les coordonnées "
                "GPS (lat lon), ex: VOL GAO ou IED 14.54 -9.19"
            ]
            if fr
            else [
                "place not recognised. Send again with the nearest town or GPS coordinates "
                "(lat lon), e.g. THEFT GAO or IED 14.54 -9.19"
            ]
        ]
    return _confirmations(parse, lang, corrected)


_OUTCOME_LABELS = {
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
}


def _confirmations(parse: SmsParse, lang: Language, corrected: bool) -> list[list[str]]:
    incident = parse.incident
    fr = lang == "fr"
    itype = TYPES[incident["type"]]
    label = type_label(itype.code, lang)
    short_label = label.split(" (")[0].split(",")[0]
    place = incident.get("place_name") or ""
    precision = incident.get("location_precision")
    if precision == "exact":
        lon, lat = incident["geometry"]["coordinates"]
        where = f"{'à' if fr else 'at'} {lat:.4f} {lon:.4f}"
    elif parse.road is not None and " km " not in f" {place} ":
        a, b = parse.road
        where = f"sur l'axe {a} - {b}" if fr else f"on the {a} - {b} road"
    elif " km " in f" {place} ":
        where = (
            f"à {place}" if fr else place.replace(" de ", " from ").replace(" vers ", " towards ")
        )
    elif precision == "near":
        where = f"{'près de' if fr else 'near'} {place}"
    else:
        where = f"{'à' if fr else 'at'} {place}"
    impact = incident.get("impact", {})
    words = _OUTCOME_LABELS[lang]
    counts = ", ".join(f"{impact[k]} {w}" for k, w in words.items() if impact.get(k))
    if impact.get("aid_workers_affected"):
        aid = "humanitaires" if fr else "aid workers"
        counts = f"{counts}, {aid}" if counts else aid
    day = incident["occurred_at"][:10]
    if incident.get("time_precision") == "exact":
        day += " " + incident["occurred_at"][11:16]
    when = f"le {day}" if fr else f"on {day}"
    count_part = f"({counts})" if counts else ""
    verb = ("corrigé:" if fr else "corrected:") if corrected else ("reçu" if fr else "received")
    hint_long = (
        "Merci. Pour corriger, renvoyez le message complet dans l'heure."
        if fr
        else "Thank you. To correct, send the full message again within the hour."
    )
    hint_short = "Pour corriger, renvoyez-le." if fr else "To correct, send it again."
    thanks = "Merci." if fr else "Thank you."
    variants = []
    for lab in (label, short_label):
        core = [
            verb,
            lab,
            where,
            when + ("" if count_part else "."),
            count_part + "." if count_part else "",
        ]
        variants += [
            [*core, hint_long],
            [*core, hint_short],
            [*core, thanks],
            core,
        ]
    variants.append([verb, short_label, where, count_part + "." if count_part else ""])
    return variants


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


def segment_budget(segments: int = 1) -> int:
    """Septets `segments` GSM-7 segments carry: 160 alone, 153 each when concatenated."""
    segments = max(1, min(int(segments), SMS_MAX_SEGMENTS))
    single, multi = _SEGMENT["gsm7"]
    return single if segments == 1 else multi * segments


def fit_sms(text: str, *, segments: int = 1) -> str:
    """At most `segments` GSM-7 segments (extension characters count two), cut between words
    with a final dot; a single word longer than the whole budget is the only thing ever cut."""
    limit = segment_budget(segments)
    if gsm7_length(text) <= limit:
        return text
    words = text.split(" ")
    kept: list[str] = []
    for word in words:
        candidate = " ".join([*kept, word]).rstrip(" ,;:(")
        if gsm7_length(candidate + ".") > limit:
            break
        kept.append(word)
    if kept:
        return " ".join(kept).rstrip(" ,;:(.") + "."
    cut = words[0]
    while cut and gsm7_length(cut + ".") > limit:
        cut = cut[:-1]
    return cut + "."


# ---------------------------------------------------------------------------- parsing


@dataclass(slots=True)
class _Token:
    text: str  # as typed
    norm: str  # lower case, no accents
    used: bool = False  # read as a type, count, time... word
    actor: bool = False  # names a perpetrator or a target


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
    unless the message says when (incidents.intake.sms_times)."""
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
    rest = stripped
    match = _COORDINATES.search(stripped)
    if match:
        geometry = _geometry_from(match)
        if geometry is not None:
            rest = stripped[: match.start()] + " " + stripped[match.end() :]

    typed = sms_times.strip_typed(rest)
    tokens = [_Token(t, normalize_text(t)) for t in _tokens(typed.text)]
    intent = _read_intent(tokens)
    said = sms_times.read_time_words([t.norm for t in tokens], [not t.used for t in tokens], now)
    for k in said.used:
        tokens[k].used = True
    for language_said in said.languages:
        votes.add(language_said)
    occurred, time_precision = sms_times.resolve(now, typed, said)

    perpetrator = _read_perpetrator(tokens)
    impact = empty_impact()
    people_counts, singular = _read_counts(tokens, impact, votes)
    code = _read_type(tokens, votes, places, impact)
    if code is not None:
        target = _TYPE_COUNT_FIELD.get(code)
        if target and not impact[target]:
            extra = people_counts + (singular if code in {"kidnapping", "killing"} else 0)
            if extra:
                impact[target] = extra
    for tok in tokens:
        if not tok.used and tok.norm in _STOP_WORDS:
            votes.add(_STOP_WORDS[tok.norm])

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

    words = [t.norm for t in tokens]
    usable = [not t.used and not t.actor and not t.norm.isdigit() for t in tokens]
    unknown_place = None
    road = None
    if geometry is not None:
        incident["geometry"] = geometry
        incident["location_precision"] = "exact"
        named = [
            t.text
            for t, ok in zip(tokens, usable, strict=True)
            if ok and (t.norm not in _STOP_WORDS or t.norm in {"route"})
        ]
        if named:
            incident["place_name"] = " ".join(named)
    else:
        found = sms_places.find_places(words, usable, places, _is_common)
        where = sms_places.read_where(words, found)
        if where is not None:
            incident["geometry"] = {
                "type": "Point",
                "coordinates": [round(where.lon, 6), round(where.lat, 6)],
            }
            incident["location_precision"] = where.precision
            incident["place_name"] = where.name
            road = where.road
            for place in where.places:
                for k in range(place.start, place.end):
                    tokens[k].used = True
        else:
            missing.append("location")
            unknown_place = _as_typed(stripped, _unknown_place(tokens, usable))
    return SmsParse(
        "incomplete" if missing else "report",
        incident=incident,
        missing=missing,
        language=votes.language,
        unknown_place=unknown_place,
        road=road,
        intent=intent,
    )


def _is_common(word: str) -> bool:
    return word in _vocabulary()


@cache
def _vocabulary() -> frozenset[str]:
    """Every word the parser knows as something else than a place."""
    words: set[str] = set(_STOP_WORDS) | set(_COMMON) | set(_PEOPLE) | set(_OUTCOMES)
    words |= set(_OUTCOME_VERBS) | _NOT_PEOPLE | _FILLERS | _NEGATIONS | set(_NUMBER_WORDS)
    words |= _TARGET_MARKERS | _ATTACK_WORDS | sms_places.NEAR_WORDS | sms_places.ROAD_WORDS
    for phrase in (*_AID_WORKERS, *_PERPETRATORS):
        words.update(phrase)
    for keyword in _keywords():
        words.update(keyword.words)
    words |= {_stem(w) for w in words}
    return frozenset(w for w in words if w)


def _unknown_place(tokens: list[_Token], usable: list[bool]) -> str | None:
    """The word that looks like the unknown place: after "a", "pres", "near", "at"..., or
    capitalised (not as the first word) after "de"; None when nothing looks like one."""
    candidates = [
        (i, t)
        for i, (t, ok) in enumerate(zip(tokens, usable, strict=True))
        if ok and len(t.norm) >= 4 and not _is_common(t.norm)
    ]
    for i, t in candidates:
        before = tokens[i - 1].norm if i > 0 else ""
        if before in {"a", "pres", "near", "at", "in", "vers", "sur", "around", "outside"}:
            return t.text
        if i > 0 and t.text[:1].isupper() and (before in {"de", "du", "d"} or before == ""):
            return t.text
    capitalised = [t for i, t in candidates if i > 0 and t.text[:1].isupper()]
    return capitalised[0].text if capitalised else None


def _as_typed(message: str, word: str | None) -> str | None:
    """The whole word as typed around a token: "Hama" in "a Tin-Hama," is "Tin-Hama"."""
    if word is None:
        return None
    for piece in message.split():
        if word in piece:
            return piece.strip(",.;:!?()\"'")
    return word


def _read_intent(tokens: list[_Token]) -> Literal["correction", "new"] | None:
    if not tokens:
        return None
    first = tokens[0].norm
    if first in CORRECTION_WORDS or first.startswith("rectif"):
        tokens[0].used = True
        return "correction"
    # "NOUVEAU enlevement...", "autre attaque...", "new ambush...": another incident.
    if first in NEW_REPORT_WORDS and len(tokens) > 1 and tokens[1].norm not in {"de", "d"}:
        tokens[0].used = True
        return "new"
    return None


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


def _match_at(tokens: list[_Token], i: int, words: Sequence[str], *, stem: bool = False) -> bool:
    n = len(words)
    if i + n > len(tokens):
        return False
    for k in range(n):
        tok = tokens[i + k]
        if tok.used:
            return False
        if tok.norm != words[k] and not (stem and _stem(tok.norm) == _stem(words[k])):
            return False
    return True


def _use(tokens: list[_Token], i: int, n: int) -> None:
    for k in range(i, i + n):
        tokens[k].used = True


def _outcome(word: str) -> tuple[str, Language | None] | None:
    for form in (word, _stem(word)):
        if form in _OUTCOMES:
            return _OUTCOMES[form]
        if len(form) > 3 and form.endswith("e") and form[:-1] in _OUTCOMES:
            return _OUTCOMES[form[:-1]]
    return None


def _number(tok: _Token) -> int | None:
    if tok.used:
        return None
    if tok.norm.isdigit():
        return int(tok.norm) if len(tok.norm) <= 4 else None
    return _NUMBER_WORDS.get(tok.norm)


def _people_at(tokens: list[_Token], j: int, votes: _Votes, impact: dict[str, Any]) -> int:
    """How many tokens from j name people ("agents ONG", "civils", "casques bleus"); 0 if none."""
    for words, language in sorted(_AID_WORKERS.items(), key=lambda kv: -len(kv[0])):
        if _match_at(tokens, j, words):
            impact["aid_workers_affected"] = True
            votes.add(language)
            return len(words)
    if j < len(tokens) and not tokens[j].used and tokens[j].norm in _PEOPLE:
        votes.add(_PEOPLE[tokens[j].norm])
        n = 1
        while j + n < len(tokens) and tokens[j + n].norm in _PEOPLE and n < 3:
            n += 1
        return n
    return 0


def _read_counts(tokens: list[_Token], impact: dict[str, Any], votes: _Votes) -> tuple[int, int]:
    """Fill impact from "3 morts", "2 staff enlevés", "ont enleve 2 de nos agents"...

    Returns (people counted whose fate the message does not say, singular people without a
    number such as "notre chauffeur"): they then follow the incident type."""
    _read_negations(tokens, votes)
    unassigned = 0
    for i, tok in enumerate(tokens):
        number = _number(tok)
        if number is None:
            continue
        if i + 1 < len(tokens) and tokens[i + 1].norm in _NOT_PEOPLE:
            continue
        j = i + 1
        people = 0
        while j < len(tokens) and tokens[j].norm in _FILLERS and not tokens[j].used:
            j += 1
        people = _people_at(tokens, j, votes, impact)
        if people:
            j += people
        else:
            j = i + 1
        # Up to two words we do not know ("3 douaniers tues") before an outcome word.
        skipped = 0
        while (
            j < len(tokens)
            and skipped < 2
            and not tokens[j].used
            and _outcome(tokens[j].norm) is None
            and tokens[j].norm not in _NOT_PEOPLE
            and not tokens[j].norm.isdigit()
            and tokens[j].norm not in _STOP_WORDS
            and tokens[j].norm not in _FILLERS
            and not _is_place_like(tokens[j])
        ):
            j += 1
            skipped += 1
        found = _outcome(tokens[j].norm) if j < len(tokens) and not tokens[j].used else None
        if found is None and skipped:
            j -= skipped
        if found is not None:
            target, language = found
            votes.add(language)
            impact[target] = int(impact[target]) + number
            _use(tokens, i, j + 1 - i)
            continue
        before = _outcome_before(tokens, i)
        if before is not None:
            at, (target, language) = before
            votes.add(language)
            impact[target] = int(impact[target]) + number
            _use(tokens, at, 1)
            _use(tokens, i, max(1, j - i))
            continue
        if people:
            unassigned += number
            _use(tokens, i, j - i)
    singular = 0
    for i in range(len(tokens) - 1):
        tok, nxt = tokens[i], tokens[i + 1]
        if tok.used or nxt.used or tok.norm not in _SINGULAR_DETERMINERS:
            continue
        if nxt.norm not in _SINGULAR_PEOPLE:
            continue
        votes.add(_PEOPLE.get(nxt.norm))
        after = tokens[i + 2] if i + 2 < len(tokens) else None
        found = _outcome(after.norm) if after is not None and not after.used else None
        if found is not None:
            impact[found[0]] = int(impact[found[0]]) + 1
            _use(tokens, i, 3)
        else:
            singular = max(singular, 1)
            if nxt.norm in {"agent", "employe", "collegue", "volontaire", "colleague", "employee"}:
                impact["aid_workers_affected"] = True
            _use(tokens, i, 2)
    for i in range(len(tokens)):  # "staff" without a number still flags aid workers
        for words, language in _AID_WORKERS.items():
            if _match_at(tokens, i, words):
                impact["aid_workers_affected"] = True
                votes.add(language)
                _use(tokens, i, len(words))
    return unassigned, singular


def _is_place_like(tok: _Token) -> bool:
    return tok.text[:1].isupper() and not _is_common(tok.norm) and len(tok.norm) >= 3


def _outcome_before(tokens: list[_Token], i: int) -> tuple[int, tuple[str, Language | None]] | None:
    """An outcome verb just before a number: "ont enleve 2", "killed 3", "kidnap 3"."""
    for back in (1, 2):
        k = i - back
        if k < 0:
            return None
        tok = tokens[k]
        if tok.used:
            return None
        found = _outcome(tok.norm) or _OUTCOME_VERBS.get(tok.norm)
        if found is not None:
            return k, found
        if tok.norm not in {"ont", "a", "avoir", "have", "has", "been", "ete", "et", "and"}:
            return None
    return None


def _read_negations(tokens: list[_Token], votes: _Votes) -> None:
    """ "pas de blesse", "aucun mort", "sans victime", "no one hurt", "0 blesse": nothing counted."""
    for i, tok in enumerate(tokens):
        if tok.used or tok.norm not in _NEGATIONS:
            continue
        for j in range(i + 1, min(len(tokens), i + 4)):
            if _outcome(tokens[j].norm) is not None or tokens[j].norm in {"victime", "victimes"}:
                _use(tokens, i, j + 1 - i)
                break
            if tokens[j].norm not in {"de", "d", "one", "body", "un", "une", "a", "on", "deplorer"}:
                break


def _read_type(
    tokens: list[_Token], votes: _Votes, places: PlaceFinder, impact: dict[str, Any]
) -> str | None:
    """The incident type: the best tier of keyword present, then the earliest (see _tier)."""
    hits: list[tuple[int, int, _Keyword]] = []  # (tier, position, keyword)
    for keyword in _keywords():
        for i in range(len(tokens)):
            if _match_at(tokens, i, keyword.words, stem=True):
                hits.append((keyword.tier, i, keyword))
                break
    fuzzy = _fuzzy_type(tokens, places, {i for _, i, _ in hits})
    if fuzzy is not None:
        hits.append((fuzzy[1].tier, fuzzy[0], fuzzy[1]))
    # An abduction count outranks words naming actors ("des hommes armes ont enleve 2...").
    if impact.get("abducted"):
        hits.append((2.5, len(tokens), _Keyword((), "kidnapping", None, 2)))  # type: ignore[arg-type]
    if not hits:
        return _type_from_counts(impact)
    tier, at, keyword = min(hits, key=lambda h: (h[0], h[1], -len(h[2].words)))
    if keyword.words:
        _use(tokens, at, len(keyword.words))
    votes.add(keyword.language)
    if tier >= 3:
        counted = _type_from_counts(impact)
        if counted is not None and counted != "kidnapping" and keyword.code == "killing":
            return counted
    return keyword.code


def _fuzzy_type(
    tokens: list[_Token], places: PlaceFinder, exact: set[int]
) -> tuple[int, _Keyword] | None:
    choices = _fuzzy_choices()
    for i, tok in enumerate(tokens):
        if tok.used or i in exact or len(tok.norm) < 5 or tok.norm in _STOP_WORDS:
            continue
        if tok.norm in _vocabulary() and tok.norm not in _ATTACK_WORDS:
            continue
        found = process.extractOne(tok.norm, list(choices), scorer=fuzz.ratio, score_cutoff=84)
        if not found:
            continue
        place = places.lookup(tok.text)
        if place is not None and fuzz.ratio(normalize_text(place.name), tok.norm) >= found[1]:
            continue  # "Menaka" is a town, not a typo of "menace"
        return i, choices[found[0]]
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
    """Who did it: `par des bandits`, `by ISGS` first; an armed actor named as the target
    (`contre FAMa`, `camp FAMa`, `attaque des FAMa`, `7 militaires tues`) is not a perpetrator."""
    explicit: str | None = None
    other: str | None = None
    phrases = sorted(_PERPETRATORS.items(), key=lambda kv: -len(kv[0]))
    i = 0
    while i < len(tokens):
        hit = next(
            ((words, code) for words, code in phrases if _match_at(tokens, i, words, stem=False)),
            None,
        )
        if hit is None:
            i += 1
            continue
        words, code = hit
        # "vol a main armee" names no army.
        if code == "state_forces" and _inside_event_phrase(tokens, i):
            i += len(words)
            continue
        for k in range(i, i + len(words)):
            tokens[k].actor = True
        before = [t.norm for t in tokens[max(0, i - 4) : i]]
        while before and before[-1] in _DETERMINERS:
            before.pop()
        if before and before[-1] in _BY:
            explicit = explicit or code
        elif _is_target(tokens, i):
            pass
        else:
            other = other or code
        i += len(words)
    return explicit or other


@cache
def _event_phrases() -> tuple[tuple[str, ...], ...]:
    return tuple(k.words for k in _keywords() if len(k.words) > 1 and k.tier < 3)


def _inside_event_phrase(tokens: list[_Token], i: int) -> bool:
    for words in _event_phrases():
        n = len(words)
        for start in range(max(0, i - n + 1), i + 1):
            if start + n <= len(tokens) and all(
                tokens[start + k].norm == words[k] for k in range(n)
            ):
                return True
    return False


def _is_target(tokens: list[_Token], i: int) -> bool:
    before = [t.norm for t in tokens[max(0, i - 4) : i]]
    if before and (before[-1].isdigit() or before[-1] in _NUMBER_WORDS):
        return True  # "7 militaires tues": victims
    if any(w in _TARGET_MARKERS for w in before[-3:]):
        return True
    # "attaque des FAMa", "attaque de la gendarmerie": what was attacked.
    trimmed = list(before)
    while trimmed and trimmed[-1] in {"des", "de", "du", "la", "l", "les", "the", "on"}:
        trimmed.pop()
    return len(trimmed) < len(before) and bool(trimmed) and trimmed[-1] in _ATTACK_WORDS
