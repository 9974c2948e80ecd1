"""The transactional outbox: alerts and deliveries written with the change that caused them.

May import: alerts.delivery.keys, channels and secrets, alerts.core's pure modules, tables and
schemas, incidents and geo; not alerts.core.service or alerts.delivery.dispatcher.
"""
