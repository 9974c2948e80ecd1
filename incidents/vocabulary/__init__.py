"""The words Sentinelle shows people, French first and English: level names, trend words, the
"no data" label, incident type and category labels, and the API's error messages; one gettext
catalogue (incidents/vocabulary/locale/<lang>/LC_MESSAGES/*.po, compiled with Babel) read by the
API, the alerts, the SMS replies and the web pages.

May import: nothing of Sentinelle (the taxonomy reads its labels here). Pure: no SQLAlchemy,
Litestar, Apprise or Advanced Alchemy, not even indirectly (import-linter checks).
"""

from incidents.vocabulary.catalogue import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    LOCALE_DIR,
    compile_po,
    has_term,
    language_of,
    negotiate,
    translations,
)
from incidents.vocabulary.messages import message_entry, translate_message
from incidents.vocabulary.terms import (
    LEVEL_TERMS,
    NO_DATA,
    TRENDS,
    category_label,
    level_change_label,
    level_label,
    term,
    trend_label,
    type_label,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LEVEL_TERMS",
    "LOCALE_DIR",
    "NO_DATA",
    "TRENDS",
    "category_label",
    "compile_po",
    "has_term",
    "language_of",
    "level_change_label",
    "level_label",
    "message_entry",
    "negotiate",
    "term",
    "translate_message",
    "translations",
    "trend_label",
    "type_label",
]
