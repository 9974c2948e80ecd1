"""GeoJSON FeatureCollection import and streamed export of incidents (RFC 7946, lon/lat).

Import reads the whole document with `json.load` before converting feature by feature: a
streaming JSON parser would be a new dependency, and uploads are bounded by the API's size limit
(a 20 MB FeatureCollection is about 40,000 incidents). Properties use the API's JSON names;
`impact` may be nested or given as `impact_<field>` properties. Export writes one feature at a
time, so any number of incidents streams out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from incidents.interop.csv_io import fields_to_incident
from incidents.interop.rows import ImportFormatError, PlaceFinder, RowError, RowResult, iso_utc
from incidents.records.model import ASSESSMENT_FIELDS, IDENTITY_FIELDS, WHAT_HAPPENED_FIELDS

_EXPORT_PROPERTIES = (
    *IDENTITY_FIELDS,
    *WHAT_HAPPENED_FIELDS,
    *ASSESSMENT_FIELDS,
    "sharing_level",  # hide_organisation is the reporter's choice, not shared with the feature
    "reported_at",
    "zones",
)


def geojson_to_incidents(
    fileobj: IO[Any], *, gazetteer: PlaceFinder | None = None
) -> Iterator[RowResult]:
    """One RowResult per feature (row_number = feature position, from 1).

    Raises ImportFormatError before the first feature when the file is not a FeatureCollection.
    """
    try:
        document = json.load(fileobj)
    except UnicodeDecodeError:
        raise ImportFormatError("file", "the file is not UTF-8 text; save it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            "file", f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(document, Mapping) or document.get("type") != "FeatureCollection":
        raise ImportFormatError("file", "expected a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise ImportFormatError("features", "the FeatureCollection has no features list")
    for number, feature in enumerate(features, start=1):
        try:
            yield RowResult(number, feature_to_incident(feature, gazetteer=gazetteer))
        except RowError as exc:
            yield RowResult(number, None, exc.message, exc.field)


def feature_to_incident(feature: Any, *, gazetteer: PlaceFinder | None = None) -> dict[str, Any]:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise RowError("feature", "is not a GeoJSON Feature")
    properties = feature.get("properties") or {}
    if not isinstance(properties, Mapping):
        raise RowError("properties", "must be an object")
    fields = {k: v for k, v in properties.items() if k not in {"lat", "lon", "geometry"}}
    if feature.get("geometry") is not None:
        fields["geometry"] = feature["geometry"]
    return fields_to_incident(fields, gazetteer=gazetteer)


def incident_to_feature(incident: Mapping[str, Any]) -> dict[str, Any]:
    properties = {
        name: _jsonable(incident[name])
        for name in _EXPORT_PROPERTIES
        if incident.get(name) is not None
    }
    return {"type": "Feature", "geometry": incident.get("geometry"), "properties": properties}


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat") and hasattr(value, "tzinfo"):
        return iso_utc(value)
    if hasattr(value, "value") and not isinstance(value, Mapping):
        return value.value
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if not isinstance(value, str | int | float | bool):
        return str(value)
    return value


def incidents_to_geojson(incidents: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """Text chunks of a FeatureCollection, one feature per chunk."""
    yield '{"type":"FeatureCollection","features":['
    for number, incident in enumerate(incidents):
        feature = json.dumps(
            incident_to_feature(incident), ensure_ascii=False, separators=(",", ":")
        )
        yield ("," if number else "") + "\n" + feature
    yield "\n]}\n"


def write_geojson(incidents: Iterable[Mapping[str, Any]], fileobj: IO[str]) -> None:
    for chunk in incidents_to_geojson(incidents):
        fileobj.write(chunk)
