"""The gettext catalogues of Sentinelle's words: .po files compiled in memory with Babel."""

from __future__ import annotations

import io
from collections.abc import Iterable
from functools import cache
from gettext import GNUTranslations, NullTranslations
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR: Final = Path(__file__).parent / "locale"
LANGUAGES: Final = ("fr", "en")
# French is the working language of the users (focal points, officers in Mali).
DEFAULT_LANGUAGE: Final = "fr"


def language_of(tag: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """fr or en from a language tag ("en", "en-GB", "fr_ML"); `default` for anything else."""
    if not tag:
        return default
    primary = tag.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else default


def negotiate(accept_language: str | None, default: str) -> str:
    """The language an `Accept-Language` header prefers among fr and en (q-values honoured,
    `*` meaning `default`), or `default` when the header names neither."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        tag = tag.strip()
        if quality <= 0 or not tag:
            continue
        language = default if tag == "*" else language_of(tag, default="")
        if language and (best is None or (quality, -position) > (best[0], best[1])):
            best = (quality, -position, language)
    return best[2] if best else default


def compile_po(files: Iterable[Path], language: str) -> NullTranslations:
    """One gettext catalogue from `files` (later files add to earlier ones), compiled in memory:
    no .mo file to forget to rebuild."""
    catalog: Catalog | None = None
    for po in files:
        with po.open("rb") as fh:
            read = read_po(fh, locale=language)
        if catalog is None:
            catalog = read
            continue
        for message in read:
            if message.id:
                catalog[message.id] = message  # keyed by (id, context)
    if catalog is None:
        return NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return GNUTranslations(buffer)


@cache
def translations(domain: str, language: str) -> NullTranslations:
    """The catalogue `domain` (terms, errors) of `language`."""
    return compile_po([LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"], language)


def has_term(context: str, code: str, language: str) -> bool:
    """Whether the `terms` catalogue of `language` has the entry `code` of `context`."""
    catalogue = translations("terms", language)
    return f"{context}\x04{code}" in getattr(catalogue, "_catalog", {})
