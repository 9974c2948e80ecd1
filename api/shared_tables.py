"""Tables of what the API's processes share through the database instead of their memory:
rate-limit counters (api.http.limits) and web sessions (api.web.session).

Here, outside api.http and api.web, so that the migrations (api.migrations.runner) see them
without importing the web app. Neither table holds an address, a token or a session id in
clear: only their hashes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from incidents.db import Base


class RateLimitCounterRow(Base):
    """Requests counted in one fixed window for one key of one limit (`address`, `token`).

    `key` is a keyed hash (HMAC of the secret key) of the address or the Authorization header:
    it tells requests of the same sender apart, never who the sender is. Rows whose window has
    ended are deleted (api.http.limits prunes them)."""

    __tablename__ = "rate_limit_counters"

    bucket: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch seconds
    count: Mapped[int] = mapped_column(Integer)
    reset_at: Mapped[int] = mapped_column(BigInteger, index=True)  # epoch seconds


class WebSessionRow(Base):
    """A signed-in browser: the SHA-256 of its session id (the cookie), the API token it signed
    in with (its id, never the token), the CSRF token of its forms, and when it ends."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC, index=True)
