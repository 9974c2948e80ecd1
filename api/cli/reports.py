"""`sentinelle report weekly`: the weekly situation report as PDF or HTML; `report schedule`."""

from __future__ import annotations

import uuid
from pathlib import Path

import click

from api.settings import Settings
from incidents.db import Database
from incidents.errors import DomainError


def register(main: click.Group) -> None:
    from api.cli.main import fail, now, run

    @main.group()
    def report() -> None:
        """Reports: the weekly situation report and its schedule."""

    @report.command("weekly")
    @click.option("--zones", default=None, help="Zone ids or codes, comma-separated (default all).")
    @click.option("--lang", default="fr", show_default=True, help="fr or en.")
    @click.option(
        "--from", "start", default=None, help="First day, YYYY-MM-DD (default last week)."
    )
    @click.option("--to", "end", default=None, help="Last day, YYYY-MM-DD.")
    @click.option("--org", default=None, help="Organisation id (default: the only one).")
    @click.option(
        "--out",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="FILE.pdf or FILE.html.",
    )
    @click.pass_obj
    def weekly(
        settings: Settings,
        zones: str | None,
        lang: str,
        start: str | None,
        end: str | None,
        org: str | None,
        out: Path,
    ) -> None:
        """Write the weekly situation report, as the organisation's members may see it."""
        from api.bootstrap import build
        from reports.delivery import organisation_viewer
        from reports.weekly.render import to_html, to_pdf
        from reports.weekly.request import parse_request

        suffix = out.suffix.lower()
        if suffix not in (".pdf", ".html", ".htm"):
            fail(f"--out {out}: give a file name ending in .pdf or .html.")
        org_id = None
        if org is not None:
            try:
                org_id = uuid.UUID(org)
            except ValueError:
                fail(f"--org {org!r} is not an organisation id.")
        moment = now()

        async def go(db: Database) -> bytes | str:
            container = build(settings, db)
            assert container.reports is not None
            request = parse_request(start=start, end=end, lang=lang, zones=zones, now=moment)
            viewer = await organisation_viewer(db, org_id)
            report = await container.reports.build(viewer, request, now=moment)
            return to_pdf(report) if suffix == ".pdf" else to_html(report)

        try:
            content = run(go, settings)
        except DomainError as exc:
            where = f"--{exc.field}: " if exc.field else ""
            fail(f"{where}{exc.detail}")
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            out.write_bytes(content)
        else:
            out.write_text(content, encoding="utf-8")
        click.echo(f"Wrote {out} ({out.stat().st_size // 1024} KB).", err=True)

    @report.command("schedule")
    @click.option("--org", required=True, help="Organisation id.")
    @click.option("--weekday", type=int, default=None, help="0 Monday ... 6 Sunday (default 0).")
    @click.option("--hour", type=int, default=None, help="Local hour, 0-23 (default 7).")
    @click.option("--lang", default="fr", show_default=True, help="fr or en.")
    @click.option("--zones", default="", help="Zone ids or codes, comma-separated (default all).")
    @click.option("--off", is_flag=True, help="Stop the weekly report.")
    @click.pass_obj
    def schedule(
        settings: Settings,
        org: str,
        weekday: int | None,
        hour: int | None,
        lang: str,
        zones: str,
        off: bool,
    ) -> None:
        """Send the organisation its weekly report (Monday 07:00 by default) on its channels."""
        from reports.config import ReportsConfig
        from reports.delivery import set_schedule

        try:
            org_id = uuid.UUID(org)
        except ValueError:
            fail(f"--org {org!r} is not an organisation id.")
            return
        config = ReportsConfig.from_env()

        async def go(db: Database) -> None:
            await set_schedule(
                db,
                org_id,
                weekday=config.weekday if weekday is None else weekday,
                hour=config.hour if hour is None else hour,
                lang=lang,
                zones=zones,
                enabled=not off,
                now=now(),
            )

        try:
            run(go, settings)
        except DomainError as exc:
            fail(f"--{exc.field}: {exc.detail}" if exc.field else exc.detail)
            return
        click.echo("Weekly report stopped." if off else "Weekly report scheduled.", err=True)
