"""Encryption at rest for channel addresses (tokens, phone numbers), with key rotation."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretKeyError(ValueError):
    """A configured key is not usable; `field` names the setting."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SecretDecryptError(ValueError):
    """A stored value cannot be decrypted with any configured key."""


class SecretBox:
    """Fernet encryption with rotation: give keys newest first; the first encrypts, all decrypt.

    To rotate: put a new key first, keep the old ones after it, run `rotate` over stored values,
    then drop the old keys.
    """

    def __init__(
        self, keys: bytes | str | Sequence[bytes | str], *, field: str = "secret_key"
    ) -> None:
        if isinstance(keys, bytes | str):
            keys = [keys]
        if not keys:
            raise SecretKeyError(
                field, "give at least one key; create one with SecretBox.generate_key()"
            )
        fernets = []
        for i, key in enumerate(keys):
            raw = key.strip().encode() if isinstance(key, str) else key.strip()
            try:
                fernets.append(Fernet(raw))
            except (ValueError, TypeError) as exc:
                name = field if len(keys) == 1 else f"{field}[{i}]"
                raise SecretKeyError(
                    name,
                    "not a valid key: it must be 32 bytes encoded in url-safe base64 (44 "
                    "characters); create one with SecretBox.generate_key()",
                ) from exc
        self._fernet = MultiFernet(fernets)

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretDecryptError(
                "cannot decrypt a stored secret: it was encrypted with a key that is not "
                "configured (or it was altered); add the previous key after the current one"
            ) from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt a stored value with the first (newest) key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretDecryptError(
                "cannot rotate a stored secret: none of the configured keys decrypts it"
            ) from exc
