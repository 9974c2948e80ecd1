"""Incident categories and types and their mappings (pure; imports nothing of Sentinelle but geo)."""
