"""The `sentinelle` command and its sub-commands.

May import: everything: api.http, api.migrations, alerts, incidents and geo.
"""
