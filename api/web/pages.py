"""The web pages: sign-in, report an incident, alerts inbox. Server-rendered (Jinja2 through
Litestar's template engine); every page works without JavaScript."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from msgspec import UNSET

from api.bootstrap import Container
from api.web import i18n
from api.web import session as sessions
from geo.gazetteer import Gazetteer
from incidents.errors import DomainError
from incidents.identity.accounts import Principal, resolve_token
from incidents.records.model import LocationPrecision, SharingLevel, TimePrecision
from incidents.records.schemas import ImpactIn, IncidentIn
from incidents.taxonomy import catalogue as taxonomy

PREFIX = "/web"
OPT = {"exclude_from_auth": True}  # the pages authenticate with the session cookie, not a bearer
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
ROLE_STATE = "sentinelle_web_role"
SHARING_LEVELS = ("red", "amber_strict", "amber", "green", "clear")
NARRATIVE_MAX = 2000


def _gazetteer() -> Gazetteer:
    from geo.gazetteer import _load_packaged

    return _load_packaged()


def places_of(container: Container) -> Gazetteer:
    """The place names the API uses too: the packaged gazetteer, then the places imported with
    `sentinelle places import` (built once in api.bootstrap)."""
    return container.zones.places


def language(request: Request[Any, Any, Any]) -> str:
    return i18n.pick(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))


def safe_next(value: str | None) -> str:
    if (
        value
        and value.startswith(PREFIX + "/")
        and not value.startswith("//")
        and "\\" not in value
    ):
        return value[:500]
    return PREFIX + "/report"


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {
        "content-security-policy": PAGE_CSP,
        # "use my position" on the report page: this origin only.
        "permissions-policy": "geolocation=(self), camera=(), microphone=()",
        "cache-control": "no-store",
    }
    headers.update(extra or {})
    return headers


def page(
    request: Request[Any, Any, Any],
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> Template:
    lang = language(request)
    _ = i18n.gettext_for(lang)
    # The signed-in viewer's role (set by `current`): the navigation shows what it may open.
    role = request.scope.get("state", {}).get(ROLE_STATE)
    response = Template(
        template_name=name,
        context={
            "_": _,
            "lang": lang,
            "other_lang": "en" if lang == "fr" else "fr",
            "path": request.url.path,
            **({"role": role} if role else {}),
            **context,
        },
        status_code=status,
        headers=_headers(),
        media_type="text/html",
    )
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(
            i18n.COOKIE,
            lang,
            max_age=365 * 86400,
            path="/",
            httponly=True,
            samesite="strict",
            secure=sessions.is_https(request),
        )
    return response


async def current(
    request: Request[Any, Any, Any], container: Container
) -> tuple[sessions.WebSession, Principal] | None:
    store = sessions.store_for(container.db)
    web = await sessions.load(store, request)
    if web is None:
        return None
    principal = await sessions.principal_for(container.db, web.token_id)
    if principal is None:
        await sessions.delete(store, web.sid)
        return None
    async with container.db.read() as session:
        principal = await container.trust_lookup(session, principal)
    request.scope.setdefault("state", {})[ROLE_STATE] = principal.role.value
    return web, principal


def to_sign_in(request: Request[Any, Any, Any], back: str | None = None) -> Response[Any]:
    target = back or str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
    response: Response[Any] = Redirect(
        path=f"{PREFIX}/sign-in?next={quote(safe_next(target), safe='/')}", status_code=303
    )
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


def wants_json(request: Request[Any, Any, Any]) -> bool:
    return "application/json" in request.headers.get("accept", "")


def zone_groups(zones: list[dict[str, str]], _: Any) -> list[tuple[str, list[dict[str, str]]]]:
    """Zones (dicts with a `kind`) grouped under their kind's name, in the order given: the zone
    pickers of the console and the subscriptions page."""
    names = {
        "town": _("Towns"),
        "admin1": _("Regions"),
        "admin2": _("Cercles"),
        "border_belt": _("Border areas"),
        "custom": _("Your organisation's zones"),
        "country": _("Country"),
    }
    groups: dict[str, list[dict[str, str]]] = {}
    for zone in zones:
        groups.setdefault(zone["kind"], []).append(zone)
    return [(names.get(kind, kind), items) for kind, items in groups.items()]


# ------------------------------------------------------------------------------ sign-in / out


def _csrf_cookie(request: Request[Any, Any, Any]) -> str:
    value = request.cookies.get(sessions.CSRF_COOKIE) or ""
    return value if 20 <= len(value) <= 100 else secrets.token_urlsafe(32)


def _sign_in_page(
    request: Request[Any, Any, Any], error: str | None = None, status: int = 200
) -> Template:
    csrf = _csrf_cookie(request)
    response = page(
        request,
        "sign_in.html",
        {"csrf": csrf, "next": safe_next(request.query_params.get("next")), "error": error},
        status=status,
    )
    response.set_cookie(
        sessions.CSRF_COOKIE,
        csrf,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=sessions.is_https(request),
    )
    return response


@get(f"{PREFIX}/sign-in", opt=OPT, include_in_schema=False, name="web-sign-in")
async def sign_in_form(request: Request[Any, Any, Any]) -> Template:
    return _sign_in_page(request)


@post(f"{PREFIX}/sign-in", opt=OPT, include_in_schema=False, status_code=303)
async def sign_in(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    form = await request.form()
    _ = i18n.gettext_for(language(request))
    if not sessions.same(form.get("csrf"), request.cookies.get(sessions.CSRF_COOKIE)):
        return _sign_in_page(request, _("The form expired: please try again."), status=403)
    token = str(form.get("token") or "").strip()
    principal = None
    if token and len(token) < 200:
        async with container.db.read() as session:
            principal = await resolve_token(session, token)
    if principal is None or principal.token_id is None:
        return _sign_in_page(
            request, _("This token is unknown or revoked: ask your administrator."), status=401
        )
    store = sessions.store_for(container.db)
    web = await sessions.create(store, principal.token_id)
    response: Response[Any] = Redirect(path=safe_next(str(form.get("next") or "")), status_code=303)
    response.set_cookie(
        sessions.COOKIE,
        web.sid,
        max_age=sessions.SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=sessions.is_https(request),
    )
    response.delete_cookie(sessions.CSRF_COOKIE, path=PREFIX)
    return response


@post(f"{PREFIX}/logout", opt=OPT, include_in_schema=False, status_code=303)
async def logout(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    """Sign out; with `clear=1` ("quick exit") the browser is also told to forget this site."""
    form = await request.form()
    store = sessions.store_for(container.db)
    web = await sessions.load(store, request)
    if web is not None:
        if not sessions.same(form.get("csrf"), web.csrf):
            return Response("CSRF", status_code=403, headers=_headers())
        await sessions.delete(store, web.sid)
    headers = {}
    if form.get("clear"):
        # Caches, storage (IndexedDB queue, service worker) and cookies of this origin.
        headers["clear-site-data"] = '"cache", "storage", "cookies"'
    response: Response[Any] = Redirect(path=f"{PREFIX}/sign-in", status_code=303, headers=headers)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


# ------------------------------------------------------------------------------ report


def _type_groups(lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    groups = []
    for category in taxonomy.CATEGORIES.values():
        types = [(t.code, t.label(lang)) for t in taxonomy.types_in(category.code)]
        if types:
            groups.append((category.label(lang), types))
    return groups


def _report_page(
    request: Request[Any, Any, Any],
    web: sessions.WebSession,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    sent: str | None = None,
    status: int = 200,
) -> Template:
    lang = language(request)
    return page(
        request,
        "report.html",
        {
            "csrf": web.csrf,
            "idempotency_key": str(uuid.uuid4()),
            "groups": _type_groups(lang),
            "levels": SHARING_LEVELS,
            # No level chosen by default: the service picks it (amber, red for an abduction of
            # aid workers, the kidnapping protocol); an explicit choice is kept.
            "v": values or {"when": "now", "sharing_level": ""},
            "errors": errors or {},
            "sent": sent,
        },
        status=status,
    )


@get(f"{PREFIX}/report", opt=OPT, include_in_schema=False)
async def report_form(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request)
    return _report_page(request, signed[0], sent=request.query_params.get("sent"))


def _count(value: str, field: str, errors: dict[str, str], _: Any) -> int:
    value = value.strip()
    if not value:
        return 0
    if not value.isdigit() or int(value) > 10_000:
        errors[field] = _("Enter a whole number (0 or more).")
        return 0
    return int(value)


def build_incident(
    form: dict[str, str], lang: str, now: datetime, places: Gazetteer | None = None
) -> tuple[IncidentIn | None, dict[str, str]]:
    """The form as the API's IncidentIn, or the errors per field (in `lang`); place names from
    `places` (the packaged gazetteer when not given)."""
    _ = i18n.gettext_for(lang)
    errors: dict[str, str] = {}
    type_code = form.get("type", "").strip()
    if type_code not in taxonomy.TYPES:
        errors["type"] = _("Choose what happened.")
    when = form.get("when") or "now"
    precision = TimePrecision.DAY
    occurred = now
    if when == "now":
        precision = TimePrecision.EXACT
    elif when == "today":
        occurred = datetime.combine(now.date(), time(12), tzinfo=UTC)
    elif when == "yesterday":
        occurred = datetime.combine(now.date() - timedelta(days=1), time(12), tzinfo=UTC)
    elif when == "date":
        try:
            day = date.fromisoformat(form.get("date", "").strip())
        except ValueError:
            errors["date"] = _("Enter the date as YYYY-MM-DD.")
        else:
            if day > now.date():
                errors["date"] = _("This date is in the future.")
            elif day < now.date() - timedelta(days=3650):
                errors["date"] = _("This date is too old.")
            else:
                occurred = datetime.combine(day, time(12), tzinfo=UTC)
    else:
        errors["when"] = _("Choose when it happened.")
    if occurred > now:
        occurred = now
    lat = lon = None
    place = form.get("place", "").strip()
    lat_text, lon_text = form.get("lat", "").strip(), form.get("lon", "").strip()
    location_precision = LocationPrecision.EXACT
    if lat_text or lon_text:
        try:
            lat, lon = float(lat_text.replace(",", ".")), float(lon_text.replace(",", "."))
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError
        except ValueError:
            errors["lat"] = _("Enter a latitude and a longitude in degrees, e.g. 14.54 and -9.18.")
    elif place:
        places = places or _gazetteer()
        found = places.lookup(place)
        if found is None:
            close = [p.name for p in places.suggest(place, limit=3)]
            errors["place"] = _("Unknown place.") + (
                " " + _("Did you mean: %s?") % ", ".join(close) if close else ""
            )
        else:
            lat, lon, location_precision = found.lat, found.lon, LocationPrecision.LOCALITY
            place = found.name
    else:
        errors["place"] = _("Say where: a place name, your position or coordinates.")
    counts = {k: _count(form.get(k, ""), k, errors, _) for k in ("killed", "injured", "abducted")}
    narrative = form.get("narrative", "").strip()
    if len(narrative) > NARRATIVE_MAX:
        errors["narrative"] = _("At most %d characters.") % NARRATIVE_MAX
    level = form.get("sharing_level") or ""
    if level and level not in SHARING_LEVELS:
        errors["sharing_level"] = _("Choose who may see it.")
    if errors:
        return None, errors
    return (
        IncidentIn(
            type=type_code,
            occurred_at=occurred,
            time_precision=precision,
            lat=lat,
            lon=lon,
            location_precision=location_precision,
            place_name=place or None,
            impact=ImpactIn(
                killed=counts["killed"],
                injured=counts["injured"],
                abducted=counts["abducted"],
                aid_workers_affected=form.get("aid_workers_affected") in ("1", "on", "true"),
            ),
            description=narrative or None,
            sharing_level=SharingLevel(level) if level else UNSET,
            hide_organisation=form.get("hide_organisation") in ("1", "on", "true"),
        ),
        {},
    )


FIELDS = (
    "type", "when", "date", "place", "lat", "lon", "killed", "injured", "abducted",
    "aid_workers_affected", "narrative", "sharing_level", "hide_organisation",
)  # fmt: skip


@post(f"{PREFIX}/report", opt=OPT, include_in_schema=False)
async def report(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await current(request, container)
    json_answer = wants_json(request)
    if signed is None:
        if json_answer:
            return Response({"error": "signed_out"}, status_code=401, headers=_headers())
        return to_sign_in(request, f"{PREFIX}/report")
    web, principal = signed
    raw = await request.form()
    if not sessions.same(raw.get("csrf"), web.csrf):
        return Response({"error": "csrf"}, status_code=403, headers=_headers())
    values = {k: str(raw.get(k) or "")[: NARRATIVE_MAX + 10] for k in FIELDS}
    key = str(raw.get("idempotency_key") or "").strip()[:100] or None
    lang = language(request)
    _ = i18n.gettext_for(lang)
    now = datetime.now(UTC)
    data, errors = build_incident(values, lang, now, places_of(container))
    if data is not None:
        try:
            result = await container.incidents.report(principal, data, now=now, idempotency_key=key)
        except DomainError as exc:
            field = (exc.field or "type").split(".")[-1]
            field = field if field in FIELDS else ("place" if field in ("geometry",) else "type")
            errors = {
                field: _("The service refused this value:")
                + " "
                + i18n.error_text(exc.detail, lang)
            }
        else:
            reference = str(result.location_id or "")[:8]
            if json_answer:
                return Response(
                    {"ok": True, "reference": reference, "replayed": result.replayed},
                    status_code=201,
                    headers=_headers(),
                )
            return Redirect(path=f"{PREFIX}/report?sent={reference or 'ok'}", status_code=303)
    if json_answer:
        return Response({"errors": errors}, status_code=422, headers=_headers())
    return _report_page(request, web, values, errors, status=422)


@get(f"{PREFIX}/places", opt=OPT, include_in_schema=False)
async def places(
    request: Request[Any, Any, Any], container: NamedDependency[Container], q: FromQuery[str] = ""
) -> Response[Any]:
    """Type-ahead for the place field: up to 8 names of the gazetteer."""
    if await current(request, container) is None:
        return Response({"places": []}, status_code=401, headers=_headers())
    q = q.strip()[:60]
    found = places_of(container).suggest(q, limit=8) if len(q) >= 2 else []
    return Response(
        {"places": [{"name": p.name, "region": p.admin1} for p in found]}, headers=_headers()
    )


# ------------------------------------------------------------------------------ alerts


def alert_kind_labels(_: Any) -> dict[str, str]:
    """What each kind of alert is about, in words (the inbox shows no raw code)."""
    return {
        "incident": _("Incident"),
        "level_change": _("Risk level change"),
        "broadcast": _("Broadcast"),
        "test": _("Test alert"),
        "mission": _("Mission"),
        "protocol": _("Kidnapping protocol"),
    }


def alert_link(kind: str, mission_id: uuid.UUID | None) -> str | None:
    """Where an alert of a mission leads: its mission page, or the protocol checklist."""
    if kind == "mission" and mission_id is not None:
        return f"{PREFIX}/missions/{mission_id}"
    if kind == "protocol":
        return f"{PREFIX}/missions/protocol"
    return None


@get(f"{PREFIX}/alerts", opt=OPT, include_in_schema=False)
async def alerts_inbox(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request)
    web, principal = signed
    inbox = await container.alerts.list_alerts(principal, limit=100)
    return page(
        request,
        "alerts.html",
        {
            "csrf": web.csrf,
            "inbox": inbox,
            "kinds": alert_kind_labels(i18n.gettext_for(language(request))),
            "link": alert_link,
            "highlight": (request.query_params.get("code") or "").upper()[:40],
            "done": request.query_params.get("done"),
        },
    )


@post(f"{PREFIX}/alerts/ack", opt=OPT, include_in_schema=False, status_code=303)
async def acknowledge(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request, f"{PREFIX}/alerts")
    web, principal = signed
    form = await request.form()
    if not sessions.same(form.get("csrf"), web.csrf):
        return Response("CSRF", status_code=403, headers=_headers())
    code = str(form.get("code") or "")[:40]
    try:
        await container.alerts.acknowledge(principal, code, now=datetime.now(UTC))
    except DomainError:
        return Redirect(path=f"{PREFIX}/alerts?done=no", status_code=303)
    return Redirect(path=f"{PREFIX}/alerts?done={quote(code)}", status_code=303)


@get(f"{PREFIX}", opt=OPT, include_in_schema=False)
async def home() -> Redirect:
    return Redirect(path=f"{PREFIX}/report", status_code=303)


ROUTES = [
    home, sign_in_form, sign_in, logout, report_form, report, places, alerts_inbox, acknowledge,
]  # fmt: skip
