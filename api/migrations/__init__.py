"""Alembic migrations and the runner that applies them (the only way the schema is made).

May import: incidents (the database) and api's own modules; not api.http or api.cli.
"""
