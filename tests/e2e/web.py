"""The app with the web pages, built as create_app will build it once wired: create_app's
Litestar(...) call with `plugins=[web.WebPlugin()]` added (the one line api/http/app.py needs)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar

import api.http.app as app_module
from api import web
from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database


def create_web_app(settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch) -> Litestar:
    def litestar_with_pages(*args: Any, **kwargs: Any) -> Litestar:
        plugins = list(kwargs.pop("plugins", None) or [])
        if not any(isinstance(p, web.WebPlugin) for p in plugins):  # already wired: as is
            plugins.append(web.WebPlugin())
        return Litestar(*args, plugins=plugins, **kwargs)

    monkeypatch.setattr(app_module, "Litestar", litestar_with_pages)
    return create_app(settings, db=db)
