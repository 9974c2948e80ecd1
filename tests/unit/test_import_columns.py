"""Column-wise import validation (incidents.interop.columns) against the POST's own validation.

A few thousand varied rows, drawn with a fixed seed, go through columns.validate_chunk in the
importer's chunks and, one by one, through what a POST does (msgspec's conversion to IncidentIn,
then validation.incident_from_input). Row by row: the same rows refused, naming the same field
with the same message (in English and in French), and the accepted rows the same Incident and
geometry; the table columns built for the chunk equal store.rows_values.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import shapely

from incidents.errors import InvalidField
from incidents.interop.columns import incident_columns, msgspec_error, validate_chunk
from incidents.interop.importer import YIELD_EVERY
from incidents.records.model import Incident
from incidents.records.schemas import IncidentIn
from incidents.records.store import rows_values
from incidents.records.validation import DEFAULT_RULES, Rules, incident_from_input
from incidents.taxonomy import catalogue as taxonomy
from incidents.vocabulary import translate_message

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ORG = uuid.UUID("00000000-0000-4000-8000-0000000000aa")
USER = uuid.UUID("00000000-0000-4000-8000-0000000000bb")
SEED = 20261204
ROWS = 3000

TYPES = sorted(taxonomy.TYPES)
MALI_TOWNS = [(16.27, -0.04), (18.44, 1.41), (14.49, -4.19), (13.45, -6.26), (16.77, -3.0)]
PLACE_NAMES = ["Gao", "Ségou", "Tombouctou", "Ménaka", "تمبكتو", "Kidal ⵜⵉⴷⴰⵍ", "", "x" * 201]
GOOD_ENUMS = {
    "time_precision": ["exact", "day", "week", "month"],
    "location_precision": ["exact", "near", "locality"],
    "perpetrator": ["non_state_armed_group", "state_forces", "criminal", "unknown"],
    "source_type": ["direct_witness", "staff", "media", "other"],
    "reliability": ["A", "C", "F"],
    "status": ["reported", "verified", "disputed", "retracted"],
    "sharing_level": ["red", "amber_strict", "amber", "green", "clear"],
}


def _when(rng: random.Random, wild: bool) -> Any:
    """occurred_at: mostly good, sometimes naive, offset, future, out of range or not a time."""
    moment = NOW - timedelta(days=rng.uniform(0, 2000), seconds=rng.randrange(86_400))
    if rng.random() < 0.55:
        return moment.isoformat().replace("+00:00", "Z")
    if not wild:
        return rng.choice(
            [
                moment.replace(tzinfo=None).isoformat(),  # naive: read as UTC
                moment.astimezone(UTC).isoformat().replace("+00:00", "+01:00"),
                (NOW + timedelta(minutes=4)).isoformat(),  # within the clock skew
                moment,
            ]
        )
    return rng.choice(
        [
            moment.replace(tzinfo=None).isoformat(),  # naive: read as UTC
            moment.astimezone(UTC).isoformat().replace("+00:00", "+01:00"),
            (NOW + timedelta(minutes=4)).isoformat(),  # within the clock skew
            (NOW + timedelta(days=rng.uniform(0.1, 400))).isoformat(),  # in the future
            "1850-06-01T00:00:00Z",
            "3100-01-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "2026-13-01T00:00:00Z",
            "yesterday",
            "",
            20_261_130,
            None,
            moment,  # a datetime already
        ]
    )


def _where(rng: random.Random, wild: bool) -> dict[str, Any]:
    """lat/lon or geometry: plain points, swapped, outside Mali, text, other geometries, wrong."""
    lat, lon = rng.choice(MALI_TOWNS)
    lat, lon = lat + rng.uniform(-1.5, 1.5), lon + rng.uniform(-1.5, 1.5)
    if rng.random() < (0.5 if wild else 0.8):
        return {"lat": lat, "lon": lon}
    if not wild:
        return rng.choice(
            [
                {"lat": int(lat), "lon": int(lon)},
                {"lat": f"{lat:.4f}".replace(".", ","), "lon": f" {lon:.4f} "},
                {"geometry": {"type": "Point", "coordinates": [lon, lat]}},
                {"geometry": {"type": "MultiPoint", "coordinates": [[lon, lat], [lon + 0.3, lat]]}},
                {"geometry": None, "lat": lat, "lon": lon},
            ]
        )
    choices: list[dict[str, Any]] = [
        {"lat": lon, "lon": lat},  # swapped: the swapped point is in Mali
        {"lat": 48.85, "lon": 2.35},  # outside Mali, not swapped
        {"lat": 5.3, "lon": -4.0},  # Abidjan: outside the service area
        {"lat": 95.0, "lon": 14.0},
        {"lat": 95.0, "lon": 200.0},
        {"lat": 14.0, "lon": 181.5},
        {"lat": -90.0, "lon": -180.0},
        {"lat": 90.0, "lon": 180.0},
        {"lat": int(lat), "lon": int(lon)},
        {"lat": f"{lat:.4f}".replace(".", ","), "lon": f" {lon:.4f} "},
        {"lat": "quatorze", "lon": lon},
        {"lat": True, "lon": lon},
        {"lat": float("nan"), "lon": lon},
        {"lat": float("inf"), "lon": lon},
        {"lat": lat},
        {"lon": lon},
        {},
        {"lat": None, "lon": lon},
        {"lat": [lat], "lon": lon},
        {"geometry": {"type": "Point", "coordinates": [lon, lat]}},
        {"geometry": {"type": "Point", "coordinates": [lon, lat, 310.0]}},
        {"geometry": {"type": "Point", "coordinates": [lat, lon]}},
        {"geometry": {"type": "Point", "coordinates": [lon]}},
        {"geometry": {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.2, lat + 0.1]]}},
        {
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[lon, lat], [lon + 0.1, lat], [lon + 0.1, lat + 0.1], [lon, lat]]],
            }
        },
        {
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[lon, lat], [lon + 0.1, lat + 0.1], [lon + 0.1, lat], [lon, lat]]],
            }
        },
        {"geometry": {"type": "MultiPoint", "coordinates": [[lon, lat], [lon + 0.3, lat]]}},
        {"geometry": {"type": "Circle", "coordinates": [lon, lat]}},
        {"geometry": {"type": "Point", "coordinates": [lon, lat]}, "lat": lat, "lon": lon},
        {"geometry": "POINT (1 2)"},
        {"geometry": None, "lat": lat, "lon": lon},
    ]
    return rng.choice(choices)


def _payload(rng: random.Random, number: int) -> dict[str, Any]:
    """One row: half of them with good values only (each field still varied), half wild."""
    wild = rng.random() < 0.5

    def pick(good: list[Any], bad: list[Any], bad_share: float = 0.1) -> Any:
        return rng.choice(bad) if wild and rng.random() < bad_share else rng.choice(good)

    body: dict[str, Any] = {}
    if not wild or rng.random() < 0.95:
        body["type"] = pick(
            TYPES, ["kidnaping", "attack", "", "KIDNAPPING", " kidnapping ", 12, None], 0.3
        )
    if not wild or rng.random() < 0.97:
        body["occurred_at"] = _when(rng, wild)
    body.update(_where(rng, wild))
    for name, good in GOOD_ENUMS.items():
        if rng.random() < 0.3:
            body[name] = pick(
                [g for g in good if wild or g not in ("verified", "disputed", "retracted")],
                ["purple", 3, ""],
            )
    if rng.random() < 0.4:
        body["severity"] = pick([1, 2, 3, 4, 5, None, 3.0], [0, 6, "4", 3.5], 0.4)
    if rng.random() < 0.4:
        impact: dict[str, Any] = {}
        for name in ("killed", "injured", "abducted", "detained", "missing"):
            if rng.random() < 0.4:
                impact[name] = pick([0, 1, 3, 40, 100_000], [-1, 100_001, "2"])
        if rng.random() < 0.4:
            impact["aid_workers_affected"] = pick([True, False], ["yes"])
        if wild and rng.random() < 0.03:
            impact["wounded"] = 2
        body["impact"] = pick([impact, None], [3, []], 0.05)
    if rng.random() < 0.15:
        # An abduction of aid workers: red when no level is given.
        body["type"] = "kidnapping"
        body["impact"] = {"aid_workers_affected": True, "abducted": rng.randrange(1, 4)}
    if rng.random() < 0.4:
        body["place_name"] = pick(PLACE_NAMES, ["x" * 201, 5])
    if rng.random() < 0.2:
        body["actor"] = pick(["JNIM", "État islamique — Sahel", None], [7, "a" * 201])
    if rng.random() < 0.3:
        body["description"] = pick(["Deux véhicules arrêtés.", "", None], ["ø" * 20_001])
    if rng.random() < 0.2:
        body["credibility"] = pick([1, 3, 6], [0, 7])
    if rng.random() < 0.1:
        body["hide_organisation"] = pick([True, False], ["no"])
    if rng.random() < 0.7:
        body["external_id"] = pick([f"acled:{number}", f"ext-{number}-é", None], ["e" * 201])
    if wild and rng.random() < 0.02:
        body["colour"] = "red"  # unknown field
    return body


def _posted(
    payload: dict[str, Any], rules: Rules = DEFAULT_RULES
) -> tuple[Incident, shapely.Geometry] | tuple[str | None, str]:
    """What one POST makes of the payload: (Incident, geometry), or (field, message)."""
    try:
        data = msgspec.convert(payload, IncidentIn, strict=False)
    except msgspec.ValidationError as exc:
        return msgspec_error(exc)
    try:
        return incident_from_input(data, org_id=ORG, user_id=USER, now=NOW, rules=rules)
    except InvalidField as exc:
        return exc.field, exc.detail


def _rows() -> list[tuple[int, dict[str, Any]]]:
    rng = random.Random(SEED)
    return [(number, _payload(rng, number)) for number in range(1, ROWS + 1)]


def _same_incident(got: Incident, want: Incident) -> bool:
    return dataclasses.replace(got, id=want.id) == want


@pytest.mark.parametrize("rules", [DEFAULT_RULES, Rules(service_area=None)], ids=["mali", "world"])
def test_validate_chunk_accepts_and_refuses_what_a_post_does(rules: Rules) -> None:
    rows = _rows()
    expected = {number: _posted(payload, rules) for number, payload in rows}
    accepted: dict[int, tuple[Incident, shapely.Geometry]] = {}
    refused: dict[int, tuple[str | None, str]] = {}
    for start in range(0, len(rows), YIELD_EVERY):
        chunk = rows[start : start + YIELD_EVERY]
        done = validate_chunk(chunk, org_id=ORG, user_id=USER, now=NOW, rules=rules)
        # Accepted rows come back in row order: pair them with the rows the POST accepts.
        wanted = [n for n, _ in chunk if isinstance(expected[n][0], Incident)]
        assert len(done.incidents) == len(wanted)
        for number, incident, geom in zip(wanted, done.incidents, done.geometries, strict=True):
            accepted[number] = (incident, geom)
        for number, field, message in done.rejected:
            assert number not in refused
            refused[number] = (field, message)
        assert [r[0] for r in done.rejected] == sorted(r[0] for r in done.rejected)
        # The table columns of the chunk: the same values the POST's store.rows_values gives.
        pairs = list(zip(done.incidents, done.geometries, strict=True))
        if pairs:
            columns = incident_columns(done.incidents, done.geometries)
            by_row = rows_values(pairs)
            assert list(columns) == list(by_row[0])
            for name, values in columns.items():
                assert values == [row[name] for row in by_row], name
    assert len(accepted) + len(refused) == len(rows)
    kinds = {"accepted": 0, "refused": 0}
    for number, want in expected.items():
        if isinstance(want[0], Incident):
            kinds["accepted"] += 1
            assert number in accepted, f"row {number} refused: {refused.get(number)}"
            incident, geom = accepted[number]
            assert _same_incident(incident, want[0]), number
            assert shapely.to_wkb(geom) == shapely.to_wkb(want[1]), number
        else:
            kinds["refused"] += 1
            assert refused.get(number) == want, f"row {number}: {rows[number - 1][1]}"
            field, message = want
            got_field, got_message = refused[number]
            assert got_field == field
            for language in ("en", "fr"):
                assert translate_message(got_message, language) == translate_message(
                    message, language
                )
    # The draw covers both outcomes widely (a generator gone wrong would test nothing).
    assert kinds["accepted"] > ROWS // 4
    assert kinds["refused"] > ROWS // 4


def test_the_draw_reaches_every_kind_of_refusal() -> None:
    """The rows exercise each field the POST can refuse, and the fast path (plain points)."""
    fields = set()
    plain_points = 0
    for _, payload in _rows():
        outcome = _posted(payload)
        if isinstance(outcome[0], Incident):
            plain_points += "lat" in payload and "geometry" not in payload
        else:
            fields.add(outcome[0])
    assert {"type", "occurred_at", "lat", "lon", "geometry"} <= fields
    assert {"severity", "impact.killed", "sharing_level", "place_name", "external_id"} <= fields
    assert plain_points > ROWS // 5


def test_a_french_message_names_the_field() -> None:
    """A refusal reads in French through the same catalogue as the POST's problem answer."""
    row = (
        1,
        {"type": "kidnapping", "occurred_at": "2026-11-29T08:00:00Z", "lat": -4.0, "lon": 14.5},
    )
    done = validate_chunk([row], org_id=ORG, user_id=USER, now=NOW, rules=DEFAULT_RULES)
    [(number, field, message)] = done.rejected
    assert (number, field) == (1, "lat")
    assert _posted(row[1]) == (field, message)
    assert translate_message(message, "fr") != message
