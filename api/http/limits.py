"""Rate-limit counting: fixed windows per (limit, key), counted in this process's memory or, on
PostgreSQL, in the `rate_limit_counters` table shared by every API process.

One request is one `hit`: every limit that applies to it (per address, per token) is counted in
one call; on PostgreSQL that is one `INSERT … ON CONFLICT DO UPDATE … RETURNING` statement, so
two processes counting the same key at the same instant both see the true total. Windows that
have ended are deleted (`prune`), at most once a minute per process.

Keys are keyed hashes (HMAC-SHA256 with a key derived from the service's secret key) of the
address or of the Authorization header: the counters tell senders apart without saying who they
are, and a dump of the table gives neither addresses nor tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from api.shared_tables import RateLimitCounterRow
from incidents.db import Database

log = logging.getLogger("sentinelle.api")

PRUNE_EVERY_SECONDS = 60
MEMORY_MAX_KEYS = 50_000


def key_hasher(secret: bytes) -> KeyHasher:
    """The keyed hash of counter keys, from the service's first secret key (never the key itself)."""
    return KeyHasher(hashlib.sha256(b"sentinelle rate-limit key\0" + secret).digest())


class KeyHasher:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, value: bytes) -> str:
        return hmac.new(self._key, value, hashlib.sha256).hexdigest()[:64]


@dataclass(frozen=True)
class Hit:
    """One request counted against one limit: `bucket` names the limit, `key` the sender (hashed)."""

    bucket: str
    key: str
    window: int  # seconds


@dataclass(frozen=True)
class Count:
    count: int  # requests in the window, this one included
    reset: int  # when the window ends (epoch seconds)


class Counter(Protocol):
    shared: bool

    async def hit(self, hits: Sequence[Hit], now: int) -> list[Count]: ...


def window_start(now: int, window: int) -> int:
    return now - now % window


class MemoryCounter:
    """Counts in this process only (the embedded SQLite deployment, one process)."""

    shared = False

    def __init__(self) -> None:
        self.buckets: dict[tuple[str, str], list[int]] = {}  # -> [count, reset]

    async def hit(self, hits: Sequence[Hit], now: int) -> list[Count]:
        counts = []
        for h in hits:
            bucket = self.buckets.get((h.bucket, h.key))
            if bucket is None or bucket[1] <= now:
                if len(self.buckets) > MEMORY_MAX_KEYS:
                    self.prune(now)
                bucket = self.buckets[(h.bucket, h.key)] = [
                    0,
                    window_start(now, h.window) + h.window,
                ]
            bucket[0] += 1
            counts.append(Count(bucket[0], bucket[1]))
        return counts

    def prune(self, now: int) -> None:
        for stale in [k for k, b in self.buckets.items() if b[1] <= now]:
            del self.buckets[stale]


class DatabaseCounter:
    """Counts in `rate_limit_counters` (PostgreSQL): the same totals whichever process answers.

    The counting transaction commits with `synchronous_commit = off`: a crash of the database
    may forget the last few increments (a sender gets a few requests more), never the data."""

    shared = True

    def __init__(self, db: Database) -> None:
        self.db = db
        self.next_prune = 0

    async def hit(self, hits: Sequence[Hit], now: int) -> list[Count]:
        rows = [
            {
                "bucket": h.bucket,
                "key": h.key,
                "window_start": window_start(now, h.window),
                "count": 1,
                "reset_at": window_start(now, h.window) + h.window,
            }
            for h in hits
        ]
        table = RateLimitCounterRow
        statement = (
            pg_insert(table)
            .values(rows)
            .on_conflict_do_update(
                index_elements=[table.bucket, table.key, table.window_start],
                set_={"count": table.count + 1},
            )
            .returning(table.bucket, table.count, table.reset_at)
        )
        async with self.db.engine.begin() as conn:
            await conn.execute(text("SET LOCAL synchronous_commit = off"))
            found = {
                str(bucket): Count(int(count), int(reset))
                for bucket, count, reset in (await conn.execute(statement)).all()
            }
            if now >= self.next_prune:
                self.next_prune = now + PRUNE_EVERY_SECONDS
                await conn.execute(delete(table).where(table.reset_at <= now))
        return [found[h.bucket] for h in hits]


def counter_for(db: Database) -> Counter:
    """Shared counts on PostgreSQL; in this process on SQLite (docs/deploy.md says why)."""
    if db.engine.dialect.name == "postgresql":
        return DatabaseCounter(db)
    return MemoryCounter()


def now_seconds() -> int:
    return int(time.time())
