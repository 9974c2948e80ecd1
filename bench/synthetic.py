"""Synthetic incidents over Mali's insecure areas for the benches: inputs, bodies, table columns."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from sqlalchemy.dialects import sqlite

from incidents.records.demo import HOTSPOTS, TYPES
from incidents.records.store import cell_of
from incidents.records.tables import IncidentRow
from incidents.records.validation import MALI_SERVICE_AREA
from incidents.taxonomy import catalogue as taxonomy

FloatArray = npt.NDArray[np.float64]
_WEIGHTS = np.array([h[3] for h in HOTSPOTS], dtype=np.float64)
_TYPE_CODES = [t for t, _ in TYPES]
_TYPE_WEIGHTS = np.array([w for _, w in TYPES], dtype=np.float64)


def points_in_insecure_areas(rng: np.random.Generator, n: int) -> tuple[FloatArray, FloatArray]:
    """(lat, lon) arrays scattered around the demo hotspots, weighted by their activity."""
    which = rng.choice(len(HOTSPOTS), size=n, p=_WEIGHTS / _WEIGHTS.sum())
    centre = np.array([(h[1], h[2], h[4]) for h in HOTSPOTS])[which]
    lat = centre[:, 0] + rng.normal(0.0, 1.0, n) * centre[:, 2] / 2
    lon = centre[:, 1] + rng.normal(0.0, 1.0, n) * centre[:, 2] / 2
    minx, miny, maxx, maxy = MALI_SERVICE_AREA
    return np.clip(lat, miny + 0.01, maxy - 0.01), np.clip(lon, minx + 0.01, maxx - 0.01)


def _types(rng: np.random.Generator, n: int) -> list[str]:
    idx = rng.choice(len(_TYPE_CODES), size=n, p=_TYPE_WEIGHTS / _TYPE_WEIGHTS.sum())
    return [_TYPE_CODES[i] for i in idx]


def _places(lat: FloatArray, lon: FloatArray) -> list[str]:
    centres = np.array([(h[1], h[2]) for h in HOTSPOTS])
    squared = (lat[:, None] - centres[:, 0]) ** 2 + (lon[:, None] - centres[:, 1]) ** 2
    nearest = np.argmin(squared, axis=1)
    return [f"près de {HOTSPOTS[i][0]}" for i in nearest]


@dataclass(frozen=True, slots=True)
class BenchRow:
    """The shape `incidents.importer.import_rows` reads."""

    row_number: int
    incident: dict[str, Any] | None
    error: str | None = None
    field: str | None = None


def incident_inputs(n: int, *, now: datetime, days: int = 365, seed: int = 1) -> Iterator[BenchRow]:
    """n valid, distinct incident inputs as a client or a CSV import would send them."""
    rng = np.random.default_rng(seed)
    lat, lon = points_in_insecure_areas(rng, n)
    kinds = _types(rng, n)
    places = _places(lat, lon)
    ages = rng.uniform(60.0, days * 86400.0, n)
    severities = rng.integers(1, 6, n)
    for i in range(n):
        yield BenchRow(
            row_number=i + 1,
            incident={
                "type": kinds[i],
                "occurred_at": (now - timedelta(seconds=float(ages[i]))).isoformat(),
                "lat": round(float(lat[i]), 5),
                "lon": round(float(lon[i]), 5),
                "severity": int(severities[i]),
                "place_name": places[i],
                "description": f"[bench] incident synthétique {seed}-{i}",
                "source_type": "staff",
                "reliability": "B",
                "credibility": 2,
                "external_id": f"bench:{seed}:{i}",
            },
        )


def post_body(rng: np.random.Generator, serial: str, *, now: datetime) -> bytes:
    """One JSON body for POST /api/v1/incidents (the Python twin of the wrk script's bodies)."""
    lat, lon = points_in_insecure_areas(rng, 1)
    occurred = now - timedelta(seconds=float(rng.uniform(60.0, 90 * 86400.0)))
    body = {
        "type": _types(rng, 1)[0],
        "occurred_at": occurred.isoformat(),
        "lat": round(float(lat[0]), 5),
        "lon": round(float(lon[0]), 5),
        "severity": int(rng.integers(1, 6)),
        "place_name": _places(lat, lon)[0],
        "description": f"[bench] {serial}",
        "source_type": "staff",
        "reliability": "B",
        "credibility": 2,
    }
    return json.dumps(body).encode()


def wrk_script(*, authorization: str | None, idempotency: bool, run_id: str = "") -> str:
    """A wrk Lua script whose every request is a distinct, valid incident within Mali.

    Idempotency keys carry `run_id` so that a database reused by several runs sees fresh keys.
    """
    run_id = run_id or uuid.uuid4().hex[:12]
    spots = ",".join(
        f'{{"{name}",{lat},{lon},{spread}}}'
        for name, lat, lon, weight, spread in HOTSPOTS
        for _ in range(weight)
    )
    kinds = ",".join(f'"{code}"' for code, weight in TYPES for _ in range(weight))
    minx, miny, maxx, maxy = MALI_SERVICE_AREA
    auth = f'wrk.headers["Authorization"] = "{authorization}"' if authorization else ""
    key = (
        f'headers["Idempotency-Key"] = "bench-{run_id}-" .. tid .. "-" .. n' if idempotency else ""
    )
    return f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{auth}
local spots = {{{spots}}}
local kinds = {{{kinds}}}
local threads = {{}}
local n = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  math.randomseed(os.time() + 7919 * tid)
end

local function gauss()
  local u1, u2 = math.random(), math.random()
  if u1 < 1e-12 then u1 = 1e-12 end
  return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
end

local function clip(v, lo, hi)
  if v < lo then return lo end
  if v > hi then return hi end
  return v
end

request = function()
  n = n + 1
  local s = spots[math.random(#spots)]
  local lat = clip(s[2] + gauss() * s[4] / 2, {miny + 0.01}, {maxy - 0.01})
  local lon = clip(s[3] + gauss() * s[4] / 2, {minx + 0.01}, {maxx - 0.01})
  local at = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - math.random(60, 90 * 86400))
  local body = string.format(
    '{{"type":"%s","occurred_at":"%s","lat":%.5f,"lon":%.5f,"severity":%d,' ..
    '"place_name":"près de %s","description":"[bench] %d-%d","source_type":"staff",' ..
    '"reliability":"B","credibility":2}}',
    kinds[math.random(#kinds)], at, lat, lon, math.random(1, 5), s[1], tid, n)
  -- wrk.format uses only the headers it is given: start from the common ones.
  local headers = {{}}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  {key}
  return wrk.format(nil, nil, headers, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n{{"requests":%d,"duration_us":%d,"status_errors":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_ms":%.3f,"p99_ms":%.3f}}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


# --- stored rows, column-wise (for loading 1M rows straight into SQLite) ------------------------


def _processor(column: str) -> Callable[[Any], Any]:
    """How SQLAlchemy binds this column's values on SQLite, so raw rows read back identically."""
    proc = IncidentRow.__table__.c[column].type.bind_processor(sqlite.dialect())
    return proc if proc is not None else (lambda v: v)


def stored_columns(
    n: int,
    *,
    now: datetime,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    days: int = 5 * 365,
    seed: int = 2,
) -> dict[str, list[Any] | Any]:
    """Values of the incidents table for n point incidents for sqlite3 (each a list or a constant).

    Occurrence times are uniform over the last `days` days; positions as points_in_insecure_areas.
    """
    rng = np.random.default_rng(seed)
    lat, lon = points_in_insecure_areas(rng, n)
    kinds = _types(rng, n)
    ages = rng.uniform(60.0, days * 86400.0, n)
    bind_uuid, bind_time = _processor("id"), _processor("occurred_at")
    bind_bool = _processor("is_demo")
    occurred = [bind_time(now - timedelta(seconds=float(a))) for a in ages]
    wkb = shapely.to_wkb(shapely.points(lon, lat), output_dimension=2)
    categories = {code: taxonomy.get_type(code).category for code in set(kinds)}
    lons, lats = lon.tolist(), lat.tolist()
    return {
        "id": [bind_uuid(uuid.UUID(bytes=b)) for b in _uuid_bytes(rng, n)],
        "type": kinds,
        "category": [categories[k] for k in kinds],
        "occurred_at": occurred,
        "time_precision": "exact",
        "reported_at": occurred,
        "geometry_wkb": [bytes(b) for b in wkb],
        "geometry_type": "Point",
        "min_lon": lons,
        "min_lat": lats,
        "max_lon": lons,
        "max_lat": lats,
        "lon": lons,
        "lat": lats,
        "cell": [cell_of(x, y) for x, y in zip(lons, lats, strict=True)],
        "location_precision": "near",
        "place_name": None,
        "severity": rng.integers(1, 6, n).tolist(),
        "killed": 0,
        "injured": 0,
        "abducted": 0,
        "detained": 0,
        "missing": 0,
        "aid_workers_affected": bind_bool(False),
        "perpetrator": "unknown",
        "actor": None,
        "description": "[bench] incident synthétique",
        "source_type": "staff",
        "reliability": "B",
        "credibility": 2,
        "status": "reported",
        "sharing_level": "amber",
        "hide_organisation": bind_bool(False),
        "org_id": bind_uuid(org_id),
        "user_id": bind_uuid(user_id),
        "external_id": None,
        "is_demo": bind_bool(False),
        "version": 1,
        "created_at": occurred,
        "updated_at": occurred,
    }


def _uuid_bytes(rng: np.random.Generator, n: int) -> list[bytes]:
    raw = rng.bytes(16 * n)
    return [raw[i : i + 16] for i in range(0, 16 * n, 16)]


def rows_of(columns: dict[str, list[Any] | Any], start: int, stop: int) -> list[tuple[Any, ...]]:
    """Rows start..stop as tuples in the order of `columns`."""
    parts = [
        v[start:stop] if isinstance(v, list) else [v] * (stop - start) for v in columns.values()
    ]
    return list(zip(*parts, strict=True))
