"""Missions: a journey plan, route risk at planning, check-ins by SMS, web and API, duress,
overdue escalation, incidents near a mission on the road, the notification export, the purge.

Above alerts (it writes its alerts through alerts.outbox), below api. May import geo,
incidents and alerts; nothing below imports it. `model` is pure.
"""
