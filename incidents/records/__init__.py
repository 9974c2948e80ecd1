"""The incident record: model, validation, JSON shapes, tables, store and use cases, and the
write events (`events`) every write of an incident hands to the handlers api/bootstrap declares.

May import: identity, sharing and audit (the four import each other today), taxonomy,
incidents.db, incidents.errors and geo; not zones, risk, interop or intake. `model` is pure.
"""
