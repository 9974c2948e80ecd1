"""French first, English on request: one gettext catalogue per language,
api/web/locale/<lang>/LC_MESSAGES/web.po, compiled with Babel when first used (any other .po file
there is read into the same catalogue); `?lang=en` or the `lang` cookie picks it."""

from __future__ import annotations

import io
from functools import cache
from gettext import GNUTranslations, NullTranslations
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("fr", "en")
DEFAULT = "fr"
COOKIE = "lang"


@cache
def translations(language: str) -> NullTranslations:
    """The catalogue of `language`, compiled from its .po files in memory (no .mo file to forget)."""
    files = sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))
    if not files:
        return NullTranslations()
    with files[0].open("rb") as fh:
        catalog = read_po(fh, locale=language)
    for po in files[1:]:
        with po.open("rb") as fh:
            for message in read_po(fh, locale=language):
                if message.id:
                    catalog[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return GNUTranslations(buffer)


def pick(query_lang: str | None, cookie_lang: str | None) -> str:
    for candidate in (query_lang, cookie_lang):
        if candidate and candidate[:2].lower() in LANGUAGES:
            return candidate[:2].lower()
    return DEFAULT


def gettext_for(language: str) -> Any:
    return translations(language).gettext
