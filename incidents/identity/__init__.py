"""Organisations, users and API tokens: who is asking, for which organisation, with which role.

May import: records, sharing and audit (the four import each other today), taxonomy,
incidents.db, incidents.errors and geo; not zones, risk, interop or intake.
"""
