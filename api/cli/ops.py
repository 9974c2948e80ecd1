"""`sentinelle backup`, `restore` and `doctor`: the operator's commands (api.backup, api.checks)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from api.backup import Progress
from api.settings import Settings
from incidents.db import Database, create_engine


def _progress(what: str) -> Progress:
    last = {"shown": -1}

    def show(done: int, total: int, unit: str) -> None:
        percent = 100 if not total else done * 100 // total
        # Every tenth, and the end: enough to see it move without flooding a log.
        if percent // 10 == last["shown"] // 10 and percent < 100:
            return
        if percent == last["shown"]:
            return
        last["shown"] = percent
        click.echo(f"{what}: {percent:3d}% ({done}/{total} {unit})", err=True)

    return show


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def register(main: click.Group) -> None:
    @main.command()
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--force", is_flag=True, help="Replace FILE if it exists.")
    @click.option(
        "--with-keys",
        is_flag=True,
        help="Also write the encryption keys to FILE.keys (mode 0600): keep it apart from FILE.",
    )
    @click.pass_obj
    def backup(settings: Settings, file: Path, force: bool, with_keys: bool) -> None:
        """Back the database up into FILE while the service runs (SQLite: a consistent snapshot
        including the WAL; PostgreSQL: pg_dump's custom format).

        A backup cannot be read without the encryption keys (narratives and channel secrets are
        encrypted): the command says where they are; keep a copy of them apart from the backup."""
        from api.backup import BackupError
        from api.backup import backup as run_backup

        try:
            result = asyncio.run(
                run_backup(
                    settings, file, force=force, with_keys=with_keys, progress=_progress("Backup")
                )
            )
        except BackupError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        click.echo(
            f"Backup written: {result.path} ({_size(result.size)}, {result.incidents} incidents, "
            f"schema {result.revision}).",
            err=True,
        )
        keys = result.keys
        if result.keys_path is not None:
            click.echo(
                f"Keys written: {result.keys_path} (mode 0600), from {keys.describe()}. Store it "
                "apart from the backup: together they open every narrative.",
                err=True,
            )
        elif keys.source == "missing":
            click.echo("Keys: none yet, so nothing in the backup is encrypted.", err=True)
        else:
            click.echo(
                f"WARNING: the encryption keys are NOT in this backup. They are in "
                f"{keys.describe()}. Without them the narratives and channel secrets of the "
                "backup cannot be read: keep a copy in a safe place (or use --with-keys).",
                err=True,
            )

    @main.command()
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.pass_obj
    def restore(settings: Settings, file: Path) -> None:
        """Restore FILE (made by `sentinelle backup`) into the configured database, which must be
        empty; then check its schema and that the keys configured here decrypt it."""
        from api.backup import BackupError
        from api.backup import restore as run_restore

        try:
            result = asyncio.run(run_restore(settings, file, progress=_progress("Restore")))
        except BackupError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        click.echo(
            f"Restored {result.incidents} incidents (schema {result.revision}"
            + (", at head" if result.at_head else f", this version's head is {result.head}")
            + ").",
            err=True,
        )
        if result.keys_state == "ok":
            click.echo(
                f"Keys OK: the restored narratives decrypt with {result.keys.describe()}.", err=True
            )
        for warning in result.warnings:
            click.echo(f"WARNING: {warning}", err=True)

    @main.command()
    @click.pass_obj
    def doctor(settings: Settings) -> None:
        """Check the configuration, keys, database, dispatcher, channels and disk space; say what
        to fix. Exits 1 when a check fails."""
        from rich.console import Console
        from rich.table import Table

        from api.checks import FAIL, WARN, Check
        from api.checks import doctor as run_doctor

        async def go() -> list[Check]:
            db = Database(create_engine(settings.database_url, pooled=False))
            try:
                return await run_doctor(db, settings, datetime.now(UTC))
            finally:
                await db.dispose()

        checks = asyncio.run(go())
        table = Table(title="sentinelle doctor")
        table.add_column("check")
        table.add_column("")
        table.add_column("found")
        table.add_column("what to do")
        styles = {"ok": "[green]OK[/green]", WARN: "[yellow]WARN[/yellow]", FAIL: "[red]FAIL[/red]"}
        failed = 0
        for check in checks:
            failed += check.status == FAIL
            table.add_row(
                check.name, styles.get(check.status, check.status), check.detail, check.fix
            )
        Console(width=160).print(table)
        if failed:
            click.echo(f"{failed} check(s) failed.", err=True)
            sys.exit(1)
