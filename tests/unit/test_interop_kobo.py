"""KoboToolbox: the XLSForm converts, and its submissions become incidents or clear refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pyxform.xls2xform import convert

from incidents.intake.kobo import kobo_to_incident
from incidents.taxonomy.catalogue import TYPES

ROOT = Path(__file__).resolve().parents[2]
FORM = ROOT / "docs" / "forms" / "sentinelle_incident.xlsx"
SUBMISSION = ROOT / "tests" / "fixtures" / "kobo_submission.json"


@pytest.fixture(name="submission")
def fx_submission() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SUBMISSION.read_text(encoding="utf-8"))
    return data


def without(payload: dict[str, Any], *suffixes: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if not k.endswith(suffixes)}


def test_form_converts_to_xform_without_warnings() -> None:
    result = convert(xlsform=str(FORM))

    assert result.warnings == []
    assert "<h:title>Sentinelle" in result.xform
    assert "jr:constraintMsg" in result.xform


def test_form_is_bilingual_and_lists_every_type() -> None:
    workbook = load_workbook(FORM, read_only=True)
    survey_header = next(workbook["survey"].iter_rows(values_only=True))
    choices = list(workbook["choices"].iter_rows(values_only=True))

    assert {"label::Français (fr)", "label::English (en)"} <= set(survey_header)
    type_names = {row[1] for row in choices if row[0] == "incident_type"}
    assert type_names == set(TYPES), "taxonomy changed: run docs/forms/build_form.py"
    names = {row[1] for row in workbook["survey"].iter_rows(values_only=True)}
    assert {
        "incident_type",
        "occurred_at",
        "location",
        "place_name",
        "severity",
        "killed",
        "injured",
        "abducted",
        "aid_workers",
        "perpetrator",
        "description",
        "sharing_level",
    } <= names


def test_form_field_names_match_the_fixture(submission: dict[str, Any]) -> None:
    workbook = load_workbook(FORM, read_only=True)
    names = {row[1] for row in workbook["survey"].iter_rows(values_only=True) if row[1]}
    fixture_fields = {k.rsplit("/", 1)[-1] for k in submission if not k.startswith("_")}

    assert fixture_fields - {"uuid", "instanceID", "__version__", "start", "end"} <= names


def test_submission_becomes_an_incident(submission: dict[str, Any]) -> None:
    result = kobo_to_incident(submission)

    assert result.error is None
    assert result.row_number == 231456789
    assert result.incident == {
        "type": "kidnapping",
        "occurred_at": "2024-03-14T06:30:00Z",
        "time_precision": "exact",
        "geometry": {"type": "Point", "coordinates": [-9.192143, 14.540012]},
        "location_precision": "exact",
        "place_name": "Diéma",
        "impact": {
            "killed": 0,
            "injured": 1,
            "abducted": 2,
            "detained": 0,
            "missing": 0,
            "aid_workers_affected": True,
        },
        "severity": 5,
        "perpetrator": "non_state_armed_group",
        "sharing_level": "amber",
        "description": submission["description"],
        "status": "reported",
        "external_id": "kobo:5d0e6a2c-93f1-4c7b-8a65-2f1e0b9c7d41",
    }


def test_poor_gps_accuracy_lowers_precision(submission: dict[str, Any]) -> None:
    submission["group_location/location"] = "14.54 -9.19 262.0 1200"

    incident = kobo_to_incident(submission, max_accuracy_m=500).incident

    assert incident is not None
    assert incident["location_precision"] == "near"


def test_no_gps_but_known_place_uses_the_gazetteer(submission: dict[str, Any]) -> None:
    payload = without(submission, "/location", "_geolocation")
    payload["group_location/place_name"] = "Menaka"

    incident = kobo_to_incident(payload).incident

    assert incident is not None
    assert incident["location_precision"] == "locality"
    assert incident["place_name"] == "Ménaka"


def test_no_gps_and_no_place_is_refused(submission: dict[str, Any]) -> None:
    result = kobo_to_incident(without(submission, "/location", "/place_name", "_geolocation"))

    assert result.incident is None
    assert result.field == "location"
    assert "GPS" in (result.error or "")


def test_no_gps_and_unknown_place_is_refused(submission: dict[str, Any]) -> None:
    payload = without(submission, "/location")
    payload["group_location/place_name"] = "Zorglubville"

    result = kobo_to_incident(payload)

    assert result.field == "location"
    assert "Zorglubville" in (result.error or "")


def test_without_groups_and_without_date(submission: dict[str, Any]) -> None:
    flat = {
        k.rsplit("/", 1)[-1] if not k.startswith("meta/") else k: v
        for k, v in submission.items()
        if not k.endswith("occurred_at")
    }

    incident = kobo_to_incident(flat).incident

    assert incident is not None
    assert incident["occurred_at"] == "2024-03-14T08:10:02Z"  # _submission_time
    assert incident["time_precision"] == "day"


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("group_incident/incident_type", "enlevemnt", "type"),
        ("group_incident/severity", "9", "severity"),
        ("group_impact/killed", "-2", "killed"),
        ("group_impact/aid_workers", "maybe", "aid_workers"),
        ("perpetrator", "aliens", "perpetrator"),
        ("group_location/location", "95.0 -9.19 0 5", "location"),
        ("sharing_level", "secret", "sharing_level"),
    ],
)
def test_bad_values_are_refused_with_their_field(
    submission: dict[str, Any], key: str, value: str, field: str
) -> None:
    submission[key] = value

    result = kobo_to_incident(submission)

    assert result.incident is None
    assert result.field == field
    assert result.error


def test_unknown_type_suggests_the_right_code(submission: dict[str, Any]) -> None:
    submission["group_incident/incident_type"] = "enlevement"

    assert "kidnapping" in (kobo_to_incident(submission).error or "")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({f"group_x/field_{i}": "x" for i in range(600)}, "submission"),
        ({"group_x/notes": "x" * 20_001}, "notes"),
        ({"x" * 201: "1"}, "submission"),
        ({"_notes": [{"note": "x"}] * 600}, "submission"),
    ],
)
def test_a_submission_larger_than_any_form_is_refused(
    submission: dict[str, Any], extra: dict[str, Any], field: str
) -> None:
    result = kobo_to_incident({**submission, **extra})

    assert result.incident is None
    assert result.field == field
