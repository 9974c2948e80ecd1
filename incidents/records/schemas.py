"""The incident's JSON shapes, one struct per direction: what clients send and what they get back."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from incidents.records.model import (
    LocationPrecision,
    Perpetrator,
    Reliability,
    SharingLevel,
    SourceType,
    Status,
    TimePrecision,
)

Count = Annotated[int, Meta(ge=0, le=100_000, description="A number of people, 0 or more.")]
Severity = Annotated[int, Meta(ge=1, le=5, description="1 minor … 5 critical.")]
Credibility = Annotated[
    int, Meta(ge=1, le=6, description="Admiralty information credibility, 1 confirmed … 6 unknown.")
]
ShortText = Annotated[str, Meta(max_length=200)]
LongText = Annotated[str, Meta(max_length=20_000)]
# Phone forms and spreadsheets in French write decimal commas: "14,62" is read as 14.62.
Degrees = Annotated[
    float | str,
    Meta(description='Decimal degrees, a number or text; a decimal comma is accepted ("14,62").'),
]


class ImpactIn(Struct, forbid_unknown_fields=True):
    killed: Count = 0
    injured: Count = 0
    abducted: Count = 0
    detained: Count = 0
    missing: Count = 0
    aid_workers_affected: bool = False


class IncidentIn(Struct, forbid_unknown_fields=True):
    """A new incident. Give `geometry` (GeoJSON, [lon, lat]) or `lat` and `lon`."""

    type: Annotated[str, Meta(description="A type code from the taxonomy, e.g. `kidnapping`.")]
    occurred_at: Annotated[
        datetime,
        Meta(description="When it happened, ISO 8601; without an offset it is read as UTC."),
    ]
    time_precision: TimePrecision = TimePrecision.EXACT
    geometry: dict[str, Any] | None = None
    lat: Degrees | None = None
    lon: Degrees | None = None
    location_precision: LocationPrecision = LocationPrecision.EXACT
    place_name: ShortText | None = None
    severity: Severity | None = None
    impact: ImpactIn | None = None
    perpetrator: Perpetrator = Perpetrator.UNKNOWN
    actor: ShortText | None = None
    description: LongText | None = None
    source_type: SourceType = SourceType.OTHER
    reliability: Reliability = Reliability.F
    credibility: Credibility = 6
    status: Status = Status.REPORTED
    # Left out: amber, or red for an abduction of aid workers (validation.default_sharing).
    sharing_level: SharingLevel | UnsetType = UNSET
    hide_organisation: bool = False
    external_id: ShortText | None = None


class IncidentPatch(Struct, forbid_unknown_fields=True):
    """Fields to change; absent fields stay as they are. Send `If-Match` with the version."""

    type: str | UnsetType = UNSET
    occurred_at: datetime | UnsetType = UNSET
    time_precision: TimePrecision | UnsetType = UNSET
    geometry: dict[str, Any] | UnsetType = UNSET
    lat: Degrees | UnsetType = UNSET
    lon: Degrees | UnsetType = UNSET
    location_precision: LocationPrecision | UnsetType = UNSET
    place_name: ShortText | UnsetType | None = UNSET
    severity: Severity | UnsetType = UNSET
    impact: ImpactIn | UnsetType = UNSET
    perpetrator: Perpetrator | UnsetType = UNSET
    actor: ShortText | UnsetType | None = UNSET
    description: LongText | UnsetType | None = UNSET
    source_type: SourceType | UnsetType = UNSET
    reliability: Reliability | UnsetType = UNSET
    credibility: Credibility | UnsetType = UNSET
    status: Status | UnsetType = UNSET
    sharing_level: SharingLevel | UnsetType = UNSET
    hide_organisation: bool | UnsetType = UNSET


class RetractIn(Struct, forbid_unknown_fields=True):
    reason: LongText | None = None


class ImpactOut(Struct):
    killed: int
    injured: int
    abducted: int
    detained: int
    missing: int
    aid_workers_affected: bool


class ZoneRef(Struct):
    id: str
    code: str
    name: str
    kind: str


class Corroboration(Struct):
    """Other reports of the same event (incidents.events) that the viewer may read in full."""

    reports: int  # this one and the linked ones: "corroborated by N reports"
    linked: list[uuid.UUID]


class IncidentProperties(Struct):
    """Every field but id and geometry (null when empty) in a full view.

    In a masked view only category, coarse time and place remain: the other fields are left
    UNSET and so do not appear at all.
    """

    category: str
    occurred_at: datetime
    time_precision: str
    location_precision: str
    masked: bool = False
    type: str | UnsetType | None = UNSET
    type_label: str | UnsetType | None = UNSET
    reported_at: datetime | UnsetType | None = UNSET
    place_name: str | UnsetType | None = UNSET
    severity: int | UnsetType | None = UNSET
    impact: ImpactOut | UnsetType | None = UNSET
    perpetrator: str | UnsetType | None = UNSET
    actor: str | UnsetType | None = UNSET
    description: str | UnsetType | None = UNSET
    source_type: str | UnsetType | None = UNSET
    reliability: str | UnsetType | None = UNSET
    credibility: int | UnsetType | None = UNSET
    status: str | UnsetType | None = UNSET
    sharing_level: str | UnsetType | None = UNSET
    organisation_id: uuid.UUID | UnsetType | None = UNSET
    organisation: str | UnsetType | None = UNSET
    reported_by: uuid.UUID | UnsetType | None = UNSET
    version: int | UnsetType | None = UNSET
    created_at: datetime | UnsetType | None = UNSET
    updated_at: datetime | UnsetType | None = UNSET
    zones: list[ZoneRef] | UnsetType = UNSET
    demo: bool | UnsetType = UNSET
    # Only in a full view, and only when the viewer may read another report of the event.
    corroboration: Corroboration | UnsetType = UNSET


class IncidentFeature(Struct):
    type: Literal["Feature"]
    id: uuid.UUID
    geometry: dict[str, Any]
    properties: IncidentProperties


class IncidentCollection(Struct):
    type: Literal["FeatureCollection"]
    features: list[IncidentFeature]
    next_cursor: str | None = None
