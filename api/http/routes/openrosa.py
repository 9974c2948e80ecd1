"""/api/v1/openrosa: Sentinelle as an OpenRosa server for ODK Collect, KoboCollect and Enketo
(form list, form download, submissions), and /api/v1/intake/form-login, which makes the ODK
login of a token. What ODK Collect requires is in incidents/intake/openrosa.py."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, head, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from api.http.auth import WRITERS
from api.http.routes.common import principal_of, utcnow
from api.settings import Settings
from incidents import vocabulary
from incidents.errors import DomainError, InvalidField, NotFound
from incidents.identity.accounts import Principal
from incidents.intake.openrosa import (
    XML_MEDIA_TYPE,
    AuthRequired,
    challenges,
    collect_settings,
    form_list_xml,
    new_nonce,
    openrosa_headers,
    parse_submission,
    response_xml,
    shipped_form,
)
from incidents.intake.service import IntakeService, reference_code

log = logging.getLogger("sentinelle.api")

PREFIX = "/api/v1/openrosa"
#: Room left in a request for the multipart framing around the files ODK Collect counts.
_FRAMING = 64 * 1024


class ChallengeResponse(Response[bytes]):
    """A 401 with one WWW-Authenticate header per scheme (Digest first), as okhttp-digest reads
    them: a single header holding both would be parsed as one Digest challenge."""

    def __init__(self, content: bytes, values: Iterable[str], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._challenges = list(values)

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:
        answer = super().to_asgi_response(*args, **kwargs)
        for value in self._challenges:
            answer.headers.add("WWW-Authenticate", value)
        return answer


def accept_content_length(settings: Settings) -> int:
    return max(_FRAMING, settings.max_body_bytes - _FRAMING)


def _xml(body: bytes, status: int = 200, **headers: str) -> Response[bytes]:
    return Response(
        body,
        status_code=status,
        media_type=XML_MEDIA_TYPE,
        headers={**openrosa_headers(), **headers},
    )


def _problem(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Errors as an OpenRosaResponse, whose message ODK Collect shows to the user: in the
    phone's language, French when it says none (ODK Collect sends no Accept-Language)."""
    language = vocabulary.negotiate(request.headers.get("accept-language"), "fr")
    if isinstance(exc, AuthRequired):
        nonce = new_nonce(utcnow(), secrets.token_bytes(12))
        return ChallengeResponse(
            response_xml(vocabulary.translate_message(exc.detail, language)),
            challenges(nonce, stale=exc.stale),
            status_code=401,
            media_type=XML_MEDIA_TYPE,
            headers=openrosa_headers(),
        )
    if isinstance(exc, DomainError):
        status, message = exc.status, vocabulary.translate_message(exc.detail, language)
        if exc.field:
            message = f"{exc.field}: {message}"
    elif isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
    else:  # pragma: no cover - logged, answered without details
        log.exception("OpenRosa request failed")
        status, message = 500, "Sentinelle could not store this; try again later."
    return _xml(response_xml(message), status)


async def odk_user(
    request: Request[Any, Any, Any], intake_service: NamedDependency[IntakeService]
) -> Principal:
    """The user the ODK login of the request names (every OpenRosa route depends on it)."""
    who = await intake_service.form_principal(
        request.headers.get("authorization"),
        method=request.method,
        path=request.url.path,
        query=request.scope.get("query_string", b"").decode("latin-1"),
        now=utcnow(),
    )
    request.scope["user"] = who
    return who


def _base_url(request: Request[Any, Any, Any]) -> str:
    """The address the phone used (so a form list fetched over the LAN names the LAN host)."""
    return str(request.base_url).rstrip("/")


@get("/formList", summary="OpenRosa form list (ODK Collect: Get blank form)")
async def form_list(
    request: Request[Any, Any, Any], odk_user: NamedDependency[Principal]
) -> Response[bytes]:
    url = f"{_base_url(request)}{PREFIX}/forms/{{form_id}}"
    return _xml(form_list_xml([shipped_form()], url))


@get("/forms/{form_id:str}", summary="The XForm (built from docs/forms/sentinelle_incident.xlsx)")
async def form_download(
    odk_user: NamedDependency[Principal], form_id: FromPath[str]
) -> Response[bytes]:
    form = shipped_form()
    if form_id.removesuffix(".xml") != form.form_id:
        raise NotFound(f"No form {form_id[:60]!r}; the form list names the forms to download.")
    return _xml(form.xml)


@head("/submission", summary="OpenRosa pre-flight: 204 with the size a submission may have")
async def submission_preflight(
    odk_user: NamedDependency[Principal], settings: NamedDependency[Settings]
) -> Response[None]:
    return Response(
        None, status_code=204, headers=openrosa_headers(accept_content_length(settings))
    )


@post("/submission", summary="OpenRosa submission (multipart: xml_submission_file, attachments)")
async def submission(
    request: Request[Any, Any, Any],
    intake_service: NamedDependency[IntakeService],
    settings: NamedDependency[Settings],
    odk_user: NamedDependency[Principal],
) -> Response[bytes]:
    if request.content_type[0] != "multipart/form-data":
        raise InvalidField(
            "xml_submission_file",
            "Send multipart/form-data with the instance in the part xml_submission_file, as ODK "
            "Collect does.",
        )
    form = await request.form()
    part = form.get("xml_submission_file")
    if part is None:
        raise InvalidField("xml_submission_file", "The part xml_submission_file is missing.")
    xml = await part.read() if isinstance(part, UploadFile) else str(part).encode("utf-8")
    # Attachments (photos...) are not kept: they may show people, and the form asks for none.
    attachments = sum(
        1
        for name, value in form.multi_items()
        if isinstance(value, UploadFile) and name != "xml_submission_file"
    )
    parsed = parse_submission(xml, expected_form_id=shipped_form().form_id)
    received = await intake_service.receive_openrosa(odk_user, parsed, now=utcnow())
    code = reference_code(received.incident_id)
    messages = {
        "created": (f"Signalement reçu, réf. {code}.", f"Report received, ref. {code}."),
        "updated": (f"Signalement modifié, réf. {code}.", f"Report updated, ref. {code}."),
        "unchanged": (f"Déjà reçu, réf. {code}.", f"Already received, ref. {code}."),
        "duplicate": (f"Déjà reçu, réf. {code}.", f"Already received, ref. {code}."),
    }
    french, english = messages[received.outcome]
    if attachments:
        french += " Les pièces jointes ne sont pas conservées."
        english += " Attachments are not kept."
    status = 202 if received.outcome in ("duplicate", "unchanged") else 201
    return _xml(
        response_xml(f"{french} / {english}"),
        status,
        **openrosa_headers(accept_content_length(settings)),
    )


# ---------------------------------------------------------------------------- the ODK login


class FormLoginOut(msgspec.Struct):
    server_url: str
    username: str
    password: str
    #: The text of an ODK Collect set-up QR code (Configure with QR code): server, login,
    #: auto-send, delete after send. It holds the password: show it to the phone, keep it nowhere.
    collect_settings: str


@post(
    "/api/v1/intake/form-login",
    guards=[WRITERS],
    tags=["intake"],
    summary="Make the ODK Collect login of your token (shown once)",
    description=(
        "A user name and a new password for ODK Collect or KoboCollect (Settings > Project "
        "settings > Server: `server_url`, `username`, `password`), and `collect_settings`, the "
        "text of a QR code ODK Collect scans to set all of it up. The password is shown once "
        "and replaces the previous one; the user name stays. Revoking the token ends the login. "
        "For reporters, officers and administrators; docs/forms/README.md says how to set up "
        "the phone."
    ),
    status_code=201,
)
async def make_form_login(
    request: Request[Any, Any, Any], intake_service: NamedDependency[IntakeService]
) -> FormLoginOut:
    login = await intake_service.set_form_login(principal_of(request), now=utcnow())
    server_url = f"{_base_url(request)}{PREFIX}"
    return FormLoginOut(
        server_url,
        login.username,
        login.password,
        collect_settings(server_url, login.username, login.password),
    )


@delete(
    "/api/v1/intake/form-login",
    guards=[WRITERS],
    tags=["intake"],
    summary="End the ODK Collect login of your token",
    status_code=204,
)
async def end_form_login(
    request: Request[Any, Any, Any], intake_service: NamedDependency[IntakeService]
) -> None:
    await intake_service.end_form_login(principal_of(request))


OPENROSA = Router(
    path=PREFIX,
    route_handlers=[form_list, form_download, submission_preflight, submission],
    tags=["openrosa"],
    # HTTP Digest (or Basic over https) with the ODK login, not the bearer token.
    security=[{}],
    dependencies={"odk_user": Provide(odk_user)},
    exception_handlers={DomainError: _problem, HTTPException: _problem},
)

ROUTES = [OPENROSA, make_form_login, end_form_login]
