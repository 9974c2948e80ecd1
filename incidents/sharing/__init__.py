"""Sharing: who sees an incident in full (TLP), the masked entry, trust networks, consent."""
