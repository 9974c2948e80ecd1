"""`sentinelle trust ...`, `audit purge` and `keys rotate`: administering sharing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import click

from api.cli.main import fail, migrate, now, parse_uuid, run
from api.settings import Settings
from incidents.audit import log as audit
from incidents.db import Database
from incidents.errors import DomainError
from incidents.sharing.cipher import Cipher, load_secret_keys, rotate_narratives
from incidents.sharing.networks import (
    TrustNetwork,
    add_member,
    create_network,
    delete_network,
    list_networks,
    remove_member,
)


def _show(network: TrustNetwork | None) -> str:
    if network is None:
        return "The last member left: the trust network is deleted."
    members = ", ".join(str(o) for o in network.org_ids) or "(no member)"
    owner = f" (owned by {network.owner_org_id})" if network.owner_org_id else ""
    return f"{network.id}  {network.name}{owner}: {members}"


def register(main: click.Group) -> None:
    @main.group()
    def trust() -> None:
        """Trust networks: organisations that see each other's `amber` incidents."""

    @trust.command("list")
    @click.pass_obj
    def trust_list(settings: Settings) -> None:
        """List trust networks and their member organisations."""

        async def go(db: Database) -> list[TrustNetwork]:
            await migrate(db)
            async with db.read() as session:
                return await list_networks(session)

        for network in run(go, settings):
            click.echo(_show(network))

    @trust.command("create")
    @click.argument("name")
    @click.option("--org", "orgs", multiple=True, help="A member organisation id (repeat).")
    @click.pass_obj
    def trust_create(settings: Settings, name: str, orgs: tuple[str, ...]) -> None:
        """Create the trust network NAME with the given organisations as members, no owner.

        Over the API an organisation's admin creates networks its organisation owns and invites
        others; a network made here has no owner and only this command line changes it."""
        org_ids = [parse_uuid(o, "--org") for o in orgs]

        async def go(db: Database) -> TrustNetwork:
            await migrate(db)
            async with db.transaction() as session:
                return await create_network(session, None, name, org_ids, now=now())

        try:
            click.echo(_show(run(go, settings)))
        except DomainError as exc:
            fail(exc.detail)

    @trust.command("add")
    @click.argument("network")
    @click.argument("org")
    @click.pass_obj
    def trust_add(settings: Settings, network: str, org: str) -> None:
        """Add organisation ORG to trust network NETWORK (ids)."""
        network_id, org_id = parse_uuid(network, "NETWORK"), parse_uuid(org, "ORG")

        async def go(db: Database) -> TrustNetwork:
            async with db.transaction() as session:
                return await add_member(session, None, network_id, org_id, now=now())

        try:
            click.echo(_show(run(go, settings)))
        except DomainError as exc:
            fail(exc.detail)

    @trust.command("remove")
    @click.argument("network")
    @click.argument("org")
    @click.pass_obj
    def trust_remove(settings: Settings, network: str, org: str) -> None:
        """Remove organisation ORG from trust network NETWORK (ids)."""
        network_id, org_id = parse_uuid(network, "NETWORK"), parse_uuid(org, "ORG")

        async def go(db: Database) -> TrustNetwork | None:
            async with db.transaction() as session:
                return await remove_member(session, None, network_id, org_id, now=now())

        try:
            click.echo(_show(run(go, settings)))
        except DomainError as exc:
            fail(exc.detail)

    @trust.command("delete")
    @click.argument("network")
    @click.pass_obj
    def trust_delete(settings: Settings, network: str) -> None:
        """Delete trust network NETWORK (its members stay, they just stop trusting each other)."""
        network_id: uuid.UUID = parse_uuid(network, "NETWORK")

        async def go(db: Database) -> None:
            async with db.transaction() as session:
                await delete_network(session, None, network_id, now=now())

        try:
            run(go, settings)
        except DomainError as exc:
            fail(exc.detail)
        click.echo("Trust network deleted.", err=True)

    @main.group("audit")
    def audit_group() -> None:
        """The audit log."""

    @audit_group.command("purge")
    @click.option(
        "--days",
        type=int,
        default=None,
        help="Keep this many days (default: SENTINELLE_AUDIT_RETENTION_DAYS).",
    )
    @click.pass_obj
    def audit_purge(settings: Settings, days: int | None) -> None:
        """Delete audit entries older than the retention period."""
        keep = settings.audit_retention_days if days is None else days
        if keep < 1:
            fail("--days must be 1 or more.")

        async def go(db: Database) -> int:
            await migrate(db)
            async with db.transaction() as session:
                return await audit.purge(session, older_than=now() - timedelta(days=keep))

        click.echo(f"{run(go, settings)} audit entries older than {keep} days deleted.", err=True)

    @main.group("keys")
    def keys_group() -> None:
        """Encryption keys of narratives at rest."""

    @keys_group.command("rotate")
    @click.pass_obj
    def keys_rotate(settings: Settings) -> None:
        """Re-encrypt every narrative with the first key of SENTINELLE_SECRET_KEYS."""
        try:
            cipher = Cipher(load_secret_keys(settings.secret_keys, settings.var_path))
        except DomainError as exc:
            fail(exc.detail)
            return

        async def go(db: Database) -> int:
            await migrate(db)
            return await rotate_narratives(db, cipher)

        try:
            done = run(go, settings)
        except ValueError as exc:
            fail(f"{exc}: put the old key after the new one in SENTINELLE_SECRET_KEYS.")
            return
        click.echo(
            f"{done} narratives re-encrypted with the first key; the old keys can now be removed.",
            err=True,
        )
