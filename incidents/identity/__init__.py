"""Organisations, users and API tokens: who is asking, for which organisation, with which role."""
