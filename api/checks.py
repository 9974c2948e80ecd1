"""What an operator asks of a running deployment: readiness (GET /api/v1/ready: database,
schema, dispatcher) and `sentinelle doctor`'s checks (configuration, keys, database, dispatcher,
channels, disk), each OK, WARN or FAIL with what to fix."""

from __future__ import annotations

import ipaddress
import os
import shutil
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import text

from alerts.delivery import heartbeat
from alerts.delivery.channels import ChannelPolicy
from api.backup import KeyLocation, decrypts, key_location, opener, schema_head, sqlite_path
from api.settings import Settings
from incidents.db import Database, is_sqlite

OK, WARN, FAIL = "ok", "warn", "fail"

# What /api/v1/ready says (English; French in incidents/vocabulary errors.po). They name
# settings and commands, never a host, path or revision.
DATABASE_DOWN = (
    "the database does not answer: check that it runs and that SENTINELLE_DATABASE_URL points to it"
)
SCHEMA_BEHIND = "the database schema is older than this version: run `sentinelle db upgrade`"
SCHEMA_AHEAD = "the database schema was made by a newer version of Sentinelle: upgrade this service"
NO_DISPATCHER = (
    "no alert dispatcher has signalled for {seconds} seconds: alerts are not being "
    "delivered; run `sentinelle dispatch` or set SENTINELLE_DISPATCH_IN_PROCESS=true"
)
NOT_READY = "not ready: {reasons}"

# Free space below which doctor warns, and fails.
DISK_WARN_BYTES = 1_000_000_000
DISK_FAIL_BYTES = 100_000_000


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warn, fail
    detail: str
    fix: str = ""


# --- readiness --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schema:
    """The migrations this version of Sentinelle knows: read once per process (from the
    migration scripts), compared with the database's revision by every readiness check."""

    head: str | None
    known: frozenset[str]

    @classmethod
    def load(cls) -> Schema:
        from api.backup import known_revisions

        return cls(schema_head(), frozenset(known_revisions()))

    def state(self, revision: str | None) -> str:
        """'ok', 'behind' or 'ahead' (a revision this version does not know)."""
        if revision == self.head:
            return OK
        if revision is None or revision in self.known:
            return "behind"
        return "ahead"


async def schema_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        found = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        return None if found is None else str(found)


async def readiness(db: Database, settings: Settings, schema: Schema, now: datetime) -> list[Check]:
    """Database reachable, schema at `head`, a dispatcher's heartbeat within
    SENTINELLE_READY_HEARTBEAT_SECONDS. The details are safe to show anyone."""
    if not await db.ping():
        return [Check("database", FAIL, DATABASE_DOWN)]
    checks = [Check("database", OK, "reachable")]
    try:
        revision = await schema_revision(db)
    except Exception:  # no alembic_version: never migrated
        revision = None
    state = schema.state(revision)
    if state == OK:
        checks.append(Check("migrations", OK, "at head"))
    else:
        checks.append(
            Check("migrations", FAIL, SCHEMA_AHEAD if state == "ahead" else SCHEMA_BEHIND)
        )
    window = settings.ready_heartbeat_seconds
    try:
        async with db.read() as session:
            live = await heartbeat.live_workers(session, now - timedelta(seconds=window))
    except Exception:  # the table is missing when the schema is behind
        live = []
    if live:
        checks.append(Check("dispatcher", OK, "recent heartbeat"))
    else:
        checks.append(Check("dispatcher", FAIL, NO_DISPATCHER.format(seconds=f"{window:g}")))
    return checks


# --- doctor -----------------------------------------------------------------------------------


def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.endswith(".localhost")


def configuration_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    public = urlsplit(settings.public_url)
    if public.scheme not in ("http", "https") or not public.hostname:
        checks.append(
            Check(
                "public_url",
                FAIL,
                f"SENTINELLE_PUBLIC_URL={settings.public_url!r} is not an http(s) address",
                "set it to the address users open, e.g. https://sentinelle.example.org",
            )
        )
    elif _loopback(public.hostname) and not _loopback(settings.host):
        checks.append(
            Check(
                "public_url",
                WARN,
                f"links in alerts point to {settings.public_url}, which only this machine opens",
                "set SENTINELLE_PUBLIC_URL to the address users reach (the reverse proxy's)",
            )
        )
    elif public.scheme == "http" and not _loopback(public.hostname):
        checks.append(
            Check(
                "public_url",
                WARN,
                f"{settings.public_url} is plain http: tokens and reports cross the network "
                "unencrypted",
                "serve it behind a TLS reverse proxy and set an https:// SENTINELLE_PUBLIC_URL",
            )
        )
    else:
        checks.append(Check("public_url", OK, settings.public_url))
    origins = settings.cors_origins
    bad = [o for o in origins if o == "*" or not _origin_ok(o)]
    plain = [o for o in origins if o not in bad and o.startswith("http://")]
    plain = [o for o in plain if not _loopback(urlsplit(o).hostname or "")]
    if bad:
        checks.append(
            Check(
                "cors",
                FAIL,
                "not an origin: " + ", ".join(bad),
                "SENTINELLE_CORS_ORIGINS lists scheme://host[:port] origins (no path, no *)",
            )
        )
    elif plain:
        checks.append(
            Check(
                "cors",
                WARN,
                "plain-http origins may call the API: " + ", ".join(plain),
                "allow only https:// origins",
            )
        )
    else:
        checks.append(
            Check("cors", OK, ", ".join(origins) if origins else "no cross-origin access")
        )
    if settings.ready_heartbeat_seconds <= settings.dispatch_poll_seconds:
        checks.append(
            Check(
                "ready_heartbeat",
                WARN,
                "SENTINELLE_READY_HEARTBEAT_SECONDS is not above SENTINELLE_DISPATCH_POLL_SECONDS:"
                " readiness will flap",
                "make it several poll intervals (default 60)",
            )
        )
    return checks


def _origin_ok(origin: str) -> bool:
    parts = urlsplit(origin)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.path in ("", "/")
        and not parts.query
    )


def _key_file_check(keys: KeyLocation) -> Check | None:
    if keys.source != "file" or keys.path is None:
        return None
    mode = stat.S_IMODE(keys.path.stat().st_mode)
    if mode & 0o077:
        return Check(
            "key file",
            WARN,
            f"{keys.path} is readable by other users (mode {mode:o})",
            f"chmod 600 {keys.path}",
        )
    return None


def key_checks(keys: KeyLocation, sample: str | None) -> list[Check]:
    if keys.problem:
        return [Check("keys", FAIL, f"{keys.describe()} {keys.problem}", "make it readable")]
    if keys.source == "missing":
        if sample is not None:
            return [
                Check(
                    "keys",
                    FAIL,
                    "no encryption key, but the database holds encrypted narratives",
                    "set SENTINELLE_SECRET_KEYS to the keys they were written with (FILE.keys "
                    f"of a backup) or put that key at {keys.path}",
                )
            ]
        return [Check("keys", WARN, keys.describe(), "back the key up once it is made")]
    if opener(keys.keys) is None:
        return [
            Check(
                "keys",
                FAIL,
                f"{keys.describe()}: a key is not a Fernet key",
                "each key is 44 url-safe base64 characters (Fernet.generate_key())",
            )
        ]
    found: list[Check] = []
    if sample is None:
        found.append(Check("keys", OK, f"{keys.describe()}; nothing encrypted stored yet"))
    elif decrypts(keys.keys, sample):
        found.append(Check("keys", OK, f"{keys.describe()}; decrypts stored narratives"))
    else:
        found.append(
            Check(
                "keys",
                FAIL,
                f"{keys.describe()} does not decrypt the stored narratives",
                "add the key they were written with to SENTINELLE_SECRET_KEYS (after the "
                "new one: the first encrypts, all decrypt)",
            )
        )
    file_check = _key_file_check(keys)
    if file_check is not None:
        found.append(file_check)
    if keys.source == "file":
        found.append(
            Check(
                "keys backup",
                WARN,
                f"the only copy of the key may be {keys.path}",
                "keep a copy off this server (`sentinelle backup --with-keys`), or move it to "
                "SENTINELLE_SECRET_KEYS in your secret store",
            )
        )
    return found


def channel_checks(settings: Settings) -> list[Check]:
    try:
        policy = ChannelPolicy.from_settings(settings.channel_schemes, settings.channel_allow_hosts)
    except ValueError as exc:
        return [
            Check(
                "channels",
                FAIL,
                f"SENTINELLE_CHANNEL_ALLOW_HOSTS: {exc}",
                "write host or host:port, comma-separated",
            )
        ]
    checks = [
        Check(
            "channel schemes",
            OK,
            ", ".join(f"{s}://" for s in sorted(policy.schemes)),
        )
    ]
    if not policy.allow_hosts:
        checks.append(
            Check("channel hosts", OK, "public addresses only (loopback and private refused)")
        )
        return checks
    classes = []
    public = []
    for allowed in policy.allow_hosts:
        try:
            address = ipaddress.ip_address(allowed.host)
        except ValueError:
            kind = "name"
        else:
            kind = (
                "loopback"
                if address.is_loopback
                else "private"
                if address.is_private
                else "link-local"
                if address.is_link_local
                else "public"
            )
            if kind == "public":
                public.append(allowed.host)
        port = "" if allowed.port is None else f":{allowed.port}"
        classes.append(f"{allowed.host}{port} ({kind})")
    checks.append(
        Check(
            "channel hosts",
            WARN if public else OK,
            "also reachable: " + ", ".join(classes),
            "public addresses need no entry in SENTINELLE_CHANNEL_ALLOW_HOSTS" if public else "",
        )
    )
    return checks


def disk_check(name: str, path: Path) -> Check:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free = f"{usage.free / 1e9:.1f} GB free of {usage.total / 1e9:.1f} GB"
    if usage.free < DISK_FAIL_BYTES:
        return Check(name, FAIL, f"{path}: {free}", "free space now: writes will fail")
    if usage.free < DISK_WARN_BYTES or usage.free < usage.total * 0.05:
        return Check(name, WARN, f"{path}: {free}", "free space or grow the disk")
    return Check(name, OK, f"{path}: {free}")


async def database_checks(
    db: Database, settings: Settings, now: datetime
) -> tuple[list[Check], str | None]:
    """Reachable, at head, dispatcher heartbeat, its disk; and a stored sealed value."""
    if not await db.ping():
        return [
            Check(
                "database",
                FAIL,
                "does not answer",
                "start it, or fix SENTINELLE_DATABASE_URL",
            )
        ], None
    checks = [Check("database", OK, "reachable")]
    schema = Schema.load()
    head = schema.head
    try:
        revision = await schema_revision(db)
    except Exception:
        revision = None
    state = schema.state(revision)
    if state == OK:
        checks.append(Check("migrations", OK, f"at head ({head})"))
    elif state == "ahead":
        checks.append(
            Check(
                "migrations", FAIL, f"schema {revision} is newer than {head}", "upgrade Sentinelle"
            )
        )
    else:
        checks.append(
            Check(
                "migrations",
                FAIL,
                f"schema {revision or 'empty'}, this version needs {head}",
                "run `sentinelle db upgrade`",
            )
        )
    sample: str | None = None
    if state != "behind":
        async with db.read() as session:
            last = await heartbeat.latest(session)
            window = f"{settings.ready_heartbeat_seconds:g} s"
            since_at = now - timedelta(seconds=settings.ready_heartbeat_seconds)
            live = await heartbeat.live_workers(session, since_at)
            found = await session.scalar(
                text("SELECT description FROM incidents WHERE description LIKE 'fernet:%' LIMIT 1")
            )
            sample = None if found is None else str(found)
        if live:
            checks.append(
                Check("dispatcher", OK, f"{len(live)} dispatcher(s) beat in the last {window}")
            )
        else:
            since = "never" if last is None else f"last at {last:%Y-%m-%d %H:%M:%S} UTC"
            checks.append(
                Check(
                    "dispatcher",
                    WARN,
                    f"no heartbeat in the last {window} ({since}): alerts are not delivered",
                    "start `sentinelle serve` with SENTINELLE_DISPATCH_IN_PROCESS=true, or "
                    "`sentinelle dispatch`",
                )
            )
    path = sqlite_path(settings.database_url) if is_sqlite(settings.database_url) else None
    if path is not None:
        checks.append(disk_check("database disk", path.resolve()))
    else:
        checks.append(await _postgres_disk(db))
    return checks, sample


async def _postgres_disk(db: Database) -> Check:
    async with db.engine.connect() as conn:
        size = int(await conn.scalar(text("SELECT pg_database_size(current_database())")) or 0)
        try:
            data_dir = await conn.scalar(text("SHOW data_directory"))
        except Exception:  # needs pg_read_all_settings
            data_dir = None
    here = f"database size {size / 1e6:.0f} MB"
    if data_dir and os.access(str(data_dir), os.F_OK):
        disk = disk_check("database disk", Path(str(data_dir)))
        return Check(disk.name, disk.status, f"{here}; {disk.detail}", disk.fix)
    return Check(
        "database disk",
        OK,
        f"{here}; its disk is on the database server",
        "check its free space there (df)",
    )


def settings_check(db: Database, settings: Settings) -> Check:
    """Every setting the services check when they are built (the same `build` as `serve`), with a
    throw-away key so that nothing is generated under var/."""
    from dataclasses import replace

    from cryptography.fernet import Fernet

    from api.bootstrap import build
    from incidents.errors import DomainError

    try:
        build(replace(settings, secret_keys=Fernet.generate_key().decode()), db)
    except DomainError as exc:
        return Check("settings", FAIL, f"{exc.field}: {exc.detail}", "fix or unset the variable")
    except ValueError as exc:
        return Check("settings", FAIL, str(exc), "fix or unset the variable")
    return Check("settings", OK, "valid")


async def doctor(db: Database, settings: Settings, now: datetime) -> list[Check]:
    checks = [settings_check(db, settings), *configuration_checks(settings)]
    found, sample = await database_checks(db, settings, now)
    keys = key_location(settings)
    checks += key_checks(keys, sample)
    checks += found
    checks += channel_checks(settings)
    checks.append(disk_check("var_dir disk", settings.var_path.resolve()))
    return checks


__all__ = ["FAIL", "OK", "WARN", "Check", "Schema", "doctor", "readiness"]
