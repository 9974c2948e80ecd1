"""Incident categories and types and their mappings (pure; imports nothing of Sentinelle but geo).

May import: geo, and nothing else of Sentinelle (today it imports none of it). Pure: no
SQLAlchemy, Litestar, Apprise or Advanced Alchemy, not even indirectly (import-linter checks).
"""
