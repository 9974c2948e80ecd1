"""`sentinelle dispatch`: a standalone worker that sends the alert outbox."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import click

from api.settings import Settings
from incidents.db import Database


def build_dispatcher(db: Database, settings: Settings, worker_id: str | None) -> Any:
    from alerts.delivery.channels import AppriseNotifier, ChannelPolicy
    from alerts.delivery.dispatcher import DispatchConfig, Dispatcher
    from alerts.delivery.keys import LinkSigner, secret_keys
    from alerts.delivery.secrets import SecretBox
    from alerts.outbox.writer import OutboxConfig
    from api.bootstrap import dispatcher_chores

    keys = secret_keys(settings)
    outbox = OutboxConfig(
        public_url=settings.public_url,
        signer=LinkSigner(keys),
        mask_grid_degrees=settings.mask_grid_degrees,
        mask_time_unit=settings.mask_time_unit,
    )
    return Dispatcher(
        db,
        AppriseNotifier(
            policy=ChannelPolicy.from_settings(
                settings.channel_schemes, settings.channel_allow_hosts
            )
        ),
        SecretBox(keys, field="secret_keys"),
        config=DispatchConfig.from_settings(settings),
        outbox=outbox,
        worker_id=worker_id,
        chores=dispatcher_chores(settings, db),
    )


def register(main: click.Group) -> None:
    from api.cli.main import fail, migrate, run
    from api.http.logs import configure_logging

    @main.command()
    @click.option("--once", is_flag=True, help="Send what is due now, then stop.")
    @click.option("--worker-id", default=None, help="Name in the delivery log (default host:pid).")
    @click.option("--no-migrate", is_flag=True, help="Do not apply migrations first.")
    @click.pass_obj
    def dispatch(settings: Settings, once: bool, worker_id: str | None, no_migrate: bool) -> None:
        """Send alert deliveries (run several for scale; they never send the same row at once)."""
        configure_logging(settings.log_format, settings.log_level)  # api.http.logs

        async def go(db: Database) -> None:
            if not no_migrate:
                await migrate(db)
            dispatcher = build_dispatcher(db, settings, worker_id)
            if once:
                report = await dispatcher.drain()
                click.echo(
                    f"Sent: {report.delivered} delivered, {report.retried} to retry, "
                    f"{report.dead} given up, {report.deferred} held by the rate limit.",
                    err=True,
                )
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            click.echo(f"Dispatcher {dispatcher.worker_id} running; Ctrl-C to stop.", err=True)
            # The mission ladder ticks where alerts are sent: here too when serve does not send.
            from api.bootstrap import build

            escalation = build(settings, db).escalation
            work = [dispatcher.run(stop)]
            if escalation is not None:
                work.append(escalation.run(stop))
            await asyncio.gather(*work)

        try:
            run(go, settings)
        except ValueError as exc:
            fail(str(exc))
