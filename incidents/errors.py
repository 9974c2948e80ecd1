"""Domain errors; the API maps each to an RFC 9457 problem with the status given here."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra


class InvalidField(DomainError):
    """A field of the request is wrong; `field` names it (JSON pointer-like, e.g. `impact.killed`)."""

    status = 422
    title = "Invalid field"

    def __init__(self, field: str, detail: str, **extra: object) -> None:
        super().__init__(detail, field=field, **extra)


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class PreconditionFailed(DomainError):
    status = 412
    title = "Precondition failed"


class PreconditionRequired(DomainError):
    status = 428
    title = "Precondition required"
