"""Subscriptions (everyone) and the organisation admin page: users, tokens, intake secrets, trust-network invitations."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
