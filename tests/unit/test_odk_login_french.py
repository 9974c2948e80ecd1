"""The ODK login's refusals (OpenRosa digest, 401) read in French when the API answers in
French, and the guard over raised messages sees them."""

from __future__ import annotations

import pytest

from incidents import vocabulary
from tests.unit.raised_messages import raised_messages

ODK_LOGIN = (
    "Sign in with the ODK user name and password Sentinelle gave you.",
    "Unknown ODK user name or wrong password, or the login was revoked; in ODK Collect set the "
    "user name and password Sentinelle gave (POST /api/v1/intake/form-login makes a new one).",
    "The login expired; sign in again.",
)


@pytest.mark.parametrize("message", ODK_LOGIN)
def test_each_odk_login_refusal_reads_in_french(message: str) -> None:
    french = vocabulary.translate_message(message, "fr")
    assert french != message
    assert "ODK" in french or "connectez-vous" in french


def test_the_raised_messages_guard_covers_the_odk_login() -> None:
    templates = {r.template for r in raised_messages()}
    assert set(ODK_LOGIN) <= templates
