"""Encryption of stored channel addresses, with key rotation."""

from __future__ import annotations

import pytest

from alerts.delivery.secrets import SecretBox, SecretDecryptError, SecretKeyError

telegram_url = "tgram://123456789:ABCdefGHIjklMNOpqrSTUvwxYZ/987654321"


def test_round_trip_and_ciphertext_hides_the_secret():
    box = SecretBox(SecretBox.generate_key())
    token = box.encrypt(telegram_url)
    assert "ABCdef" not in token
    assert box.decrypt(token) == telegram_url


def test_same_value_encrypts_differently_each_time():
    box = SecretBox(SecretBox.generate_key())
    assert box.encrypt("+22370112233") != box.encrypt("+22370112233")


def test_rotation_new_key_first_old_key_still_decrypts():
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    stored = SecretBox(old).encrypt(telegram_url)
    rotating = SecretBox([new, old])
    assert rotating.decrypt(stored) == telegram_url
    rotated = rotating.rotate(stored)
    assert SecretBox(new).decrypt(rotated) == telegram_url
    with pytest.raises(SecretDecryptError):
        SecretBox(old).decrypt(rotating.encrypt("x"))


def test_wrong_key_gives_a_clear_error():
    stored = SecretBox(SecretBox.generate_key()).encrypt(telegram_url)
    with pytest.raises(SecretDecryptError, match="previous key"):
        SecretBox(SecretBox.generate_key()).decrypt(stored)


def test_tampered_value_is_refused():
    box = SecretBox(SecretBox.generate_key())
    token = box.encrypt("secret")
    with pytest.raises(SecretDecryptError):
        box.decrypt(token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB"))


@pytest.mark.parametrize(
    ("keys", "field"),
    [("not-a-key", "secret_key"), ([], "secret_key"), (["", "x"], "secret_key[0]")],
)
def test_bad_keys_name_the_setting(keys, field):
    with pytest.raises(SecretKeyError, match="generate_key") as info:
        SecretBox(keys)
    assert info.value.field == field


def test_keys_may_be_bytes_or_text_with_surrounding_whitespace():
    key = SecretBox.generate_key()
    token = SecretBox(key.encode()).encrypt("ok")
    assert SecretBox(f"  {key}\n").decrypt(token) == "ok"
