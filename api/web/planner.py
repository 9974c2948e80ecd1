"""The planner pages: the risk map, the zone page and the route check by place names."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
