"""Bearer-token authentication and role guards."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp

from api.bootstrap import MAX_TOKEN_CACHE_SECONDS, TokenCache, TrustLookup
from incidents.audit import log as audit
from incidents.db import Database
from incidents.errors import DomainError, Forbidden, NotFound
from incidents.identity.accounts import Principal, hash_token, resolve_token
from incidents.records.model import Role

# Paths that need no token: health, docs, and endpoints with their own secret or signature.
PUBLIC_PATHS = (
    "^/api/v1/health",
    "^/schema",
    "^/api/v1/public",
    "^/api/v1/alerts/cap",
    "^/api/v1/intake/(kobo|sms)$",
    "^/api/v1/openrosa/",  # ODK Collect: HTTP Digest with the ODK login (api.http.routes.openrosa)
    "^/api/v1/alerts/ack/",
    "^/$",
)

__all__ = ["MAX_TOKEN_CACHE_SECONDS", "TokenCache"]  # built by api.bootstrap, used here


class TokenAuthMiddleware(AbstractAuthenticationMiddleware):
    """Resolves the bearer token (cached for `cache.ttl` seconds) into a Principal.

    Requests that miss the cache together with the same token share one database read: when
    the cache entry of a busy client expires, its requests in flight wait for one look-up
    instead of each opening a connection (the answer is as fresh as each would have read)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        db: Database,
        cache: TokenCache,
        trust_lookup: TrustLookup | None = None,
        exclude: str | list[str] | None = None,
    ) -> None:
        super().__init__(app, exclude=exclude)
        self.db = db
        self.cache = cache
        self.trust_lookup = trust_lookup
        self._resolving: dict[str, asyncio.Task[Principal | None]] = {}

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException(
                "Send `Authorization: Bearer <token>`; an administrator creates tokens with "
                "`sentinelle admin create-token`."
            )
        cache = self.cache
        key = hash_token(token)
        principal = cache.get(key)
        if principal is None:
            principal = await self._resolve_once(token, key)
            if principal is None:
                raise NotAuthorizedException(
                    "This token is unknown or revoked: ask an administrator for a new one."
                )
        return AuthenticationResult(user=principal, auth=key)

    async def _resolve_once(self, token: str, key: str) -> Principal | None:
        """One look-up of `token` for every request waiting on it in this event loop."""
        loop = asyncio.get_running_loop()
        task = self._resolving.get(key)
        if task is None or task.done() or task.get_loop() is not loop:
            task = loop.create_task(self._resolve(token, key))
            self._resolving[key] = task

            def forget(done: asyncio.Task[Principal | None]) -> None:
                if self._resolving.get(key) is done:
                    del self._resolving[key]

            task.add_done_callback(forget)
        # Shielded: a request that goes away does not cancel the look-up others wait on.
        return await asyncio.shield(task)

    async def _resolve(self, token: str, key: str) -> Principal | None:
        async with self.db.read() as session:
            principal = await resolve_token(session, token)
            if principal is not None and self.trust_lookup is not None:
                principal = await self.trust_lookup(session, principal)
        if principal is not None:
            self.cache.put(key, principal)
        return principal


def auth_middleware(
    db: Database,
    cache: TokenCache,
    trust_lookup: TrustLookup | None = None,
    exclude: Iterable[str] = PUBLIC_PATHS,
) -> DefineMiddleware:
    return DefineMiddleware(
        TokenAuthMiddleware, db=db, cache=cache, trust_lookup=trust_lookup, exclude=list(exclude)
    )


def refusal_event(principal: Principal | None, scope: Any, reason: str | None) -> audit.AuditEvent:
    """`authz.denied` for a request: the method and the route template
    (`/api/v1/zones/{zone_id}`), never the path with its values: who knocks where, nothing a
    reader of the log should not see. Used by the guards and by the audit middleware."""
    route = str(scope.get("path_template") or "")[:200]
    details: dict[str, Any] = {"method": scope.get("method"), "route": route}
    if reason is not None:
        details["reason"] = reason[:300]
    return audit.event(
        "authz.denied", principal, target_type="route", target_id=route[:64] or None, **details
    )


def denied(
    principal: Principal | None, connection: ASGIConnection[Any, Any, Any, Any], reason: str
) -> None:
    """Record an authorisation refusal in the audit log of the request."""
    audit.later(refusal_event(principal, connection.scope, reason))


def requires(
    *roles: Role, audited: bool = False, hint: str | None = None
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """A guard letting only the given roles through (403 otherwise, audited when asked)."""
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.user
        if not isinstance(principal, Principal):
            raise NotAuthorizedException("Send `Authorization: Bearer <token>`.")
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            message = hint or f"This needs one of the roles: {names}."
            if audited:
                denied(principal, connection, message)
            raise PermissionDeniedException(message)

    return guard


# Refusals a handler meets in the use case: 403, 404 (another organisation's object), and a role
# an admin may not hand out.
_REFUSED = (Forbidden, NotFound)


@contextmanager
def refusals_audited(
    principal: Principal, connection: ASGIConnection[Any, Any, Any, Any]
) -> Iterator[None]:
    """Audit the authorisation refusals raised inside (they are re-raised unchanged)."""
    try:
        yield
    except DomainError as exc:
        if isinstance(exc, _REFUSED) or (exc.status == 422 and exc.field == "role"):
            denied(principal, connection, exc.detail)
        raise


ANY_ROLE = requires(*Role)
WRITERS = requires(Role.REPORTER, Role.OFFICER, Role.ADMIN)
OFFICERS = requires(Role.OFFICER, Role.ADMIN)
ADMINS = requires(Role.ADMIN)
OPERATORS = requires(Role.OPERATOR)
# The identity, organisation and trust-network endpoints: their refusals are audited.
AUDITED_ADMINS = requires(Role.ADMIN, audited=True)
AUDITED_OPERATORS = requires(
    Role.OPERATOR,
    audited=True,
    hint="Creating, listing and deleting organisations is for the platform operator only: ask them.",
)
ADMINS_OR_OPERATORS = requires(Role.ADMIN, Role.OPERATOR, audited=True)
