"""Routes of this area are added by its issue; empty until then."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
