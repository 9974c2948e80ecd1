"""Error messages in the reader's language: each English message the code raises is a msgid of
the `errors` catalogue, its interpolated values as named placeholders ({field}, {code})."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from babel.messages.pofile import read_po

from incidents.vocabulary.catalogue import LOCALE_DIR, language_of

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Values that are themselves messages (a wrapped error's text, a hint) are translated too.
_NESTED = ("message", "detail", "hint", "advice", "reason", "rest")
_MAX_DEPTH = 3


@dataclass(frozen=True, slots=True)
class MessageEntry:
    """One message of the catalogue: the English template and its translation."""

    msgid: str
    msgstr: str
    pattern: re.Pattern[str] | None  # None for a message without placeholders
    literal: int  # characters outside placeholders: more literal text, more specific

    def render(self, values: dict[str, str]) -> str:
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), self.msgstr)


def _pattern(msgid: str) -> re.Pattern[str]:
    out, seen, last = [], set(), 0
    for match in _PLACEHOLDER.finditer(msgid):
        out.append(re.escape(msgid[last : match.start()]))
        name = match.group(1)
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        last = match.end()
    out.append(re.escape(msgid[last:]))
    return re.compile("".join(out), re.DOTALL)


@cache
def _catalogue(language: str) -> tuple[dict[str, MessageEntry], tuple[MessageEntry, ...]]:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "errors.po"
    if not path.exists():
        return {}, ()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    exact: dict[str, MessageEntry] = {}
    templates: list[MessageEntry] = []
    for message in catalog:
        if not message.id or not message.string or not isinstance(message.id, str):
            continue
        msgstr = str(message.string)
        if _PLACEHOLDER.search(message.id):
            literal = len(_PLACEHOLDER.sub("", message.id))
            templates.append(MessageEntry(message.id, msgstr, _pattern(message.id), literal))
        else:
            exact[message.id] = MessageEntry(message.id, msgstr, None, len(message.id))
    templates.sort(key=lambda e: -e.literal)
    return exact, tuple(templates)


def message_entry(text: str, language: str) -> tuple[MessageEntry, dict[str, str]] | None:
    """The catalogue entry `text` is an instance of in `language`, with its values; None if
    the catalogue has no translation of it."""
    exact, templates = _catalogue(language_of(language))
    if text in exact:
        return exact[text], {}
    for entry in templates:
        assert entry.pattern is not None
        match = entry.pattern.fullmatch(text)
        if match:
            return entry, {k: v for k, v in match.groupdict().items() if v is not None}
    return None


def translate_message(text: str, language: str, *, _depth: int = 0) -> str:
    """`text`, an English message raised by the code, in `language` (fr or en); the English
    text itself when the catalogue has no translation (a test keeps that from happening)."""
    lang = language_of(language)
    if lang == "en" or not text or _depth > _MAX_DEPTH:
        return text
    found = message_entry(text, lang)
    if found is None:
        return text
    entry, values = found
    for name, value in values.items():
        if name.rstrip("0123456789").endswith(_NESTED):
            values[name] = translate_message(value, lang, _depth=_depth + 1)
    return entry.render(values)
