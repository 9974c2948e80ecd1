"""The `database` fixture: a fresh migrated PostgreSQL database per test, dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.multiprocess.world import fresh_database


@pytest.fixture(name="database")
def fx_database() -> Iterator[str]:
    with fresh_database() as url:
        yield url
