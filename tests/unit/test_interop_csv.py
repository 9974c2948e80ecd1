"""Plain CSV import/export with our column names, header checks, and upload format detection."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from incidents.interop.csv_io import (
    CSV_COLUMNS,
    check_header,
    csv_to_incidents,
    detect_format,
    incidents_to_csv,
    write_csv,
)
from incidents.interop.rows import ImportFormatError

kidnapping_at_diema: dict[str, Any] = {
    "type": "kidnapping",
    "occurred_at": "2024-03-14T06:30:00Z",
    "time_precision": "exact",
    "geometry": {"type": "Point", "coordinates": [-9.1921, 14.54]},
    "location_precision": "exact",
    "place_name": "Diéma",
    "severity": 5,
    "impact": {
        "killed": 0,
        "injured": 1,
        "abducted": 2,
        "detained": 0,
        "missing": 0,
        "aid_workers_affected": True,
    },
    "perpetrator": "non_state_armed_group",
    "description": "Deux agents enlevés, véhicule laissé sur place.",
    "source_type": "staff",
    "reliability": "B",
    "credibility": 2,
    "status": "verified",
    "sharing_level": "amber",
    "external_id": "kobo:5d0e6a2c",
}
zone_around_menaka: dict[str, Any] = {
    **kidnapping_at_diema,
    "type": "blockade",
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[2.3, 15.8], [2.5, 15.8], [2.5, 16.0], [2.3, 15.8]]],
    },
    "location_precision": "admin2",
    "external_id": "manual:2",
}


def csv_bytes(*lines: str) -> io.BytesIO:
    return io.BytesIO(("\n".join(lines) + "\n").encode("utf-8"))


def test_export_then_import_gives_the_same_incidents() -> None:
    buffer = io.StringIO(newline="")
    assert write_csv([kidnapping_at_diema, zone_around_menaka], buffer) == 2

    results = list(csv_to_incidents(io.BytesIO(buffer.getvalue().encode("utf-8"))))

    assert [r.error for r in results] == [None, None]
    assert results[0].incident == kidnapping_at_diema
    assert results[1].incident == zone_around_menaka


def test_export_has_lat_lon_and_impact_columns() -> None:
    header, row = list(incidents_to_csv([kidnapping_at_diema]))
    fields = dict(zip(header, row, strict=True))

    assert header == list(CSV_COLUMNS)
    assert (fields["lat"], fields["lon"]) == ("14.54", "-9.1921")
    assert fields["impact_abducted"] == "2"
    assert fields["impact_aid_workers_affected"] == "true"


def test_semicolon_file_from_french_excel_with_bom_and_place_only() -> None:
    data = "\ufefftype;occurred_at;place_name;impact_killed\narmed_attack;14/03/2024;Ménaka;3\n"

    (result,) = csv_to_incidents(io.BytesIO(data.encode("utf-8")))

    assert result.incident is not None
    assert result.incident["location_precision"] == "locality"
    assert result.incident["occurred_at"] == "2024-03-14T00:00:00Z"
    assert result.incident["impact"]["killed"] == 3


def test_unknown_columns_are_refused_before_any_row() -> None:
    rows = csv_to_incidents(
        csv_bytes("type,occurred_at,lat,lon,victimes", "ied,2024-01-01,14,-9,2")
    )

    with pytest.raises(ImportFormatError) as caught:
        next(rows)
    assert caught.value.field == "header"
    assert "victimes" in caught.value.message


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (["occurred_at", "lat", "lon"], r"missing column\(s\): type"),
        (["type", "occurred_at"], "no location columns"),
        (["type", "occurred_at", "lat", "lon", "lat"], "repeated"),
    ],
)
def test_check_header(header: list[str], words: str) -> None:
    with pytest.raises(ImportFormatError, match=words):
        check_header(header)


def test_undecodable_bytes_reject_only_their_row() -> None:
    data = (
        b"type,occurred_at,lat,lon,place_name\n"
        b"ied,2024-01-01,14.5,-9.2,Di\xe9ma\n"  # Latin-1 from an old Excel
        b"ied,2024-01-02,14.5,-9.2,Diema\n"
    )

    results = list(csv_to_incidents(io.BytesIO(data)))

    assert [r.outcome for r in results] == ["rejected", "accepted"]
    assert results[0].row_number == 2
    assert "UTF-8" in (results[0].error or "")


def test_non_utf8_header_is_one_clear_error() -> None:
    with pytest.raises(ImportFormatError, match="UTF-8"):
        next(csv_to_incidents(io.BytesIO(b"type,occurred_at,lat,lon,d\xe9tails\n")))


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("enlevemnt,2024-01-01,14.5,-9.2,", "type"),
        ("ied,yesterday,14.5,-9.2,", "occurred_at"),
        ("ied,2024-01-01,14.5,,", "lon"),
        ("ied,2024-01-01,914.5,-9.2,", "lat"),
        ("ied,2024-01-01,14.5,-9.2,9", "severity"),
        ("ied,2024-01-01,,,", "location"),
    ],
)
def test_bad_rows_name_their_field(row: str, field: str) -> None:
    (result,) = csv_to_incidents(csv_bytes("type,occurred_at,lat,lon,severity", row))

    assert result.incident is None
    assert result.field == field
    assert result.row_number == 2


def test_unknown_type_suggests_a_code() -> None:
    (result,) = csv_to_incidents(
        csv_bytes("type,occurred_at,lat,lon", "kidnaping,2024-01-01,14,-9")
    )

    assert "kidnapping" in (result.error or "")


@pytest.mark.parametrize(
    ("first_bytes", "filename", "expected"),
    [
        (b"data_id,iso,event_id_cnty,event_date,event_type,sub_event_type\n", "x.csv", "acled"),
        (b"Type,Date\n#event+type,#date+occurred\n", "export.csv", "hxl"),
        (b'\xef\xbb\xbf{"type": "FeatureCollection"', "upload", "geojson"),
        (b"", "incidents.geojson", "geojson"),
        (b"type,occurred_at,lat,lon\n", "incidents.csv", "csv"),
        (b"type;occurred_at;place_name\n", "incidents.csv", "csv"),
    ],
)
def test_detect_format(first_bytes: bytes, filename: str, expected: str) -> None:
    assert detect_format(first_bytes, filename) == expected


def test_spreadsheets_are_refused_with_advice() -> None:
    with pytest.raises(ImportFormatError, match="CSV UTF-8"):
        detect_format(b"PK\x03\x04rest", "incidents.xlsx")


def test_csv_module_reads_the_export() -> None:
    buffer = io.StringIO(newline="")
    write_csv([kidnapping_at_diema], buffer)

    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert rows[0]["description"] == kidnapping_at_diema["description"]


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://x","y")',
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        "=cmd|' /C calc'!A0",
    ],
)
def test_formula_cells_are_neutralised_and_read_back_as_text(text: str) -> None:
    incident = {**kidnapping_at_diema, "description": text, "actor": text, "place_name": text}
    out = io.StringIO()
    write_csv([incident], out)
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    for column in ("description", "actor", "place_name"):
        assert row[column] == "'" + text
    assert row["lon"] == "-9.1921"  # a negative number stays a number
    back = next(csv_to_incidents(io.StringIO(out.getvalue())))
    assert back.incident is not None
    assert back.incident["description"] == text.strip()


@pytest.mark.parametrize("text", ["-9.18", "+1", "1e-3", "'=already", "a=b", "Diéma", ""])
def test_numbers_and_plain_text_are_left_alone(text: str) -> None:
    from incidents.interop.rows import neutralise_cell

    assert neutralise_cell(text) == text


def test_an_out_of_range_date_is_a_row_error() -> None:
    text = "type,occurred_at,lat,lon\nkidnapping,0001-01-01T00:00:00+01:00,14.54,-9.18\n"
    result = next(csv_to_incidents(io.StringIO(text)))
    assert result.incident is None
    assert result.field == "occurred_at"
