"""ACLED CSV exports in, incident input dicts out; and ACLED's list of deleted events.

Decisions, so a planner can read them off one page:

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
* Perpetrator from `inter1` (numeric code or its name): 1 state forces (foreign if the actor is not
  Malian), 2 rebel group and 3 political militia -> non_state_armed_group, 4 identity militia ->
  community_militia, 8 external/other forces -> foreign_forces, rioters / protesters / civilians
  -> unknown; an actor named as bandits or criminals -> criminal. `actor` is actor1.
* Provenance is fixed: source_type "media", reliability "B", credibility 2, sharing_level
  "green" (ACLED is public), status "reported", external_id "acled:<event_id_cnty>",
  description = notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

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
    parse_count,
    parse_float,
    parse_when,
    point,
    severity_for,
)
from incidents.taxonomy.catalogue import TYPES, UnknownCodeError, from_acled

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


def perpetrator_from(inter1: str | None, actor1: str) -> str:
    """Our perpetrator category from ACLED's interaction code and the actor's name."""
    name = fold(actor1)
    if "bandit" in name or "criminal" in name:
        return "criminal"
    category = _INTER.get(fold((inter1 or "").strip()), "unknown")
    if category == "state_forces" and name and "mali" not in name:
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
