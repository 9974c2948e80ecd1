"""What missions say, in French and English: SMS replies and alert texts (at most 160 GSM-7
characters for SMS). No position and no traveller's name is ever put in a message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from alerts.core.render import RenderedMessage, to_gsm7

SMS_MAX = 160


def _hm(moment: datetime | None) -> str:
    return "--:--" if moment is None else moment.strftime("%H:%M")


def _sms(text: str) -> str:
    text = to_gsm7(text)
    return text if len(text) <= SMS_MAX else text[: SMS_MAX - 1] + "."


def reply_checkin(lang: str, code: str, kind: str, at: datetime, next_due: datetime | None) -> str:
    """The ordinary reply to a check-in (a duress check-in gets exactly this one)."""
    if lang == "en":
        if kind == "arrived":
            return _sms(f"Sentinelle: mission {code}, arrival recorded at {_hm(at)}. Thank you.")
        after = f" Next check-in by {_hm(next_due)}." if next_due else ""
        return _sms(f"Sentinelle: mission {code}, check-in recorded at {_hm(at)}.{after}")
    if kind == "arrived":
        return _sms(f"Sentinelle: mission {code}, arrivee enregistree a {_hm(at)}. Merci.")
    after = f" Prochain pointage avant {_hm(next_due)}." if next_due else ""
    return _sms(f"Sentinelle: mission {code}, pointage enregistre a {_hm(at)}.{after}")


def reply_help(lang: str, code: str) -> str:
    if lang == "en":
        return _sms(f"Sentinelle: mission {code}, your call for help was sent to your responders.")
    return _sms(
        f"Sentinelle: mission {code}, votre appel a l'aide est transmis a vos responsables."
    )


def reply_unknown_code(lang: str, code: str, codes: Sequence[str]) -> str:
    listed = ", ".join(codes) if codes else ("aucune" if lang != "en" else "none")
    if lang == "en":
        return _sms(f"Sentinelle: no mission {code} for this phone. Your missions: {listed}.")
    return _sms(f"Sentinelle: pas de mission {code} pour ce telephone. Vos missions : {listed}.")


def reply_which(lang: str, codes: Sequence[str]) -> str:
    listed = ", ".join(codes)
    if lang == "en":
        return _sms(
            f"Sentinelle: this phone has several missions ({listed}); add the code: OK {codes[0]}"
        )
    return _sms(
        f"Sentinelle: ce telephone a plusieurs missions ({listed}) ; ajoutez le code : OK {codes[0]}"
    )


def reply_none(lang: str) -> str:
    if lang == "en":
        return _sms("Sentinelle: this phone has no mission under way; nothing recorded.")
    return _sms("Sentinelle: aucune mission en cours pour ce telephone ; rien n'est enregistre.")


def reply_closed(lang: str, code: str, state: str) -> str:
    if lang == "en":
        return _sms(
            f"Sentinelle: mission {code} is {state}; nothing recorded. Call your focal point."
        )
    word = {"closed": "cloturee", "arrived": "arrivee"}.get(state, state)
    return _sms(
        f"Sentinelle: la mission {code} est {word} ; rien n'est enregistre. Appelez votre point focal."
    )


def reply_delay_missing(lang: str) -> str:
    if lang == "en":
        return _sms("Sentinelle: say how late, at most 24 h, e.g. LATE 2H")
    return _sms("Sentinelle: indiquez le retard, 24 h au plus, par ex. RETARD 2H")


def reply_acknowledged(lang: str, code: str) -> str:
    if lang == "en":
        return _sms(f"Sentinelle: you took the alarm of mission {code}. Thank you.")
    return _sms(f"Sentinelle: vous avez pris l'alerte de la mission {code}. Merci.")


def reminder(lang: str, fmt: str, code: str, due: datetime) -> RenderedMessage:
    if lang == "en":
        body = f"Sentinelle: mission {code}, check-in expected by {_hm(due)} not received. Reply OK {code} (or HELP {code})."
        return RenderedMessage("" if fmt == "sms" else "Check-in missed", _sms(body))
    body = f"Sentinelle: mission {code}, pointage attendu avant {_hm(due)} non recu. Repondez OK {code} (ou AIDE {code})."
    return RenderedMessage("" if fmt == "sms" else "Pointage manque", _sms(body))


def alarm(
    lang: str,
    fmt: str,
    *,
    code: str,
    reason: str,
    due: datetime | None,
    last: datetime | None,
    alert_code: str,
) -> RenderedMessage:
    """The flash to a responder: a missed check-in, a call for help, or (silently) duress."""
    if lang == "en":
        what = {
            "missed": f"no news since {_hm(last)} (expected by {_hm(due)})",
            "help": "the travellers ask for HELP",
            "duress": "check-in UNDER DURESS: act discreetly, do not call the traveller",
        }[reason]
        body = f"Sentinelle FLASH: mission {code}, {what}. To take it, reply OK {alert_code}"
        return RenderedMessage("" if fmt == "sms" else f"FLASH mission {code}", _sms(body))
    what = {
        "missed": f"sans nouvelles depuis {_hm(last)} (attendu avant {_hm(due)})",
        "help": "les voyageurs demandent de l'AIDE",
        "duress": "pointage SOUS CONTRAINTE : agir discretement, ne pas appeler le voyageur",
    }[reason]
    body = f"Sentinelle FLASH: mission {code}, {what}. Pour la prendre, repondez OK {alert_code}"
    return RenderedMessage("" if fmt == "sms" else f"FLASH mission {code}", _sms(body))


def taken(lang: str, fmt: str, code: str, who: str) -> RenderedMessage:
    if lang == "en":
        body = f"Sentinelle: the alarm of mission {code} was taken by {who}."
    else:
        body = f"Sentinelle: l'alerte de la mission {code} est prise par {who}."
    return RenderedMessage("", _sms(body))


KIDNAPPING_CHECKLIST = {
    "fr": [
        "1. Prévenir d'abord les autorités compétentes (gendarmerie, préfecture ou sous-préfecture), "
        "puis la direction de l'organisation.",
        "2. Désigner une seule personne qui parle au nom de l'organisation ; tenir un journal daté "
        "de chaque appel et de chaque décision.",
        "3. Prévenir la famille par une personne désignée, en personne si possible, avant qu'elle "
        "ne l'apprenne ailleurs.",
        "4. Garder confidentiels : les noms, la fonction et l'origine des personnes enlevées, leur "
        "état de santé, tout contact avec les ravisseurs, toute demande et toute négociation.",
        "5. Ne rien publier : ni réseaux sociaux, ni presse, ni message de groupe ; demander au "
        "personnel d'en faire autant.",
        "6. Ne pas appeler les téléphones des personnes enlevées ; conserver les messages reçus.",
        "7. Mettre à l'abri les autres équipes de la zone et suspendre les missions proches.",
    ],
    "en": [
        "1. Notify the competent authorities first (gendarmerie, prefecture or sub-prefecture), "
        "then the organisation's leadership.",
        "2. Name one person to speak for the organisation; keep a dated log of every call and "
        "decision.",
        "3. Have a named person tell the family, in person if possible, before they hear elsewhere.",
        "4. Keep confidential: the names, role and origin of those taken, their health, any "
        "contact with the captors, any demand and any negotiation.",
        "5. Publish nothing: no social media, press or group message; ask the staff to do the same.",
        "6. Do not call the phones of those taken; keep the messages received.",
        "7. Shelter the other teams in the area and suspend the missions near it.",
    ],
}


def protocol(lang: str, fmt: str, link: str) -> RenderedMessage:
    if fmt == "sms":
        if lang == "en":
            body = "Sentinelle FLASH: abduction of your staff reported. Kidnapping protocol: 1) authorities first 2) one spokesperson 3) publish nothing."
        else:
            body = "Sentinelle FLASH: enlevement de votre personnel signale. Protocole: 1) autorites d'abord 2) un seul porte-parole 3) ne rien publier."
        return RenderedMessage("", _sms(body))
    title = "Kidnapping protocol" if lang == "en" else "Protocole enlèvement"
    lines = KIDNAPPING_CHECKLIST["en" if lang == "en" else "fr"]
    more = "Checklist" if lang == "en" else "Liste"
    return RenderedMessage(title, "\n".join([*lines, f"{more}: {link}"]))
