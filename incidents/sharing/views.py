"""An incident row shown in full (for the server and for viewers entitled to it); the fields
themselves are decided by `incidents.sharing.rules.full_feature` and `mask`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from incidents.records.schemas import IncidentFeature, ZoneRef
from incidents.records.store import TextCipher, incident_from_row
from incidents.records.tables import IncidentRow
from incidents.sharing.rules import full_feature


def feature_from_row(
    row: IncidentRow,
    *,
    zones: Mapping[uuid.UUID, Sequence[ZoneRef]] | None = None,
    cipher: TextCipher | None = None,
) -> IncidentFeature:
    incident = incident_from_row(row, cipher)
    return full_feature(incident, zones=(zones or {}).get(row.id, ()), demo=row.is_demo)
