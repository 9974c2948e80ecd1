"""Structured logs: one JSON line per request with its id, organisation id, route template,
status and duration; an incoming X-Request-ID is kept when sane and echoed; and the lines of
realistic traffic name no place, incident, token, phone number, channel address or narrative."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.cli.main import main
from api.http.hardening import redact
from api.http.logs import QUIETED, configure_logging, log_handler
from tests.factories import Factory
from tests.ops.test_metrics import realistic_traffic, secrets_found

Client = AsyncTestClient[Litestar]


class Lines:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.all() if line["logger"] == "sentinelle.access"]


@contextmanager
def serve_logging(level: str = "info") -> Iterator[io.StringIO]:
    """What `sentinelle serve` sets up, written to a buffer; the logging set-up is put back."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    others = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in ("litestar", "uvicorn", "uvicorn.error", "uvicorn.access", "sentinelle")
    }
    levels = {name: logging.getLogger(name).level for name in (*others, *QUIETED)}
    stream = io.StringIO()
    configure_logging("json", level, stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, (handlers, propagate) in others.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.propagate = propagate
        for name, level_before in levels.items():
            logging.getLogger(name).setLevel(level_before)


@pytest.fixture(name="json_logs")
def fx_json_logs(app: Litestar) -> Iterator[Lines]:
    with serve_logging() as stream:
        yield Lines(stream)


async def test_each_request_is_one_json_line_with_its_id_organisation_route_status_and_duration(
    client: Client, factory: Factory, json_logs: Lines
) -> None:
    officer = await factory.caller("officer")
    incident_id = uuid.uuid4()
    answer = await client.get(f"/api/v1/incidents/{incident_id}", headers=officer.headers)
    assert answer.status_code == 404
    [line] = json_logs.access()
    assert line["level"] == "info"
    assert line["method"] == "GET"
    assert line["status"] == 404
    assert line["route"].startswith("/api/v1/incidents/{incident_id")
    assert line["org_id"] == str(officer.org_id)
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["timestamp"].endswith("+00:00")
    assert line["request_id"] == answer.headers["x-request-id"]
    assert str(incident_id) not in json.dumps(line)


async def test_a_sane_incoming_request_id_is_kept_and_echoed(
    client: Client, json_logs: Lines
) -> None:
    answer = await client.get("/api/v1/health", headers={"X-Request-ID": "proxy-7f3a9c21"})
    assert answer.headers["x-request-id"] == "proxy-7f3a9c21"
    assert json_logs.access()[-1]["request_id"] == "proxy-7f3a9c21"


@pytest.mark.parametrize(
    "incoming",
    ["short", "x" * 200, "abc def ghi jkl", "id\r\nforged: line", "Kidal;drop table"],
    ids=["too-short", "too-long", "spaces", "crlf", "punctuation"],
)
async def test_an_odd_incoming_request_id_is_replaced(
    client: Client, json_logs: Lines, incoming: str
) -> None:
    answer = await client.get("/api/v1/health", headers={"X-Request-ID": incoming})
    echoed = answer.headers["x-request-id"]
    assert echoed != incoming
    assert len(echoed) == 32
    assert json_logs.access()[-1]["request_id"] == echoed


async def test_an_unknown_path_is_logged_by_no_route_and_never_by_its_path(
    client: Client, json_logs: Lines
) -> None:
    answer = await client.get("/api/v1/Kidal/Tessalit?near=18.44,1.40")
    assert answer.status_code == 404
    [line] = json_logs.access()
    assert line["route"] == "(unmatched)"
    assert "Kidal" not in json_logs.stream.getvalue()
    assert "18.44" not in json_logs.stream.getvalue()


async def test_the_log_lines_of_realistic_traffic_name_nothing_they_must_not(
    client: Client, factory: Factory, json_logs: Lines
) -> None:
    ids, tokens = await realistic_traffic(client, factory)
    text = json_logs.stream.getvalue()
    lines = json_logs.all()
    assert len(json_logs.access()) >= 20
    assert secrets_found(text, ids, tokens) == []
    assert "127.0.0.1:" not in text  # the subscription's channel address
    assert all(set(line) >= {"timestamp", "level", "logger", "message"} for line in lines)


def test_a_record_logged_with_a_secret_is_redacted_in_the_json_line() -> None:
    with serve_logging("debug") as stream:
        logging.getLogger("sentinelle.test").warning(
            "sending to %s for %s failed with Bearer %s",
            "json://127.0.0.1:9999/hook/+22376451289",
            "+223 76 45 12 89",
            "stl_abcdefghijklmnop",
        )
    [line] = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["level"] == "warning"
    assert line["logger"] == "sentinelle.test"
    for secret in ("127.0.0.1", "22376451289", "76 45 12 89", "stl_abc"):
        assert secret not in line["message"]
    assert line["message"].startswith("sending to json://[redacted] for [phone] failed")


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)", True),
        ("retry at 2026-12-03 06:25:13 after 1234.5 ms", True),
        ("incident 1b4e28ba-2fa1-11d2-883f-0016d3cca427 re-scored", True),
        ("mailto://user:secret@mail.example.org?to=a@b.org", False),
        ("call 76 45 12 89 now", False),
    ],
)
def test_redaction_keeps_what_an_operator_needs(text: str, kept: bool) -> None:
    assert (redact(text) == text) is kept


def test_serve_refuses_an_unknown_log_format_before_starting(tmp_path: Any) -> None:
    result = CliRunner().invoke(
        main,
        ["serve"],
        env={
            "SENTINELLE_LOG_FORMAT": "xml",
            "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db",
            "SENTINELLE_VAR_DIR": str(tmp_path),
        },
    )
    assert result.exit_code == 2
    assert "SENTINELLE_LOG_FORMAT='xml' is not valid: json" in result.output


def test_text_logs_for_people_carry_the_request_id_too() -> None:
    stream = io.StringIO()
    handler = log_handler("text", stream)
    record = logging.LogRecord("sentinelle.test", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id = "proxy-7f3a9c21"
    handler.handle(record)
    line = stream.getvalue().strip()
    assert "INFO sentinelle.test hello" in line
    assert "request_id=proxy-7f3a9c21" in line
