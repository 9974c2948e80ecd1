"""Alembic migrations and the runner that applies them (the only way the schema is made)."""
