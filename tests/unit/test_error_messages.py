"""French API errors: every message the code raises to people has a French entry in the
vocabulary's `errors` catalogue, with the same named placeholders, and reads in French."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from api.http import errors as http_errors
from incidents import vocabulary
from tests.unit.raised_messages import raised_messages

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
ERRORS_PO = vocabulary.LOCALE_DIR / "fr" / "LC_MESSAGES" / "errors.po"
# Messages whose French is the English text (codes, examples): none today.
SAME_IN_FRENCH: set[str] = set()


def french_catalogue() -> dict[str, str]:
    with ERRORS_PO.open("rb") as fh:
        return {
            str(m.id): str(m.string)
            for m in read_po(fh, locale="fr")
            if m.id and isinstance(m.id, str)
        }


RAISED = raised_messages()


def test_the_source_scan_finds_the_raised_messages() -> None:
    # Guards the guard: a scan finding nothing would pass every check below.
    templates = {r.template for r in RAISED}
    assert len(templates) > 400
    assert "No incident {incident_id} that you can see." in templates
    assert "{field}: unknown place {name}; {hint}" in templates  # composed in an __init__
    assert "Your role may not do this." in templates  # the problem handler's own
    assert any(r.path.startswith("missions/") for r in RAISED)
    assert any(r.path.startswith("geo/") for r in RAISED)


def test_every_raised_message_has_a_french_translation() -> None:
    catalogue = french_catalogue()
    missing = sorted(
        {str(r) for r in RAISED if not catalogue.get(r.template, "").strip()},
    )
    assert missing == [], (
        "add these to incidents/vocabulary/locale/fr/LC_MESSAGES/errors.po "
        "(python -m tests.unit.raised_messages prints them as .po entries)"
    )


def test_every_translation_keeps_the_placeholders_of_its_message() -> None:
    wrong = [
        msgid
        for msgid, msgstr in french_catalogue().items()
        if msgstr and set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(msgstr))
    ]
    assert wrong == []


@pytest.mark.parametrize("raised", RAISED, ids=str)
def test_each_raised_message_reads_in_french_with_its_values(raised: object) -> None:
    assert hasattr(raised, "sample")
    sample: str = raised.sample  # type: ignore[attr-defined]
    french = vocabulary.translate_message(sample, "fr")
    if raised.template not in SAME_IN_FRENCH:  # type: ignore[attr-defined]
        assert french != sample
    # The values raised stay as they are (ids, codes, the user's text).
    for value in re.findall(r"X\d+", sample):
        assert value in french
    assert vocabulary.translate_message(sample, "en") == sample


def test_every_problem_title_has_a_french_translation() -> None:
    for status, title in http_errors._TITLES.items():
        assert vocabulary.translate_message(title, "fr") != title, status


@pytest.mark.parametrize(
    ("english", "french"),
    [
        (
            "type: unknown incident type 'kidnaping'; did you mean 'kidnapping'?",
            "type : type d'incident inconnu 'kidnaping' ; vouliez-vous dire 'kidnapping' ?",
        ),
        (
            "area.radius_km: give a distance greater than 0 and at most 500 km",
            "area.radius_km : donnez une distance supérieure à 0 et d'au plus 500 km",
        ),
        (
            "lat: Expected `float | str | null`, got `bool`",
            "lat : Attendu : `float | str | null`, reçu : `bool`",
        ),
        ("No incident 6f1c.", "Aucun incident 6f1c."),
    ],
)
def test_wrapped_messages_are_translated_inside_out(english: str, french: str) -> None:
    assert vocabulary.translate_message(english, "fr") == french


def test_an_unknown_message_stays_english_rather_than_garbled() -> None:
    text = "Something nobody wrote a translation for."
    assert vocabulary.translate_message(text, "fr") == text


@pytest.mark.parametrize(
    ("header", "default", "expected"),
    [
        (None, "en", "en"),
        ("", "fr", "fr"),
        ("fr", "en", "fr"),
        ("fr-ML", "en", "fr"),
        ("en-GB,en;q=0.9", "fr", "en"),
        ("en;q=0.5, fr", "en", "fr"),
        ("de-DE, fr;q=0.3, en;q=0.2", "en", "fr"),
        ("de", "en", "en"),
        ("*", "fr", "fr"),
        ("fr;q=0, en", "fr", "en"),
    ],
)
def test_accept_language_is_negotiated_with_its_weights(
    header: str | None, default: str, expected: str
) -> None:
    assert vocabulary.negotiate(header, default) == expected
