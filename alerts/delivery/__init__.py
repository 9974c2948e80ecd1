"""Delivery: the dispatcher, Apprise channels and their outbound policy, channel secrets."""
