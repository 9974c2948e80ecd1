"""Bearer-token authentication and role guards."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from incidents.db import Database
from incidents.identity import Principal, hash_token, resolve_token
from incidents.model import Role

# Paths that need no token: health, docs, and endpoints with their own secret or signature.
PUBLIC_PATHS = (
    "^/api/v1/health",
    "^/schema",
    "^/api/v1/public",
    "^/api/v1/alerts/cap",
    "^/api/v1/intake/(kobo|sms)$",
    "^/api/v1/alerts/ack/",
    "^/$",
)


class TokenCache:
    """A few seconds of memory for resolved tokens: spares a database read on every request."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[float, Principal]] = {}

    def get(self, key: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            self._items.pop(key, None)
            return None
        return item[1]

    def put(self, key: str, principal: Principal) -> None:
        if self.ttl > 0:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        self._items.clear()


class TokenAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException(
                "Send `Authorization: Bearer <token>`; an administrator creates tokens with "
                "`sentinelle admin create-token`."
            )
        state = connection.app.state
        cache: TokenCache = state.token_cache
        key = hash_token(token)
        principal = cache.get(key)
        if principal is None:
            db: Database = state.db
            async with db.read() as session:
                principal = await resolve_token(session, token)
                if principal is not None and state.get("trust_lookup") is not None:
                    principal = await state.trust_lookup(session, principal)
            if principal is None:
                raise NotAuthorizedException(
                    "This token is unknown or revoked: ask an administrator for a new one."
                )
            cache.put(key, principal)
        return AuthenticationResult(user=principal, auth=key)


def auth_middleware(exclude: Iterable[str] = PUBLIC_PATHS) -> DefineMiddleware:
    return DefineMiddleware(TokenAuthMiddleware, exclude=list(exclude))


def requires(*roles: Role) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """A guard letting only the given roles through (403 otherwise)."""
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.user
        if not isinstance(principal, Principal):
            raise NotAuthorizedException("Send `Authorization: Bearer <token>`.")
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise PermissionDeniedException(f"This needs one of the roles: {names}.")

    return guard


ANY_ROLE = requires(*Role)
WRITERS = requires(Role.REPORTER, Role.OFFICER, Role.ADMIN)
OFFICERS = requires(Role.OFFICER, Role.ADMIN)
ADMINS = requires(Role.ADMIN)
OPERATORS = requires(Role.OPERATOR)
