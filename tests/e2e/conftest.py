"""Browser fixtures for the page tests (defined in tests/e2e/web.py)."""

from __future__ import annotations

import pytest
from litestar import Litestar

from api.settings import Settings
from incidents.db import Database
from tests.e2e.web import (  # noqa: F401  (fixtures)
    create_web_app,
    fx_browser,
    fx_context,
    fx_reporter,
    fx_requests_seen,
)
from tests.live import fx_live_url  # noqa: F401  (the live_url fixture)


@pytest.fixture(name="app")
def fx_app(settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch) -> Litestar:
    return create_web_app(settings, db, monkeypatch)
