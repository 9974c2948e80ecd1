"""Property-based run of every endpoint in the OpenAPI schema: no 5xx, no answer off-schema."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from litestar import Litestar
from litestar.testing import AsyncTestClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from alerts.delivery import heartbeat
from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database
from tests.factories import DIEMA, KIDAL, Factory, incident_payload

MAX_EXAMPLES = 12
# Run last: it deletes the calling organisation, after which its token answers 401.
LAST = ("DELETE", "/api/v1/organisations/me")


def fuzz(app: Litestar, headers: dict[str, str]) -> tuple[int, list[str]]:
    """Every operation with bounded examples; returns (requests made, failures)."""
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: (op.method.upper(), op.path) == LAST)
    made = 0
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            nonlocal made
            response = case.call(headers=headers)
            made += 1
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            run()
        except (AssertionError, BaseExceptionGroup) as exc:  # one run names every failing endpoint
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:400]}")
    return made, failures


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_no_5xx_and_no_schema_violation(
    settings: Settings, db: Database, client: AsyncTestClient, factory: Factory
) -> None:
    admin = await factory.caller("admin")
    reporter = await factory.caller("reporter")
    for at, level in ((DIEMA, "amber"), (KIDAL, "red"), (DIEMA, "clear")):
        created = await client.post(
            "/api/v1/incidents",
            json=incident_payload(at=at, sharing_level=level),
            headers=reporter.headers,
        )
        assert created.status_code == 201
    # A dispatcher beating (in the database, as `sentinelle dispatch` does), so that
    # /api/v1/ready answers 200 for the whole run: its 503 is tested in tests/ops/test_ready.py.
    async with db.transaction() as session:
        await heartbeat.beat(session, "schemathesis-dispatcher", datetime.now(UTC))
    ready = replace(settings, ready_heartbeat_seconds=24 * 3600)
    # Its own app: schemathesis runs the app's startup and shutdown in its own event loop.
    made, failures = await asyncio.to_thread(fuzz, create_app(ready, db=db), admin.headers)
    print(f"\nschemathesis made {made} requests")
    assert made > 0
    assert failures == [], "\n".join(failures[:20])
