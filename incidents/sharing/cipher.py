"""Narrative encryption at rest: the secret keys, the `Cipher` that seals narratives and list
cursors, and re-encryption under the newest key."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select, update

from incidents.db import Database
from incidents.errors import InvalidField
from incidents.records.tables import IncidentRow

SEALED_PREFIX = "fernet:"
KEY_FILE = "secret.key"


# --- encryption at rest -----------------------------------------------------------------------


def load_secret_keys(secret_keys: str, var_dir: Path) -> list[bytes]:
    """Keys from configuration (comma-separated, newest first), else one generated once under var/.

    The generated file is created with mode 600 and never overwritten.
    """
    keys = [k.strip().encode() for k in secret_keys.split(",") if k.strip()]
    if keys:
        return keys
    path = var_dir / KEY_FILE
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
    return [path.read_bytes().strip()]


class Cipher:
    """Fernet with rotation: the first key encrypts, every key decrypts."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        fernets = []
        for i, key in enumerate(keys):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError) as exc:
                raise InvalidField(
                    f"secret_keys[{i}]",
                    "not a Fernet key (44 url-safe base64 characters); make one with "
                    "`python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`",
                ) from exc
        if not fernets:
            raise InvalidField("secret_keys", "give at least one key")
        self._fernet = MultiFernet(fernets)
        self.id_key = keys[0]

    def seal(self, text: str) -> str:
        return SEALED_PREFIX + self._fernet.encrypt(text.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(SEALED_PREFIX):
            return stored  # written before encryption was configured
        try:
            return self._fernet.decrypt(stored[len(SEALED_PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise ValueError("no configured key decrypts this value") from exc

    def rotate(self, stored: str) -> str:
        """Re-encrypt with the newest key (clear text gets encrypted)."""
        return self.seal(self.open(stored))


async def rotate_narratives(db: Database, cipher: Cipher, *, batch: int = 500) -> int:
    """Re-encrypt every narrative with the first key; afterwards the old keys can be removed."""
    done = 0
    last: uuid.UUID | None = None
    while True:
        async with db.transaction() as session:
            stmt = select(IncidentRow.id, IncidentRow.description).where(
                IncidentRow.description.is_not(None)
            )
            if last is not None:
                stmt = stmt.where(IncidentRow.id > last)
            rows = (await session.execute(stmt.order_by(IncidentRow.id).limit(batch))).all()
            for ident, stored in rows:
                await session.execute(
                    update(IncidentRow)
                    .where(IncidentRow.id == ident)
                    .values(description=cipher.rotate(stored or ""))
                )
        if not rows:
            return done
        done += len(rows)
        last = rows[-1][0]
