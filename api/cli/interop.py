"""`sentinelle incidents import|export` and `sentinelle intake set-secret|register-phone`."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import click

from api.cli.main import fail, migrate, now, parse_uuid, run
from api.settings import Settings
from incidents.db import Database
from incidents.interop import (
    ImportFormatError,
    RowResult,
    acled_deleted_ids,
    acled_to_incidents,
    csv_to_incidents,
    detect_format,
    geojson_to_incidents,
    hxl_to_incidents,
    write_geojson,
)
from incidents.interop.importer import older_than_window_note
from incidents.interop.service import (
    TABLE_EXPORTS,
    ImportSummary,
    flatten_pages,
    import_incidents,
    iter_incidents,
    write_table,
)
from incidents.records.model import Role
from incidents.records.store import TextCipher
from incidents.risk.service import risk_config

IMPORT_FORMATS = ("acled", "hxl", "geojson", "csv")
EXPORT_FORMATS = ("geojson", *TABLE_EXPORTS)
# What each source may not say for itself: ACLED is public data.
FORMAT_DEFAULTS: dict[str, dict[str, Any]] = {"acled": {"sharing_level": "green"}}
DETECT_BYTES = 64 * 1024


class CountingLines:
    """The lines of a binary file, counting the bytes read so far for the progress bar."""

    def __init__(self, fileobj: IO[bytes]) -> None:
        self.fileobj = fileobj
        self.read = 0
        self.on_read: Callable[[int], None] | None = None

    def __iter__(self) -> Iterator[bytes]:
        for line in self.fileobj:
            self.read += len(line)
            if self.on_read is not None:
                self.on_read(len(line))
            yield line


def open_rows(fileobj: IO[bytes], fmt: str) -> tuple[Iterator[RowResult], CountingLines | None]:
    """The converter's rows, with the first already read so that a bad header fails here."""
    lines = None
    if fmt == "geojson":
        rows = geojson_to_incidents(fileobj)
    else:
        lines = CountingLines(fileobj)
        converter = {"acled": acled_to_incidents, "hxl": hxl_to_incidents, "csv": csv_to_incidents}
        rows = converter[fmt](lines)
    first = next(rows, None)  # raises ImportFormatError before anything is stored

    def chained() -> Iterator[RowResult]:
        if first is not None:
            yield first
            yield from rows

    return chained(), lines


async def _org_exists(db: Database, org_id: uuid.UUID) -> bool:
    from incidents.records.tables import OrganisationRow

    async with db.read() as session:
        org = await session.get(OrganisationRow, org_id)
        return org is not None and org.deleted_at is None


def print_report(
    summary: ImportSummary, *, removed: int | None, window_days: float | None = None
) -> None:
    for row_number, field, message in summary.rejected:
        where = f" [{field}]" if field else ""
        click.echo(f"rejected row {row_number}{where}: {message}", err=True)
    text = (
        f"Rows read: {summary.rows} — created {summary.created}, updated {summary.updated}, "
        f"unchanged {summary.unchanged}, duplicates {summary.duplicates}, "
        f"rejected {len(summary.rejected)}."
    )
    if removed is not None:
        text += f" Deleted by ACLED, now retracted: {removed}."
    click.echo(text, err=True)
    note = (
        None
        if window_days is None
        else older_than_window_note(summary.older_than_window, window_days)
    )
    if note:
        click.echo(note, err=True)


def register(main: click.Group) -> None:
    group = main.commands.get("incidents")
    if not isinstance(group, click.Group):

        @main.group("incidents")
        def incidents_group() -> None:
            """Import and export incidents (ACLED, HXL, GeoJSON, CSV)."""

        group = incidents_group

    @group.command("import")
    @click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(IMPORT_FORMATS),
        default=None,
        help="File format (detected from the header when left out).",
    )
    @click.option("--org", "org", required=True, help="Organisation id the incidents belong to.")
    @click.option(
        "--deleted",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        default=None,
        help="ACLED deleted-events CSV: retract those events.",
    )
    @click.pass_obj
    def import_cmd(
        settings: Settings, file: Path, fmt: str | None, org: str, deleted: Path | None
    ) -> None:
        """Import FILE; re-importing creates nothing new and ACLED updates changed events."""
        from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn

        org_id = parse_uuid(org, "--org")
        size = file.stat().st_size
        with file.open("rb") as probe:
            head = probe.read(DETECT_BYTES)
        try:
            fmt = fmt or detect_format(head, file.name)
            deleted_ids = None
            if deleted is not None:
                with deleted.open("rb") as handle:
                    deleted_ids = acled_deleted_ids(handle)
        except ImportFormatError as exc:
            fail(f"{exc.field}: {exc.message}. Nothing was imported.")
            return

        async def go(db: Database) -> tuple[ImportSummary, int | None]:
            from api.bootstrap import build
            from incidents.interop.service import retract_external

            await migrate(db)
            if not await _org_exists(db, org_id):
                fail(f"No organisation {org_id}; `sentinelle admin create-org NAME` prints one.")
            services = build(settings, db)
            events, cipher = services.incidents.events, services.cipher
            with ExitStack() as stack:
                handle = stack.enter_context(file.open("rb"))
                try:
                    rows, lines = open_rows(handle, fmt)
                except ImportFormatError as exc:
                    fail(f"{exc.field}: {exc.message}. Nothing was imported.")
                    raise
                bar = stack.enter_context(
                    Progress(
                        TextColumn("[bold]{task.description}"),
                        BarColumn(),
                        TextColumn("{task.percentage:>3.0f}%"),
                        TransferSpeedColumn(),
                        transient=True,
                        disable=not sys.stderr.isatty(),
                    )
                )
                task = bar.add_task(f"Importing {file.name} ({fmt})", total=size)
                if lines is not None:
                    bar.advance(task, lines.read)
                    lines.on_read = lambda n: bar.advance(task, n)
                summary = await import_incidents(
                    db,
                    rows,
                    org_id=org_id,
                    now=now(),
                    events=events,
                    defaults=FORMAT_DEFAULTS.get(fmt),
                    cipher=cipher,
                    risk_window_days=services.risk.config.window_days,
                )
            removed = None
            if deleted_ids is not None:
                removed = await retract_external(
                    db,
                    org_id=org_id,
                    external_ids=(f"acled:{i}" for i in deleted_ids),
                    now=now(),
                    reason="deleted by ACLED",
                    events=events,
                    cipher=cipher,
                )
            return summary, removed

        summary, removed = run(go, settings)
        print_report(summary, removed=removed, window_days=risk_config(settings).window_days)

    @group.command("export")
    @click.option(
        "--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="geojson", show_default=True
    )
    @click.option(
        "--output",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="File to write (standard output when left out).",
    )
    @click.option("--org", "org", default=None, help="Only this organisation's incidents.")
    @click.pass_obj
    def export_cmd(settings: Settings, fmt: str, output: Path | None, org: str | None) -> None:
        """Write every incident that is not retracted, streamed, newest first."""
        org_id = parse_uuid(org, "--org") if org else None

        async def go(db: Database) -> int:
            from api.bootstrap import build

            await migrate(db)
            services = build(settings, db)
            with ExitStack() as stack:
                out: IO[str] = (
                    stack.enter_context(output.open("w", encoding="utf-8", newline=""))
                    if output is not None
                    else sys.stdout
                )
                return await export_to(
                    db,
                    fmt,
                    out,
                    org_id=org_id,
                    zone_lookup=services.incidents.zone_lookup,
                    cipher=services.cipher,
                )

        count = run(go, settings)
        click.echo(f"Exported {count} incidents ({fmt}).", err=True)

    @main.group("intake")
    def intake() -> None:
        """KoboToolbox and SMS intake: secrets and registered phones."""

    @intake.command("set-secret")
    @click.option("--org", "org", required=True, help="Organisation id.")
    @click.pass_obj
    def set_secret_cmd(settings: Settings, org: str) -> None:
        """Create (or replace) the organisation's intake secret and print it once."""
        from incidents.errors import DomainError
        from incidents.intake.service import set_intake_secret

        org_id = parse_uuid(org, "--org")

        async def go(db: Database) -> str:
            await migrate(db)
            async with db.transaction() as session:
                return await set_intake_secret(session, org_id, now=now())

        try:
            secret = run(go, settings)
        except DomainError as exc:
            fail(exc.detail)
            return
        click.echo(secret)
        click.echo(
            "Shown once: set it as the X-Sentinelle-Intake-Secret header of the KoboToolbox REST "
            "service (or ?secret= on the SMS gateway URL). The previous secret no longer works.",
            err=True,
        )

    @intake.command("register-phone")
    @click.argument("phone")
    @click.option("--user", "user", default=None, help="Existing user id the phone belongs to.")
    @click.option("--org", "org", default=None, help="Or: create a user in this organisation.")
    @click.option(
        "--role",
        type=click.Choice([r.value for r in Role if r is not Role.OPERATOR]),
        default=Role.REPORTER.value,
        show_default=True,
        help="Role of the created user.",
    )
    @click.option("--name", default=None, help="Name of the created user.")
    @click.pass_obj
    def register_phone_cmd(
        settings: Settings,
        phone: str,
        user: str | None,
        org: str | None,
        role: str,
        name: str | None,
    ) -> None:
        """Tie PHONE to a user, so SMS from it are reported as that user."""
        from incidents.errors import DomainError
        from incidents.intake.service import create_phone_user, register_phone

        if (user is None) == (org is None):
            fail("Give either --user USER_ID or --org ORG_ID (with --role) to create a user.")

        async def go(db: Database) -> tuple[uuid.UUID, str]:
            from incidents.intake.service import normalise_phone

            await migrate(db)
            async with db.transaction() as session:
                if user is not None:
                    user_id = parse_uuid(user, "--user")
                    return user_id, await register_phone(session, user_id, phone)
                user_id = await create_phone_user(
                    session,
                    parse_uuid(str(org), "--org"),
                    phone,
                    role=Role(role),
                    now=now(),
                    name=name,
                )
                return user_id, normalise_phone(phone)

        try:
            user_id, number = run(go, settings)
        except DomainError as exc:
            fail(exc.detail)
            return
        click.echo(str(user_id))
        click.echo(f"{number} now reports as user {user_id}.", err=True)


async def export_to(
    db: Database,
    fmt: str,
    out: IO[str],
    *,
    org_id: uuid.UUID | None,
    zone_lookup: Any,
    cipher: TextCipher | None = None,
) -> int:
    """Stream every incident into `out`: database pages are read on the event loop while a
    worker thread writes, so neither the whole table nor the whole file is held in memory."""
    loop = asyncio.get_running_loop()
    pages = iter_incidents(db, org_id=org_id, zone_lookup=zone_lookup, cipher=cipher).__aiter__()

    async def next_page() -> list[dict[str, Any]]:
        return await pages.__anext__()

    def sync_pages() -> Iterator[list[dict[str, Any]]]:
        while True:
            try:
                yield asyncio.run_coroutine_threadsafe(next_page(), loop).result()
            except StopAsyncIteration:
                return

    def write() -> int:
        count = 0

        def counted() -> Iterator[dict[str, Any]]:
            nonlocal count
            for incident in flatten_pages(sync_pages()):
                count += 1
                yield incident

        if fmt == "geojson":
            write_geojson(counted(), out)
        else:
            write_table(fmt, counted(), out)
        out.flush()
        return count

    return await asyncio.to_thread(write)
