"""The Litestar application: auth, errors, protective middleware and the route modules.

May import: alerts, incidents, geo and api's own modules (settings, bootstrap); not api.cli or
api.migrations.
"""
