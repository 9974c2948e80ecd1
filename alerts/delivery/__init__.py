"""Delivery: the dispatcher, Apprise channels and their outbound policy, channel secrets.

May import: incidents and geo; the dispatcher also alerts.outbox and alerts.core's pure
modules and tables; keys, channels and secrets no alerts module but secrets. Nothing here
imports alerts.core.service.
"""
