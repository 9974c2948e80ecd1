"""Red team, the edge: exports a spreadsheet would run, inputs that used to answer 500, NUL
characters, deep JSON under another content type, forged log lines, unaudited refusals.

Everything goes through HTTP to a real server (`http`), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import hxl
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from sqlalchemy import func, select

from incidents.audit import log as audit
from incidents.db import Database
from incidents.records.model import Role
from incidents.records.tables import IncidentRow
from incidents.sharing.tables import AuditRow
from tests.factories import Caller, Factory, incident_payload

PROBLEM = "application/problem+json"
FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]
BAD_TIMES = [
    "0001-01-01T00:00:00+01:00",  # before 0001-01-01 once in UTC
    "9999-12-31T23:59:59-05:00",  # after 9999-12-31 once in UTC
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def assert_problem(response: httpx.Response, field: str | None = None) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:400])
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    if field is not None:
        assert body.get("field") == field, body
        assert body["invalid_params"][0]["name"] == field, body
    return body


async def count(db: Database, table: Any) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def incident_state(db: Database) -> list[tuple[Any, ...]]:
    async with db.read() as session:
        rows = await session.execute(
            select(
                IncidentRow.id,
                IncidentRow.version,
                IncidentRow.occurred_at,
                IncidentRow.description,
            ).order_by(IncidentRow.id)
        )
        return [tuple(r) for r in rows]


def concrete_routes(app: Litestar, ids: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(method, template, concrete path) for every route of the app; path parameters filled in."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path = route.path
        for name, value in ids.items():
            path = path.replace("{" + name + "}", value)
        path = re.sub(r"\{[^}:]+:uuid\}", str(uuid.uuid4()), path)
        path = re.sub(r"\{[^}:]+:(str|path)\}", "x", path)
        for method in sorted(route.methods):
            if method in METHODS:
                yield method, route.path, path


@pytest.fixture(name="admin")
async def fx_admin(factory: Factory) -> Caller:
    return await factory.caller(Role.ADMIN)


async def report(http: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/incidents", json=incident_payload(**fields), headers=who.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# ---------------------------------------------------------------------------- CSV / HXL injection


async def test_csv_export_neutralises_formulas_and_keeps_numbers(
    http: httpx.AsyncClient, admin: Caller
) -> None:
    for formula in FORMULAS:
        await report(http, admin, description=formula, place_name=formula, actor=formula)
    response = await http.get("/api/v1/incidents", params={"format": "csv"}, headers=admin.headers)
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["description"] for r in rows) == sorted("'" + f for f in FORMULAS)
    for row in rows:
        for column in ("description", "place_name", "actor"):
            assert row[column].startswith("'"), row
        # Numbers stay numbers: a western longitude is negative and written as it is.
        assert float(row["lon"]) == pytest.approx(-9.183)
        assert row["lon"].startswith("-")
        assert float(row["lat"]) == pytest.approx(14.5406)
        assert int(row["severity"]) == 4
    for cell in (c for r in rows for c in r.values()):
        assert cell[:1] not in ("=", "+", "@", "\t", "\r"), cell
        assert not re.match(r"-[^0-9.]", cell), cell


async def test_hxl_export_neutralises_formulas_and_still_parses(
    http: httpx.AsyncClient, admin: Caller
) -> None:
    for formula in FORMULAS:
        await report(http, admin, description=formula, actor=formula)
    response = await http.get("/api/v1/incidents", params={"format": "hxl"}, headers=admin.headers)
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[1][0].startswith("#")  # the hashtag row is untouched
    column = rows[1].index("#description")
    assert sorted(r[column] for r in rows[2:]) == sorted("'" + f for f in FORMULAS)
    # HXL tools read it: every text cell is text, the longitude a (negative) number.
    data = hxl.data(io.BytesIO(response.content))
    seen = 0
    for row in data:
        seen += 1
        assert row.get("#description").startswith("'")
        assert row.get("#group+name+perpetrator").startswith("'")
        assert float(row.get("#geo+lon")) == pytest.approx(-9.183)
    assert seen == len(FORMULAS)


# ---------------------------------------------------------------------------- no 500s


async def test_out_of_range_times_are_refused_naming_the_field(
    http: httpx.AsyncClient, app: Litestar, db: Database, admin: Caller
) -> None:
    incident = await report(http, admin)
    zones = (await http.get("/api/v1/zones", headers=admin.headers)).json()["features"]
    ids = {"incident_id:uuid": incident["id"], "zone_id:str": zones[0]["id"]}
    before = await incident_state(db)
    schema = app.openapi_schema.to_schema()
    probed = 0
    for method, template, path in concrete_routes(app, ids):
        operation = schema["paths"].get(re.sub(r":\w+\}", "}", template), {}).get(method.lower())
        for parameter in (operation or {}).get("parameters", []):
            kinds = [parameter.get("schema", {}), *parameter.get("schema", {}).get("oneOf", [])]
            if parameter["in"] != "query" or not any(k.get("format") == "date-time" for k in kinds):
                continue
            for value in BAD_TIMES:
                response = await http.request(
                    method, path, params={parameter["name"]: value}, headers=admin.headers
                )
                assert_problem(response, parameter["name"])
                probed += 1
    assert probed >= 8 * len(BAD_TIMES)  # since, until (3 lists), at, from, to...
    for value in BAD_TIMES:
        response = await http.post(
            "/api/v1/incidents", json=incident_payload(occurred_at=value), headers=admin.headers
        )
        assert_problem(response, "occurred_at")
        response = await http.patch(
            f"/api/v1/incidents/{incident['id']}",
            json={"occurred_at": value},
            headers={**admin.headers, "If-Match": '"1"'},
        )
        assert_problem(response, "occurred_at")
    assert await incident_state(db) == before


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_non_finite_numbers_are_refused(
    http: httpx.AsyncClient, db: Database, admin: Caller, number: str
) -> None:
    headers = {**admin.headers, "content-type": "application/json"}
    bodies = [
        ("/api/v1/incidents", {**incident_payload(), "lat": "@"}),
        ("/api/v1/incidents", {**incident_payload(), "impact": {"killed": "@"}}),
        (
            "/api/v1/risk/assess",
            {"geometry": {"type": "Point", "coordinates": [-9.18, 14.54]}, "radius_km": "@"},
        ),
        (
            "/api/v1/risk/assess",
            {"geometry": {"type": "Point", "coordinates": ["@", 14.54]}, "radius_km": 5},
        ),
    ]
    for url, body in bodies:
        text = json.dumps(body).replace('"@"', number)
        response = await http.post(url, content=text, headers=headers)
        assert_problem(response, "body")
    assert await count(db, IncidentRow) == 0


# ---------------------------------------------------------------------------- NUL at the edge


async def test_nul_is_refused_at_the_edge_on_every_route(
    http: httpx.AsyncClient, app: Litestar, db: Database, admin: Caller
) -> None:
    incident = await report(http, admin)
    before = await incident_state(db)
    audit_rows = await count(db, AuditRow)
    for method, template, path in concrete_routes(app, {"incident_id:uuid": incident["id"]}):
        # In the query, named or unknown to the route.
        response = await http.request(method, path + "?probe=a%00b", headers=admin.headers)
        assert_problem(response, "probe")
        if ":str}" in template:
            nul_path = re.sub(r"/x(?=/|$)", "/a%00b", path, count=1)
            response = await http.request(method, nul_path, headers=admin.headers)
            assert_problem(response, "path")
        if method in ("POST", "PUT", "PATCH"):
            for body, field in [
                ({"name": "a\u0000b"}, "name"),
                (
                    {"description": "ok", "impact": {"killed": 1, "note": ["x", "\u0000"]}},
                    "impact.note[1]",
                ),
            ]:
                response = await http.request(method, path, json=body, headers=admin.headers)
                assert_problem(response, field)
            response = await http.request(
                method,
                path,
                content="from=%2B22370000000&text=a%00b",
                headers={**admin.headers, "content-type": "application/x-www-form-urlencoded"},
            )
            assert_problem(response, "text")
    # The fields a report stores: each named, nothing stored.
    for field in ("description", "place_name", "actor", "external_id", "type"):
        response = await http.post(
            "/api/v1/incidents",
            json=incident_payload(**{field: "Diéma\u0000"}),
            headers=admin.headers,
        )
        assert_problem(response, field)
    # A JSON text "\\u0000" (a backslash, then u0000) is plain text, not a NUL.
    await report(http, admin, description="\\u0000 is how JSON writes NUL")
    after = await incident_state(db)
    assert set(before) <= set(after)
    assert len(after) == len(before) + 1
    assert await count(db, AuditRow) >= audit_rows


# ---------------------------------------------------------------------------- deep JSON


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream", ""],
)
async def test_deep_json_is_refused_whatever_the_content_type(
    http: httpx.AsyncClient, app: Litestar, db: Database, admin: Caller, content_type: str
) -> None:
    deep = '{"type": "kidnapping", "geometry": ' + "[" * 5000 + "]" * 5000 + "}"
    headers = {**admin.headers, "content-type": content_type}
    for method, _, path in concrete_routes(app, {}):
        if method not in ("POST", "PUT", "PATCH"):
            continue
        response = await http.request(method, path, content=deep, headers=headers)
        body = assert_problem(response, "body")
        assert response.status_code == 400, body
        # The pages answer in French unless asked otherwise; the API in English.
        assert ("imbriqué" if path.startswith("/web") else "nested") in body["detail"], body
    assert await count(db, IncidentRow) == 0


# ---------------------------------------------------------------------------- log lines


class _Exploding:
    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("zone store down")

        return fail


async def test_a_crlf_in_the_path_cannot_forge_a_log_line(
    http: httpx.AsyncClient,
    app: Litestar,
    admin: Caller,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A server-side failure logs the path it was serving: the client wrote that path.
    monkeypatch.setattr(app.state.container, "zones", _Exploding())
    forged = "/api/v1/zones/x%0D%0AERROR%20sentinelle.api%20admin%20token%20leaked%0Aend"
    with caplog.at_level(logging.ERROR, logger="sentinelle"):
        response = await http.get(forged, headers=admin.headers)
    assert response.status_code == 500
    assert "zone store down" not in response.text
    records = [r for r in caplog.records if "leaked" in r.getMessage()]
    assert len(records) == 1, [r.getMessage() for r in caplog.records]
    message = records[0].getMessage()
    assert "\n" not in message, message
    assert "\r" not in message, message
    assert "\\x0d\\x0aERROR" in message
    formatted = logging.Formatter("%(levelname)s %(name)s %(message)s").format(records[0])
    assert len(formatted.splitlines()) == 1


# ---------------------------------------------------------------------------- audited refusals


async def denials(db: Database, user_id: uuid.UUID) -> list[AuditRow]:
    async with db.read() as session:
        rows = await session.scalars(
            select(AuditRow)
            .where(AuditRow.action == "authz.denied", AuditRow.actor_user_id == user_id)
            .order_by(AuditRow.id)
        )
        return list(rows)


async def test_refusals_are_audited_with_the_route_not_the_values(
    http: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    reporter = await factory.caller(Role.REPORTER)
    held = uuid.uuid4()
    response = await http.post(
        f"/api/v1/intake/held/{held}/publish", json={}, headers=reporter.headers
    )
    assert_problem(response)
    assert response.status_code == 403
    response = await http.post(
        "/api/v1/alerts/broadcast?note=secret-value",
        json={
            "message": {"fr": "x", "en": "x"},
            "area": {"type": "Point", "coordinates": [-9.18, 14.54]},
        },
        headers=reporter.headers,
    )
    assert response.status_code == 403, response.text
    rows = await denials(db, reporter.user_id)
    assert [(r.details["method"], r.details["route"]) for r in rows] == [
        ("POST", "/api/v1/intake/held/{held_id}/publish"),
        ("POST", "/api/v1/alerts/broadcast"),
    ]
    for row in rows:
        assert row.actor_org_id == reporter.org_id
        text = json.dumps(row.details) + str(row.target_id)
        assert str(held) not in text
        assert "secret-value" not in text
        assert reporter.token not in text
        assert "stl_" not in text
        assert row.details.get("reason")


async def test_a_failing_audit_write_still_answers_403(
    http: httpx.AsyncClient, db: Database, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    reporter = await factory.caller(Role.REPORTER)

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit table locked")

    monkeypatch.setattr(audit, "write", broken)
    response = await http.get("/api/v1/intake/held", headers=reporter.headers)
    assert response.status_code == 403, response.text
    assert_problem(response)
    monkeypatch.undo()
    response = await http.get("/api/v1/intake/held", headers=reporter.headers)
    assert response.status_code == 403
    assert len(await denials(db, reporter.user_id)) == 1


async def test_a_refusal_the_guard_audits_itself_is_written_once(
    http: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    reporter = await factory.caller(Role.REPORTER)
    response = await http.get("/api/v1/trust-networks", headers=reporter.headers)
    assert response.status_code == 403, response.text
    assert len(await denials(db, reporter.user_id)) == 1
