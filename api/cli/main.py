"""The `sentinelle` command: serve, migrate, administer, import/export, demo data."""

from __future__ import annotations

import asyncio
import importlib
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from api.settings import Settings
from incidents.audit import log as audit
from incidents.db import Database, create_engine
from incidents.records.model import Role

T = TypeVar("T")

# Command groups added by other areas (each module defines `register(main)`).
EXTENSIONS = (
    "api.cli.zones",
    "api.cli.alerts",
    "api.cli.interop",
    "api.cli.sharing",
    "api.cli.missions",
    "api.cli.ops",
    "api.cli.reports",
)


def run(coro_fn: Callable[[Database], Awaitable[T]], settings: Settings) -> T:
    async def runner() -> T:
        db = Database(create_engine(settings.database_url))
        try:
            return await coro_fn(db)
        finally:
            await db.dispose()

    return asyncio.run(runner())


def now() -> datetime:
    return datetime.now(UTC)


async def migrate(db: Database) -> None:
    from api.migrations.runner import upgrade

    await upgrade(db.engine)


def fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def parse_uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"{what} {value!r} is not an id; `sentinelle admin create-org NAME` prints one.")
        raise


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Sentinelle: security incidents and access risk for NGOs and CSOs in Mali and the Sahel."""
    try:
        ctx.obj = Settings.from_env()
    except ValueError as exc:
        fail(str(exc))


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default 8000).")
@click.pass_obj
def serve(settings: Settings, host: str | None, port: int | None) -> None:
    """Apply migrations and start the API (docs at /schema)."""
    import uvicorn

    from api.http.app import create_app
    from api.http.logs import check_log_settings, configure_logging

    try:
        check_log_settings(settings.log_format, settings.log_level)
    except ValueError as exc:
        fail(str(exc))
    run(migrate, settings)
    host = host or settings.host
    port = port or settings.port
    click.echo(
        f"Sentinelle on http://{host}:{port} — API docs at http://{host}:{port}/schema", err=True
    )
    app = create_app(settings)
    # After the app: Litestar configures the root logger when it is made (docs/observability.md).
    configure_logging(settings.log_format, settings.log_level)
    # log_config=None: uvicorn's own records go to the same handler (its access log stays off:
    # api.http.logs writes one line per request, with the route template, never the path).
    uvicorn.run(
        app, host=host, port=port, log_level=settings.log_level, log_config=None, access_log=False
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Apply every migration (creates the embedded database under ./var/ if needed)."""
    run(migrate, settings)
    click.echo("Database is up to date.", err=True)


@main.group()
def admin() -> None:
    """Organisations, users and tokens."""


@admin.command("create-org")
@click.argument("name")
@click.pass_obj
def create_org(settings: Settings, name: str) -> None:
    """Create an organisation and print its id."""
    from incidents.errors import DomainError
    from incidents.identity.accounts import create_organisation

    async def go(db: Database) -> uuid.UUID:
        await migrate(db)
        async with db.transaction() as session:
            org_id = await create_organisation(session, name, now=now())
            await audit.write(
                session,
                [
                    audit.event(
                        "organisation.created",
                        None,
                        target_type="organisation",
                        target_id=org_id,
                        via="cli",
                    )
                ],
                now=now(),
            )
            return org_id

    try:
        click.echo(str(run(go, settings)))
    except DomainError as exc:
        fail(exc.detail)


# Roles an organisation's user may have; the platform operator is made by `create-operator`.
ORG_ROLES = [r.value for r in Role if r is not Role.OPERATOR]


@admin.command("create-token")
@click.option("--org", "org", required=True, help="Organisation id (from create-org).")
@click.option(
    "--role",
    type=click.Choice(ORG_ROLES),
    required=True,
    help="The user's role (the platform operator: `sentinelle admin create-operator`).",
)
@click.option("--name", default=None, help="Who the token is for (a person or a device).")
@click.pass_obj
def create_token(settings: Settings, org: str, role: str, name: str | None) -> None:
    """Create a user with ROLE in ORG and print only its token (shown once: store it now)."""
    from incidents.errors import DomainError
    from incidents.identity.accounts import create_user_with_token

    org_id = parse_uuid(org, "--org")

    async def go(db: Database) -> str:
        await migrate(db)
        async with db.transaction() as session:
            user_id, token_id, token = await create_user_with_token(
                session, org_id, role=Role(role), now=now(), name=name
            )
            await audit_token_created(session, token_id, user_id, org_id, Role(role))
            return token

    try:
        click.echo(run(go, settings))
    except DomainError as exc:
        fail(exc.detail)


@admin.command("revoke-token")
@click.argument("token_or_id")
@click.pass_obj
def revoke_token_cmd(settings: Settings, token_or_id: str) -> None:
    """Revoke a token (give the token itself or its id)."""
    from incidents.identity.accounts import revoke_token

    async def go(db: Database) -> bool:
        async with db.transaction() as session:
            revoked = await revoke_token(session, token_or_id, now=now())
            if revoked:
                # The id only: the argument may be the clear token, which never goes in the log.
                await audit.write(
                    session,
                    [
                        audit.event(
                            "token.revoked",
                            None,
                            target_type="token",
                            target_id=None if token_or_id.startswith("stl_") else token_or_id,
                            via="cli",
                        )
                    ],
                    now=now(),
                )
            return revoked

    if not run(go, settings):
        fail("No live token matches; it may already be revoked.")
    click.echo("Token revoked.", err=True)


@admin.command("create-operator")
@click.option("--name", default=None, help="Who the operator token is for.")
@click.pass_obj
def create_operator(settings: Settings, name: str | None) -> None:
    """Create a platform operator and print only its token (shown once: store it now).

    The operator creates, lists and deletes organisations; it lives in the platform organisation,
    made here on first use, and sees incidents as an outsider does."""
    from incidents.errors import DomainError
    from incidents.identity.accounts import create_user_with_token, platform_organisation

    async def go(db: Database) -> str:
        await migrate(db)
        async with db.transaction() as session:
            org_id = await platform_organisation(session, now=now())
            user_id, token_id, token = await create_user_with_token(
                session, org_id, role=Role.OPERATOR, now=now(), name=name or "platform operator"
            )
            await audit_token_created(session, token_id, user_id, org_id, Role.OPERATOR)
            return token

    try:
        click.echo(run(go, settings))
    except DomainError as exc:
        fail(exc.detail)


@admin.command("delete-org")
@click.argument("org")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def delete_org(settings: Settings, org: str, yes: bool) -> None:
    """Delete organisation ORG: its tokens stop, its incidents stay only anonymous and masked."""
    from incidents.errors import DomainError

    org_id = parse_uuid(org, "ORG")
    if not yes:
        click.confirm(f"Delete organisation {org_id} for good?", abort=True, err=True)

    async def go(db: Database) -> int:
        await migrate(db)
        from api.bootstrap import build

        kept: int = await build(settings, db).sharing.delete_organisation(None, org_id, now=now())
        return kept

    try:
        kept = run(go, settings)
    except DomainError as exc:
        fail(exc.detail)
        return
    click.echo(f"Organisation deleted; {kept} incidents kept anonymous and masked.", err=True)


async def audit_token_created(
    session: Any, token_id: uuid.UUID, user_id: uuid.UUID, org_id: uuid.UUID, role: Role
) -> None:
    await audit.write(
        session,
        [
            audit.event(
                "token.created",
                None,
                target_type="token",
                target_id=token_id,
                user_id=str(user_id),
                org_id=str(org_id),
                role=role.value,
                via="cli",
            )
        ],
        now=now(),
    )


DEMO_MODE_NOTE = (
    "Demo incidents do not count in risk levels, alerts or assessments unless the server runs "
    "with SENTINELLE_DEMO_MODE=1 (they are shown, marked demo, in lists and on the map)."
)


@main.command()
@click.option("--count", default=400, show_default=True, help="How many synthetic incidents.")
@click.option(
    "--remove", is_flag=True, help="Delete every demo incident (and what hangs on them) instead."
)
@click.pass_obj
def demo(settings: Settings, count: int, remove: bool) -> None:
    """Load a clearly labelled SYNTHETIC demo dataset (organisation and texts say DEMO).

    Demo incidents count in risk only with SENTINELLE_DEMO_MODE=1; `--remove` deletes them."""
    if remove:
        remove_demo_data(settings)
        return
    from incidents.identity.accounts import create_organisation
    from incidents.interop.importer import import_rows
    from incidents.records.demo import DEMO_ORGANISATION, demo_rows
    from incidents.records.tables import OrganisationRow

    async def go(db: Database) -> Any:
        from sqlalchemy import select

        await migrate(db)
        async with db.transaction() as session:
            org_id = (
                await session.execute(
                    select(OrganisationRow.id).where(OrganisationRow.name == DEMO_ORGANISATION)
                )
            ).scalar_one_or_none()
            if org_id is None:
                org_id = await create_organisation(session, DEMO_ORGANISATION, now=now())
        await importlib.import_module("incidents.zones.store").ensure_default_zones(
            db, settings, now=now()
        )
        from api.bootstrap import build

        services = build(settings, db)
        report = await import_rows(
            db,
            demo_rows(now=now(), count=count),
            org_id=org_id,
            user_id=None,
            now=now(),
            is_demo=True,
            events=services.incidents.events,
            cipher=services.cipher,
        )
        # Levels now, so that GET /api/v1/risk shows them at once.
        await services.risk.recompute_all(now=now(), cause="demo data loaded")
        return report

    report = run(go, settings)
    click.echo(
        f"Demo data: {report.created} synthetic incidents added, {report.already_present} already "
        f"there. They are marked DEMO and belong to the organisation {DEMO_ORGANISATION!r}.",
        err=True,
    )
    if settings.demo_mode:
        click.echo(
            "SENTINELLE_DEMO_MODE is on: they count in risk levels as if they were real.", err=True
        )
    else:
        click.echo(DEMO_MODE_NOTE, err=True)
    click.echo("Remove them with `sentinelle demo --remove`.", err=True)


def remove_demo_data(settings: Settings) -> None:
    """`sentinelle demo --remove`: every demo incident deleted in one transaction, audited."""
    from incidents.interop.demo import remove_demo

    def progress(done: int, total: int) -> None:
        click.echo(f"Removing demo incidents: {done}/{total}", err=True)

    async def go(db: Database) -> int:
        await migrate(db)
        from api.bootstrap import build

        services = build(settings, db)  # loads every table that may name an incident
        removed = await remove_demo(db, now=now(), progress=progress)
        if removed:
            await services.risk.recompute_all(now=now(), cause="demo data removed")
        return removed

    removed = run(go, settings)
    if removed:
        click.echo(f"Demo data removed: {removed} synthetic incidents deleted.", err=True)
    else:
        click.echo("No demo incident to remove.", err=True)


def _load_extensions() -> None:
    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(main)


_load_extensions()

__all__ = ["fail", "main", "migrate", "now", "parse_uuid", "run"]
