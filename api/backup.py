"""Backups that restore: `backup` (SQLite's online backup API, PostgreSQL's pg_dump) while the
service serves, `restore` into an empty database only, both with progress; where the encryption
keys are, since a backup without them cannot be read.

SQLite: the copy is made through the source connection inside one read transaction, so it is
one consistent snapshot of the database *and its WAL* (the last committed transactions, which a
copy of the `.db` file alone misses after a crash), and writers keep writing meanwhile.
PostgreSQL: `pg_dump --format=custom` (one repeatable-read snapshot), `pg_restore` in a single
transaction (a failed restore leaves the database empty).

Both write to a temporary file beside the target (mode 0600: a backup holds personal data) and
rename it when complete; an existing file is replaced only when asked (`force`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from api.settings import Settings
from incidents.db import create_engine, is_sqlite
from incidents.sharing.cipher import KEY_FILE, SEALED_PREFIX

# done, total, unit ("pages", "tables")
Progress = Callable[[int, int, str], None]

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
KEYS_SUFFIX = ".keys"
EMPTY_POSTGRES_HOWTO = (
    "restore into a new database (createdb NEWNAME, then SENTINELLE_DATABASE_URL=…/NEWNAME), "
    "or empty this one: psql -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' DBNAME"
)


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says what to do."""


def _no_progress(_done: int, _total: int, _unit: str) -> None:
    return None


# --- keys -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyLocation:
    """Where this server's encryption keys come from, read without creating anything."""

    source: str  # "environment", "file" or "missing"
    path: Path | None
    keys: tuple[bytes, ...] = ()
    problem: str = ""  # unreadable file, ...

    def describe(self) -> str:
        if self.source == "environment":
            return f"SENTINELLE_SECRET_KEYS ({len(self.keys)} key(s), from the environment)"
        if self.source == "file":
            return f"the key file {self.path}"
        return f"none yet (a key will be generated at {self.path} when the service first starts)"


def key_location(settings: Settings) -> KeyLocation:
    """The keys narratives and channel secrets are encrypted with, as `load_secret_keys` finds
    them, except that nothing is generated when there is none."""
    configured = tuple(k.strip().encode() for k in settings.secret_keys.split(",") if k.strip())
    if configured:
        return KeyLocation("environment", None, configured)
    path = settings.var_path / KEY_FILE
    if not path.exists():
        return KeyLocation("missing", path)
    try:
        return KeyLocation("file", path, (path.read_bytes().strip(),))
    except OSError as exc:
        return KeyLocation("file", path, (), problem=f"cannot be read ({exc.strerror})")


def opener(keys: tuple[bytes, ...]) -> MultiFernet | None:
    """A decrypter for sealed values, or None if a key is not a Fernet key."""
    try:
        return MultiFernet([Fernet(k) for k in keys]) if keys else None
    except (ValueError, TypeError):
        return None


def decrypts(keys: tuple[bytes, ...], sealed: str) -> bool:
    fernet = opener(keys)
    if fernet is None:
        return False
    if not sealed.startswith(SEALED_PREFIX):
        return True
    try:
        fernet.decrypt(sealed[len(SEALED_PREFIX) :].encode())
    except InvalidToken:
        return False
    return True


# --- results ----------------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    size: int
    incidents: int
    revision: str | None
    keys: KeyLocation
    keys_path: Path | None = None


@dataclass
class RestoreResult:
    revision: str | None
    head: str | None
    incidents: int
    keys: KeyLocation
    # "ok", "missing" (no key here), "wrong" (the keys here decrypt no stored value), "nothing"
    # (no encrypted value stored)
    keys_state: str = "nothing"
    warnings: list[str] = field(default_factory=list)

    @property
    def at_head(self) -> bool:
        return self.revision == self.head


# The migration scripts, read as files (the HTTP app does not import the migrations package).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def schema_head() -> str | None:
    """The newest migration this version of Sentinelle knows."""
    head: str | None = _scripts().get_current_head()
    return head


def known_revisions() -> set[str]:
    return {s.revision for s in _scripts().walk_revisions()}


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


# --- files ------------------------------------------------------------------------------------


def _check_target(target: Path, force: bool) -> None:
    if target.exists() and not force:
        raise BackupError(
            f"{target} already exists; give another file name or --force to replace it"
        )
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist; create it first")


@contextlib.contextmanager
def _partial(target: Path) -> Iterator[Path]:
    """A temporary file beside `target` (same file system: the rename is atomic), mode 0600,
    removed unless the caller renamed it."""
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _commit_file(tmp: Path, target: Path) -> None:
    with tmp.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    with contextlib.suppress(OSError):  # not every file system lets a folder be fsynced
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_keys(keys: KeyLocation, target: Path, force: bool) -> Path:
    """The keys beside the backup (`FILE.keys`, mode 0600), in SENTINELLE_SECRET_KEYS' format."""
    path = target.with_name(target.name + KEYS_SUFFIX)
    if path.exists() and not force:
        raise BackupError(f"{path} already exists; give another file name or --force to replace it")
    with _partial(path) as tmp:
        tmp.write_bytes(b",".join(keys.keys) + b"\n")
        _commit_file(tmp, path)
    return path


def file_kind(path: Path) -> str:
    """'sqlite', 'postgres' (a pg_dump custom archive) or 'unknown'."""
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from exc
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgres"
    return "unknown"


# --- SQLite -----------------------------------------------------------------------------------


def _sqlite_file(settings: Settings) -> Path:
    path = sqlite_path(settings.database_url)
    if path is None or str(path) == ":memory:":
        raise BackupError("SENTINELLE_DATABASE_URL names no database file to back up")
    return path


def _sqlite_facts(conn: sqlite3.Connection) -> tuple[int, str | None]:
    try:
        count = int(conn.execute("SELECT count(*) FROM incidents").fetchone()[0])
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"not a Sentinelle database ({exc})") from exc
    return count, None if row is None else str(row[0])


def _sqlite_backup(source: Path, tmp: Path, progress: Progress) -> tuple[int, str | None]:
    src = sqlite3.connect(source, timeout=30, isolation_level=None)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        # One read transaction for the whole copy: a stable snapshot (WAL included) that
        # writers do not disturb, so the copy never restarts however busy the service is.
        src.execute("BEGIN")
        incidents, revision = _sqlite_facts(src)
        pages = int(src.execute("PRAGMA page_count").fetchone()[0])
        step = max(256, pages // 50)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(
                dst,
                pages=step,
                progress=lambda _status, remaining, total: progress(
                    total - remaining, total, "pages"
                ),
            )
            src.execute("COMMIT")
            # A self-contained file: no WAL beside it.
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy does not check out ({check}); nothing was written")
        finally:
            dst.close()
    except sqlite3.OperationalError as exc:
        raise BackupError(f"cannot read the database {source}: {exc}") from exc
    finally:
        src.close()
    return incidents, revision


def _sqlite_is_empty(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        wal = path.with_name(path.name + "-wal")
        return not wal.exists() or wal.stat().st_size == 0
    conn = sqlite3.connect(path, timeout=30)
    try:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    finally:
        conn.close()
    return int(tables[0]) == 0


def _sqlite_restore(source: Path, target: Path, progress: Progress) -> tuple[int, str | None]:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        check = src.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"{source} is damaged ({check}); restore another backup")
        incidents, revision = _sqlite_facts(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        with _partial(target) as tmp:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(
                    dst,
                    pages=1024,
                    progress=lambda _s, remaining, total: progress(
                        total - remaining, total, "pages"
                    ),
                )
                dst.execute("PRAGMA journal_mode=WAL")
            finally:
                dst.close()
            for suffix in ("-wal", "-shm"):  # an empty database's leftovers (checked empty)
                target.with_name(target.name + suffix).unlink(missing_ok=True)
            _commit_file(tmp, target)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a readable SQLite backup ({exc})") from exc
    finally:
        src.close()
    return incidents, revision


def _sqlite_sample(path: Path) -> str | None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT description FROM incidents WHERE description LIKE 'fernet:%' LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    return None if row is None else str(row[0])


# --- PostgreSQL -------------------------------------------------------------------------------


def libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for the pg_* tools and their environment (the password goes in
    PGPASSWORD, never on a command line other users can read)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    query = {}
    ssl = url.query.get("ssl") or url.query.get("sslmode")
    if isinstance(ssl, str):
        query["sslmode"] = ssl
    plain = URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=query,
    )
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found: install the PostgreSQL client tools (apt-get install "
            "postgresql-client), of the server's major version or newer"
        )
    return found


async def _run_tool(
    args: list[str], env: dict[str, str], pattern: re.Pattern[str], total: int, progress: Progress
) -> None:
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    done = 0
    errors: list[str] = []
    while line := (await proc.stderr.readline()).decode(errors="replace").rstrip():
        if pattern.search(line):
            done += 1
            progress(min(done, total), total, "tables")
        elif "error" in line.lower() or "fatal" in line.lower():
            errors.append(line)
    if await proc.wait() != 0:
        tool = Path(args[0]).name
        raise BackupError(
            f"{tool} failed: " + (" / ".join(errors[-3:]) or f"exit {proc.returncode}")
        )
    progress(total, total, "tables")


async def _pg_facts(url: str) -> tuple[int, str | None, int]:
    engine = create_engine(url, pooled=False)
    try:
        async with engine.connect() as conn:
            tables = int(
                await conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_tables "
                        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                    )
                )
                or 0
            )
            if not tables:
                return 0, None, 0
            incidents = int(await conn.scalar(text("SELECT count(*) FROM incidents")) or 0)
            revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            return incidents, None if revision is None else str(revision), tables
    except (OSError, DBAPIError) as exc:
        raise BackupError(f"cannot reach the database: {exc}") from exc
    finally:
        await engine.dispose()


async def _pg_sample(url: str) -> str | None:
    engine = create_engine(url, pooled=False)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT description FROM incidents WHERE description LIKE 'fernet:%' LIMIT 1")
            )
            return None if found is None else str(found)
    finally:
        await engine.dispose()


DUMPING = re.compile(r'dumping contents of table "')
RESTORING = re.compile(r'processing data for table "')


async def _pg_backup(settings: Settings, tmp: Path, progress: Progress) -> tuple[int, str | None]:
    incidents, revision, tables = await _pg_facts(settings.database_url)
    if not tables:
        raise BackupError("the database is empty: nothing to back up")
    conninfo, env = libpq(make_url(settings.database_url))
    args = [_tool("pg_dump"), "--format=custom", "--verbose", "--no-owner"]
    await _run_tool(
        [*args, f"--file={tmp}", f"--dbname={conninfo}"], env, DUMPING, tables, progress
    )
    return incidents, revision


async def _pg_archive_revision(source: Path) -> tuple[str | None, int]:
    """The schema revision a pg_dump archive holds (from its alembic_version data), and how
    many tables' data it holds."""
    tool = _tool("pg_restore")
    listing = await asyncio.create_subprocess_exec(
        tool, "--list", str(source), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await listing.communicate()
    if listing.returncode != 0:
        raise BackupError(f"{source} is not a readable pg_dump archive: {err.decode().strip()}")
    tables = sum(1 for line in out.decode().splitlines() if " TABLE DATA " in line)
    data = await asyncio.create_subprocess_exec(
        tool,
        "--data-only",
        "--table=alembic_version",
        "--file=-",
        str(source),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await data.communicate()
    lines = out.decode().splitlines()
    revision = None
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line and i + 1 < len(lines):
            value = lines[i + 1].strip()
            revision = None if value in ("", "\\.") else value
    return revision, tables


# --- use cases --------------------------------------------------------------------------------


async def backup(
    settings: Settings,
    target: Path,
    *,
    force: bool = False,
    with_keys: bool = False,
    progress: Progress = _no_progress,
) -> BackupResult:
    """Back the configured database up into `target` while the service keeps serving."""
    _check_target(target, force)
    keys = key_location(settings)
    if with_keys:
        if not keys.keys:
            raise BackupError(f"--with-keys: no key to save ({keys.problem or keys.describe()})")
        keys_file = target.with_name(target.name + KEYS_SUFFIX)
        if keys_file.exists() and not force:
            raise BackupError(
                f"{keys_file} already exists; give another file name or --force to replace it"
            )
    try:
        return await _backup(
            settings, target, keys, force=force, with_keys=with_keys, progress=progress
        )
    except OSError as exc:
        raise BackupError(f"cannot write {exc.filename or target}: {exc.strerror}") from exc


async def _backup(
    settings: Settings,
    target: Path,
    keys: KeyLocation,
    *,
    force: bool,
    with_keys: bool,
    progress: Progress,
) -> BackupResult:
    with _partial(target) as tmp:
        if is_sqlite(settings.database_url):
            source = _sqlite_file(settings)
            if not source.exists():
                raise BackupError(f"no database at {source}; check SENTINELLE_DATABASE_URL")
            incidents, revision = await asyncio.to_thread(_sqlite_backup, source, tmp, progress)
        else:
            incidents, revision = await _pg_backup(settings, tmp, progress)
        size = tmp.stat().st_size
        _commit_file(tmp, target)
    result = BackupResult(target, size, incidents, revision, keys)
    if with_keys:
        result.keys_path = write_keys(keys, target, force)
    return result


async def restore(
    settings: Settings, source: Path, *, progress: Progress = _no_progress
) -> RestoreResult:
    """Restore `source` into the configured database, which must be empty."""
    if not await asyncio.to_thread(source.is_file):
        raise BackupError(f"{source} is not a file")
    kind = await asyncio.to_thread(file_kind, source)
    sqlite = is_sqlite(settings.database_url)
    if kind == "unknown":
        raise BackupError(
            f"{source} is not a Sentinelle backup (neither a SQLite file nor a pg_dump archive)"
        )
    if (kind == "sqlite") != sqlite:
        made, here = ("SQLite", "PostgreSQL") if kind == "sqlite" else ("PostgreSQL", "SQLite")
        raise BackupError(
            f"{source} is a {made} backup and SENTINELLE_DATABASE_URL names a {here} database; "
            f"restore it into a {made} database"
        )
    head = await asyncio.to_thread(schema_head)
    known = await asyncio.to_thread(known_revisions)
    if sqlite:
        target = _sqlite_file(settings)
        if not _sqlite_is_empty(target):
            raise BackupError(
                f"the database {target} is not empty; restore into a new file "
                "(SENTINELLE_DATABASE_URL=sqlite+aiosqlite:///NEW.db) or stop the service and "
                f"move {target.name} and its -wal and -shm files away first"
            )
        probe = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            _count, revision = _sqlite_facts(probe)
        finally:
            probe.close()
        _refuse_newer(revision, known)
        incidents, revision = await asyncio.to_thread(_sqlite_restore, source, target, progress)
        sample = await asyncio.to_thread(_sqlite_sample, target)
    else:
        _count, _rev, tables = await _pg_facts(settings.database_url)
        if tables:
            raise BackupError(
                f"the database is not empty ({tables} tables); {EMPTY_POSTGRES_HOWTO}"
            )
        revision, total = await _pg_archive_revision(source)
        _refuse_newer(revision, known)
        conninfo, env = libpq(make_url(settings.database_url))
        args = [
            _tool("pg_restore"),
            "--verbose",
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            f"--dbname={conninfo}",
            str(source),
        ]
        await _run_tool(args, env, RESTORING, total, progress)
        incidents, revision, _tables = await _pg_facts(settings.database_url)
        sample = await _pg_sample(settings.database_url)
    keys = key_location(settings)
    result = RestoreResult(revision, head, incidents, keys)
    if sample is None:
        result.keys_state = "nothing"
    elif not keys.keys:
        result.keys_state = "missing"
        result.warnings.append(
            "no encryption key on this server: the restored narratives and channel secrets "
            "cannot be read. Before starting the service, set SENTINELLE_SECRET_KEYS to the "
            f"keys saved with the backup (FILE{KEYS_SUFFIX}), or copy that file to "
            f"{keys.path} if it holds one key; otherwise a new key is generated and they stay "
            "unreadable"
        )
    elif decrypts(keys.keys, sample):
        result.keys_state = "ok"
    else:
        result.keys_state = "wrong"
        result.warnings.append(
            f"the keys configured here ({keys.describe()}) do not decrypt the restored "
            "narratives: set SENTINELLE_SECRET_KEYS to the keys saved with the backup "
            f"(FILE{KEYS_SUFFIX}) before starting the service"
        )
    if revision != head:
        result.warnings.append(
            f"the backup's schema is older ({revision}) than this version's ({head}): "
            "`sentinelle db upgrade` (or `sentinelle serve`, which migrates first) brings it up"
        )
    return result


def _refuse_newer(revision: str | None, known: set[str]) -> None:
    if revision is None:
        raise BackupError("the backup holds no schema version: it is not a Sentinelle backup")
    if revision not in known:
        raise BackupError(
            f"the backup was made by a newer version of Sentinelle (schema {revision}); "
            "install that version to restore it. Nothing was changed"
        )


__all__ = [
    "BackupError",
    "BackupResult",
    "KeyLocation",
    "RestoreResult",
    "backup",
    "decrypts",
    "key_location",
    "restore",
    "schema_head",
]
