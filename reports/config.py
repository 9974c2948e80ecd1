"""What a deployment may change about reports: SENTINELLE_REPORTS_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

DEFAULT_CORRIDORS = "Mopti-Douentza-Gao;Kayes-Diéma-Nioro du Sahel;Bamako-Ségou-Mopti"


@dataclass(frozen=True)
class ReportsConfig:
    """Every setting has a default; override with SENTINELLE_REPORTS_<NAME> (upper case)."""

    # The roads the report gives a level for, by place names of the gazetteer: roads separated
    # by ";", places of one road by "-" in travel order.
    corridors: str = DEFAULT_CORRIDORS
    corridor_km: float = 10.0
    # The weekly schedule's default: weekday (0 Monday) and local hour (Africa/Bamako is UTC).
    weekday: int = 0
    hour: int = 7
    # How often a dispatcher looks for a report due (the chore runs at most this often).
    check_seconds: float = 60.0
    # Delivery retries (alerts.core.policy.RetryPolicy).
    max_attempts: int = 6
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReportsConfig:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"SENTINELLE_REPORTS_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            kind = type(getattr(cls, f.name))
            try:
                values[f.name] = kind(raw)
            except ValueError as exc:
                raise ValueError(
                    f"SENTINELLE_REPORTS_{f.name.upper()}={raw!r} is not a valid {kind.__name__}."
                ) from exc
        config = cls(**values)
        if not 0 <= config.weekday <= 6 or not 0 <= config.hour <= 23:
            raise ValueError(
                "SENTINELLE_REPORTS_WEEKDAY is 0 (Monday) to 6 and SENTINELLE_REPORTS_HOUR 0 to 23."
            )
        return config

    def corridor_names(self) -> list[list[str]]:
        roads = [r.strip() for r in self.corridors.split(";") if r.strip()]
        return [[p.strip() for p in road.split("-") if p.strip()] for road in roads]
