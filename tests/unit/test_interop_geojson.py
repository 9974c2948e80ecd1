"""GeoJSON FeatureCollection import and streamed export."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from incidents.interop.geojson_io import geojson_to_incidents, incidents_to_geojson, write_geojson
from incidents.interop.rows import ImportFormatError

point_in_kidal = {"type": "Point", "coordinates": [1.41, 18.44]}
shooting_in_kidal: dict[str, Any] = {
    "type": "armed_attack",
    "occurred_at": "2024-02-01T21:00:00Z",
    "geometry": point_in_kidal,
    "location_precision": "locality",
    "place_name": "Kidal",
    "severity": 4,
    "impact": {
        "killed": 1,
        "injured": 0,
        "abducted": 0,
        "detained": 0,
        "missing": 0,
        "aid_workers_affected": False,
    },
    "sharing_level": "clear",
}


def collection(*features: Any) -> io.StringIO:
    return io.StringIO(json.dumps({"type": "FeatureCollection", "features": list(features)}))


def test_export_is_a_valid_feature_collection_and_reimports() -> None:
    buffer = io.StringIO()
    write_geojson([shooting_in_kidal, shooting_in_kidal], buffer)

    document = json.loads(buffer.getvalue())
    assert document["type"] == "FeatureCollection"
    assert len(document["features"]) == 2
    assert document["features"][0]["geometry"] == point_in_kidal

    results = list(geojson_to_incidents(io.StringIO(buffer.getvalue())))
    assert [r.incident for r in results] == [shooting_in_kidal, shooting_in_kidal]


def test_export_streams_one_feature_per_chunk() -> None:
    chunks = list(incidents_to_geojson([shooting_in_kidal] * 3))

    assert len(chunks) == 5


def test_flat_impact_properties_and_feature_without_geometry() -> None:
    feature = {
        "type": "Feature",
        "geometry": None,
        "properties": {
            "type": "theft",
            "occurred_at": "2024-02-01",
            "place_name": "Gao",
            "impact_injured": 1,
        },
    }

    (result,) = geojson_to_incidents(collection(feature))

    assert result.incident is not None
    assert result.incident["location_precision"] == "locality"
    assert result.incident["impact"]["injured"] == 1


def test_bad_features_are_reported_by_position() -> None:
    good = {
        "type": "Feature",
        "geometry": point_in_kidal,
        "properties": {"type": "ied", "occurred_at": "2024-02-01"},
    }
    no_type = {"type": "Feature", "geometry": point_in_kidal, "properties": {}}

    results = list(geojson_to_incidents(collection(good, no_type, {"type": "Point"})))

    assert [(r.row_number, r.outcome, r.field) for r in results] == [
        (1, "accepted", None),
        (2, "rejected", "type"),
        (3, "rejected", "feature"),
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [("{not json", "not valid JSON"), ('{"type": "Feature"}', "FeatureCollection")],
)
def test_not_a_feature_collection(text: str, words: str) -> None:
    with pytest.raises(ImportFormatError, match=words):
        next(geojson_to_incidents(io.StringIO(text)))
