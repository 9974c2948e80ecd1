"""Risk: the pure scoring model, zone scores and level changes, area and route assessment, skill.

May import: zones (risk and zones import each other today), records, identity, sharing, audit,
taxonomy, incidents.db, incidents.errors and geo; not interop or intake. `model` is pure.
"""
