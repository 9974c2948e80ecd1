"""One GSM-7 encoder: the SMS Sentinelle sends (alerts) and the SMS replies it gives (intake) agree.

Alert rendering and SMS intake each had their own encoder. They disagreed on the characters below:
intake turned extension characters, typographic quotes and dashes into spaces, œ into "?", and
split decomposed accents. Now alerts.core.render imports intake's (the lower layer).
"""

from __future__ import annotations

import pytest

from alerts.core import render
from incidents.intake import sms
from incidents.intake.sms import SMS_LENGTH, SmsParse, gsm7_length, is_gsm7, sms_size, to_gsm7

# (character, what both encoders now send), for characters on which they used to differ.
DISAGREED = [
    ("€", "€"),  # extension table: kept, two septets
    ("[", "["),
    ("]", "]"),
    ("{", "{"),
    ("}", "}"),
    ("^", "^"),
    ("~", "~"),
    ("|", "|"),
    ("\\", "\\"),
    ("œ", "oe"),
    ("Œ", "OE"),
    ("’", "'"),
    ("‘", "'"),
    ("`", "'"),
    ("«", '"'),
    ("»", '"'),
    ("“", '"'),
    ("”", '"'),
    ("–", "-"),
    ("—", "-"),
    ("…", "..."),
    ("°", "o"),
    ("×", "x"),
    ("ﬁ", "fi"),
    ("ĳ", "ij"),
    ("½", "?"),
    ("😀", "?"),
    ("e\u0301", "é"),  # decomposed é: composed first, so it stays é
]


def test_alerts_use_the_intake_encoder() -> None:
    assert render.to_gsm7 is sms.to_gsm7
    assert render.gsm7_length is sms.gsm7_length
    assert render.is_gsm7 is sms.is_gsm7
    assert render.GSM7_BASIC is sms.GSM7_BASIC
    assert render.GSM7_EXTENSION is sms.GSM7_EXTENSION


@pytest.mark.parametrize(("char", "sent"), DISAGREED)
def test_alert_text_and_sms_reply_encode_the_same_way(char: str, sent: str) -> None:
    assert render.to_gsm7(f"Gao {char} Ansongo") == f"Gao {sent} Ansongo"

    parse = SmsParse(kind="incomplete", missing=["location"], unknown_place=f"Zorg{char}ville")
    reply = parse.reply()

    assert f"Zorg{sent}ville" in reply
    assert is_gsm7(reply)
    assert sms_size(reply).alphabet == "gsm7"


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_reply_with_extension_characters_stays_one_sms(language: str) -> None:
    parse = SmsParse(kind="incomplete", missing=["location"], unknown_place="€[]" * 40)

    reply = parse.reply(language)

    assert is_gsm7(reply)
    assert gsm7_length(reply) <= SMS_LENGTH
    assert sms_size(reply).segments == 1


def test_the_alphabet_is_gsm_03_38() -> None:
    assert len(sms.GSM7_BASIC) == 127  # 128 code points less the escape to the extension table
    assert sms.GSM7_BASIC.isdisjoint(sms.GSM7_EXTENSION)
    assert to_gsm7("Ségou, Tombouctou: café à Kidal") == "Ségou, Tombouctou: café à Kidal"


def test_an_sms_reply_with_its_reference_fits_one_sms_in_septets() -> None:
    """The reference was added and cut by characters: € [ ] count two septets on the network."""
    from incidents.intake.service import _with_reference

    reply = "Sentinelle: " + "vol de 300 € [moto] près du marché " * 6
    text = _with_reference(reply, "K7Q2", "fr")
    assert gsm7_length(text) <= 160
    assert text.startswith("Sentinelle réf K7Q2: vol de 300 €")
    assert text.endswith(".")
