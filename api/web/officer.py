"""The officer console: incidents shared with the officer (verify / dispute), the held SMS queue, broadcasts with their live delivery view."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
