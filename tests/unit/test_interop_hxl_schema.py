"""HXL export against libhxl's own default schema; files tagged the former way still import."""

from __future__ import annotations

import csv
import io

import hxl

from incidents.interop import hxl_to_incidents, incidents_to_hxl

ambush_with_aid_workers = {
    "id": "7c1d7a8e-0000-4000-8000-000000000001",
    "type": "ambush",
    "occurred_at": "2024-03-14T06:30:00Z",
    "time_precision": "week",
    "geometry": {"type": "Point", "coordinates": [-9.183, 14.5406]},
    "location_precision": "near",
    "impact": {"killed": 2, "injured": 0, "aid_workers_affected": True},
    "severity": 4,
    "reported_at": "2024-03-14T09:00:00Z",
}
masked_entry = {
    "id": "m_3kq9",
    "category": "abduction",
    "occurred_at": "2024-03-13T00:00:00Z",
    "time_precision": "day",
    "geometry": {"type": "Point", "coordinates": [-9.125, 14.625]},
    "location_precision": "grid",
    "masked": True,
}


def test_export_has_no_error_under_libhxl_default_schema() -> None:
    rows = list(incidents_to_hxl([ambush_with_aid_workers, masked_entry]))

    report = hxl.validate(rows)

    assert [i for i in report["issues"] if i["severity"] == "error"] == []
    assert report["is_valid"] is True
    tagged = [dict(zip(rows[1], r, strict=True)) for r in rows[2:]]
    assert [r["#event+category"] for r in tagged] == ["violence", "abduction"]
    assert tagged[0]["#meta+aid_workers_affected"] == "true"
    assert tagged[0]["#meta+time_precision"] == "week"


def test_a_file_with_the_former_tags_still_imports() -> None:
    text = (
        "type,date,precision,lat,lon,aid\n"
        "#event+type,#date+occurred,#date+precision,#geo+lat,#geo+lon,#affected+aid_workers\n"
        "ambush,2024-03-14,week,14.54,-9.18,true\n"
    )

    [row] = list(hxl_to_incidents(io.StringIO(text)))

    assert row.incident is not None
    assert row.incident["time_precision"] == "week"
    assert row.incident["impact"]["aid_workers_affected"] is True


def test_export_reads_back() -> None:
    out = io.StringIO()
    csv.writer(out).writerows(incidents_to_hxl([ambush_with_aid_workers]))

    [row] = list(hxl_to_incidents(io.StringIO(out.getvalue())))

    assert row.incident is not None
    assert row.incident["time_precision"] == "week"
    assert row.incident["impact"]["aid_workers_affected"] is True
    assert row.incident["impact"]["killed"] == 2
