"""The incident as the rest of Sentinelle sees it: plain data, enums and validation rules."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class TimePrecision(enum.StrEnum):
    EXACT = "exact"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class LocationPrecision(enum.StrEnum):
    EXACT = "exact"
    NEAR = "near"
    LOCALITY = "locality"
    ADMIN2 = "admin2"
    ADMIN1 = "admin1"


class Perpetrator(enum.StrEnum):
    NON_STATE_ARMED_GROUP = "non_state_armed_group"
    STATE_FORCES = "state_forces"
    FOREIGN_FORCES = "foreign_forces"
    CRIMINAL = "criminal"
    COMMUNITY_MILITIA = "community_militia"
    UNKNOWN = "unknown"


class SourceType(enum.StrEnum):
    DIRECT_WITNESS = "direct_witness"
    STAFF = "staff"
    PARTNER = "partner"
    COMMUNITY = "community"
    AUTHORITIES = "authorities"
    MEDIA = "media"
    SOCIAL_MEDIA = "social_media"
    SECURITY_NETWORK = "security_network"
    OTHER = "other"


class Reliability(enum.StrEnum):
    """Admiralty code, source reliability: A completely reliable ... F cannot be judged."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"


class Status(enum.StrEnum):
    REPORTED = "reported"
    VERIFIED = "verified"
    DISPUTED = "disputed"
    RETRACTED = "retracted"


class SharingLevel(enum.StrEnum):
    """TLP 2.0, from the most to the least restricted."""

    RED = "red"
    AMBER_STRICT = "amber_strict"
    AMBER = "amber"
    GREEN = "green"
    CLEAR = "clear"


class Role(enum.StrEnum):
    """What a user may do. `admin` administers its own organisation only; `operator` runs the
    platform (creates and deletes organisations, owns official zones) and sees incidents as an
    outsider does."""

    REPORTER = "reporter"
    OFFICER = "officer"
    PLANNER = "planner"
    ADMIN = "admin"
    OPERATOR = "operator"


IMPACT_FIELDS = ("killed", "injured", "abducted", "detained", "missing")

# An incident's fields by what they say, in one place. The formats (CSV, HXL, GeoJSON, the API's
# CSV list), the audit of changes and the re-import take their fields from these groups, and
# tests/unit/test_field_lists.py fails when a field of Incident is in no group or is missing
# from a format: adding a field cannot be forgotten in one of them.
IDENTITY_FIELDS = ("id", "external_id")
WHAT_HAPPENED_FIELDS = (
    "type",
    "occurred_at",
    "time_precision",
    "location_precision",
    "place_name",
    "severity",
    "impact",
    "perpetrator",
    "actor",
    "description",
)
ASSESSMENT_FIELDS = ("source_type", "reliability", "credibility", "status")
SHARING_FIELDS = ("sharing_level", "hide_organisation")
RECORD_FIELDS = (
    "geometry",
    "reported_at",
    "org_id",
    "user_id",
    "version",
    "created_at",
    "updated_at",
    "zones",
)


@dataclass(frozen=True, slots=True)
class Impact:
    killed: int = 0
    injured: int = 0
    abducted: int = 0
    detained: int = 0
    missing: int = 0
    aid_workers_affected: bool = False


@dataclass(slots=True)
class Incident:
    """One security incident. `geometry` is a GeoJSON geometry mapping in WGS84 (lon, lat)."""

    id: uuid.UUID
    type: str
    occurred_at: datetime
    reported_at: datetime
    geometry: dict[str, Any]
    org_id: uuid.UUID
    user_id: uuid.UUID | None
    time_precision: TimePrecision = TimePrecision.EXACT
    location_precision: LocationPrecision = LocationPrecision.EXACT
    place_name: str | None = None
    severity: int = 3
    impact: Impact = field(default_factory=Impact)
    perpetrator: Perpetrator = Perpetrator.UNKNOWN
    actor: str | None = None
    description: str | None = None
    source_type: SourceType = SourceType.OTHER
    reliability: Reliability = Reliability.F
    credibility: int = 6
    status: Status = Status.REPORTED
    sharing_level: SharingLevel = SharingLevel.AMBER
    hide_organisation: bool = False
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None
    zones: list[dict[str, Any]] = field(default_factory=list)
    external_id: str | None = None
