"""Sharing: who sees an incident in full (TLP), the masked entry, trust networks, consent.

One module per concept: `rules` (pure: levels, access, the masked entry), `visibility` (read
policy, presenter, SQL twin of full access, named people), `cipher` (narratives at rest),
`guard` (consent for sharing changes, audit of writes), `networks` (trust networks),
`requests` (sharing requests), `admin` (organisations, tokens, export, deletion, audit log);
`service.SharingService`: the one object the API and the CLI use (networks, requests, admin,
named people, the public list).

May import: records, identity and audit (the four import each other today), taxonomy,
incidents.db, incidents.errors and geo; not zones, risk, interop or intake. `rules` is pure
but for `view_for`, which imports `views` (rows) inside the function.
"""
