"""Zones in the database: their tables, CRUD and which zones each incident falls in (the zone
placement step of the write events).

May import: risk (zones and risk import each other today), records, identity, sharing, audit,
taxonomy, incidents.db, incidents.errors and geo; not interop or intake.
"""
