"""OpenRosa 1.0 for ODK Collect and Enketo: the shipped XForm, form list and response XML,
submission XML, and HTTP Digest/Basic credentials as ODK Collect sends them. Pure.

What ODK Collect does (getodk/collect, open-rosa/…/okhttp/OkHttpOpenRosaServerClientProvider.java,
OkHttpConnection.java, collect_app/…/OpenRosaServerInstanceUploader.kt) and so what this serves:

* every request carries `X-OpenRosa-Version: 1.0` and a `Date` header; the form list is only
  believed when the answer carries `X-OpenRosa-Version` (HttpGetResult.isOpenRosaResponse), is
  `text/xml` and has an `<xforms xmlns="http://openrosa.org/xforms/xformsList">` root whose
  `<xform>` entries each give formID, name and downloadUrl (`hash` is `md5:<hex>`);
* authentication goes through okhttp-digest's DispatchingAuthenticator with "digest" always and
  "basic" **only when the server URL is https**; the first challenge with a known scheme wins, so
  Digest is offered first. Its DigestAuthenticator hashes with the challenge's `algorithm`
  (default MD5), answers `qop="auth"`, counts `nc` per nonce, uses the request path *with its
  query* as `uri` (Collect adds `?deviceID=…`), reuses the cached nonce pre-emptively, and
  gives up (asks the user for the password again) on a second 401 for the same nonce unless
  the challenge says `stale=true`: an expired nonce must say so, or a good password looks wrong;
* before a submission, `HEAD /submission` must answer 204 (any other 2xx is "not an OpenRosa
  server"), and its `X-OpenRosa-Accept-Content-Length` bounds each POST; then `POST /submission`
  as multipart/form-data: part `xml_submission_file` (text/xml) and one part per attachment
  named by its file name, split over several POSTs (each with the XML again, and
  `*isIncomplete*`=yes) when the files exceed that bound; 201 and 202 are success, the
  `<message>` of an `OpenRosaResponse` body is shown to the user, on success and on failure.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from incidents.errors import DomainError, InvalidField

OPENROSA_VERSION = "1.0"
REALM = "Sentinelle"
XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
RESPONSE_NS = "http://openrosa.org/http/response"
XML_MEDIA_TYPE = "text/xml"  # Litestar adds "; charset=utf-8"
#: The XForm built with pyxform from docs/forms/sentinelle_incident.xlsx (docs/forms/build_form.py).
XFORM_PATH = Path(__file__).resolve().parents[1] / "data" / "sentinelle_incident.xml"
#: A nonce is good this long; then the challenge says stale=true and Collect re-authenticates
#: without asking the user.
NONCE_SECONDS = 15 * 60
MAX_SUBMISSION_XML = 256 * 1024
_INSTANCE_ID = re.compile(r"(?:uuid:)?([0-9A-Za-z][0-9A-Za-z\-_.:]{0,99})")


class AuthRequired(DomainError):
    """401: no credentials, or they do not match a live form login; `stale` when only the nonce
    expired (the client retries by itself)."""

    status = 401
    title = "Authentication required"

    def __init__(self, detail: str, *, stale: bool = False) -> None:
        super().__init__(detail)
        self.stale = stale


# ---------------------------------------------------------------------------- the form


@dataclass(frozen=True, slots=True)
class XForm:
    form_id: str
    version: str
    title: str
    xml: bytes

    @property
    def md5(self) -> str:
        return hashlib.md5(self.xml, usedforsecurity=False).hexdigest()


@cache
def shipped_form() -> XForm:
    """The Sentinelle incident form as ODK Collect downloads it (read once per process)."""
    return xform_from_bytes(XFORM_PATH.read_bytes())


def xform_from_bytes(xml: bytes) -> XForm:
    root = ET.fromstring(xml)  # noqa: S314 - our own file, built by docs/forms/build_form.py
    ns = {"h": "http://www.w3.org/1999/xhtml", "x": "http://www.w3.org/2002/xforms"}
    title = root.findtext("h:head/h:title", default="", namespaces=ns)
    data = root.find("h:head/x:model/x:instance/*", ns)
    if data is None or not data.get("id"):
        raise ValueError("not an XForm: no primary instance with an id")
    return XForm(data.get("id", ""), data.get("version", ""), title, xml)


def form_list_xml(forms: Iterable[XForm], download_url: str) -> bytes:
    """The OpenRosa form list; `download_url` has `{form_id}` where the form's id goes."""
    items = "".join(
        "<xform>"
        f"<formID>{escape(f.form_id)}</formID>"
        f"<name>{escape(f.title)}</name>"
        f"<version>{escape(f.version)}</version>"
        f"<hash>md5:{f.md5}</hash>"
        f"<downloadUrl>{escape(download_url.format(form_id=f.form_id))}</downloadUrl>"
        "</xform>"
        for f in forms
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><xforms xmlns="{XFORMS_LIST_NS}">{items}</xforms>'.encode()


def response_xml(message: str) -> bytes:
    """An OpenRosaResponse whose `<message>` ODK Collect shows to the user."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><OpenRosaResponse xmlns="{RESPONSE_NS}">'
        f'<message nature="">{escape(message)}</message></OpenRosaResponse>'
    ).encode()


def collect_settings(server_url: str, username: str, password: str) -> str:
    """What an ODK Collect QR code holds to set a project up (Collect's CompressionUtils: the
    settings JSON, zlib-deflated, base64 without line breaks): the server and login, sending as
    soon as any network is back, and no sent form kept on the phone."""
    settings = {
        "general": {
            "server_url": server_url,
            "username": username,
            "password": password,
            "autosend": "wifi_and_cellular",
            "delete_send": True,
        },
        "admin": {},
        "project": {"name": "Sentinelle", "icon": "S", "color": "#b71c1c"},
    }
    text = json.dumps(settings, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")


def openrosa_headers(accept_content_length: int | None = None) -> dict[str, str]:
    headers = {"X-OpenRosa-Version": OPENROSA_VERSION}
    if accept_content_length is not None:
        headers["X-OpenRosa-Accept-Content-Length"] = str(accept_content_length)
    return headers


# ---------------------------------------------------------------------------- submissions


@dataclass(frozen=True, slots=True)
class Submission:
    """One submitted instance: its form, its answers as `group/field` paths (the names Kobo's
    JSON uses), its instance id and, for an edit, the id of the instance it replaces."""

    form_id: str
    version: str
    fields: dict[str, str]
    instance_id: str
    deprecated_id: str | None


def instance_uuid(value: str, field: str = "meta/instanceID") -> str:
    """`uuid:5d0e…` -> `5d0e…` (lower case); refused when not an id a client makes."""
    found = _INSTANCE_ID.fullmatch(value.strip())
    if found is None:
        raise InvalidField(field, f"{value[:60]!r} is not an instance id like uuid:5d0e6a2c-….")
    return found.group(1).lower()


def parse_submission(xml: bytes, *, expected_form_id: str) -> Submission:
    """The instance XML ODK Collect sends as `xml_submission_file`; InvalidField (naming the
    element) for anything else. No DOCTYPE is accepted: no entity is ever expanded."""
    if len(xml) > MAX_SUBMISSION_XML:
        raise InvalidField(
            "xml_submission_file",
            f"The submission XML is larger than {MAX_SUBMISSION_XML // 1024} KiB; send one "
            "instance of the Sentinelle form.",
        )
    try:
        text = xml.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidField(
            "xml_submission_file", "The submission XML is not UTF-8; send it as ODK Collect does."
        ) from None
    if re.search(r"<!\s*(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise InvalidField(
            "xml_submission_file",
            "The submission XML declares a DOCTYPE or entities; send the instance alone.",
        )
    try:
        root = ET.fromstring(text.lstrip("\ufeff"))  # noqa: S314 - no DOCTYPE, so no entities
    except ET.ParseError as exc:
        raise InvalidField(
            "xml_submission_file", f"The submission is not well-formed XML ({exc}); resend it."
        ) from None
    form_id = root.get("id") or ""
    if form_id != expected_form_id:
        raise InvalidField(
            "xml_submission_file",
            f"This submission is of form {form_id[:60]!r}, not {expected_form_id!r}: download the "
            "Sentinelle form again (Get blank form) and fill it in.",
        )
    fields: dict[str, str] = {}
    stack: list[tuple[str, ET.Element]] = [("", child) for child in reversed(root)]
    count = 0
    while stack:
        prefix, element = stack.pop()
        count += 1
        if count > 500:
            raise InvalidField(
                "xml_submission_file", "More than 500 elements; send one Sentinelle form."
            )
        name = _local(element.tag)
        path = f"{prefix}{name}"
        children = list(element)
        if children:
            stack.extend((f"{path}/", child) for child in reversed(children))
        else:
            fields.setdefault(path, (element.text or "").strip())
    instance = fields.get("meta/instanceID", "")
    if not instance:
        raise InvalidField(
            "meta/instanceID", "The submission has no meta/instanceID; send it from ODK Collect."
        )
    deprecated = fields.get("meta/deprecatedID") or None
    return Submission(
        form_id=form_id,
        version=root.get("version") or "",
        fields=fields,
        instance_id=instance_uuid(instance),
        deprecated_id=instance_uuid(deprecated, "meta/deprecatedID") if deprecated else None,
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


# ---------------------------------------------------------------------------- credentials


def ha1(username: str, password: str, realm: str = REALM) -> str:
    """MD5(username:realm:password), RFC 7616 §3.4.2, as ODK Collect's okhttp-digest computes it
    (US-ASCII credentials: the passwords Sentinelle makes are ASCII)."""
    text = f"{username}:{realm}:{password}"
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class DigestAnswer:
    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    qop: str
    nc: str
    cnonce: str
    algorithm: str


@dataclass(frozen=True, slots=True)
class BasicAnswer:
    username: str
    password: str


_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?')


def parse_authorization(header: str) -> DigestAnswer | BasicAnswer | None:
    """The client's Authorization header, or None when absent or not Digest/Basic."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, sep, password = decoded.partition(":")
        return BasicAnswer(username, password) if sep else None
    if scheme.lower() != "digest" or len(rest) > 4096:
        return None
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        found = _PARAM.match(rest, position)
        if found is None or found.end() == position:
            return None
        value = found.group(2) if found.group(2) is not None else found.group(3)
        params[found.group(1).lower()] = re.sub(r"\\(.)", r"\1", value or "")
        position = found.end()
    try:
        return DigestAnswer(
            username=params["username"],
            realm=params["realm"],
            nonce=params["nonce"],
            uri=params["uri"],
            response=params["response"].lower(),
            qop=params.get("qop", ""),
            nc=params.get("nc", ""),
            cnonce=params.get("cnonce", ""),
            algorithm=params.get("algorithm", "MD5"),
        )
    except KeyError:
        return None


def digest_response(ha1_hex: str, method: str, answer: DigestAnswer) -> str:
    """What the client's `response` must be (qop=auth, RFC 7616 §3.4.1)."""
    ha2 = _md5(f"{method}:{answer.uri}")
    return _md5(f"{ha1_hex}:{answer.nonce}:{answer.nc}:{answer.cnonce}:{answer.qop}:{ha2}")


def new_nonce(now: datetime, salt: bytes) -> str:
    """The time it was made and a random salt. Nothing needs signing: the client's response
    hashes the nonce with its password, so a nonce with a forged time has no valid response."""
    stamp = str(int(now.timestamp()))
    body = f"{stamp}.{base64.urlsafe_b64encode(salt).decode().rstrip('=')}"
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def nonce_fresh(nonce: str, now: datetime) -> bool:
    """True for a nonce made less than NONCE_SECONDS ago (by any process of the service)."""
    try:
        decoded = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4)).decode()
        made = int(decoded.split(".", 1)[0])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return 0 <= now.timestamp() - made <= NONCE_SECONDS


def uri_matches(answer_uri: str, path: str, query: str) -> bool:
    """The digest's `uri` names this request: its path (a reverse proxy may have taken off a
    prefix, so the request's path ends it) and its query exactly."""
    answer_path, _, answer_query = answer_uri.partition("?")
    return answer_path.endswith(path) and answer_query == query


def challenges(nonce: str, *, stale: bool = False) -> list[str]:
    """WWW-Authenticate values: Digest first (ODK Collect takes the first scheme it knows, and
    over http knows only Digest), Basic for clients on https."""
    digest = f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{nonce}", opaque="0"'
    if stale:
        digest += ", stale=true"
    return [digest, f'Basic realm="{REALM}", charset="UTF-8"']


def constant_time_equal(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode(), right.encode())


__all__ = [
    "OPENROSA_VERSION",
    "REALM",
    "AuthRequired",
    "BasicAnswer",
    "DigestAnswer",
    "Submission",
    "XForm",
    "challenges",
    "collect_settings",
    "constant_time_equal",
    "digest_response",
    "form_list_xml",
    "ha1",
    "instance_uuid",
    "new_nonce",
    "nonce_fresh",
    "openrosa_headers",
    "parse_authorization",
    "parse_submission",
    "response_xml",
    "shipped_form",
    "uri_matches",
]
