"""What a deployment may change about missions: SENTINELLE_MISSIONS_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class MissionsConfig:
    """Every setting has a default; override with SENTINELLE_MISSIONS_<NAME> (upper case)."""

    # A route crossing this level, or with an IED reported near it in the last `ied_days`, or a
    # military exclusion zone, needs an officer's approval before it starts. 0 turns it off.
    approval_level: int = 4
    ied_days: int = 7
    grace_minutes: int = 30
    corridor_km: float = 10.0
    # The ladder: one step every this many seconds once a check-in is missed past its grace.
    step_seconds: float = 900.0
    # How often the serve/dispatch process looks for due steps (and starts, re-assesses, purges).
    tick_seconds: float = 30.0
    # Closed missions lose their positions and route details after this many days.
    purge_days: int = 30
    # The humanitarian notification (deconfliction) export: off unless the deployment turns it on.
    notification_export: bool = False
    # An Apprise URL with {phone} (e.g. an SMS gateway) to reach travellers and responders by
    # their registered phone, in addition to their own subscriptions' channels.
    sms_url: str = ""
    # Local hour (Africa/Bamako, UTC) of the morning re-assessment of planned and active routes.
    morning_hour: int = 6

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MissionsConfig:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"SENTINELLE_MISSIONS_{f.name.upper()}")
            if raw is None:
                continue
            default = getattr(cls, f.name)
            try:
                if isinstance(default, bool):
                    if raw.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                        raise ValueError("expected true or false")
                    values[f.name] = raw.lower() in ("1", "true", "yes", "on")
                elif isinstance(default, int):
                    values[f.name] = int(raw)
                elif isinstance(default, float):
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError as exc:
                raise ValueError(
                    f"SENTINELLE_MISSIONS_{f.name.upper()}={raw!r} is not valid: {exc}. "
                    "Fix or unset the variable."
                ) from exc
        return cls(**values)
