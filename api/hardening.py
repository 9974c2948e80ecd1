"""Protective middleware: request audit scope, body size and JSON depth limits, security headers,
strict CORS, rate limits per token and per address, and secrets kept out of logs."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from litestar.exceptions import TooManyRequestsException
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from sqlalchemy import update

from api.context import AppContext
from api.settings import Settings
from incidents import audit
from incidents.db import Database
from incidents.identity import Principal
from incidents.tables import ApiTokenRow

log = logging.getLogger("sentinelle.api")

# A token use is written to the audit log once per token and address in this window: every use
# is covered, without one database write per request.
TOKEN_USE_WINDOW_SECONDS = 900
# Addresses are shared (mobile carrier NAT, an office behind one router): a wider allowance.
ADDRESS_LIMIT_FACTOR = 5
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_DOCS_PREFIX = "/schema"


def _problem_bytes(status: int, title: str, detail: str, path: str) -> bytes:
    return json.dumps({
        "type": f"https://sentinelle.example.org/problems/{status}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": path,
        "field": "body",
        "invalid_params": [{"name": "body", "reason": detail}],
    }).encode()


async def _send_problem(send: Send, status: int, title: str, detail: str, path: str) -> None:
    body = _problem_bytes(status, title, detail, path)
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
        ],
    })
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


class BodyLimitMiddleware:
    """413 above the size limit and 400 for JSON nested deeper than allowed, before any parsing."""

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
            await _send_problem(send, 413, "Request body too large", too_big, path)
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
                await _send_problem(send, 413, "Request body too large", too_big, path)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").lower()
        # Counting brackets is C-speed; only a body with more of them than the limit is scanned.
        if (
            b"json" in content_type
            and body.count(b"{") + body.count(b"[") > self.max_depth
            and json_depth(body) > self.max_depth
        ):
            await _send_problem(
                send, 400, "Bad request",
                f"The JSON body is nested more than {self.max_depth} levels deep: flatten it.",
                path,
            )
            return
        replayed = False

        async def replay() -> ReceiveMessage:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}  # type: ignore[return-value]
            return await receive()

        await self.app(scope, replay, send)


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
    """Headers that stop browsers from sniffing, framing or caching API answers."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path", "").startswith(_DOCS_PREFIX)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in self.headers if h[0] not in present]
                if not docs:
                    # The docs pages load their scripts; the API itself never serves active content.
                    extra.append(
                        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
                    )
                    if b"cache-control" not in present:
                        extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
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
                    (b"access-control-allow-headers",
                     b"Authorization, Content-Type, If-Match, Idempotency-Key"),
                    (b"access-control-max-age", b"600"),
                ]
            start: Any = {"type": "http.response.start", "status": 204 if allowed else 403,
                          "headers": response_headers}
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


class AuditMiddleware:
    """Opens the audit scope of a request and writes its events before the answer leaves."""

    def __init__(self, app: ASGIApp, seen: dict[tuple[Any, str], float]) -> None:
        self.app = app
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
        return audit.event("token.used", user, target_type="token", target_id=user.token_id,
                           method=scope.get("method"), path=scope.get("path"))

    async def _flush(self, scope: Scope, request_audit: audit.RequestAudit) -> None:
        events = list(request_audit.events)
        request_audit.events.clear()
        used = self._token_use(scope, request_audit.address or "")
        if used is not None:
            events.append(used)
        if not events:
            return
        db: Database = scope["litestar_app"].state.db
        now = datetime.now(UTC)
        try:
            async with db.transaction() as session:
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
                    await self._flush(scope, request_audit)
                await send(message)

            await self.app(scope, receive, wrapped)


_RATE_WINDOWS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def _scope_token_key(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value:
            # A hash, never the token itself, names the bucket (stores may be dumped or logged).
            return "token:" + hashlib.sha256(value).hexdigest()[:32]
    return _scope_address_key(scope)


def _scope_address_key(scope: Scope) -> str:
    client = scope.get("client")
    return "address:" + (client[0] if client else "unknown")


class RateLimitMiddleware:
    """Fixed-window request limit per key, as Litestar's RateLimitMiddleware answers it.

    Same window, RateLimit-* headers and 429 (TooManyRequestsException), but the count lives in
    a plain dict shared by every route of the app: Litestar's version keeps each key's whole
    timestamp history in a Store and JSON-encodes it twice per request, which grows with traffic
    (a large share of a POST's cost under load).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        unit: str,
        key: Callable[[Scope], str],
        buckets: dict[str, list[int]],
        exclude: str,
    ) -> None:
        self.app = app
        self.limit = limit
        self.window = _RATE_WINDOWS[unit]
        self.key = key
        self.buckets = buckets  # key -> [count, reset (epoch seconds)]
        self.exclude = re.compile(exclude)
        self.policy = f"{limit}; w={self.window}".encode()
        self.limit_text = str(limit).encode()

    def _headers(self, count: int, reset: int) -> list[tuple[bytes, bytes]]:
        remaining = self.limit - count if count <= self.limit else 0
        return [
            (b"ratelimit-policy", self.policy),
            (b"ratelimit-limit", self.limit_text),
            (b"ratelimit-remaining", str(remaining).encode()),
            (b"ratelimit-reset", str(reset - int(time.time())).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exclude.search(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        key = self.key(scope)
        now = int(time.time())
        bucket = self.buckets.get(key)
        if bucket is None or bucket[1] <= now:
            if len(self.buckets) > 50_000:
                for stale in [k for k, b in self.buckets.items() if b[1] <= now]:
                    del self.buckets[stale]
            bucket = self.buckets[key] = [0, now + self.window]
        if bucket[0] >= self.limit:
            raise TooManyRequestsException(
                headers={k.decode(): v.decode() for k, v in self._headers(*bucket)}
            )
        bucket[0] += 1
        count, reset = bucket

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                ours = self._headers(count, reset)
                names = {k for k, _ in ours}
                message["headers"] = [
                    *(h for h in message.get("headers", []) if h[0].lower() not in names), *ours
                ]
            await send(message)

        await self.app(scope, receive, wrapped)


_SECRET_RE = re.compile(r"(stl_[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+\S+|gAAAAA[A-Za-z0-9_\-=]{20,})")


class RedactSecrets(logging.Filter):
    """Masks tokens, bearer headers and Fernet ciphertexts in log messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler
            return True
        cleaned = _SECRET_RE.sub("[redacted]", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_REDACTOR = RedactSecrets()


def install_log_redaction(names: Iterable[str] = ("", "sentinelle", "uvicorn", "uvicorn.error",
                                                  "litestar")) -> None:
    for name in names:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
        for handler in logger.handlers:
            if _REDACTOR not in handler.filters:
                handler.addFilter(_REDACTOR)


def configure(ctx: AppContext) -> None:
    settings = ctx.settings
    per_token = max(1, settings.rate_limit_per_minute)
    ctx.middleware += [
        DefineMiddleware(SecurityHeadersMiddleware, headers=security_headers(settings)),
        DefineMiddleware(CorsMiddleware, origins=settings.cors_origins),
        DefineMiddleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                         max_depth=settings.max_json_depth),
        DefineMiddleware(
            RateLimitMiddleware, limit=per_token * ADDRESS_LIMIT_FACTOR, unit="minute",
            key=_scope_address_key, buckets=ctx.state.setdefault("rate_limit_address", {}),
            exclude="^/api/v1/health",
        ),
        DefineMiddleware(
            RateLimitMiddleware, limit=per_token, unit="minute", key=_scope_token_key,
            buckets=ctx.state.setdefault("rate_limit_token", {}), exclude="^/api/v1/health",
        ),
        DefineMiddleware(AuditMiddleware, seen=ctx.state.setdefault("token_use_seen", {})),
    ]

    async def redact() -> None:
        install_log_redaction()

    ctx.on_startup.append(redact)
