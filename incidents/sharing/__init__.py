"""Sharing: who sees an incident in full (TLP), the masked entry, trust networks, consent.

May import: records, identity and audit (the four import each other today), taxonomy,
incidents.db, incidents.errors and geo; not zones, risk, interop or intake. `rules` is pure
but for `view_for`, which imports `views` (rows) inside the function.
"""
