"""Subscriptions, matching, rendering and sending policy, and the alert use cases.

May import: incidents and geo. render, matching, policy and subscription are pure and import
only each other (render -> policy -> subscription; matching -> subscription); `service`, the
top of alerts, may import outbox and delivery; nothing in alerts imports `service`.
"""
