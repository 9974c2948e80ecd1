"""Alert messages in French and English: 160-character GSM-7 SMS and full e-mail/chat forms."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.core.policy import LOCAL_TZ, Priority
from incidents import vocabulary

# One GSM-7 encoder for the SMS the service reads and the SMS it sends: intake's (the lower layer).
from incidents.intake.sms import GSM7_BASIC as GSM7_BASIC
from incidents.intake.sms import GSM7_EXTENSION as GSM7_EXTENSION
from incidents.intake.sms import gsm7_length as gsm7_length
from incidents.intake.sms import is_gsm7 as is_gsm7
from incidents.intake.sms import to_gsm7 as to_gsm7
from incidents.records.model import IMPACT_FIELDS
from incidents.risk.model import LEVEL_CODES
from incidents.taxonomy.catalogue import TYPES

SMS_MAX = 160
PLACE_MIN = 24  # characters of a place name worth keeping before dropping other facts

# Code alphabet without 0/O and 1/I, which people misread and mistype on phones.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 5


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A message ready for a channel. SMS messages have an empty title: SMS gateways often glue
    the title to the body, which would break the 160-character budget."""

    title: str
    body: str


def _fit(text: str, budget: int) -> str:
    """Longest prefix of `text` whose GSM-7 length fits `budget`, without a trailing space."""
    while text and gsm7_length(text) > budget:
        text = text[:-1]
    return text.rstrip(" ,.-")


def _fit_words(text: str, budget: int) -> str:
    """Like `_fit`, but cut at a word boundary when that keeps most of the budget."""
    if gsm7_length(text) <= budget:
        return text
    cut = _fit(text, budget)
    boundary = max(cut.rfind(" "), cut.rfind(","))
    return cut[:boundary].rstrip(" ,.-") if boundary >= budget * 0.6 else cut


# --- codes -------------------------------------------------------------------------------------


def new_alert_code() -> str:
    """A short code (5 characters, no 0/O/1/I) the recipient replies with to acknowledge."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


_REPLY = re.compile(rf"\b(?:OK\s*[:\-]?\s*)?([{CODE_ALPHABET}]{{{CODE_LENGTH}}})\b", re.IGNORECASE)


def parse_ack_reply(text: str) -> str | None:
    """The alert code in a reply such as "ok k7f3q" or "OK: K7F3Q", or None."""
    match = _REPLY.search(text.strip())
    return match.group(1).upper() if match else None


# --- words -------------------------------------------------------------------------------------

_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "type": "Type",
        "category": "Catégorie",
        "place": "Lieu",
        "position": "Position",
        "time": "Date",
        "severity": "Gravité",
        "status": "Statut",
        "impact": "Bilan",
        "aid_workers": "personnel humanitaire touché",
        "perpetrator": "Auteur présumé",
        "actor": "Acteur",
        "description": "Description",
        "link": "Détails",
        "near": "près de",
        "unknown_place": "lieu non précisé",
        "local_time": "heure de",
        "week_of": "semaine du",
        "reply": "Rep: OK",
        "ack": "Pour accuser réception, répondez « OK {code} ».",
        "level": "Niveau de risque",
        "zone": "Zone",
        "message": "Message de Sentinelle",
        "priority": "Priorité",
        "sources": "confirmé par {n} sources",
    },
    "en": {
        "type": "Type",
        "category": "Category",
        "place": "Place",
        "position": "Position",
        "time": "Date",
        "severity": "Severity",
        "status": "Status",
        "impact": "Impact",
        "aid_workers": "aid workers affected",
        "perpetrator": "Alleged perpetrator",
        "actor": "Actor",
        "description": "Description",
        "link": "Details",
        "near": "near",
        "unknown_place": "place not given",
        "local_time": "time in",
        "week_of": "week of",
        "reply": "Reply OK",
        "ack": 'To acknowledge, reply "OK {code}".',
        "level": "Risk level",
        "zone": "Zone",
        "message": "Message from Sentinelle",
        "priority": "Priority",
        "sources": "corroborated by {n} sources",
    },
}

_STATUS = {
    "fr": {
        "reported": "signalé",
        "verified": "vérifié",
        "disputed": "contesté",
        "retracted": "retiré",
    },
    "en": {
        "reported": "reported",
        "verified": "verified",
        "disputed": "disputed",
        "retracted": "retracted",
    },
}

_PERPETRATOR = {
    "fr": {
        "non_state_armed_group": "groupe armé non étatique",
        "state_forces": "forces de l'État",
        "foreign_forces": "forces étrangères",
        "criminal": "criminels",
        "community_militia": "milice communautaire",
        "unknown": "inconnu",
    },
    "en": {
        "non_state_armed_group": "non-state armed group",
        "state_forces": "state forces",
        "foreign_forces": "foreign forces",
        "criminal": "criminals",
        "community_militia": "community militia",
        "unknown": "unknown",
    },
}

# (singular, plural) in French; English words are invariable here.
_IMPACT = {
    "fr": {
        "killed": ("mort", "morts"),
        "injured": ("blessé", "blessés"),
        "abducted": ("enlevé", "enlevés"),
        "detained": ("détenu", "détenus"),
        "missing": ("disparu", "disparus"),
    },
    "en": {name: (name, name) for name in IMPACT_FIELDS},
}

# The level names of the API and the pages (one vocabulary: incidents/vocabulary).
_LEVELS = {
    lang: {level: vocabulary.level_label(code, lang) for level, code in LEVEL_CODES.items()}
    for lang in ("fr", "en")
}

_PRIORITY = {
    "fr": {"routine": "information", "urgent": "URGENT", "flash": "FLASH"},
    "en": {"routine": "information", "urgent": "URGENT", "flash": "FLASH"},
}


def _lang(language: str) -> str:
    return "en" if language.strip().lower().replace("_", "-").split("-")[0] == "en" else "fr"


def _colon(lang: str, label: str, value: str) -> str:
    # French typography puts a space before the colon.
    return f"{label} : {value}" if lang == "fr" else f"{label}: {value}"


# --- incident alerts ---------------------------------------------------------------------------


def _as_mapping(view: Any) -> dict[str, Any]:
    if isinstance(view, Mapping):
        items = dict(view)
    elif dataclasses.is_dataclass(view) and not isinstance(view, type):
        items = {f.name: getattr(view, f.name) for f in dataclasses.fields(view)}
    else:
        raise TypeError("view must be a mapping or a dataclass instance")
    # Absent and None both mean "not for this recipient".
    return {k: v for k, v in items.items() if v is not None}


def _value(v: Any) -> str:
    return str(getattr(v, "value", v))


def _type_labels(code: str, lang: str) -> tuple[str, str | None]:
    incident_type = TYPES.get(code)
    if incident_type is None:
        return vocabulary.type_label(code, lang), None
    label = vocabulary.type_label(code, lang)
    return label, vocabulary.category_label(incident_type.category, lang)


def _place(view: Mapping[str, Any], lang: str) -> str | None:
    place = view.get("place_name")
    if not place:
        zones = view.get("zones") or []
        names = [str(z["name"]) for z in zones if isinstance(z, Mapping) and z.get("name")]
        place = ", ".join(names[:2]) if names else None
    if place and _value(view.get("location_precision", "")) == "near":
        place = f"{_WORDS[lang]['near']} {place}"
    return place


def _local(when: datetime, local_tz: str) -> datetime:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(ZoneInfo(local_tz))


def _short_time(when: datetime, precision: str, lang: str, local_tz: str) -> str:
    local = _local(when, local_tz)
    if precision == "month":
        return f"{local:%m/%Y}"
    if precision == "week":
        return f"{'sem.' if lang == 'fr' else 'wk'} {local:%d/%m}"
    if precision == "day":
        return f"{local:%d/%m}"
    return f"{local:%d/%m %Hh%M}" if lang == "fr" else f"{local:%d/%m %H:%M}"


def _full_time(when: datetime, precision: str, lang: str, local_tz: str) -> str:
    local = _local(when, local_tz)
    words = _WORDS[lang]
    if precision == "month":
        return f"{local:%m/%Y}"
    if precision == "week":
        return f"{words['week_of']} {local:%d/%m/%Y}"
    if precision == "day":
        return f"{local:%d/%m/%Y}"
    city = local_tz.rsplit("/", 1)[-1].replace("_", " ")
    utc = local.astimezone(UTC)
    clock = f"{local:%Hh%M}" if lang == "fr" else f"{local:%H:%M}"
    return f"{local:%d/%m/%Y} {clock} ({words['local_time']} {city}), {utc:%d/%m %H:%M} UTC"


def _impact_parts(impact: Any, lang: str) -> list[str]:
    if impact is None:
        return []
    get = impact.get if isinstance(impact, Mapping) else lambda k, d=None: getattr(impact, k, d)
    parts = []
    for name in IMPACT_FIELDS:
        count = get(name, 0) or 0
        if count > 0:
            singular, plural = _IMPACT[lang][name]
            parts.append(f"{count} {singular if count == 1 else plural}")
    if get("aid_workers_affected", False):
        parts.append(_WORDS[lang]["aid_workers"])
    return parts


# A serious incident learned days after it happened (alerts.outbox.writer.alert_age).
_LATE = {lang: vocabulary.term("mark", "reported_late", lang) for lang in ("fr", "en")}


def _corroborated(view: Mapping[str, Any], lang: str) -> str | None:
    """ "confirmé par N sources / corroborated by N sources" from the view's `sources`: the
    independent sources of the event among the reports this recipient may read in full
    (incidents.events.sources_seen). One source says nothing; a masked view never has it."""
    sources = view.get("sources")
    if view.get("masked") or not isinstance(sources, int) or sources < 2:
        return None
    return _WORDS[lang]["sources"].format(n=sources)


def render_incident_alert(
    view: Any,
    *,
    language: str = "fr",
    format: str = "full",
    code: str | None = None,
    local_tz: str = LOCAL_TZ,
    link: str | None = None,
) -> RenderedMessage:
    """Render an incident for one recipient from `view`, the fields they may see.

    The caller applies sharing rules and masking; fields absent (or None) in the view are not
    rendered. The reporting organisation and user are never rendered, whatever the view holds.
    """
    lang = _lang(language)
    v = _as_mapping(view)
    type_label, category_label = _type_labels(_value(v.get("type", "other")), lang)
    place = _place(v, lang)
    precision = _value(v.get("time_precision", "exact"))
    severity = v.get("severity")
    status = _STATUS[lang].get(_value(v["status"])) if "status" in v else None
    impact = _impact_parts(v.get("impact"), lang)
    words = _WORDS[lang]
    late = _LATE[lang] if v.get("reported_late") else None
    corroborated = _corroborated(v, lang)

    if format == "sms":
        when = (
            None
            if "occurred_at" not in v
            else _short_time(v["occurred_at"], precision, lang, local_tz)
        )
        if late:
            when = f"{when} ({late})" if when else late
        return RenderedMessage(
            "",
            _incident_sms(
                type_label=type_label,
                place=place,
                when=when,
                severity=None if severity is None else f"{words['severity']} {severity}/5",
                status=status,
                corroborated=corroborated,
                impact=", ".join(impact[:2]) or None,
                reply=None if code is None else f"{words['reply']} {code}",
            ),
        )
    if format != "full":
        raise ValueError("format must be 'sms' or 'full'")

    title = f"[Sentinelle] {type_label} – {place or words['unknown_place']}"
    if severity is not None:
        title += f" – {words['severity'].lower()} {severity}/5"
    if late:
        title += f" – {late}"
    lines = [late.capitalize()] if late else []
    lines.append(_colon(lang, words["type"], type_label))
    if category_label:
        lines.append(_colon(lang, words["category"], category_label))
    lines.append(_colon(lang, words["place"], place or words["unknown_place"]))
    geometry = v.get("geometry")
    if isinstance(geometry, Mapping) and geometry.get("type") == "Point":
        lon, lat = geometry["coordinates"][:2]
        lines.append(_colon(lang, words["position"], f"{lat:.4f}, {lon:.4f} (lat, lon)"))
    if "occurred_at" in v:
        lines.append(
            _colon(lang, words["time"], _full_time(v["occurred_at"], precision, lang, local_tz))
        )
    if severity is not None:
        lines.append(_colon(lang, words["severity"], f"{severity}/5"))
    if status:
        lines.append(_colon(lang, words["status"], status))
    if corroborated:
        lines.append(corroborated.capitalize())
    if impact:
        lines.append(_colon(lang, words["impact"], ", ".join(impact)))
    if "perpetrator" in v:
        perpetrator = _value(v["perpetrator"])
        lines.append(
            _colon(lang, words["perpetrator"], _PERPETRATOR[lang].get(perpetrator, perpetrator))
        )
    if v.get("actor"):
        lines.append(_colon(lang, words["actor"], str(v["actor"])))
    if v.get("description"):
        lines += ["", str(v["description"]).strip()]
    return RenderedMessage(title, _finish(lines, lang, code, link))


def _finish(lines: list[str], lang: str, code: str | None, link: str | None) -> str:
    words = _WORDS[lang]
    if code or link:
        lines.append("")
    if code:
        lines.append(words["ack"].format(code=code))
    if link:
        lines.append(_colon(lang, words["link"], link))
    return "\n".join(lines)


def _incident_sms(
    *,
    type_label: str,
    place: str | None,
    when: str | None,
    severity: str | None,
    status: str | None,
    corroborated: str | None = None,
    impact: str | None,
    reply: str | None,
) -> str:
    label, place = to_gsm7(type_label), None if place is None else to_gsm7(place)
    status, corroborated, impact = (
        None if s is None else to_gsm7(s) for s in (status, corroborated, impact)
    )
    when, severity, reply = (None if s is None else to_gsm7(s) for s in (when, severity, reply))

    def build(prefix: str, label: str, place: str | None, *facts: str | None) -> str:
        head = prefix + label + (f" - {place}" if place else "") + (f", {when}" if when else "")
        said = ", ".join(p for p in (severity, *facts) if p)
        return ". ".join(p for p in (head, said, reply) if p)

    # Shorten the place (down to PLACE_MIN) before shedding parts, least useful parts first
    # (the toll, the status, then the corroboration); the type label is cut only as a last resort.
    for prefix, keep_status, keep_impact, keep_corroborated in (
        ("Sentinelle: ", True, True, True),
        ("", True, True, True),
        ("", True, False, True),
        ("", False, False, True),
        ("", False, False, False),
    ):
        parts = (
            status if keep_status else None,
            corroborated if keep_corroborated else None,
            impact if keep_impact else None,
        )
        text = build(prefix, label, place, *parts)
        if gsm7_length(text) <= SMS_MAX:
            return text
        if place:
            budget = SMS_MAX - gsm7_length(build(prefix, label, None, *parts)) - 3
            if budget >= PLACE_MIN:
                return build(prefix, label, _fit_words(place, budget), *parts)
    place = None if place is None else _fit_words(place, PLACE_MIN)
    budget = SMS_MAX - gsm7_length(build("", "", place))
    return build("", _fit_words(label, budget), place)


# --- zone risk level changes -------------------------------------------------------------------


def render_level_change(
    zone_name: str,
    old_level: int,
    new_level: int,
    *,
    language: str = "fr",
    format: str = "full",
    code: str | None = None,
    changed_at: datetime | None = None,
    local_tz: str = LOCAL_TZ,
    link: str | None = None,
) -> RenderedMessage:
    """Tell a subscriber that a zone's risk level (1-5) went from `old_level` to `new_level`."""
    lang = _lang(language)
    words = _WORDS[lang]
    levels = _LEVELS[lang]
    trend = vocabulary.level_change_label("rising" if new_level > old_level else "falling", lang)
    when = None if changed_at is None else _short_time(changed_at, "exact", lang, local_tz)
    if format == "sms":
        tail = f": {old_level} -> {new_level} ({levels.get(new_level, new_level)})"
        tail += f", {when}" if when else ""
        tail += f". {words['reply']} {code}" if code else ""
        tail = to_gsm7(tail)
        head = to_gsm7(f"{trend} - {zone_name}")
        head = _fit(head, SMS_MAX - gsm7_length(tail))
        return RenderedMessage("", head + tail)
    if format != "full":
        raise ValueError("format must be 'sms' or 'full'")
    title = f"[Sentinelle] {trend} – {zone_name} : {old_level} → {new_level}"
    if lang == "en":
        title = title.replace(" : ", ": ")
    lines = [
        _colon(lang, words["zone"], zone_name),
        _colon(
            lang,
            words["level"],
            f"{old_level} ({levels.get(old_level, old_level)}) → "
            f"{new_level} ({levels.get(new_level, new_level)})",
        ),
    ]
    if changed_at is not None:
        lines.append(_colon(lang, words["time"], _full_time(changed_at, "exact", lang, local_tz)))
    return RenderedMessage(title, _finish(lines, lang, code, link))


# --- broadcasts --------------------------------------------------------------------------------


def render_broadcast(
    message: Mapping[str, str],
    priority: Priority | str = Priority.ROUTINE,
    *,
    language: str = "fr",
    format: str = "full",
    code: str | None = None,
    link: str | None = None,
) -> RenderedMessage:
    """A message written by an officer, in the recipient's language when it exists, else the
    other one (French first)."""
    lang = _lang(language)
    texts = {_lang(k): t.strip() for k, t in message.items() if t and t.strip()}
    text = texts.get(lang) or texts.get("fr") or texts.get("en")
    if text is None:
        raise ValueError("message: give the broadcast text in French or English")
    words = _WORDS[lang]
    level = _PRIORITY[lang][Priority(priority).value]
    if format == "sms":
        head = "" if Priority(priority) is Priority.ROUTINE else f"{level} "
        head += "Sentinelle: "
        tail = f" {words['reply']} {code}" if code else ""
        body = to_gsm7(text)
        budget = SMS_MAX - gsm7_length(head) - gsm7_length(tail)
        if gsm7_length(body) > budget:
            body = _fit(body, budget - 3) + "..."
        return RenderedMessage("", head + body + tail)
    if format != "full":
        raise ValueError("format must be 'sms' or 'full'")
    title = f"[Sentinelle] {words['message']}"
    if Priority(priority) is not Priority.ROUTINE:
        title = f"[Sentinelle] {level} – {words['message']}"
    return RenderedMessage(title, _finish([text], lang, code, link))
