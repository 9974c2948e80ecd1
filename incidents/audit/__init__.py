"""The audit log: who read or changed what, when and from where.

May import: records, identity and sharing (the four import each other today), taxonomy,
incidents.db, incidents.errors and geo; not zones, risk, interop or intake.
"""
