"""Incident categories and types and their mappings (pure; their labels are the vocabulary's).

May import: geo and incidents.vocabulary (the labels), nothing else of Sentinelle. Pure: no
SQLAlchemy, Litestar, Apprise or Advanced Alchemy, not even indirectly (import-linter checks).
"""
