"""`sentinelle missions`: purge closed missions' positions and routes; run the ladder's tick."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

import click

from api.settings import Settings
from incidents.db import Database


def register(main: click.Group) -> None:
    from api.cli.main import now, run

    @main.group()
    def missions() -> None:
        """Missions: the purge of closed missions and the escalation tick."""

    @missions.command("purge")
    @click.option(
        "--days",
        type=int,
        default=None,
        help="Closed for at least this many days (default SENTINELLE_MISSIONS_PURGE_DAYS, 30).",
    )
    @click.pass_obj
    def purge(settings: Settings, days: int | None) -> None:
        """Delete the positions and route details of missions closed long enough (audited)."""
        from missions.config import MissionsConfig
        from missions.purge import purge_closed

        config = MissionsConfig.from_env()
        keep = config.purge_days if days is None else days

        async def go(db: Database) -> dict[str, object]:
            return await purge_closed(db, now=now(), older_than=timedelta(days=max(0, keep)))

        report = run(go, settings)
        click.echo(
            f"Purged {report['purged']} closed missions (closed before {report['closed_before']}): "
            "their stops, check-ins, route, alerts and escalation steps are deleted.",
            err=True,
        )

    @missions.command("tick")
    @click.option(
        "--loop", is_flag=True, help="Keep ticking (a worker, beside `sentinelle dispatch`)."
    )
    @click.pass_obj
    def tick(settings: Settings, loop: bool) -> None:
        """Fire the escalation steps now due (and start, re-assess, purge)."""
        from api.bootstrap import build

        async def go(db: Database) -> int:
            container = build(settings, db)
            escalation = container.escalation
            assert escalation is not None
            if not loop:
                fired = 0
                while step := await escalation.tick():
                    fired += step
                return fired
            stop = asyncio.Event()
            running = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                running.add_signal_handler(sig, stop.set)
            await escalation.run(stop)
            return 0

        fired = run(go, settings)
        click.echo(f"{fired} escalation steps fired.", err=True)
