"""Level names, trend words, the "no data" label and the type and category labels, by code."""

from __future__ import annotations

from typing import Final

from incidents.vocabulary.catalogue import has_term, language_of, translations

# Level codes (incidents.risk.model.LEVEL_CODES numbers them 1-5), and the code of a zone or
# route with too little recent data to be given a level.
LEVEL_TERMS: Final = ("low", "moderate", "substantial", "high", "extreme")
NO_DATA: Final = "no_data"
TRENDS: Final = ("rising", "stable", "falling")
# What a level change alert says happened (alerts.core.render).
LEVEL_CHANGES: Final = ("rising", "falling")


class UnknownTermError(KeyError):
    """A code the catalogue has no entry for in a language: a missing translation."""


def term(context: str, code: str, language: str = "fr") -> str:
    """The entry `code` of `context` (level, trend, level change, mark) in `language`.

    Raises UnknownTermError when the catalogue lacks it, rather than showing a code to people."""
    lang = language_of(language)
    if not has_term(context, code, lang):
        raise UnknownTermError(f"no {context} {code!r} in the {lang} vocabulary")
    return translations("terms", lang).pgettext(context, code)


def level_label(code: str, language: str = "fr") -> str:
    """The name of a risk level by its code (`low`..`extreme`, `no_data`)."""
    return term("level", code, language)


def trend_label(trend: str, language: str = "fr") -> str:
    """`rising`, `stable` or `falling` in words ("en hausse", "stable", "en baisse")."""
    return term("trend", trend, language)


def level_change_label(direction: str, language: str = "fr") -> str:
    """The head of a level change alert: `rising` (Risque en hausse) or `falling`."""
    return term("level change", direction, language)


def type_label(code: str, language: str = "fr") -> str:
    """An incident type's label; the code itself, spaced, for a code the taxonomy lacks."""
    if not has_term("type", code, language_of(language)):
        return code.replace("_", " ")
    return term("type", code, language)


def category_label(code: str, language: str = "fr") -> str:
    """A category's label; the code itself, spaced, for a code the taxonomy lacks."""
    if not has_term("category", code, language_of(language)):
        return code.replace("_", " ")
    return term("category", code, language)
