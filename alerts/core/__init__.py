"""Subscriptions, matching, rendering and sending policy, and the alert use cases."""
