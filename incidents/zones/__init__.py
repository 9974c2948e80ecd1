"""Zones in the database: their tables, CRUD and which zones each incident falls in."""
