"""Structured logs: JSON lines (or text for humans) carrying the request id, the organisation id,
the route template, the status and the duration; one access line per request; every line goes
through the redaction of api.http.hardening (tokens, channel addresses, phone numbers)."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.http.hardening import RedactSecrets, redact
from incidents.identity.accounts import Principal

FORMATS = ("json", "text")
LEVELS = ("debug", "info", "warning", "error", "critical")
ACCESS_LOGGER = "sentinelle.access"
REQUEST_ID_HEADER = b"x-request-id"
# The route of a request no handler matched (an unknown path): never the path itself.
UNMATCHED = "(unmatched)"
# Methods named in logs and metrics; anything else a client sends is "OTHER".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# An incoming X-Request-ID is kept when it is this sane (a proxy's or a client's correlation id).
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{8,128}")
# Loggers whose own handlers (Litestar's, uvicorn's) would print text beside ours.
_REROUTED = ("litestar", "uvicorn", "uvicorn.error", "uvicorn.access", "sentinelle")
# HTTP client libraries log each request's full URL at INFO: a web hook's secret path, a
# channel's query. Only their warnings are kept.
QUIETED = ("httpx", "httpcore", "urllib3", "requests", "apprise")

access_log = logging.getLogger(ACCESS_LOGGER)


@dataclass
class RequestContext:
    """The request being served: its id, and its scope (route and caller once known)."""

    request_id: str
    scope: Scope | None = None

    @property
    def route(self) -> str | None:
        return route_of(self.scope) if self.scope is not None else None

    @property
    def org_id(self) -> str | None:
        user = self.scope.get("user") if self.scope is not None else None
        return str(user.org_id) if isinstance(user, Principal) else None


_CURRENT: ContextVar[RequestContext | None] = ContextVar("sentinelle_request", default=None)


def current_request() -> RequestContext | None:
    return _CURRENT.get()


def route_of(scope: Scope) -> str:
    """The route template (`/api/v1/incidents/{incident_id}`), never the path with its values."""
    template = scope.get("path_template")
    return str(template)[:200] if template else UNMATCHED


def method_of(scope: Scope) -> str:
    method = str(scope.get("method", "")).upper()
    return method if method in METHODS else "OTHER"


def request_id_for(scope: Scope) -> str:
    """The client's or proxy's X-Request-ID when sane, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1").strip()
            if _REQUEST_ID_RE.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class RequestContextFilter(logging.Filter):
    """Puts the request's id, organisation id and route on every record logged while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CURRENT.get()
        for name in ("request_id", "org_id", "route"):
            if getattr(record, name, None) is None:
                value = getattr(context, name) if context is not None else None
                setattr(record, name, value)
        return True


# Fields taken from a record when set (the access line sets method, status and duration_ms).
_FIELDS = ("request_id", "org_id", "route", "method", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp (UTC), level, logger, message and the request fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            # The traceback may quote a value: it goes through the same redaction.
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For people: time, level, logger, message, then the request fields that are known."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(
            f"{name}={getattr(record, name)}"
            for name in ("request_id", "org_id")
            if getattr(record, name, None) is not None
        )
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return f"{text} [{extra}]" if extra else text


def log_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing `log_format` (json or text) lines to `stream` (stderr by default),
    with the request fields and the redaction."""
    if log_format not in FORMATS:
        raise ValueError(
            f"SENTINELLE_LOG_FORMAT={log_format!r} is not valid: json (one JSON object a line, "
            "for log collectors) or text (for people). Fix or unset the variable."
        )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(RedactSecrets())
    return handler


def log_level(name: str) -> int:
    if name.lower() not in LEVELS:
        raise ValueError(
            f"SENTINELLE_LOG_LEVEL={name!r} is not valid: one of {', '.join(LEVELS)}. "
            "Fix or unset the variable."
        )
    return int(getattr(logging, name.upper()))


def check_log_settings(log_format: str, level: str) -> None:
    """Fail with what to fix for a log format or level that is not one of ours."""
    log_handler(log_format).close()
    log_level(level)


def configure_logging(
    log_format: str, level: str = "info", stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log record (ours, Litestar's, uvicorn's) to one handler on the root logger.

    Call it after the app is built: Litestar configures the root logger when it is made."""
    numeric = log_level(level)
    handler = log_handler(log_format, stream)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in _REROUTED:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    for name in QUIETED:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    return handler


Observer = Callable[[str, str, int, float], None]  # (method, route, status, seconds)


class RequestLog:
    """The outermost ASGI layer: gives each request its id (echoed in X-Request-ID), times it,
    tells `observe` (the metrics) and writes one access line, for every answer (unknown paths
    included), with the route template and never the path or the query."""

    def __init__(self, app: ASGIApp, observe: Observer | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(request_id_for(scope), scope)
        token = _CURRENT.set(context)
        header = (REQUEST_ID_HEADER, context.request_id.encode())
        status = 500
        started = time.perf_counter()

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *(h for h in message.get("headers", []) if h[0].lower() != REQUEST_ID_HEADER),
                    header,
                ]
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            seconds = time.perf_counter() - started
            method, route = method_of(scope), route_of(scope)
            if self.observe is not None:
                self.observe(method, route, status, seconds)
            access_log.info(
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            _CURRENT.reset(token)
