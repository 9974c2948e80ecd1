"""The red-team tests run against a real server (tests/live.py)."""

from tests.live import fx_http, fx_live_url, health_during

__all__ = ["fx_http", "fx_live_url", "health_during"]
