"""Alembic environment: runs migrations on the connection handed in by api.migrate."""

from __future__ import annotations

from alembic import context

from api.migrations.runner import target_metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # pragma: no cover - only via api.migrate
        raise RuntimeError("Run migrations with `sentinelle db upgrade` (api.migrate.upgrade).")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():  # pragma: no cover
    raise RuntimeError("Offline SQL generation is not supported; use `sentinelle db upgrade`.")
run_migrations_online()
