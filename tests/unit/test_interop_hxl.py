"""HXL export and import: hashtag row found, attributes in any order, unknown tags ignored."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from incidents.interop.hxl import column_for, hxl_to_incidents, incidents_to_hxl
from incidents.interop.rows import ImportFormatError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "incidents_hxl.csv"
ambush_near_gao: dict[str, Any] = {
    "id": "0b7c9b1e-0000-4000-8000-000000000001",
    "type": "ambush",
    "occurred_at": "2024-03-10T05:00:00Z",
    "geometry": {"type": "Point", "coordinates": [-0.04, 16.27]},
    "location_precision": "near",
    "place_name": "Gao",
    "admin1": "Gao",
    "severity": 4,
    "impact": {
        "killed": 2,
        "injured": 3,
        "abducted": 0,
        "detained": 0,
        "missing": 0,
        "aid_workers_affected": False,
    },
    "status": "verified",
    "sharing_level": "green",
}


def test_export_has_header_then_hashtags() -> None:
    header, hashtags, row = list(incidents_to_hxl([ambush_near_gao]))
    fields = dict(zip(hashtags, row, strict=True))

    assert header[:3] == ["id", "external_id", "type"]
    for tag in (
        "#event+type",
        "#date+occurred",
        "#geo+lat",
        "#geo+lon",
        "#loc+name",
        "#adm1+name",
        "#adm2+name",
        "#affected+killed",
        "#affected+injured",
        "#affected+abducted",
        "#severity",
        "#status",
        "#meta+id",
        "#meta+sharing",
    ):
        assert tag in hashtags
    assert fields["#event+type"] == "ambush"
    assert (fields["#geo+lat"], fields["#geo+lon"]) == ("16.27", "-0.04")
    assert fields["#affected+killed"] == "2"
    assert fields["#adm1+name"] == "Gao"
    assert fields["#meta+sharing"] == "green"


def test_export_reimports() -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(incidents_to_hxl([ambush_near_gao]))

    (result,) = hxl_to_incidents(io.StringIO(buffer.getvalue()))

    assert result.incident is not None
    assert result.row_number == 3
    assert result.incident["geometry"] == ambush_near_gao["geometry"]
    assert result.incident["impact"] == ambush_near_gao["impact"]
    assert result.incident["location_precision"] == "near"


def test_fixture_with_title_rows_and_other_attribute_order() -> None:
    with FIXTURE.open("rb") as fh:
        results = list(hxl_to_incidents(fh))

    assert [r.row_number for r in results] == [4, 5, 6, 7]
    assert [r.outcome for r in results] == ["accepted", "accepted", "accepted", "rejected"]
    first = results[0].incident
    assert first is not None
    assert first["external_id"] == "demo:1"
    assert first["impact"]["killed"] == 2  # from #affected+num+killed
    assert results[1].incident is not None
    assert results[1].incident["occurred_at"] == "2024-03-10T00:00:00Z"
    assert results[2].incident is not None
    assert results[2].incident["location_precision"] == "locality"  # #loc+name only
    assert results[3].field == "type"


@pytest.mark.parametrize(
    ("hashtag", "column"),
    [
        ("#affected+killed", "impact_killed"),
        ("#Affected +num +killed", "impact_killed"),
        ("#geo+lat", "lat"),
        ("#meta+external+id", "external_id"),
        ("#meta+id", "id"),
        ("#org+name", None),
    ],
)
def test_column_for(hashtag: str, column: str | None) -> None:
    assert column_for(hashtag) == column


def test_file_without_hashtag_row_is_refused() -> None:
    with pytest.raises(ImportFormatError, match="hashtag"):
        next(hxl_to_incidents(io.StringIO("type,occurred_at\nied,2024-01-01\n")))


def test_hashtags_without_a_date_are_refused() -> None:
    data = io.StringIO("#event+type,#geo+lat,#geo+lon\nied,14,-9\n")

    with pytest.raises(ImportFormatError, match="#date"):
        next(hxl_to_incidents(data))


def test_formula_cells_are_neutralised_and_hxl_tools_still_read_the_file() -> None:
    import hxl

    formula = '=HYPERLINK("http://x","y")'
    incident = {**ambush_near_gao, "description": formula, "actor": "-2+3"}
    out = io.StringIO()
    csv.writer(out).writerows(incidents_to_hxl([incident]))
    row = next(iter(hxl.data(io.BytesIO(out.getvalue().encode()))))
    assert row.get("#description") == "'" + formula
    assert row.get("#group+name+perpetrator") == "'-2+3"
    assert row.get("#geo+lon") == "-0.04"
    back = next(hxl_to_incidents(io.StringIO(out.getvalue())))
    assert back.incident is not None
    assert back.incident["description"] == formula
