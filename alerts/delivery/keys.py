"""The service's secret key: the SecretBox for channel addresses and the signature of ack links."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Protocol

from alerts.delivery.secrets import SecretBox


class KeySettings(Protocol):
    """What the key needs from the settings (api.settings.Settings has both)."""

    @property
    def secret_keys(self) -> str: ...

    @property
    def var_dir(self) -> str: ...


def secret_keys(settings: KeySettings) -> list[bytes]:
    """Configured keys (newest first), else the one generated once into `<var_dir>/secret.key`.

    Shares the key file with the narrative encryption of the sharing area, so one key protects
    every secret at rest.
    """
    from incidents.sharing.service import load_secret_keys

    return load_secret_keys(settings.secret_keys, Path(settings.var_dir))


def secret_box(settings: KeySettings) -> SecretBox:
    return SecretBox(secret_keys(settings), field="secret_keys")


class LinkSigner:
    """HMAC signatures for links that act without a login (acknowledge an alert)."""

    def __init__(self, keys: list[bytes]) -> None:
        # A derived key, so a leaked link signature says nothing about the encryption key.
        self._keys = [hashlib.sha256(b"sentinelle-ack-link:" + k).digest() for k in keys]

    def sign(self, text: str) -> str:
        return hmac.new(self._keys[0], text.encode(), hashlib.sha256).hexdigest()[:32]

    def verify(self, text: str, signature: str) -> bool:
        # Bytes, not str: compare_digest refuses non-ASCII text, and links arrive from anyone.
        given = (signature or "").encode("utf-8", "replace")
        return any(
            hmac.compare_digest(
                hmac.new(k, text.encode("utf-8", "replace"), hashlib.sha256)
                .hexdigest()[:32]
                .encode(),
                given,
            )
            for k in self._keys
        )
