"""Configuration: one Settings object built by the CLI from the environment and passed everywhere."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/sentinelle.db"


@dataclass(frozen=True)
class Settings:
    """Every setting has a safe default for the embedded deployment; override with SENTINELLE_* vars."""

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    # Encryption key(s) for narratives and channel secrets (Fernet, comma-separated: first encrypts,
    # all decrypt — that is how keys are rotated). Empty: a key is generated once under var/.
    secret_keys: str = ""
    var_dir: str = "var"
    max_body_bytes: int = 1_000_000
    max_json_depth: int = 32
    clock_skew_seconds: int = 300
    # Resolved tokens are cached per process this long (at most 1 s: a token revoked through
    # another process stops working within it; docs/deploy.md). 0 turns the cache off.
    token_cache_seconds: float = 1.0
    cors_origins: tuple[str, ...] = ()
    rate_limit_per_minute: int = 600
    # Logs of `serve` and `dispatch` (docs/observability.md): json lines, or text for people.
    log_format: str = "json"
    log_level: str = "info"
    # Zones
    town_radius_km: float = 20.0
    mauritania_belt_km: float = 175.0
    border_belt_km: float = 100.0
    tri_border_km: float = 150.0
    # Risk
    # 0 / empty: the tuned model's values (docs/risk.md); set them to override.
    risk_half_life_days: float = 0.0
    risk_window_days: int = 0
    risk_thresholds: tuple[float, ...] = ()  # four (levels 2 to 5), or none
    risk_hysteresis: float = 0.0
    risk_recompute_seconds: int = 900
    # Coverage (docs/coverage.md): a zone with fewer than `coverage_min_incidents` incidents in
    # the last `coverage_days` days (0: the risk window), itself and its neighbours, has no data.
    coverage_days: int = 0
    coverage_min_incidents: int = 1
    data_retention_days: int = 3650
    # Alerts
    dispatch_in_process: bool = True
    dispatch_poll_seconds: float = 0.5
    dispatch_batch: int = 100
    dispatch_lease_seconds: int = 60
    dispatch_max_attempts: int = 6
    dispatch_backoff_base_seconds: float = 5.0
    dispatch_backoff_cap_seconds: float = 600.0
    channel_rate_per_minute: int = 60
    ack_timeout_minutes: int = 15
    alert_max_age_hours: float = 72.0
    # A serious incident (abduction, killing, IED, armed attack) reported late still alerts up
    # to this age, marked "reported late" (docs/events.md); bulk imports never alert.
    alert_late_max_age_hours: float = 336.0
    # Channels: Apprise schemes allowed (comma-separated; empty = the default list of SMS,
    # e-mail, chat, push and json/form/xml web hooks; "default,x" adds x), and hosts or host:port
    # that channels may reach although not public (loopback, private...): both comma-separated.
    channel_schemes: str = ""
    channel_allow_hosts: str = ""
    # Sharing
    mask_grid_degrees: float = 0.25
    audit_retention_days: int = 365
    # Intake
    kobo_max_accuracy_m: float = 500.0
    # SMS replies fit in this many segments (160 GSM-7 characters for one, 153 each beyond):
    # what the operator's gateway allows and the organisation pays for.
    sms_reply_segments: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict)
    mask_time_unit: str = "day"  # masked incidents show the day, or the ISO week ("week")
    # Risk map base: a tile URL (https://…/{z}/{x}/{y}.png) for deployments with internet;
    # empty (default): the service's own outlines and towns only, no request elsewhere.
    map_tile_url: str = ""
    # Demo incidents (`sentinelle demo`) count in risk only when this is on.
    demo_mode: bool = False
    # Reports of one event (docs/events.md): the same category within this distance and time
    # are linked and counted once; 0 links by external id only.
    event_near_km: float = 5.0
    event_near_hours: float = 6.0
    # GET /api/v1/ready answers 503 when no dispatcher has beaten for this long (docs/deploy.md).
    ready_heartbeat_seconds: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read SENTINELLE_<FIELD> variables (upper case); unknown or malformed values fail loudly."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(f"SENTINELLE_{f.name.upper()}")
            if raw is None:
                continue
            default = getattr(cls, f.name, None)
            try:
                values[f.name] = _parse(raw, default)
            except ValueError as exc:
                raise ValueError(
                    f"SENTINELLE_{f.name.upper()}={raw!r} is not valid: {exc}. "
                    f"Fix or unset the variable."
                ) from exc
        return cls(**values)

    @property
    def var_path(self) -> Path:
        return Path(self.var_dir)


def _parse(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, tuple):
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        try:
            return tuple(float(p) for p in parts)
        except ValueError:
            return tuple(parts)
    return raw
