"""Bulk import, column by column: a chunk of input rows validated and turned into table columns.

The rules are incidents.records.validation's, applied to a whole chunk: the fields are converted
one row at a time by msgspec (IncidentIn: the API's own error messages), the type and time are
checked by validation's own functions, and the common shape (a point given as `lat` and `lon`) is
checked and built for the whole chunk at once with numpy and shapely. Any row outside that common
shape, or failing a check, goes through validation.incident_from_input itself, so that every
error (field, message, language) is the one `POST /api/v1/incidents` gives, and every accepted
row is the incident it would store.
"""

from __future__ import annotations

import contextlib
import gc
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import numpy as np
import shapely
from sqlalchemy import Float, Table
from sqlalchemy.ext.asyncio import AsyncSession

from geo.geometry import point_geojson
from incidents.errors import InvalidField
from incidents.records.model import Incident
from incidents.records.schemas import IncidentIn
from incidents.records.store import CELL_DEG, IncidentStore, TextCipher, rows_values
from incidents.records.tables import IncidentRow
from incidents.records.validation import (
    Rules,
    check_occurred_at,
    check_type,
    default_sharing,
    impact_from,
    incident_from_input,
)
from incidents.taxonomy import catalogue as taxonomy

#: Fields an IncidentIn hands to the Incident unchanged.
COPIED = tuple(
    name
    for name in IncidentIn.__struct_fields__
    if name in Incident.__dataclass_fields__
    and name not in ("type", "occurred_at", "geometry", "severity", "impact", "sharing_level")
)


@contextlib.contextmanager
def collection_paused() -> Any:
    """Pause Python's cyclic garbage collector for one synchronous step of an import.

    A chunk makes tens of thousands of short-lived containers (none in a cycle), and the
    collector would walk them, and everything the import holds, again and again: a third of an
    import's time. Nothing else runs on the event loop while the step runs; the collector is on
    again (if it was) right after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class Chunk:
    """What a chunk of rows became: the accepted incidents in row order, and the refusals."""

    incidents: list[Incident] = field(default_factory=list)
    geometries: list[shapely.Geometry] = field(default_factory=list)
    rejected: list[tuple[int, str | None, str]] = field(default_factory=list)


def msgspec_error(exc: msgspec.ValidationError) -> tuple[str | None, str]:
    """(field, message) of a msgspec conversion error, as the importer reports it."""
    text = str(exc)
    field_name = None
    if "at `$." in text:
        field_name = text.split("at `$.", 1)[1].rstrip("`")
    return field_name, text


def new_ids(count: int) -> list[uuid.UUID]:
    """`count` random (version 4) UUIDs: the same as uuid.uuid4(), from one read of urandom."""
    raw = os.urandom(16 * count)
    version_mask = ~(0xF000 << 64) & ~(0xC000 << 48)
    version_bits = (0x4000 << 64) | (0x8000 << 48)
    return [
        uuid.UUID(int=(int.from_bytes(raw[i : i + 16], "big") & version_mask) | version_bits)
        for i in range(0, 16 * count, 16)
    ]


def _fast_points(data: Sequence[IncidentIn], rules: Rules) -> tuple[np.ndarray, Any, Any]:
    """Which rows are plain points (`lat`, `lon` numbers and no `geometry`) that
    geo.geometry.point_from_lat_lon accepts as they are, and their lon, lat arrays."""
    n = len(data)
    plain = np.fromiter(
        (d.geometry is None and type(d.lat) is float and type(d.lon) is float for d in data),
        dtype=bool,
        count=n,
    )
    ys = np.fromiter((d.lat if p else 0.0 for d, p in zip(data, plain, strict=True)), float, n)
    xs = np.fromiter((d.lon if p else 0.0 for d, p in zip(data, plain, strict=True)), float, n)
    with np.errstate(invalid="ignore"):
        ok = plain & np.isfinite(xs) & np.isfinite(ys) & (np.abs(ys) <= 90) & (np.abs(xs) <= 180)
        if rules.service_area is not None:
            minx, miny, maxx, maxy = rules.service_area
            inside = (minx <= xs) & (xs <= maxx) & (miny <= ys) & (ys <= maxy)
            swapped_inside = (minx <= ys) & (ys <= maxx) & (miny <= xs) & (xs <= maxy)
            ok &= inside | ~swapped_inside
    return ok, xs, ys


def validate_chunk(
    rows: Sequence[tuple[int, dict[str, Any]]],
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID | None,
    now: datetime,
    rules: Rules,
) -> Chunk:
    """Validate (row number, payload) pairs; same outcome as incident_from_input row by row."""
    out = Chunk()
    numbers: list[int] = []
    data: list[IncidentIn] = []
    for number, payload in rows:
        try:
            data.append(msgspec.convert(payload, IncidentIn, strict=False))
        except msgspec.ValidationError as exc:
            out.rejected.append((number, *msgspec_error(exc)))
            continue
        numbers.append(number)
    if not data:
        return out
    fast, xs, ys = _fast_points(data, rules)
    ids = new_ids(len(data))
    kinds: dict[str, taxonomy.IncidentType | None] = {}
    points = shapely.points(xs, ys)
    for i, item in enumerate(data):
        kind = None
        if fast[i]:
            if item.type not in kinds:
                kinds[item.type] = _known_type(item.type)
            kind = kinds[item.type]
        try:
            if kind is None:
                incident, geom = incident_from_input(
                    item, org_id=org_id, user_id=user_id, now=now, rules=rules
                )
            else:
                incident = _incident(item, kind, ids[i], xs[i], ys[i], org_id, user_id, now, rules)
                geom = points[i]
        except InvalidField as exc:
            out.rejected.append((numbers[i], exc.field, exc.detail))
            continue
        out.incidents.append(incident)
        out.geometries.append(geom)
    out.rejected.sort(key=lambda r: r[0])
    return out


def _known_type(code: str) -> taxonomy.IncidentType | None:
    try:
        return check_type(code)
    except InvalidField:
        return None  # incident_from_input says why


def _incident(
    data: IncidentIn,
    kind: taxonomy.IncidentType,
    incident_id: uuid.UUID,
    lon: float,
    lat: float,
    org_id: uuid.UUID,
    user_id: uuid.UUID | None,
    now: datetime,
    rules: Rules,
) -> Incident:
    """incident_from_input for a row whose type and point are known good."""
    impact = impact_from(data.impact)
    return Incident(
        id=incident_id,
        type=kind.code,
        occurred_at=check_occurred_at(data.occurred_at, now=now, rules=rules),
        reported_at=now,
        geometry=point_geojson(lon, lat),
        org_id=org_id,
        user_id=user_id,
        severity=data.severity if data.severity is not None else kind.default_severity,
        impact=impact,
        sharing_level=default_sharing(kind.code, impact)
        if isinstance(data.sharing_level, msgspec.UnsetType)
        else data.sharing_level,
        version=1,
        created_at=now,
        updated_at=now,
        **{name: getattr(data, name) for name in COPIED},
    )


# ------------------------------------------------------------------------------ table columns


def _cells(bounds: np.ndarray) -> list[int]:
    """store.grid_cell of each bounding box, for a whole chunk."""
    rows_n, cols_n = int(180 / CELL_DEG), int(360 / CELL_DEG)

    def cell(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        row = np.minimum(np.floor_divide(lat + 90.0, CELL_DEG), rows_n - 1).astype(np.int64)
        col = np.minimum(np.floor_divide(lon + 180.0, CELL_DEG), cols_n - 1).astype(np.int64)
        return row * cols_n + col

    first, last = cell(bounds[:, 0], bounds[:, 1]), cell(bounds[:, 2], bounds[:, 3])
    return np.where(first == last, first, -1).tolist()


def incident_columns(
    incidents: Sequence[Incident],
    geometries: Sequence[shapely.Geometry],
    *,
    is_demo: bool = False,
    cipher: TextCipher | None = None,
) -> dict[str, list[Any]]:
    """The incidents table's column values for these incidents, one list per column: the same
    values as store.rows_values, built column by column (a column this module does not know is
    taken from rows_values itself)."""
    if not incidents:
        return {}
    n = len(incidents)
    geoms = np.empty(n, dtype=object)
    geoms[:] = list(geometries)
    bounds = shapely.bounds(geoms)
    type_ids = shapely.get_type_id(geoms)
    is_point = type_ids == 0
    points = geoms.copy()
    if not is_point.all():
        points[~is_point] = shapely.point_on_surface(geoms[~is_point])
    names = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint"}
    names |= {5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}

    def attr(name: str) -> list[Any]:
        return [getattr(i, name) for i in incidents]

    def code(name: str) -> list[Any]:
        return [getattr(i, name).value for i in incidents]

    def hurt(name: str) -> list[Any]:
        return [getattr(i.impact, name) for i in incidents]

    def same(value: Any) -> list[Any]:
        return [value] * n

    categories: dict[str, str] = {}
    builders: dict[str, Any] = {
        "id": lambda: attr("id"),
        "type": lambda: attr("type"),
        "category": lambda: [
            categories.get(t) or categories.setdefault(t, taxonomy.get_type(t).category)
            for t in attr("type")
        ],
        "geometry_wkb": lambda: shapely.to_wkb(geoms, output_dimension=2).tolist(),
        "geometry_type": lambda: [names[t] for t in type_ids.tolist()],
        "min_lon": lambda: bounds[:, 0].tolist(),
        "min_lat": lambda: bounds[:, 1].tolist(),
        "max_lon": lambda: bounds[:, 2].tolist(),
        "max_lat": lambda: bounds[:, 3].tolist(),
        "lon": lambda: shapely.get_x(points).tolist(),
        "lat": lambda: shapely.get_y(points).tolist(),
        "cell": lambda: _cells(bounds),
        "description": lambda: [
            d if d is None or cipher is None else cipher.seal(d) for d in attr("description")
        ],
        "is_demo": lambda: same(is_demo),
        "created_at": lambda: [i.created_at or i.reported_at for i in incidents],
        "updated_at": lambda: [i.updated_at or i.reported_at for i in incidents],
    }
    for name in ("time_precision", "location_precision", "perpetrator", "source_type"):
        builders[name] = lambda name=name: code(name)
    for name in ("reliability", "status", "sharing_level"):
        builders[name] = lambda name=name: code(name)
    for name in ("killed", "injured", "abducted", "detained", "missing", "aid_workers_affected"):
        builders[name] = lambda name=name: hurt(name)
    sample = rows_values([(incidents[0], geometries[0])], is_demo=is_demo, cipher=cipher)[0]
    columns: dict[str, list[Any]] = {}
    unknown = [name for name in sample if name not in builders and not hasattr(incidents[0], name)]
    fallback = (
        rows_values(list(zip(incidents, geometries, strict=True)), is_demo=is_demo, cipher=cipher)
        if unknown
        else None
    )
    for name in sample:
        if fallback is not None and name in unknown:
            columns[name] = [row[name] for row in fallback]
        elif name in builders:
            columns[name] = builders[name]()
        else:
            columns[name] = attr(name)
    return columns


# ------------------------------------------------------------------------------ writing

#: SQLite's default limit on the parameters of one statement (SQLITE_MAX_VARIABLE_NUMBER).
SQLITE_MAX_PARAMETERS = 32_766


async def insert_columns(session: AsyncSession, columns: dict[str, list[Any]]) -> None:
    """Insert incident rows given column by column (incident_columns).

    On SQLite, straight through the driver with the columns' own bind processors (the values
    a Core insert stores), many rows per statement: the driver binds a whole statement at once
    and SQLite then inserts its rows without holding Python's GIL, so the next chunk is validated
    meanwhile. Elsewhere a Core insert (IncidentStore.add_many)."""
    if not columns:
        return
    names = list(columns)
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        rows = [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
        await IncidentStore(session).add_many(rows)
        return
    with collection_paused():
        statements = _sqlite_statements(names, columns, dialect)
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    for sql, parameters in statements:
        await driver.executemany(sql, parameters)


def _sqlite_statements(
    names: list[str], columns: dict[str, list[Any]], dialect: Any
) -> list[tuple[str, list[list[Any]]]]:
    """(SQL, parameter lists) inserting the rows many to a statement."""
    table = IncidentRow.__table__
    assert isinstance(table, Table)
    processed = [_bound(table, name, values, dialect) for name, values in columns.items()]
    rows = list(zip(*processed, strict=True))
    per_statement = max(1, SQLITE_MAX_PARAMETERS // len(names))
    # The names are the table's own columns (incident_columns), never input.
    head = f"INSERT INTO incidents ({', '.join(names)}) VALUES "  # noqa: S608
    mark = "(" + ", ".join("?" * len(names)) + ")"
    full, rest = divmod(len(rows), per_statement)
    statements = []
    if full:
        chunks = [
            [v for row in rows[k * per_statement : (k + 1) * per_statement] for v in row]
            for k in range(full)
        ]
        statements.append((head + ", ".join([mark] * per_statement), chunks))
    if rest:
        tail = [v for row in rows[full * per_statement :] for v in row]
        statements.append((head + ", ".join([mark] * rest), [tail]))
    return statements


def _bound(table: Table, name: str, values: list[Any], dialect: Any) -> list[Any]:
    """The column's values as its bind processor hands them to the driver."""
    column = table.c[name]
    process = column.type.bind_processor(dialect)
    if process is None:
        return values
    first = values[0]
    if all(v is first for v in values):
        return [None if first is None else process(first)] * len(values)
    if isinstance(column.type, Float) and all(type(v) is float for v in values):
        return values  # the processor is float(value)
    return [None if v is None else process(v) for v in values]
