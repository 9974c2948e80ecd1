"""An incident's fields are grouped in one place (incidents.records.model); every format, the
audit of changes and the re-import take theirs from there or cover them. A field added to
Incident and forgotten in a group or a format fails here, naming where."""

from __future__ import annotations

import dataclasses

import pytest

from incidents.interop import csv_io, geojson_io, hxl
from incidents.interop import service as interop_service
from incidents.records import model
from incidents.records.model import (
    ASSESSMENT_FIELDS,
    IDENTITY_FIELDS,
    RECORD_FIELDS,
    SHARING_FIELDS,
    WHAT_HAPPENED_FIELDS,
    Incident,
)
from incidents.sharing import service as sharing_service

GROUPS = {
    "IDENTITY_FIELDS": IDENTITY_FIELDS,
    "WHAT_HAPPENED_FIELDS": WHAT_HAPPENED_FIELDS,
    "ASSESSMENT_FIELDS": ASSESSMENT_FIELDS,
    "SHARING_FIELDS": SHARING_FIELDS,
    "RECORD_FIELDS": RECORD_FIELDS,
}
# What every export carries: what happened, how far to trust it, how it is shared.
EXPORTED = {*WHAT_HAPPENED_FIELDS, *ASSESSMENT_FIELDS, "sharing_level"}


def incident_fields(columns: tuple[str, ...]) -> set[str]:
    """The Incident fields a format's columns carry (impact_* and killed… are `impact`, lat/lon
    and geometry are `geometry`)."""
    out: set[str] = set()
    impacts = {*model.IMPACT_FIELDS, "aid_workers_affected"}
    for column in columns:
        name = column.removeprefix("impact_")
        if name in impacts:
            out.add("impact")
        elif column in ("lat", "lon"):
            out.add("geometry")
        else:
            out.add(column)
    return out


def test_every_field_of_an_incident_is_in_exactly_one_group() -> None:
    fields = [f.name for f in dataclasses.fields(Incident)]
    for name in fields:
        homes = [group for group, members in GROUPS.items() if name in members]
        assert len(homes) == 1, f"Incident.{name} is in {homes or 'no group'} of records.model"
    grouped = [name for members in GROUPS.values() for name in members]
    assert sorted(grouped) == sorted(fields), "a group names a field Incident does not have"


@pytest.mark.parametrize(
    ("where", "columns"),
    [
        ("incidents.interop.csv_io.CSV_COLUMNS", csv_io.CSV_COLUMNS),
        ("incidents.interop.hxl.HXL_COLUMNS", tuple(c for c, _ in hxl.HXL_COLUMNS)),
        ("incidents.interop.geojson_io._EXPORT_PROPERTIES", geojson_io._EXPORT_PROPERTIES),
    ],
)
def test_every_export_carries_what_happened_its_assessment_and_sharing(
    where: str, columns: tuple[str, ...]
) -> None:
    missing = EXPORTED - incident_fields(columns)
    assert not missing, f"{where} lacks {sorted(missing)}"
    assert "hide_organisation" not in columns  # the reporter's choice stays with the service


def test_a_re_import_may_change_what_happened_only() -> None:
    assert set(interop_service.CONTENT_FIELDS) == set(WHAT_HAPPENED_FIELDS)


def test_the_audit_sees_every_change_but_bookkeeping() -> None:
    audited = set(sharing_service.AUDITED_FIELDS)
    assert audited == {"geometry", *WHAT_HAPPENED_FIELDS, *ASSESSMENT_FIELDS, *SHARING_FIELDS}
