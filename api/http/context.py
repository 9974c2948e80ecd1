"""What create_app hands to each area of the API so it can wire itself in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar.middleware.base import DefineMiddleware

from api.settings import Settings
from incidents.db import Database
from incidents.records.service import IncidentService


@dataclass
class AppContext:
    settings: Settings
    db: Database
    incidents: IncidentService
    state: dict[str, Any] = field(default_factory=dict)
    on_startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    middleware: list[DefineMiddleware | Any] = field(default_factory=list)
    route_handlers: list[Any] = field(default_factory=list)
