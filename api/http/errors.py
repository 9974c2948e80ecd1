"""RFC 9457 problem+json for every error: the field at fault and what to do, never a stack trace;
title and detail in the request's language (French or English, from the one vocabulary)."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from api.http.hardening import REFUSAL_REASON_KEY, log_safe
from api.http.hardening import request_language as hardening_language
from incidents import vocabulary
from incidents.errors import DomainError

log = logging.getLogger("sentinelle.api")

PROBLEM = "application/problem+json"
_KEY_RE = re.compile(r"at `\$\.?([^`]*)`")
_NAMED_RE = re.compile(r"(?:unknown|missing required) field `([^`]*)`")
_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid field",
    428: "Precondition required",
    429: "Too many requests",
}


def request_language(request: Request[Any, Any, Any]) -> str:
    """fr or en, as the edge middleware decides it (hardening.request_language)."""
    return hardening_language(request.scope)


def problem(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    instance: str | None = None,
    language: str = "en",
    **extra: Any,
) -> Response[dict[str, Any]]:
    """The problem document; `detail` is the English message the code raised, given in
    `language` from the vocabulary's `errors` catalogue (the field name stays as it is)."""
    detail = vocabulary.translate_message(detail, language)
    body: dict[str, Any] = {
        "type": f"https://sentinelle.example.org/problems/{status}",
        "title": vocabulary.translate_message(_TITLES.get(status, "Error"), language),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if field is not None:
        body["field"] = field
        body["invalid_params"] = [{"name": field, "reason": detail}]
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"Content-Language": language, "Vary": "Accept-Language"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="sentinelle"'
    return Response(body, status_code=status, media_type=PROBLEM, headers=headers)


def _validation_field(exc: ValidationException) -> tuple[str | None, str]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", exc.detail))
        key = item.get("key")
        match = _KEY_RE.search(message)
        if match and match.group(1):
            key = (
                f"{key}.{match.group(1)}"
                if key and key != match.group(1).split(".")[0]
                else match.group(1)
            )
        source = item.get("source")
        named = _NAMED_RE.search(message)
        if source == "body" and key == "data":
            key = None  # litestar names the whole body `data`; clients know no such field
        if named:
            key = f"{key}.{named.group(1)}" if key else named.group(1)
        if key is None and source == "body":
            key = "body"
        message = _KEY_RE.sub("", message).rstrip(" -")
        return (str(key) if key is not None else None), message
    return None, exc.detail


def on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    field, message = _validation_field(exc)
    lowered = message.lower()
    if "malformed" in lowered or "json is malformed" in lowered or "invalid json" in lowered:
        return problem(
            400,
            "The body is not valid JSON: check quotes, commas and brackets.",
            field="body",
            instance=request.url.path,
            language=request_language(request),
        )
    detail = f"{field}: {message}" if field else message
    return problem(
        422, detail, field=field, instance=request.url.path, language=request_language(request)
    )


def _note_refusal(request: Request[Any, Any, Any], status: int, reason: str) -> None:
    """A 403 is audited by AuditMiddleware (`authz.denied`); it takes the reason from here."""
    if status == 403:
        request.scope[REFUSAL_REASON_KEY] = reason  # type: ignore[literal-required]


def on_domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    _note_refusal(request, exc.status, exc.detail)
    return problem(
        exc.status,
        exc.detail,
        field=exc.field,
        instance=request.url.path,
        language=request_language(request),
        **exc.extra,
    )


def _body_limit(request: Request[Any, Any, Any]) -> str:
    """The body limit of the route answering (its own, else the application's), for people."""
    size = getattr(request.route_handler, "request_max_body_size", None)
    if not isinstance(size, int):
        size = getattr(request.app, "request_max_body_size", None)
    if not isinstance(size, int) or size <= 0:
        return "set by the server"
    for unit, name in ((1_000_000, "MB"), (1024 * 1024, "MiB"), (1024, "KiB"), (1000, "kB")):
        if size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} bytes"


def on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    detail = exc.detail
    if isinstance(exc, NotAuthorizedException):
        detail = detail or "Send `Authorization: Bearer <token>` with a valid token."
    elif isinstance(exc, PermissionDeniedException):
        detail = detail or "Your role may not do this."
    if status == 400 and isinstance(exc.__cause__, SerializationException):
        return problem(
            400,
            "The body is not valid JSON: check quotes, commas and brackets.",
            field="body",
            instance=request.url.path,
            language=request_language(request),
        )
    if status == 413:
        limit = _body_limit(request)
        detail = f"The request body is too large (limit {limit}): send less data per request."
    _note_refusal(request, status, detail)
    if status >= 500:
        log.error("HTTP %s on %s", status, log_safe(request.url.path))
        detail = (
            "Something went wrong on our side; try again, and tell an administrator if it lasts."
        )
    return problem(status, detail, instance=request.url.path, language=request_language(request))


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Log the type only: messages may carry SQL, secrets or personal data.
    # The path is the client's: escaped, so that a %0A in it cannot forge a log line.
    log.error(
        "Unhandled %s on %s %s",
        type(exc).__name__,
        log_safe(request.method),
        log_safe(request.url.path),
    )
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Something went wrong on our side; nothing was changed. Try again, and tell an "
        "administrator if it lasts.",
        instance=request.url.path,
        language=request_language(request),
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ValidationException: on_validation,
    DomainError: on_domain,
    HTTPException: on_http,
    Exception: on_unexpected,
}
