"""Protective middleware: request audit scope (authorisation refusals audited), body size and JSON
depth limits whatever the content type, NUL characters and out-of-range times refused at the edge,
spreadsheet formulas neutralised in CSV answers, security headers, strict CORS, rate limits per
token and per address (shared by every process on PostgreSQL: api.http.limits), secrets kept out
of logs and client values escaped in them."""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from sqlalchemy import update

from api.http import limits
from api.http.auth import refusal_event
from api.settings import Settings
from incidents import vocabulary
from incidents.audit import log as audit
from incidents.db import Database
from incidents.errors import InvalidField
from incidents.identity.accounts import Principal
from incidents.interop.rows import neutralised_row
from incidents.records.tables import ApiTokenRow
from incidents.records.validation import check_time
from incidents.sharing.service import load_secret_keys

log = logging.getLogger("sentinelle.api")

# A token use is written to the audit log once per token and address in this window: every use
# is covered, without one database write per request.
TOKEN_USE_WINDOW_SECONDS = 900
# Addresses are shared (mobile carrier NAT, an office behind one router): a wider allowance.
ADDRESS_LIMIT_FACTOR = 5
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_DOCS_PREFIX = "/schema"
_STATIC_PREFIX = "/web/static/"


# ---------------------------------------------------------------------------- log escaping

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape_control(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def log_safe(value: Any, limit: int = 300) -> str:
    """A client-sent value (path, query, header) fit for one log line: control characters,
    CR and LF included, written as `\\xNN`, and cut at `limit` characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return _CONTROL_RE.sub(_escape_control, text)


# ---------------------------------------------------------------------------- problems at the edge


def _problem_bytes(
    status: int, title: str, detail: str, path: str, field: str = "body", language: str = "en"
) -> bytes:
    detail = vocabulary.translate_message(detail, language)
    return json.dumps(
        {
            "type": f"https://sentinelle.example.org/problems/{status}",
            "title": vocabulary.translate_message(title, language),
            "status": status,
            "detail": detail,
            "instance": path,
            "field": field,
            "invalid_params": [{"name": field, "reason": detail}],
        }
    ).encode()


async def _send_problem(
    scope: Scope, send: Send, status: int, title: str, detail: str, path: str, field: str = "body"
) -> None:
    """A problem sent before the application runs, in the request's language."""
    language = request_language(scope)
    body = _problem_bytes(status, title, detail, path, field, language)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"content-language", language.encode()),
                (b"vary", b"Accept-Language"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def json_depth(raw: bytes) -> int:
    """The deepest nesting of objects and arrays, without parsing (strings are skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):  # { [
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x7D, 0x5D):
            depth -= 1
    return deepest


NUL_ADVICE = "contains a NUL character (\\u0000), which is never valid text: remove it and resend."
# `\u0000` in JSON text, not preceded by an escaping backslash (`\\u0000` is the text "\u0000").
_JSON_NUL_RE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_QUERY_DATE_RE = re.compile(rb"(?:^|&)[^=&]*=\d{4}-\d{2}-\d{2}")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ].*)?")
_FORM = b"application/x-www-form-urlencoded"


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _json_field_with_nul(value: Any, path: str = "") -> str | None:
    """The field (`impact.note`, `geometry.coordinates[0]`) whose key or text holds a NUL."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return _join(path, log_safe(key, 60))
            found = _json_field_with_nul(item, _join(path, key))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _json_field_with_nul(item, _join(path, index))
            if found:
                return found
    return None


def _form_field_with_nul(text: str) -> str | None:
    for key, value in parse_qsl(text, keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return log_safe(key, 60) or "body"
    return None


def body_nul_field(body: bytes, content_type: bytes) -> str | None:
    """The field of a request body that carries a NUL character (raw, %00 or \\u0000), if any."""
    form = content_type.startswith(_FORM)
    raw = b"\x00" in body
    # `in` on bytes is C-speed; the regex only runs on a body that has the escape at all.
    escaped = not form and b"\\u0000" in body and _JSON_NUL_RE.search(body) is not None
    if not (raw or (form and b"%00" in body) or escaped):
        return None
    text = body.decode("utf-8", errors="replace")
    if form:
        return _form_field_with_nul(text) or "body"
    try:
        return _json_field_with_nul(json.loads(text, strict=False)) or "body"
    except ValueError:
        return "body"


class EdgeInputMiddleware:
    """422 naming the parameter for what no handler should ever see: a NUL character in the path or
    the query (PostgreSQL refuses NUL in text), and a time in the query outside the years the service
    handles (times near 0001-01-01 or 9999-12-31 overflow once put in UTC)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def _query_problem(self, query: bytes) -> tuple[str, str] | None:
        nul = b"%00" in query or b"\x00" in query
        if not nul and not _QUERY_DATE_RE.search(query):
            return None
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            name = log_safe(key, 60) or "query"
            if "\x00" in key or "\x00" in value:
                return name, f"{name} {NUL_ADVICE}"
            if _DATE_RE.fullmatch(value):
                try:
                    moment = datetime.fromisoformat(value)
                except ValueError:
                    continue  # not a time after all: the handler says what is wrong
                try:
                    check_time(moment, name)
                except InvalidField as exc:
                    return name, exc.detail
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        raw_path = (scope.get("raw_path") or b"").split(b"?", 1)[0]
        if "\x00" in path or b"%00" in raw_path or b"\x00" in raw_path:
            await _send_problem(
                scope,
                send,
                422,
                "Invalid field",
                f"The path {NUL_ADVICE}",
                path.replace("\x00", ""),
                "path",
            )
            return
        problem = self._query_problem(scope.get("query_string", b""))
        if problem is not None:
            await _send_problem(scope, send, 422, "Invalid field", problem[1], path, problem[0])
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 above the size limit, 400 for JSON nested deeper than allowed and 422 for a NUL
    character in a field, before any parsing, whatever the content type claims (the handlers read
    any body that is not a form as JSON)."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        too_big = (
            f"The request body is too large (limit {self.max_bytes} bytes): "
            "send less data per request."
        )
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_problem(scope, send, 413, "Request body too large", too_big, path)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_problem(scope, send, 413, "Request body too large", too_big, path)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").lower().strip()
        if content_type.startswith(b"multipart/"):
            # Files are bytes; no route takes one, and a multipart body is never read as JSON.
            await self.app(scope, _replay(body, receive), send)
            return
        nul_field = body_nul_field(body, content_type)
        if nul_field is not None:
            await _send_problem(
                scope, send, 422, "Invalid field", f"{nul_field} {NUL_ADVICE}", path, nul_field
            )
            return
        # Counting brackets is C-speed; only a body with more of them than the limit is scanned.
        # A form is read as JSON too by the handlers that take a JSON body: one starting with a
        # bracket is checked like JSON.
        if (
            (not content_type.startswith(_FORM) or body.lstrip()[:1] in (b"{", b"["))
            and body.count(b"{") + body.count(b"[") > self.max_depth
            and json_depth(body) > self.max_depth
        ):
            await _send_problem(
                scope,
                send,
                400,
                "Bad request",
                f"The JSON body is nested more than {self.max_depth} levels deep: flatten it.",
                path,
            )
            return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    replayed = False

    async def replay() -> ReceiveMessage:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}  # type: ignore[return-value]
        return await receive()

    return replay


def neutralise_csv(text: str) -> str:
    """The CSV `text` with every cell a spreadsheet would run as a formula neutralised (OWASP)."""
    out = io.StringIO()
    csv.writer(out).writerows(neutralised_row(row) for row in csv.reader(io.StringIO(text)))
    return out.getvalue()


class CsvExportMiddleware:
    """Every CSV answer (text/csv: `?format=csv`, `?format=hxl`) leaves with its formula cells
    neutralised, whichever writer made it: a cell starting with =, +, -, @, tab or CR gets a
    leading `'`; numbers (-9.18) stay numbers. Idempotent: a neutralised cell is left alone.
    A gzip-compressed answer is unzipped, neutralised and zipped again."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] | None = None
        chunks: list[bytes] = []

        async def wrapped(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if kind.lower().startswith(b"text/csv"):
                    start = dict(message)
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                # Compressed by the app's CompressionConfig (which runs inside this middleware).
                zipped = any(
                    k.lower() == b"content-encoding" and v.lower() == b"gzip"
                    for k, v in start.get("headers", [])
                )
                text = (gzip.decompress(body) if zipped else body).decode("utf-8")
                body = neutralise_csv(text).encode("utf-8")
                if zipped:
                    body = gzip.compress(body, compresslevel=6)
                start["headers"] = [
                    *(
                        (k, v)
                        for k, v in start.get("headers", [])
                        if k.lower() != b"content-length"
                    ),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send(start)  # type: ignore[arg-type]
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, wrapped)


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
    ]
    if settings.public_url.startswith("https://"):
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


class SecurityHeadersMiddleware:
    """Headers that stop browsers from sniffing, framing or caching API answers (the pages'
    static files are kept, revalidated on each use)."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path", "").startswith(_DOCS_PREFIX)
        static = scope.get("path", "").startswith(_STATIC_PREFIX)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in self.headers if h[0] not in present]
                if not docs and b"content-security-policy" not in present:
                    # The docs pages load their scripts, the web pages send their own policy; the
                    # API itself never serves active content.
                    extra.append(
                        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
                    )
                    if b"cache-control" not in present:
                        # The pages' scripts and style sheets hold nothing about anyone: the
                        # browser keeps them and asks whether they changed (a 304 on a repeat
                        # visit); everything else is not stored.
                        extra.append((b"cache-control", b"no-cache" if static else b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, wrapped)


class NotModifiedMiddleware:
    """304 Not Modified for a page's static file the browser already holds (its If-None-Match
    names the file's ETag): a repeat visit revalidates the scripts and styles instead of
    downloading them again (the static files router does not answer conditional requests)."""

    _KEPT = frozenset({b"etag", b"last-modified", b"cache-control", b"vary", b"date"})

    def __init__(self, app: ASGIApp, prefix: str = _STATIC_PREFIX) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted: set[bytes] = set()
        if (
            scope["type"] == "http"
            and scope.get("method") in ("GET", "HEAD")
            and scope.get("path", "").startswith(self.prefix)
        ):
            for name, value in scope.get("headers", ()):
                if name == b"if-none-match":
                    wanted |= {t.strip().removeprefix(b"W/") for t in value.split(b",")}
        if not wanted:
            await self.app(scope, receive, send)
            return
        replaced = False

        async def wrapped(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message.get("status") == 200:
                headers = list(message.get("headers", []))
                etag = next((v for k, v in headers if k.lower() == b"etag"), None)
                if etag is not None and (etag.removeprefix(b"W/") in wanted or b"*" in wanted):
                    replaced = True
                    kept = [(k, v) for k, v in headers if k.lower() in self._KEPT]
                    start: Any = {"type": "http.response.start", "status": 304, "headers": kept}
                    await send(start)
                    return
            elif message["type"] == "http.response.body" and replaced:
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, wrapped)


class CorsMiddleware:
    """Only configured origins get CORS headers; with none configured, same-origin only."""

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = {o.rstrip("/") for o in origins if o}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1").rstrip("/")
        allowed = bool(origin) and origin in self.origins
        if scope.get("method") == "OPTIONS" and b"access-control-request-method" in headers:
            response_headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
            if allowed:
                response_headers += [
                    (b"access-control-allow-origin", origin.encode()),
                    (b"access-control-allow-methods", b"GET, POST, PATCH, PUT, DELETE"),
                    (
                        b"access-control-allow-headers",
                        b"Authorization, Content-Type, If-Match, Idempotency-Key",
                    ),
                    (b"access-control-max-age", b"600"),
                ]
            start: Any = {
                "type": "http.response.start",
                "status": 204 if allowed else 403,
                "headers": response_headers,
            }
            await send(start)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start" and allowed:
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", origin.encode()),
                    (b"access-control-expose-headers", b"ETag, Location, Idempotent-Replayed"),
                    (b"vary", b"Origin"),
                ]
            await send(message)

        await self.app(scope, receive, wrapped)


#: Where the exception handlers leave the reason of a 403 for the audit event (api/errors.py).
REFUSAL_REASON_KEY = "sentinelle.refusal_reason"


class AuditMiddleware:
    """Opens the audit scope of a request and writes its events before the answer leaves."""

    def __init__(self, app: ASGIApp, db: Database, seen: dict[tuple[Any, str], float]) -> None:
        self.app = app
        self.db = db
        self.seen = seen

    def _token_use(self, scope: Scope, address: str) -> audit.AuditEvent | None:
        user = scope.get("user")
        if not isinstance(user, Principal) or user.token_id is None:
            return None
        key = (user.token_id, address)
        now = time.monotonic()
        if now - self.seen.get(key, -1e18) < TOKEN_USE_WINDOW_SECONDS:
            return None
        if len(self.seen) > 50_000:
            self.seen.clear()
        self.seen[key] = now
        return audit.event(
            "token.used",
            user,
            target_type="token",
            target_id=user.token_id,
            method=scope.get("method"),
            path=scope.get("path"),
        )

    @staticmethod
    def _refusal(scope: Scope, events: list[audit.AuditEvent]) -> audit.AuditEvent | None:
        """`authz.denied` for a 403 answer, unless the handler already recorded its refusal."""
        if any(e.action == "authz.denied" for e in events):
            return None
        user = scope.get("user")
        principal = user if isinstance(user, Principal) else None
        reason = scope.get(REFUSAL_REASON_KEY)  # type: ignore[misc]
        return refusal_event(principal, scope, reason if isinstance(reason, str) else None)

    async def _flush(
        self, scope: Scope, request_audit: audit.RequestAudit, status: int = 200
    ) -> None:
        events = list(request_audit.events)
        request_audit.events.clear()
        if status == 403:
            refusal = self._refusal(scope, events)
            if refusal is not None:
                events.append(refusal)
        used = self._token_use(scope, request_audit.address or "")
        if used is not None:
            events.append(used)
        if not events:
            return
        now = datetime.now(UTC)
        try:
            async with self.db.transaction() as session:
                await audit.write(session, events, now=now, address=request_audit.address)
                user = scope.get("user")
                if used is not None and isinstance(user, Principal):
                    await session.execute(
                        update(ApiTokenRow)
                        .where(ApiTokenRow.id == user.token_id)
                        .values(last_used_at=now)
                    )
        except Exception as exc:  # the answer still goes out; the failure is logged, not hidden
            log.error("Audit write failed: %s", type(exc).__name__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else None
        with audit.request_scope(address, scope) as request_audit:  # type: ignore[arg-type]

            async def wrapped(message: Message) -> None:
                if message["type"] == "http.response.start":
                    await self._flush(scope, request_audit, message.get("status", 200))
                await send(message)

            await self.app(scope, receive, wrapped)


_RATE_WINDOWS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def _scope_token_key(scope: Scope) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value:
            return b"token:" + value
    return _scope_address_key(scope)


def _scope_address_key(scope: Scope) -> bytes:
    client = scope.get("client")
    return b"address:" + (client[0] if client else "unknown").encode()


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` requests per `unit` for each sender as `key` names it (its address, or
    its Authorization header); `bucket` names the limit in the counters."""

    bucket: str
    limit: int
    unit: str
    key: Callable[[Scope], bytes]

    @property
    def window(self) -> int:
        return _RATE_WINDOWS[self.unit]


_TOO_MANY = {
    "en": (
        "Too many requests: at most {limit} per {unit} from this {sender}. "
        "Try again in {seconds} s."
    ),
    "fr": (
        "Trop de requêtes : au plus {limit} par {unit} depuis {sender}. Réessayez dans {seconds} s."
    ),
}
_UNITS = {
    "en": {"second": "second", "minute": "minute", "hour": "hour", "day": "day"},
    "fr": {"second": "seconde", "minute": "minute", "hour": "heure", "day": "jour"},
}
_SENDERS = {
    "en": {"address": "address", "token": "token"},
    "fr": {"address": "cette adresse", "token": "ce jeton"},
}
_LANG_RE = re.compile(r"(?:^|[;&])\s*lang=([A-Za-z]{2})")


def request_language(scope: Scope) -> str:
    """fr or en: `?lang=`, the pages' `lang` cookie, then Accept-Language; else French for the
    pages and English for the API (as their other messages).

    Every browser and phone sends Accept-Language, so people read their language; a request
    without it comes from a program (a script, a gateway, an integration) whose authors match
    the documented English messages."""
    query = scope.get("query_string", b"").decode("latin-1")
    headers = dict(scope.get("headers", []))
    cookie = headers.get(b"cookie", b"").decode("latin-1")
    for source in (query, cookie):
        found = _LANG_RE.search(source)
        if found and found.group(1).lower() in _TOO_MANY:
            return found.group(1).lower()
    default = "fr" if scope.get("path", "").startswith("/web") else "en"
    accept = headers.get(b"accept-language", b"").decode("latin-1")
    return vocabulary.negotiate(accept, default)


class RateLimitMiddleware:
    """Fixed-window request limits (per address, per token), counted by `counter`: in this
    process, or in the database shared by every process (api.http.limits).

    Every answer carries the RateLimit-* headers of the limit closest to its end; a request over
    a limit gets a 429 problem with Retry-After and a message in the user's language. Should the
    shared counter fail (database unreachable), the request goes through and the failure is
    logged: the request will meet the same database anyway.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        rules: Sequence[RateLimit],
        counter: limits.Counter,
        hasher: Callable[[bytes], str],
        exclude: str,
    ) -> None:
        self.app = app
        self.rules = list(rules)
        self.counter = counter
        self.hasher = hasher
        self.exclude = re.compile(exclude)

    @staticmethod
    def _headers(limit: RateLimit, count: int, reset: int, now: int) -> list[tuple[bytes, bytes]]:
        remaining = max(0, limit.limit - count)
        return [
            (b"ratelimit-policy", f"{limit.limit}; w={limit.window}".encode()),
            (b"ratelimit-limit", str(limit.limit).encode()),
            (b"ratelimit-remaining", str(remaining).encode()),
            (b"ratelimit-reset", str(max(0, reset - now)).encode()),
        ]

    async def _too_many(
        self, scope: Scope, send: Send, limit: RateLimit, count: int, reset: int, now: int
    ) -> None:
        lang = request_language(scope)
        seconds = max(1, reset - now)
        detail = _TOO_MANY[lang].format(
            limit=limit.limit,
            unit=_UNITS[lang][limit.unit],
            sender=_SENDERS[lang].get(limit.bucket, limit.bucket),
            seconds=seconds,
        )
        body = json.dumps(
            {
                "type": "https://sentinelle.example.org/problems/429",
                "title": vocabulary.translate_message("Too many requests", lang),
                "status": 429,
                "detail": detail,
                "instance": scope.get("path", ""),
                "retry_after": seconds,
            },
            ensure_ascii=False,
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(seconds).encode()),
                    (b"content-language", lang.encode()),
                    *self._headers(limit, count, reset, now),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exclude.search(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        now = limits.now_seconds()
        hits = [
            limits.Hit(limit.bucket, self.hasher(limit.key(scope)), limit.window)
            for limit in self.rules
        ]
        try:
            counts = await self.counter.hit(hits, now)
        except Exception as exc:  # the shared counter is down: let the request meet the database
            log.error("Rate-limit count failed: %s", type(exc).__name__)
            await self.app(scope, receive, send)
            return
        over = [(lim, c) for lim, c in zip(self.rules, counts, strict=True) if c.count > lim.limit]
        if over:
            limit, count = max(over, key=lambda item: item[1].reset)
            await self._too_many(scope, send, limit, count.count, count.reset, now)
            return
        limit, count = min(
            zip(self.rules, counts, strict=True), key=lambda item: item[0].limit - item[1].count
        )
        ours = self._headers(limit, count.count, count.reset, now)
        names = {k for k, _ in ours}

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *(h for h in message.get("headers", []) if h[0].lower() not in names),
                    *ours,
                ]
            await send(message)

        await self.app(scope, receive, wrapped)


_SECRET_RE = re.compile(r"(stl_[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+\S+|gAAAAA[A-Za-z0-9_\-=]{20,})")
# A channel address (Apprise URL: an SMS gateway, a mailbox, a chat's token) is any URL whose
# scheme is not plain http(s), or an http(s) URL carrying a user, a password or a query: its
# scheme stays, the rest goes. A web address of the service itself stays readable.
_CHANNEL_RE = re.compile(
    r"\b(?!https?://[^\s@/?]+(?:/[^\s?@]*)?(?=[\s\"',;)\]}]|$))([A-Za-z][A-Za-z0-9+.-]{1,31})://\S+"
)
# A phone number: `+` and 8 to 15 digits, or 8 digits and more (spaces or dots between pairs),
# never part of a word, an id, a date, a decimal or a time.
_PHONE_RE = re.compile(
    r"(?<![\w.:/+-])(?:\+\d{1,3}[ .]?)?\d{2}(?:[ .]?\d{2}){3,6}\d?(?![\w:/-])(?!\.\d)"
)


def redact(text: str) -> str:
    """`text` without tokens, bearer headers, ciphertexts, channel addresses or phone numbers."""
    text = _SECRET_RE.sub("[redacted]", text)
    text = _CHANNEL_RE.sub(lambda m: f"{m.group(1)}://[redacted]", text)
    return _PHONE_RE.sub("[phone]", text)


class RedactSecrets(logging.Filter):
    """Masks tokens, bearer headers, Fernet ciphertexts, channel addresses and phone numbers in
    log messages, and escapes control characters in their text arguments (a client's CR/LF
    cannot forge a log line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                log_safe(a, 2000) if isinstance(a, str) and _CONTROL_RE.search(a) else a
                for a in record.args
            )
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_REDACTOR = RedactSecrets()


def install_log_redaction(
    names: Iterable[str] = (
        "",
        "sentinelle",
        "sentinelle.api",
        "uvicorn",
        "uvicorn.error",
        "uvicorn.access",
        "litestar",
    ),
) -> None:
    for name in names:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
        for handler in logger.handlers:
            if _REDACTOR not in handler.filters:
                handler.addFilter(_REDACTOR)


class EdgeMemory:
    """What the edge middleware remembers in this process (one per app): the rate-limit counts
    when they are not shared (SQLite), and when each token was last audited as used."""

    def __init__(self) -> None:
        self.rate_limit_counter: limits.Counter | None = None
        self.token_use_seen: dict[tuple[Any, str], float] = {}


def rate_limits(settings: Settings) -> list[RateLimit]:
    per_token = max(1, settings.rate_limit_per_minute)
    return [
        RateLimit("address", per_token * ADDRESS_LIMIT_FACTOR, "minute", _scope_address_key),
        RateLimit("token", per_token, "minute", _scope_token_key),
    ]


def edge_middleware(
    settings: Settings, db: Database, memory: EdgeMemory | None = None
) -> list[DefineMiddleware]:
    """The protective middleware, outermost first (create_app puts authentication after it)."""
    memory = memory or EdgeMemory()
    if memory.rate_limit_counter is None:
        memory.rate_limit_counter = limits.counter_for(db)
    secret = load_secret_keys(settings.secret_keys, Path(settings.var_dir))[0]
    return [
        DefineMiddleware(SecurityHeadersMiddleware, headers=security_headers(settings)),
        DefineMiddleware(NotModifiedMiddleware),
        DefineMiddleware(CorsMiddleware, origins=settings.cors_origins),
        DefineMiddleware(CsvExportMiddleware),
        DefineMiddleware(EdgeInputMiddleware),
        DefineMiddleware(
            BodyLimitMiddleware,
            max_bytes=settings.max_body_bytes,
            max_depth=settings.max_json_depth,
        ),
        DefineMiddleware(
            RateLimitMiddleware,
            rules=rate_limits(settings),
            counter=memory.rate_limit_counter,
            hasher=limits.key_hasher(secret),
            exclude="^/api/v1/health",
        ),
        DefineMiddleware(AuditMiddleware, db=db, seen=memory.token_use_seen),
    ]
