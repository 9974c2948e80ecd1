"""KoboToolbox submissions (REST Services JSON of docs/forms/sentinelle_incident.xlsx) as incidents.

Decisions:

* Keys may carry group prefixes ("group_location/location"); only the last path segment counts,
  so the form's groups can be reorganised without touching this module.
* `location` is an ODK geopoint "lat lon altitude accuracy". An accuracy (metres) worse than
  `max_accuracy_m` keeps the point but lowers location_precision from "exact" to "near".
* Without a geopoint, the place name is looked up in the gazetteer: a known place gives its
  coordinates with location_precision "locality". Without a geopoint and without a known place
  the submission is refused (field "location"): an incident we cannot put on a map would
  silently drop out of every zone's risk, so the focal point must fix it in Kobo and resend.
* occurred_at is the form's date-time (converted to UTC, precision "exact"); when absent, the
  `_submission_time` (UTC) stands in with precision "day".
* external_id is "kobo:<_uuid>" (or the instanceID's uuid), so a resent submission updates the
  same incident instead of creating a second one. An edited submission carries a new
  instanceID and `meta/deprecatedID` naming the one it replaces (and, from KoboToolbox 2.024,
  `meta/rootUuid` naming the first): `instance_ids` gives them to the intake service, which
  makes the edit a new version of the first instance's incident (incidents.intake.service).
* RowResult.row_number is the Kobo `_id` when there is one, else 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from incidents.interop.rows import (
    IncidentInput,
    PlaceFinder,
    RowError,
    RowResult,
    default_gazetteer,
    empty_impact,
    iso_utc,
    parse_bool,
    parse_count,
    parse_float,
    parse_when,
    point,
    severity_for,
)
from incidents.records.model import Perpetrator, SharingLevel
from incidents.taxonomy.catalogue import UnknownCodeError, get_type

DEFAULT_MAX_ACCURACY_M = 500.0
SHARING_UNCHOSEN = "default"  # the form's "let Sentinelle choose" answer to the sharing level

#: Bounds on one submission: a real form of docs/forms/sentinelle_incident.xlsx, with Kobo's own
#: metadata (_attachments, _geolocation, _notes...), stays far below them.
MAX_FIELDS = 500  # values counted at every level of nesting
MAX_TEXT = 20_000  # characters in one value (the incident description's own limit)
MAX_KEY = 200  # characters in one field name


def check_submission_size(payload: Mapping[str, Any]) -> None:
    """Raise RowError when a submission is larger than any real form: too many fields, a field
    name or a value too long. Walks the payload once, without recursion."""
    count = 0
    stack: list[tuple[str, Any]] = [("submission", payload)]
    while stack:
        name, value = stack.pop()
        count += 1
        if count > MAX_FIELDS:
            raise RowError(
                "submission",
                f"more than {MAX_FIELDS} fields; send one submission of the Sentinelle form",
            )
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str) or len(key) > MAX_KEY:
                    raise RowError(
                        "submission", f"a field name is longer than {MAX_KEY} characters"
                    )
                stack.append((key.rsplit("/", 1)[-1], item))
        elif isinstance(value, list | tuple):
            stack.extend((name, item) for item in value)
        elif isinstance(value, str) and len(value) > MAX_TEXT:
            raise RowError(name, f"longer than {MAX_TEXT} characters; shorten it in Kobo")


def kobo_to_incident(
    payload: Mapping[str, Any],
    *,
    max_accuracy_m: float = DEFAULT_MAX_ACCURACY_M,
    gazetteer: PlaceFinder | None = None,
) -> RowResult:
    """One Kobo submission as an incident input dict, or the reason it cannot be one."""
    try:
        check_submission_size(payload)
    except RowError as exc:
        return RowResult(1, None, exc.message, exc.field)
    kobo_id = payload.get("_id")
    row_number = kobo_id if isinstance(kobo_id, int) else 1
    fields = _flatten(payload)
    try:
        incident = _incident(fields, max_accuracy_m, gazetteer)
    except RowError as exc:
        return RowResult(row_number, None, exc.message, exc.field)
    return RowResult(row_number, incident)


def instance_ids(payload: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(this instance, the instance it edits, the first instance of the chain), each as a
    lower-case uuid without `uuid:`, None when the submission does not say."""
    fields = _flatten(payload)

    def key(name: str) -> str | None:
        text = _text(fields, name).removeprefix("uuid:").lower()
        return text[:100] or None

    # instanceID first: after an edit it names the new version, whatever `_uuid` says.
    return key("instanceID") or key("_uuid"), key("deprecatedID"), key("rootUuid")


def _flatten(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Field name -> value without group prefixes; the first occurrence of a name wins."""
    fields: dict[str, Any] = {}
    for key, value in payload.items():
        fields.setdefault(key.rsplit("/", 1)[-1], value)
    return fields


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    return "" if value is None else str(value).strip()


def _incident(
    fields: Mapping[str, Any], max_accuracy_m: float, gazetteer: PlaceFinder | None
) -> IncidentInput:
    try:
        itype = get_type(_text(fields, "incident_type"))
    except UnknownCodeError as exc:
        raise RowError("type", f"{exc}; choose the incident type in the form") from None

    if _text(fields, "occurred_at"):
        occurred, time_precision = parse_when(_text(fields, "occurred_at"), "occurred_at"), "exact"
    elif _text(fields, "_submission_time"):
        occurred = parse_when(_text(fields, "_submission_time"), "occurred_at")
        time_precision = "day"
    else:
        raise RowError("occurred_at", "the submission has no date; fill in the incident date")

    incident: IncidentInput = {
        "type": itype.code,
        "occurred_at": iso_utc(occurred),
        "time_precision": time_precision,
    }
    incident.update(_location(fields, max_accuracy_m, gazetteer))

    impact = empty_impact()
    for name in ("killed", "injured", "abducted"):
        impact[name] = parse_count(fields.get(name), name)
    impact["aid_workers_affected"] = parse_bool(fields.get("aid_workers") or "no", "aid_workers")
    incident["impact"] = impact

    severity_text = _text(fields, "severity")
    if severity_text:
        severity = int(parse_float(severity_text, "severity"))
        if not 1 <= severity <= 5:
            raise RowError("severity", f"'{severity_text}' is not a severity from 1 to 5")
        incident["severity"] = severity
    else:
        incident["severity"] = severity_for(itype.default_severity, impact)

    perpetrator = _text(fields, "perpetrator") or "unknown"
    if perpetrator not in set(Perpetrator):
        raise RowError("perpetrator", f"'{perpetrator}' is not one of {', '.join(Perpetrator)}")
    incident["perpetrator"] = perpetrator
    sharing = _text(fields, "sharing_level")
    if sharing and sharing != SHARING_UNCHOSEN:
        if sharing not in set(SharingLevel):
            raise RowError("sharing_level", f"'{sharing}' is not one of {', '.join(SharingLevel)}")
        incident["sharing_level"] = sharing
    # Left out (or "default"): the level is not in the incident, so validation picks it
    # (default_sharing: amber, red for an abduction of aid workers).
    incident["description"] = _text(fields, "description") or None
    incident["status"] = "reported"
    uuid = _text(fields, "_uuid") or _text(fields, "instanceID").removeprefix("uuid:")
    if uuid:
        incident["external_id"] = f"kobo:{uuid}"
    return incident


def _location(
    fields: Mapping[str, Any], max_accuracy_m: float, gazetteer: PlaceFinder | None
) -> IncidentInput:
    geopoint = _text(fields, "location")
    place_name = _text(fields, "place_name")
    if geopoint:
        parts = geopoint.split()
        if len(parts) < 2:
            raise RowError("location", f"'{geopoint}' is not a GPS point 'lat lon alt accuracy'")
        lat = parse_float(parts[0], "location")
        lon = parse_float(parts[1], "location")
        accuracy = parse_float(parts[3], "location") if len(parts) > 3 else 0.0
        precise = accuracy <= max_accuracy_m
        found: IncidentInput = {
            "geometry": point(lon, lat, field="location"),
            "location_precision": "exact" if precise else "near",
        }
        if place_name:
            found["place_name"] = place_name
        return found
    if not place_name:
        raise RowError(
            "location", "no GPS position and no place name; give one of them in the form"
        )
    places = gazetteer if gazetteer is not None else default_gazetteer()
    locality = places.lookup(place_name)
    if locality is None:
        suggestions = getattr(places, "suggest", None)
        names = [s.name for s in suggestions(place_name)[:3]] if suggestions else []
        hint = f" (did you mean {', '.join(names)}?)" if names else ""
        raise RowError(
            "location",
            f"unknown place '{place_name}'{hint}; take a GPS position or give a nearby town",
        )
    return {
        "geometry": point(locality.lon, locality.lat, field="location"),
        "location_precision": "locality",
        "place_name": locality.name,
    }
