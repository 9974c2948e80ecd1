"""ACLED CSV exports in and out: incident input dicts from ACLED rows, ACLED rows from
incidents, and ACLED's list of deleted events.

Import decisions, so a planner can read them off one page:

* ACLED repeats an event once per actor row (the same `event_id_cnty`, with e.g. actor1 =
  "Civilians (Mali)" on the second row). The first row wins; later rows are reported as
  duplicates of it and nothing from them is merged.
* Types come from `incidents.taxonomy.from_acled(event_type, sub_event_type)`.
* `geo_precision` 1 / 2 / 3 -> `exact` / `near` / `admin2` (ACLED: 1 = the town named, 2 = near a
  town or a part of a region, 3 = only a larger region, coordinates of its centroid or capital).
* `time_precision` 1 / 2 / 3 -> `day` / `week` / `month`; occurred_at is midnight UTC of
  `event_date` ("31 December 2020" or ISO 2020-12-31).
* `fatalities` -> impact.killed. Severity starts at the type's default severity and deaths raise
  it (see `rows.severity_for`: 1-2 killed -> at least 3, 3-9 -> at least 4, 10 or more -> 5).
* Perpetrator from `inter1` (numeric code or its name): 1 state forces (foreign unless the actor is
  Mali's: FAMa, FDS, forces of Mali...), 2 rebel group and 3 political militia -> non_state_armed_group, 4 identity militia ->
  community_militia, 8 external/other forces -> foreign_forces, rioters / protesters / civilians
  -> unknown; an actor named as bandits or criminals -> criminal. `actor` is actor1.
* Provenance is fixed: source_type "media", reliability "B", credibility 2, sharing_level
  "green" (ACLED is public), status "reported", external_id "acled:<event_id_cnty>",
  description = notes.

Export (`incidents_to_acled`, `format=acled`): ACLED's own column names (`ACLED_COLUMNS`, the
order of ACLED's CSV exports) and codes, so that tooling written for ACLED reads Sentinelle's
incidents. docs/interop.md lists every column; in short:

* event_type / sub_event_type from `incidents.taxonomy.to_acled`; disorder_type follows from
  the event type; civilian_targeting when the event is violence against civilians.
* time_precision: exact or day -> 1, week -> 2, month -> 3; geo_precision: exact or locality
  (the town named) -> 1, near -> 2, admin2, admin1 or a grid cell -> 3.
* actor1 is the incident's actor, else ACLED's name for an unidentified actor of the
  perpetrator's kind; inter1 from the perpetrator (state forces 1, armed group 2, criminals 3,
  communal militia 4, rioters 5, protesters 6, foreign forces 8); actor2 "Civilians (Mali)"
  (inter2 7) for violence against civilians; interaction is the two codes, lower first.
* event_id_cnty is the ACLED id of an incident imported from ACLED, else "SNT-<incident id>".
* Not exported: masked entries (an ACLED row asserts a type, an actor and a place that a masked
  entry does not give, and a fake row would mislead the analyst), retracted incidents (ACLED
  removes those through its deleted-events list) and types outside ACLED's scope
  (`ACLED_OUT_OF_SCOPE`: hazards and displacement).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import IO, Any

import shapely
import shapely.geometry

from incidents.interop.rows import (
    UTF8_ADVICE,
    CsvStream,
    ImportFormatError,
    IncidentInput,
    RowError,
    RowResult,
    column_problems,
    empty_impact,
    fold,
    iso_utc,
    neutralised_row,
    parse_count,
    parse_float,
    parse_when,
    point,
    severity_for,
)
from incidents.taxonomy.catalogue import (
    ACLED_OUT_OF_SCOPE,
    TYPES,
    UnknownCodeError,
    from_acled,
    to_acled,
)

REQUIRED_COLUMNS = (
    "event_id_cnty",
    "event_date",
    "event_type",
    "sub_event_type",
    "latitude",
    "longitude",
)
DELETED_COLUMNS = ("event_id_cnty", "deleted_timestamp")

GEO_PRECISION = {"1": "exact", "2": "near", "3": "admin2"}
TIME_PRECISION = {"1": "day", "2": "week", "3": "month"}

_INTER = {
    "1": "state_forces",
    "state forces": "state_forces",
    "2": "non_state_armed_group",
    "rebel group": "non_state_armed_group",
    "rebel groups": "non_state_armed_group",
    "3": "non_state_armed_group",
    "political militia": "non_state_armed_group",
    "political militias": "non_state_armed_group",
    "4": "community_militia",
    "identity militia": "community_militia",
    "identity militias": "community_militia",
    "8": "foreign_forces",
    "external/other forces": "foreign_forces",
}


def check_header(columns: Sequence[str]) -> None:
    """Refuse a file that is not an ACLED export before any row is read or stored."""
    problems = column_problems(columns, required=REQUIRED_COLUMNS, known=None)
    if problems:
        raise ImportFormatError(
            "header", "not an ACLED export: " + "; ".join(problems) + " (export it from ACLED)"
        )


def acled_to_incidents(fileobj: IO[Any] | Iterable[Any]) -> Iterator[RowResult]:
    """One RowResult per data row of an ACLED CSV export, streamed.

    Raises ImportFormatError (before yielding anything) when the header is not ACLED's.
    """
    stream = CsvStream(fileobj, delimiter=",")
    check_header(stream.header)
    columns = [h.lower() for h in stream.header]
    first_row: dict[str, int] = {}
    for record in stream.records():
        if record.undecodable:
            yield RowResult(record.row_number, None, f"the row is not UTF-8 text; {UTF8_ADVICE}")
            continue
        if len(record.values) != len(columns):
            yield RowResult(
                record.row_number,
                None,
                f"the row has {len(record.values)} values for {len(columns)} columns",
            )
            continue
        row = dict(zip(columns, record.values, strict=True))
        event_id = row["event_id_cnty"].strip()
        if not event_id:
            yield RowResult(record.row_number, None, "event_id_cnty is empty", "event_id_cnty")
            continue
        if event_id in first_row:
            yield RowResult(record.row_number, None, duplicate_of=first_row[event_id])
            continue
        first_row[event_id] = record.row_number
        try:
            yield RowResult(record.row_number, acled_row_to_incident(row))
        except RowError as exc:
            yield RowResult(record.row_number, None, exc.message, exc.field)


def acled_row_to_incident(row: dict[str, str]) -> IncidentInput:
    """One ACLED row (lower-case column names) as an incident input dict."""
    try:
        code = from_acled(row["event_type"].strip(), row["sub_event_type"].strip())
    except (UnknownCodeError, KeyError) as exc:
        raise RowError(
            "event_type",
            f"ACLED type '{row['event_type']} / {row['sub_event_type']}' has no Sentinelle "
            f"type ({exc})",
        ) from None
    occurred = parse_when(row["event_date"], "event_date")
    lat = parse_float(row["latitude"], "latitude")
    lon = parse_float(row["longitude"], "longitude")
    geometry = point(lon, lat, field="latitude")
    impact = empty_impact()
    impact["killed"] = parse_count(row.get("fatalities"), "fatalities")
    geo_precision = (row.get("geo_precision") or "1").strip()
    time_precision = (row.get("time_precision") or "1").strip()
    if geo_precision not in GEO_PRECISION:
        raise RowError("geo_precision", f"'{geo_precision}' is not 1, 2 or 3")
    if time_precision not in TIME_PRECISION:
        raise RowError("time_precision", f"'{time_precision}' is not 1, 2 or 3")
    actor = (row.get("actor1") or "").strip()
    incident: IncidentInput = {
        "type": code,
        "occurred_at": iso_utc(occurred),
        "time_precision": TIME_PRECISION[time_precision],
        "geometry": geometry,
        "location_precision": GEO_PRECISION[geo_precision],
        "place_name": (row.get("location") or "").strip() or None,
        "severity": severity_for(TYPES[code].default_severity, impact),
        "impact": impact,
        "perpetrator": perpetrator_from(row.get("inter1"), actor),
        "actor": actor or None,
        "description": (row.get("notes") or "").strip() or None,
        "source_type": "media",
        "reliability": "B",
        "credibility": 2,
        "status": "reported",
        "sharing_level": "green",
        "external_id": f"acled:{row['event_id_cnty'].strip()}",
    }
    return incident


# Names of Mali's own state forces (folded: no accents, lower case): ACLED's "Military / Police
# Forces of Mali", and the names partners type — FAMa, Forces armées maliennes, Malian Armed
# Forces, FDS (forces de défense et de sécurité), the Gendarmerie or Garde nationale.
_MALIAN_STATE = re.compile(
    r"mali|\bfama\b|\bfds\b|defense et de securite|gendarmerie nationale|garde nationale"
)


def perpetrator_from(inter1: str | None, actor1: str) -> str:
    """Our perpetrator category from ACLED's interaction code and the actor's name."""
    name = fold(actor1)
    if "bandit" in name or "criminal" in name:
        return "criminal"
    category = _INTER.get(fold((inter1 or "").strip()), "unknown")
    if category == "state_forces" and name and not _MALIAN_STATE.search(name):
        return "foreign_forces"
    if category == "foreign_forces" and "private security" in name:
        return "unknown"
    return category


def acled_deleted_ids(fileobj: IO[Any] | Iterable[Any]) -> set[str]:
    """The `event_id_cnty` values of ACLED's deleted-events list (columns event_id_cnty,
    deleted_timestamp), for removing "acled:<id>" incidents imported earlier."""
    stream = CsvStream(fileobj, delimiter=",")
    problems = column_problems(stream.header, required=DELETED_COLUMNS, known=None)
    if problems:
        raise ImportFormatError(
            "header", "not an ACLED deleted-events list: " + "; ".join(problems)
        )
    index = [h.lower() for h in stream.header].index("event_id_cnty")
    deleted = set()
    for record in stream.records():
        if len(record.values) > index and record.values[index].strip():
            deleted.add(record.values[index].strip())
    return deleted


# ---------------------------------------------------------------------------- export

ACLED_COLUMNS = (
    "event_id_cnty",
    "event_date",
    "year",
    "time_precision",
    "disorder_type",
    "event_type",
    "sub_event_type",
    "actor1",
    "assoc_actor_1",
    "inter1",
    "actor2",
    "assoc_actor_2",
    "inter2",
    "interaction",
    "civilian_targeting",
    "iso",
    "region",
    "country",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "source_scale",
    "notes",
    "fatalities",
    "tags",
    "timestamp",
)
EXPORT_TIME_PRECISION = {"exact": "1", "day": "1", "week": "2", "month": "3"}
EXPORT_GEO_PRECISION = {"exact": "1", "locality": "1", "near": "2"}  # anything coarser: 3
_DISORDER = {
    "Battles": "Political violence",
    "Explosions/Remote violence": "Political violence",
    "Violence against civilians": "Political violence",
    "Protests": "Demonstrations",
    "Riots": "Demonstrations",
    "Strategic developments": "Strategic developments",
}
# perpetrator -> (ACLED inter code, ACLED's name for an unidentified actor of that kind)
_ACTOR = {
    "state_forces": (1, "Military Forces of Mali"),
    "non_state_armed_group": (2, "Unidentified Armed Group (Mali)"),
    "criminal": (3, "Unidentified Criminal Group (Mali)"),
    "community_militia": (4, "Unidentified Communal Militia (Mali)"),
    "foreign_forces": (8, "Unidentified Foreign Forces"),
}
_CROWD = {"Riots": (5, "Rioters (Mali)"), "Protests": (6, "Protesters (Mali)")}
_UNIDENTIFIED = (3, "Unidentified Armed Group (Mali)")
_CIVILIANS = (7, "Civilians (Mali)")


def exported_to_acled(incident: Mapping[str, Any]) -> bool:
    """Whether an incident has an ACLED row (see the module docstring for what is left out)."""
    code = incident.get("type")
    return bool(
        code
        and not incident.get("masked")
        and incident.get("status") != "retracted"
        and code in TYPES
        and code not in ACLED_OUT_OF_SCOPE
    )


def incidents_to_acled(incidents: Iterable[Mapping[str, Any]]) -> Iterator[list[Any]]:
    """ACLED's header, then one row per exportable incident (flat dicts as the other writers
    take); streamed. Text cells are neutralised for spreadsheets as in csv_io."""
    yield list(ACLED_COLUMNS)
    for incident in incidents:
        if exported_to_acled(incident):
            row = incident_to_acled(incident)
            yield neutralised_row(row[c] for c in ACLED_COLUMNS)


def incident_to_acled(incident: Mapping[str, Any]) -> dict[str, Any]:
    """One ACLED row (column -> value) for an incident that `exported_to_acled`."""
    event_type, sub_event_type = to_acled(str(incident["type"]))
    occurred = _as_datetime(incident["occurred_at"], "occurred_at")
    inter1, actor1 = _actor(incident, event_type)
    inter2, actor2 = _CIVILIANS if event_type == "Violence against civilians" else (0, "")
    lon, lat = _position(incident["geometry"])
    impact = incident.get("impact") or {}
    admin1, admin2 = incident.get("admin1") or "", incident.get("admin2") or ""
    updated = incident.get("updated_at") or incident.get("reported_at")
    external = str(incident.get("external_id") or "")
    in_mali = bool(admin1)  # the admin zones are Mali's COD-AB
    return {
        "event_id_cnty": external.removeprefix("acled:")
        if external.startswith("acled:")
        else f"SNT-{incident['id']}",
        "event_date": occurred.date().isoformat(),
        "year": occurred.year,
        "time_precision": EXPORT_TIME_PRECISION.get(str(incident.get("time_precision")), "1"),
        "disorder_type": _DISORDER[event_type],
        "event_type": event_type,
        "sub_event_type": sub_event_type,
        "actor1": actor1,
        "assoc_actor_1": "",
        "inter1": inter1,
        "actor2": actor2,
        "assoc_actor_2": "",
        "inter2": inter2,
        "interaction": f"{min(inter1, inter2)}{max(inter1, inter2)}" if inter2 else f"{inter1}0",
        "civilian_targeting": "Civilian targeting" if inter2 == 7 else "",
        "iso": 466 if in_mali else "",
        "region": "Western Africa" if in_mali else "",
        "country": "Mali" if in_mali else "",
        "admin1": admin1,
        "admin2": admin2,
        "admin3": incident.get("admin3") or "",
        "location": incident.get("place_name") or admin2 or admin1,
        "latitude": f"{lat:.4f}",
        "longitude": f"{lon:.4f}",
        "geo_precision": EXPORT_GEO_PRECISION.get(str(incident.get("location_precision")), "3"),
        "source": "Sentinelle",
        "source_scale": "Other",
        "notes": incident.get("description") or "",
        "fatalities": int(impact.get("killed") or 0),
        "tags": "",
        "timestamp": int(_as_datetime(updated, "updated_at").timestamp()) if updated else "",
    }


def _actor(incident: Mapping[str, Any], event_type: str) -> tuple[int, str]:
    perpetrator = str(incident.get("perpetrator") or "unknown")
    if perpetrator in _ACTOR:
        inter, name = _ACTOR[perpetrator]
    else:
        inter, name = _CROWD.get(event_type, _UNIDENTIFIED)
    return inter, str(incident.get("actor") or name)


def _position(geometry: Mapping[str, Any]) -> tuple[float, float]:
    """(lon, lat): the point itself, or a point on the surface of a line or an area."""
    if geometry.get("type") == "Point":
        lon, lat = geometry["coordinates"][:2]
        return float(lon), float(lat)
    point = shapely.point_on_surface(shapely.geometry.shape(dict(geometry)))
    return float(point.x), float(point.y)


def _as_datetime(value: Any, field: str) -> datetime:
    return value if isinstance(value, datetime) else parse_when(str(value), field)
