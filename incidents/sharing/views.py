"""How an incident is shown to a viewer: the one place that decides which fields leave the service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from incidents.records.model import Incident
from incidents.records.schemas import ImpactOut, IncidentFeature, IncidentProperties, ZoneRef
from incidents.records.store import incident_from_row
from incidents.records.tables import IncidentRow
from incidents.taxonomy import catalogue as taxonomy


def full_feature(
    incident: Incident,
    *,
    zones: Sequence[ZoneRef] = (),
    organisation: str | None = None,
    demo: bool = False,
    language: str = "fr",
) -> IncidentFeature:
    """Every field: for viewers entitled to the incident's details."""
    impact = incident.impact
    props = IncidentProperties(
        category=taxonomy.get_type(incident.type).category,
        occurred_at=incident.occurred_at,
        time_precision=incident.time_precision.value,
        location_precision=incident.location_precision.value,
        type=incident.type,
        type_label=taxonomy.get_type(incident.type).label(language),
        reported_at=incident.reported_at,
        place_name=incident.place_name,
        severity=incident.severity,
        impact=ImpactOut(
            killed=impact.killed,
            injured=impact.injured,
            abducted=impact.abducted,
            detained=impact.detained,
            missing=impact.missing,
            aid_workers_affected=impact.aid_workers_affected,
        ),
        perpetrator=incident.perpetrator.value,
        actor=incident.actor,
        description=incident.description,
        source_type=incident.source_type.value,
        reliability=incident.reliability.value,
        credibility=incident.credibility,
        status=incident.status.value,
        sharing_level=incident.sharing_level.value,
        organisation_id=incident.org_id,
        organisation=organisation,
        reported_by=incident.user_id,
        version=incident.version,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
        zones=list(zones),
        demo=demo,
    )
    return IncidentFeature(
        type="Feature", id=incident.id, geometry=incident.geometry, properties=props
    )


def feature_from_row(
    row: IncidentRow, *, zones: Mapping[object, Sequence[ZoneRef]] | None = None
) -> IncidentFeature:
    incident = incident_from_row(row)
    return full_feature(incident, zones=(zones or {}).get(row.id, ()), demo=row.is_demo)
