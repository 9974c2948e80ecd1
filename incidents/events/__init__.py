"""Events: the reports of one event linked to its canonical report, counted once (may import
records, sharing, audit, identity, taxonomy, db and errors; not risk, zones or what is above)."""

from incidents.events.linking import (
    EventLinks,
    corroboration,
    event_reports,
    promote_after,
    sources_seen,
)
from incidents.events.matching import (
    LinkRules,
    Report,
    audience_within,
    canonical_for,
    same_audience,
)

__all__ = [
    "EventLinks",
    "LinkRules",
    "Report",
    "audience_within",
    "canonical_for",
    "corroboration",
    "event_reports",
    "promote_after",
    "same_audience",
    "sources_seen",
]
