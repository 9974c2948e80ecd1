"""French first, English on request: one gettext catalogue per language,
api/web/locale/<lang>/LC_MESSAGES/web.po, compiled with Babel when first used (any other .po file
there is read into the same catalogue); `?lang=en` or the `lang` cookie picks it. Level names,
trend words and the service's error messages come from the one vocabulary of Sentinelle
(incidents/vocabulary), which the API, the alerts and the SMS replies use too."""

from __future__ import annotations

from functools import cache
from gettext import NullTranslations
from pathlib import Path
from typing import Any

from incidents import vocabulary

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = vocabulary.LANGUAGES
DEFAULT = vocabulary.DEFAULT_LANGUAGE
COOKIE = "lang"


@cache
def translations(language: str) -> NullTranslations:
    """The pages' catalogue of `language`, compiled from its .po files in memory."""
    files = sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))
    return vocabulary.compile_po(files, language)


def pick(query_lang: str | None, cookie_lang: str | None) -> str:
    for candidate in (query_lang, cookie_lang):
        if candidate and candidate[:2].lower() in LANGUAGES:
            return candidate[:2].lower()
    return DEFAULT


def gettext_for(language: str) -> Any:
    return translations(language).gettext


def level_label(code: str, language: str) -> str:
    """A risk level's name (`low`..`extreme`, `no_data`) from the vocabulary."""
    return vocabulary.level_label(code, language)


def trend_label(trend: str, language: str) -> str:
    """`rising`, `stable`, `falling` in words, from the vocabulary."""
    return vocabulary.trend_label(trend, language)


def error_text(detail: str, language: str) -> str:
    """A message the service raised (English in the code) in the page's language."""
    return vocabulary.translate_message(detail, language)
