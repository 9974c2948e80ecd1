"""Zones in the database: their tables, CRUD and which zones each incident falls in.

May import: risk (zones and risk import each other today), records, identity, sharing, audit,
taxonomy, incidents.db, incidents.errors and geo; not interop or intake.
"""
