"""Turning client input into an Incident: the field named on every refusal, patches, clock skew."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from incidents.errors import InvalidField
from incidents.records.model import Status
from incidents.records.schemas import IncidentIn, IncidentPatch
from incidents.records.validation import Rules, apply_patch, incident_from_input

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ORG = uuid.UUID(int=1)
point_in_diema = {"type": "Point", "coordinates": [-9.183, 14.5406]}


def data(**fields: Any) -> IncidentIn:
    body: dict[str, Any] = {"type": "theft", "occurred_at": "2026-11-23T08:00:00Z"}
    body.update(fields)
    if "geometry" not in body and "lat" not in body and "lon" not in body:
        body["geometry"] = point_in_diema
    body = {k: v for k, v in body.items() if v is not None}
    return msgspec.convert(body, IncidentIn, strict=False)


def refused(value: IncidentIn, rules: Rules | None = None) -> InvalidField:
    with pytest.raises(InvalidField) as info:
        incident_from_input(value, org_id=ORG, user_id=None, now=NOW, rules=rules or Rules())
    return info.value


def test_a_valid_report_becomes_version_1_with_the_type_default_severity() -> None:
    incident, geom = incident_from_input(data(), org_id=ORG, user_id=None, now=NOW)
    assert incident.version == 1
    assert incident.status == Status.REPORTED
    assert incident.reported_at == NOW
    assert 1 <= incident.severity <= 5
    assert geom.geom_type == "Point"
    assert incident.geometry == point_in_diema


def test_naive_occurred_at_is_read_as_utc() -> None:
    incident, _ = incident_from_input(
        data(occurred_at="2026-11-23T08:00:00"), org_id=ORG, user_id=None, now=NOW
    )
    assert incident.occurred_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_an_offset_is_converted_to_utc() -> None:
    incident, _ = incident_from_input(
        data(occurred_at="2026-11-23T10:00:00+02:00"), org_id=ORG, user_id=None, now=NOW
    )
    assert incident.occurred_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ahead", "accepted"),
    [(timedelta(minutes=4, seconds=59), True), (timedelta(minutes=5, seconds=1), False)],
)
def test_clock_skew_allows_five_minutes(ahead: timedelta, accepted: bool) -> None:
    value = data(occurred_at=(NOW + ahead).isoformat())
    if accepted:
        incident_from_input(value, org_id=ORG, user_id=None, now=NOW)
    else:
        assert refused(value).field == "occurred_at"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "kidnaping"}, "type"),
        ({"geometry": None, "lat": 14.5}, "lon"),
        ({"geometry": None, "lon": -9.18}, "lat"),
        ({"geometry": None, "lat": -9.18, "lon": 14.54}, "lat"),
        ({"geometry": None, "lat": 91, "lon": 1}, "lat"),
        ({"geometry": None, "lat": 16, "lon": 181}, "lon"),
        ({"geometry": {"type": "Point", "coordinates": [14.54, -9.18]}}, "geometry"),
        ({"geometry": {"type": "Point", "coordinates": [100, 95]}}, "geometry.coordinates[1]"),
        ({"geometry": {"type": "Point", "coordinates": [1, 95]}}, "geometry.coordinates"),
        ({"geometry": {"type": "Point", "coordinates": [181, 16]}}, "geometry.coordinates[0]"),
        ({"geometry": {"type": "Circle", "coordinates": [1, 16]}}, "geometry.type"),
    ],
)
def test_refusals_name_the_field(fields: dict[str, Any], field: str) -> None:
    body = {"geometry": point_in_diema, **fields}
    assert refused(data(**body)).field == field


def test_the_vertex_limit_is_a_rule() -> None:
    line = {"type": "LineString", "coordinates": [[0.0, 16.0], [0.1, 16.1], [0.2, 16.0]]}
    error = refused(data(geometry=line), Rules(max_vertices=2))
    assert error.field == "geometry.coordinates"


def test_a_patch_bumps_the_version_and_keeps_the_rest() -> None:
    incident, _ = incident_from_input(data(severity=2), org_id=ORG, user_id=None, now=NOW)
    later = NOW + timedelta(hours=1)
    patch = msgspec.convert({"severity": 4, "type": "robbery"}, IncidentPatch)
    updated, geom = apply_patch(incident, patch, now=later)
    assert (updated.severity, updated.type, updated.version) == (4, "robbery", 2)
    assert updated.updated_at == later
    assert updated.occurred_at == incident.occurred_at
    assert geom is None


def test_a_patch_may_clear_a_text_field() -> None:
    incident, _ = incident_from_input(data(place_name="Diéma"), org_id=ORG, user_id=None, now=NOW)
    clear = msgspec.convert({"place_name": None}, IncidentPatch)
    updated, _ = apply_patch(incident, clear, now=NOW)
    assert updated.place_name is None


def test_an_empty_patch_is_refused() -> None:
    incident, _ = incident_from_input(data(), org_id=ORG, user_id=None, now=NOW)
    with pytest.raises(InvalidField) as info:
        apply_patch(incident, IncidentPatch(), now=NOW)
    assert info.value.field == "body"


def test_a_patch_moving_to_lat_alone_is_refused() -> None:
    incident, _ = incident_from_input(data(), org_id=ORG, user_id=None, now=NOW)
    with pytest.raises(InvalidField) as info:
        apply_patch(incident, msgspec.convert({"lat": 15.0}, IncidentPatch), now=NOW)
    assert info.value.field == "lon"


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-05:00",
        "1899-12-31T23:59:59Z",
        "3000-01-01T00:00:00Z",
    ],
)
def test_out_of_range_occurred_at_is_named(when: str) -> None:
    with pytest.raises(InvalidField) as caught:
        incident_from_input(data(occurred_at=when), org_id=ORG, user_id=None, now=NOW)
    assert caught.value.field == "occurred_at"
    assert "1900" in caught.value.detail
