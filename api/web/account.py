"""Subscriptions (everyone), the organisation admin page (users, tokens, intake secrets,
trust-network invitations) and the page behind the acknowledgement link of alert messages.

Every form posts with the session's CSRF token; every action answers with a redirect (POST,
redirect, GET) so a reload never repeats it. A token or intake secret made here is shown once,
never in an address: the redirect carries it in a cookie encrypted with the server's key, bound
to the session, living FLASH_SECONDS, and deleted by the page that shows it.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import select

from alerts.core.tables import AlertRow, SubscriptionRow
from alerts.delivery.secrets import SecretDecryptError
from api.bootstrap import Container
from api.web import i18n
from api.web import session as sessions
from api.web.pages import (
    OPT,
    PREFIX,
    _gazetteer,
    current,
    language,
    page,
    places_of,
    to_sign_in,
    zone_groups,
)
from incidents.audit import log as audit
from incidents.errors import Conflict, DomainError, NotFound
from incidents.identity.accounts import Principal
from incidents.intake.service import set_intake_secret
from incidents.intake.tables import IntakeSecretRow
from incidents.records.model import Role
from incidents.records.tables import UserRow
from incidents.taxonomy import catalogue as taxonomy
from incidents.zones.store import visible_to
from incidents.zones.tables import ZoneRow

SUBSCRIPTIONS = f"{PREFIX}/subscriptions"
ADMIN = f"{PREFIX}/admin"
ACK = f"{PREFIX}/alerts/ack"
MANAGERS = frozenset({Role.OFFICER, Role.ADMIN, Role.OPERATOR})
ISSUABLE_ROLES = (Role.REPORTER, Role.OFFICER, Role.PLANNER, Role.ADMIN)
FLASH_SECONDS = 120
FLASH_COOKIE = "stl_shown"
MAX_TEXT = 4000
MAX_POLYGON_TEXT = 100_000
FIELDS = (
    "name", "area_kind", "zone", "place", "radius_km", "route_places", "corridor_km", "polygon",
    "min_severity", "channel", "new_channel", "quiet_from", "quiet_to", "format", "owner",
)  # fmt: skip
CODE = re.compile(r"^[A-Za-z0-9-]{1,40}$")


def _now() -> datetime:
    return datetime.now(UTC)


def _refused(request: Request[Any, Any, Any], message: str, status: int) -> Template:
    return page(request, "account/refused.html", {"message": message}, status=status)


def _csrf_refused(request: Request[Any, Any, Any]) -> Template:
    _ = i18n.gettext_for(language(request))
    return _refused(request, _("The form expired: nothing was changed. Please try again."), 403)


def _not_found(request: Request[Any, Any, Any]) -> Template:
    _ = i18n.gettext_for(language(request))
    return _refused(request, _("Nothing here that you can see or change."), 404)


def _lang_query(request: Request[Any, Any, Any]) -> str:
    return f"lang={language(request)}"


# ------------------------------------------------------------------------------ one-time flash


def _session_tag(web: sessions.WebSession) -> str:
    return hashlib.sha256(b"sentinelle flash\0" + web.sid.encode()).hexdigest()[:32]


def _flash_put(
    container: Container,
    request: Request[Any, Any, Any],
    web: sessions.WebSession,
    data: dict[str, Any],
    response: Response[Any],
) -> None:
    """Keep `data` for the next page of this session only: encrypted with the server's key, in
    an HttpOnly cookie of the admin page that lives FLASH_SECONDS and is dropped once shown."""
    payload = {**data, "session": _session_tag(web), "at": _now().timestamp()}
    response.set_cookie(
        FLASH_COOKIE,
        container.secret_box.encrypt(json.dumps(payload)),
        max_age=FLASH_SECONDS,
        path=ADMIN,
        httponly=True,
        samesite="strict",
        secure=sessions.is_https(request),
    )


def _flash_take(
    container: Container, request: Request[Any, Any, Any], web: sessions.WebSession
) -> dict[str, Any] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or len(raw) > 4000:
        return None
    try:
        data: dict[str, Any] = json.loads(container.secret_box.decrypt(raw))
    except (ValueError, SecretDecryptError):
        return None
    fresh = 0 <= _now().timestamp() - float(data.get("at", 0)) <= FLASH_SECONDS
    if not fresh or not sessions.same(data.get("session"), _session_tag(web)):
        return None
    return data


# ------------------------------------------------------------------------------ subscriptions


def _type_groups(lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    groups = []
    for category in taxonomy.CATEGORIES.values():
        types = [(t.code, t.label(lang)) for t in taxonomy.types_in(category.code)]
        if types:
            groups.append((category.label(lang), types))
    return groups


ZONE_KIND_ORDER = ("town", "admin1", "admin2", "border_belt", "custom", "country")


async def _zones(container: Container, principal: Principal, lang: str) -> list[dict[str, str]]:
    """The zones this organisation may subscribe to (platform zones and its own): names only,
    never their geometry."""
    async with container.db.read() as session:
        rows = (
            await session.execute(
                select(ZoneRow.id, ZoneRow.name_fr, ZoneRow.name_en, ZoneRow.kind).where(
                    visible_to(principal.org_id)
                )
            )
        ).all()
    zones = [
        {"id": i, "name": en if lang == "en" else fr, "kind": kind} for i, fr, en, kind in rows
    ]
    order = {k: n for n, k in enumerate(ZONE_KIND_ORDER)}
    return sorted(zones, key=lambda z: (order.get(z["kind"], 99), z["name"]))


def _own_channels(principal: Principal, subscriptions: list[Any]) -> list[tuple[str, str]]:
    """The channels of the user's own subscriptions, masked: (value for the form, label)."""
    seen: set[str] = set()
    choices = []
    for sub in subscriptions:
        if sub.owner != "user" or sub.owner_user_id != principal.user_id:
            continue
        for i, masked in enumerate(sub.channels):
            if masked not in seen:
                seen.add(masked)
                choices.append((f"{sub.id}:{i}", masked))
    return choices


async def _channel_address(container: Container, principal: Principal, value: str) -> str | None:
    """The clear address behind a "<subscription id>:<index>" choice, for the user's own
    subscriptions only (never another user's nor the organisation's)."""
    sub_text, _, index_text = value.partition(":")
    try:
        sub_id, index = uuid.UUID(sub_text), int(index_text)
    except ValueError:
        return None
    async with container.db.read() as session:
        row = (
            await session.execute(
                select(SubscriptionRow).where(
                    SubscriptionRow.id == sub_id,
                    SubscriptionRow.owner_kind == "user",
                    SubscriptionRow.owner_user_id == principal.user_id,
                    SubscriptionRow.owner_org_id == principal.org_id,
                    SubscriptionRow.deleted_at.is_(None),
                )
            )
        ).scalar_one_or_none()
    if row is None or not 0 <= index < len(row.channels_encrypted):
        return None
    try:
        return container.secret_box.decrypt(row.channels_encrypted[index])
    except SecretDecryptError:
        return None


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _place(name: str, field: str, errors: dict[str, str], _: Any, places: Any = None) -> Any:
    name = name.strip()
    if not name:
        errors[field] = _("Give a place name.")
        return None
    gazetteer = places if places is not None else _gazetteer()  # the API's, with imports
    found = gazetteer.lookup(name)
    if found is None:
        close = [p.name for p in gazetteer.suggest(name, limit=3)]
        errors[field] = _("Unknown place: %s.") % name[:80] + (
            " " + _("Did you mean: %s?") % ", ".join(close) if close else ""
        )
    return found


def _polygon(text: str, errors: dict[str, str], _: Any) -> dict[str, Any] | None:
    """A GeoJSON Polygon from GeoJSON text, or from "lat, lon" pairs, one a line."""
    text = text.strip()
    if not text:
        errors["polygon"] = _("Give the corners of the area.")
        return None
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            errors["polygon"] = _("This is not valid GeoJSON.")
            return None
        if isinstance(obj, dict) and obj.get("type") == "Feature":
            obj = obj.get("geometry")
        if not isinstance(obj, dict):
            errors["polygon"] = _("This is not valid GeoJSON.")
            return None
        return obj
    ring: list[list[float]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [p for p in re.split(r"[;\s]+|,\s+|,(?=-?\d)", line.strip()) if p]
        lat = _number(parts[0]) if len(parts) == 2 else None
        lon = _number(parts[1]) if len(parts) == 2 else None
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            errors["polygon"] = _(
                "Line %(n)d: write a latitude and a longitude, e.g. 14.5, -9.2."
            ) % {"n": len(ring) + 1}
            return None
        ring.append([lon, lat])
    if len(ring) < 3:
        errors["polygon"] = _("Give at least three corners.")
        return None
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def build_subscription(
    values: dict[str, str],
    types: list[str],
    lang: str,
    channel: str | None,
    manager: bool,
    zone_names: dict[str, str] | None = None,
    places: Any = None,
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The form as the API's subscription body, or the errors per field (in `lang`)."""
    _ = i18n.gettext_for(lang)
    errors: dict[str, str] = {}
    kind = values.get("area_kind") or ""
    area: dict[str, Any] | None = None
    default_name = ""
    if kind == "zone":
        if not values.get("zone"):
            errors["zone"] = _("Choose a zone.")
        else:
            area = {"zones": [values["zone"]]}
            default_name = (zone_names or {}).get(values["zone"], "")
    elif kind == "circle":
        found = _place(values.get("place", ""), "place", errors, _, places)
        radius = _number(values.get("radius_km", ""))
        if radius is None or not 0 < radius <= 500:
            errors["radius_km"] = _("Give a distance greater than 0 and at most 500 km.")
        if found is not None and radius is not None and "radius_km" not in errors:
            area = {"point": {"lat": found.lat, "lon": found.lon}, "radius_km": radius}
            default_name = f"{found.name} ({radius:g} km)"
    elif kind == "route":
        names = [
            n
            for n in re.split(r"\s*(?:→|->|,|;|\n|/)\s*", values.get("route_places", ""))
            if n.strip()
        ]
        if len(names) < 2:
            errors["route_places"] = _("Give at least two places, e.g. Mopti → Douentza → Gao.")
        elif len(names) > 30:
            errors["route_places"] = _("At most 30 places.")
        else:
            points = [_place(n, "route_places", errors, _, places) for n in names]
            if "route_places" not in errors:
                coords = [[p.lon, p.lat] for p in points]
                area = {"route": {"type": "LineString", "coordinates": coords}}
                default_name = " → ".join(p.name for p in points)
        corridor = values.get("corridor_km", "").strip()
        if corridor:
            km = _number(corridor)
            if km is None or not 0 < km <= 50:
                errors["corridor_km"] = _("Give a distance greater than 0 and at most 50 km.")
            elif area is not None:
                area["corridor_km"] = km
    elif kind == "polygon":
        geometry = _polygon(values.get("polygon", ""), errors, _)
        if geometry is not None:
            area = {"geometry": geometry}
    else:
        errors["area_kind"] = _("Choose how to give the area.")
    severity = values.get("min_severity") or "1"
    if severity not in {"1", "2", "3", "4", "5"}:
        errors["min_severity"] = _("Choose a severity.")
    unknown = [t for t in types if t not in taxonomy.TYPES]
    if unknown or len(types) > 100:
        errors["types"] = _("Choose types from the list.")
    if not channel:
        errors["channel"] = _("Choose a channel or give a new address.")
    quiet_from, quiet_to = values.get("quiet_from", "").strip(), values.get("quiet_to", "").strip()
    quiet = None
    if quiet_from or quiet_to:
        if not (
            re.fullmatch(r"\d{1,2}:\d{2}", quiet_from) and re.fullmatch(r"\d{1,2}:\d{2}", quiet_to)
        ):
            errors["quiet_hours"] = _("Give both times, e.g. 22:00 and 06:00.")
        else:
            quiet = f"{quiet_from}-{quiet_to}"
    fmt = values.get("format") or "full"
    if fmt not in ("full", "sms"):
        errors["format"] = _("Choose a message form.")
    owner = values.get("owner") or "user"
    if owner not in ("user", "organisation") or (owner == "organisation" and not manager):
        errors["owner"] = _("Choose for whom.")
    name = values.get("name", "").strip()
    if len(name) > 200:
        errors["name"] = _("At most %d characters.") % 200
    if errors or area is None:
        return None, errors
    body: dict[str, Any] = {
        "owner": owner,
        "name": name or default_name or None,
        "channels": [channel],
        "area": area,
        "types": sorted(set(types)),
        "min_severity": int(severity),
        "language": lang,
        "format": fmt,
        "quiet_hours": quiet,
    }
    return body, {}


def field_of(api_field: str | None, kind: str) -> str:
    """The form field behind the field an API error names (e.g. "area.radius_km")."""
    f = api_field or ""
    if f.startswith("channels") or f == "secondary_channel":
        return "channel"
    if f.startswith("types"):
        return "types"
    if f.startswith("area.zones"):
        return "zone"
    if f.startswith("area.radius_km"):
        return "radius_km"
    if f.startswith(("area.lat", "area.lon", "area.point")):
        return "place"
    if f.startswith("area.corridor_km"):
        return "corridor_km"
    if f.startswith("area.route"):
        return "route_places"
    if f.startswith("area.geometry"):
        return "polygon"
    if f.startswith("area"):
        return {"zone": "zone", "circle": "place", "route": "route_places"}.get(kind, "polygon")
    if f in ("min_severity", "quiet_hours", "format", "name", "owner"):
        return f
    return "area_kind"


def api_error_text(field: str, detail: str, _: Any) -> str:
    """The user's-language sentence for a refusal of the service, then its own words."""
    lead = {
        "channel": _("This address was refused."),
        "zone": _("This zone is unknown."),
        "polygon": _("This area was refused: draw it again."),
        "route_places": _("This route was refused."),
        "quiet_hours": _("These quiet hours were refused."),
        "owner": _("You may not subscribe for the organisation."),
    }.get(field, _("The service refused this value:"))
    return f"{lead} ({detail[:300]})"


def _describe(sub: Any, zone_names: dict[str, str], lang: str) -> str:
    """One line saying where and what a subscription covers, in the user's words."""
    _ = i18n.gettext_for(lang)
    area = sub.area
    if area.get("zones"):
        where = _("Zone") + ": " + ", ".join(zone_names.get(z, z) for z in area["zones"])
    elif "point" in area:
        where = _("Circle of %s km") % f"{area.get('radius_km', 0):g}"
    elif "route" in area:
        where = _("Route, %s km on each side") % f"{area.get('corridor_km', 0):g}"
    else:
        where = _("Drawn area")
    if sub.types:
        labels = [taxonomy.TYPES[t].label(lang) for t in sub.types if t in taxonomy.TYPES]
        what = ", ".join(labels[:6]) + (" …" if len(labels) > 6 else "")
    else:
        what = _("every type")
    return f"{where} · {what}"


async def _subscriptions_page(
    request: Request[Any, Any, Any],
    container: Container,
    web: sessions.WebSession,
    principal: Principal,
    *,
    values: dict[str, str] | None = None,
    types: list[str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    lang = language(request)
    _ = i18n.gettext_for(lang)
    subscriptions = await container.alerts.list_subscriptions(principal)
    zones = await _zones(container, principal, lang)
    zone_names = {z["id"]: z["name"] for z in zones}
    tested = None
    code = (request.query_params.get("tested") or "").strip().upper()
    if code and CODE.match(code):
        try:
            tested = await container.alerts.deliveries(principal, code)
        except DomainError:
            tested = None
    manager = principal.role in MANAGERS
    return page(
        request,
        "account/subscriptions.html",
        {
            "csrf": web.csrf,
            "subscriptions": subscriptions,
            "zone_groups": zone_groups(zones, _),
            "describe": lambda sub: _describe(sub, zone_names, lang),
            "groups": _type_groups(lang),
            "channels": _own_channels(principal, subscriptions),
            "manager": manager,
            "account_admin": principal.role == Role.ADMIN,
            "me": principal.user_id,
            "v": values or {"area_kind": "zone", "radius_km": "30", "min_severity": "1"},
            "chosen_types": set(types or []),
            "errors": errors or {},
            "tested": tested,
            "done": request.query_params.get("done"),
        },
        status=status,
    )


@get(SUBSCRIPTIONS, opt=OPT, include_in_schema=False, name="web-subscriptions")
async def subscriptions_page(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request)
    return await _subscriptions_page(request, container, *signed)


@post(SUBSCRIPTIONS, opt=OPT, include_in_schema=False)
async def subscription_create(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request, SUBSCRIPTIONS)
    web, principal = signed
    raw = await request.form()
    if not sessions.same(raw.get("csrf"), web.csrf):
        return _csrf_refused(request)
    limit = {"polygon": MAX_POLYGON_TEXT}
    values = {k: str(raw.get(k) or "")[: limit.get(k, MAX_TEXT)] for k in FIELDS}
    types = [str(t) for t in raw.getall("types", [])][:200]
    lang = language(request)
    _ = i18n.gettext_for(lang)
    channel: str | None = None
    chosen = values.get("channel", "")
    channel_error = None
    if chosen in ("", "new"):
        channel = values.get("new_channel", "").strip() or None
    else:
        channel = await _channel_address(container, principal, chosen)
        if channel is None:
            channel_error = _("Choose a channel or give a new address.")
    manager = principal.role in MANAGERS
    zone_names = {z["id"]: z["name"] for z in await _zones(container, principal, lang)}
    body, errors = build_subscription(
        values, types, lang, channel, manager, zone_names, places_of(container)
    )
    if channel_error:
        errors["channel"] = channel_error
        body = None
    if body is not None:
        try:
            await container.alerts.create_subscription(principal, body, now=_now())
        except DomainError as exc:
            field = field_of(exc.field, values.get("area_kind", ""))
            errors = {field: api_error_text(field, i18n.error_text(exc.detail, lang), _)}
        else:
            return Redirect(
                path=f"{SUBSCRIPTIONS}?done=created&{_lang_query(request)}", status_code=303
            )
    return await _subscriptions_page(
        request, container, web, principal, values=values, types=types, errors=errors, status=422
    )


async def _subscription_action(
    request: Request[Any, Any, Any], container: Container, subscription_id: uuid.UUID, action: str
) -> Response[Any]:
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request, SUBSCRIPTIONS)
    web, principal = signed
    form = await request.form()
    if not sessions.same(form.get("csrf"), web.csrf):
        return _csrf_refused(request)
    try:
        if action == "delete":
            await container.alerts.delete_subscription(principal, subscription_id, now=_now())
            target = f"{SUBSCRIPTIONS}?done=deleted"
        else:
            alert = await container.alerts.test_send(principal, subscription_id, now=_now())
            target = f"{SUBSCRIPTIONS}?tested={alert.code}#test-result"
    except NotFound:
        return _not_found(request)
    except DomainError as exc:
        _ = i18n.gettext_for(language(request))
        return _refused(request, _("This could not be done; nothing was changed."), exc.status)
    sep = "&" if "?" in target else "?"
    path, _, anchor = target.partition("#")
    return Redirect(
        path=f"{path}{sep}{_lang_query(request)}" + (f"#{anchor}" if anchor else ""),
        status_code=303,
    )


@post(f"{SUBSCRIPTIONS}/{{subscription_id:uuid}}/delete", opt=OPT, include_in_schema=False)
async def subscription_delete(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    subscription_id: FromPath[uuid.UUID],
) -> Response[Any]:
    return await _subscription_action(request, container, subscription_id, "delete")


@post(f"{SUBSCRIPTIONS}/{{subscription_id:uuid}}/test", opt=OPT, include_in_schema=False)
async def subscription_test(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    subscription_id: FromPath[uuid.UUID],
) -> Response[Any]:
    return await _subscription_action(request, container, subscription_id, "test")


# ------------------------------------------------------------------------------ admin


async def _admin(
    request: Request[Any, Any, Any], container: Container, back: str = ADMIN
) -> tuple[sessions.WebSession, Principal] | Response[Any]:
    """The signed-in organisation admin, or the answer for anyone else (sign-in, or 403)."""
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request, back)
    if signed[1].role != Role.ADMIN:
        audit.later(
            audit.event(
                "authz.denied",
                signed[1],
                target_type="route",
                target_id=ADMIN,
                method=request.method,
                route=ADMIN,
                reason="web admin page: organisation admins only",
            )
        )
        _ = i18n.gettext_for(language(request))
        return _refused(request, _("This page is for your organisation's administrators."), 403)
    return signed


async def _users(container: Container, org_id: uuid.UUID) -> list[UserRow]:
    async with container.db.read() as session:
        rows = await session.scalars(
            select(UserRow)
            .where(UserRow.org_id == org_id, UserRow.deleted_at.is_(None))
            .order_by(UserRow.created_at, UserRow.id)
        )
        return list(rows.all())


async def _intake_since(container: Container, org_id: uuid.UUID) -> datetime | None:
    async with container.db.read() as session:
        return await session.scalar(
            select(IntakeSecretRow.created_at).where(IntakeSecretRow.org_id == org_id)
        )


@get(ADMIN, opt=OPT, include_in_schema=False, name="web-admin")
async def admin_page(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await _admin(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    flash = _flash_take(container, request, web)
    tokens = await container.sharing.tokens(principal, limit=500)
    by_user: dict[uuid.UUID, list[Any]] = {}
    for token in tokens:
        by_user.setdefault(token.user_id, []).append(token)
    invitations = await container.sharing.invitations(principal, None)
    response = page(
        request,
        "account/admin.html",
        {
            "csrf": web.csrf,
            "me": principal,
            "account_admin": True,
            "users": await _users(container, principal.org_id),
            "tokens_of": by_user,
            "roles": [r.value for r in ISSUABLE_ROLES],
            "intake_since": await _intake_since(container, principal.org_id),
            "received": [i for i in invitations if i.org_id == principal.org_id],
            "sent": [i for i in invitations if i.invited_by_org_id == principal.org_id],
            "flash": flash,
            "done": request.query_params.get("done"),
            "error": request.query_params.get("error"),
        },
    )
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path=ADMIN)  # shown once
    return response


def _back(request: Request[Any, Any, Any], **query: str) -> Redirect:
    parts = [f"{k}={v}" for k, v in query.items()] + [_lang_query(request)]
    return Redirect(path=f"{ADMIN}?{'&'.join(parts)}", status_code=303)


@post(f"{ADMIN}/tokens", opt=OPT, include_in_schema=False)
async def admin_token_issue(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await _admin(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    form = await request.form()
    if not sessions.same(form.get("csrf"), web.csrf):
        return _csrf_refused(request)
    role_text = str(form.get("role") or "")
    name = str(form.get("name") or "").strip()[:200] or None
    if role_text not in {r.value for r in ISSUABLE_ROLES}:
        return _back(request, error="role")
    try:
        issued = await container.sharing.issue_token(
            principal, org_id=None, role=Role(role_text), name=name, now=_now()
        )
    except DomainError:
        return _back(request, error="token")
    response = _back(request, done="issued")
    flash = {"kind": "token", "secret": issued.token, "role": role_text, "name": name}
    _flash_put(container, request, web, flash, response)
    return response


@post(f"{ADMIN}/tokens/{{token_id:uuid}}/revoke", opt=OPT, include_in_schema=False)
async def admin_token_revoke(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    token_id: FromPath[uuid.UUID],
) -> Response[Any]:
    signed = await _admin(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    form = await request.form()
    if not sessions.same(form.get("csrf"), web.csrf):
        return _csrf_refused(request)
    try:
        await container.sharing.revoke_token(principal, token_id, now=_now())
    except NotFound:
        return _not_found(request)
    container.token_cache.clear()  # the revoked token must stop working at once
    return _back(request, done="revoked")


@post(f"{ADMIN}/intake-secret", opt=OPT, include_in_schema=False)
async def admin_intake_rotate(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await _admin(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    form = await request.form()
    if not sessions.same(form.get("csrf"), web.csrf):
        return _csrf_refused(request)
    now = _now()
    async with container.db.transaction() as session:
        secret = await set_intake_secret(session, principal.org_id, now=now)
        await audit.write(
            session,
            [
                audit.event(
                    "intake_secret.rotated",
                    principal,
                    target_type="organisation",
                    target_id=principal.org_id,
                )
            ],
            now=now,
        )
    response = _back(request, done="rotated")
    _flash_put(container, request, web, {"kind": "intake", "secret": secret}, response)
    return response


async def _invitation_action(
    request: Request[Any, Any, Any], container: Container, invitation_id: uuid.UUID, action: str
) -> Response[Any]:
    signed = await _admin(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    form = await request.form()
    if not sessions.same(form.get("csrf"), web.csrf):
        return _csrf_refused(request)
    try:
        if action == "withdraw":
            await container.sharing.withdraw_invitation(principal, invitation_id, now=_now())
        else:
            await container.sharing.decide_invitation(
                principal, invitation_id, accept=action == "accept", now=_now()
            )
    except NotFound:
        return _not_found(request)
    except Conflict:
        return _back(request, error="invitation")
    except DomainError:
        return _back(request, error="other")
    container.token_cache.clear()  # memberships must reach cached principals at once
    return _back(request, done=action)


@post(f"{ADMIN}/invitations/{{invitation_id:uuid}}/accept", opt=OPT, include_in_schema=False)
async def admin_invitation_accept(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    invitation_id: FromPath[uuid.UUID],
) -> Response[Any]:
    return await _invitation_action(request, container, invitation_id, "accept")


@post(f"{ADMIN}/invitations/{{invitation_id:uuid}}/decline", opt=OPT, include_in_schema=False)
async def admin_invitation_decline(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    invitation_id: FromPath[uuid.UUID],
) -> Response[Any]:
    return await _invitation_action(request, container, invitation_id, "decline")


@post(f"{ADMIN}/invitations/{{invitation_id:uuid}}/withdraw", opt=OPT, include_in_schema=False)
async def admin_invitation_withdraw(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    invitation_id: FromPath[uuid.UUID],
) -> Response[Any]:
    return await _invitation_action(request, container, invitation_id, "withdraw")


# ------------------------------------------------------------------------------ alert links


def _ack_page(
    request: Request[Any, Any, Any], context: dict[str, Any], *, status: int = 200
) -> Template:
    response = page(request, "account/ack.html", context, status=status)
    # The signature is in the address: no referrer carries it elsewhere (never cached either).
    response.headers["referrer-policy"] = "no-referrer"
    return response


async def _alert(container: Container, code: str) -> AlertRow | None:
    async with container.db.read() as session:
        return (
            await session.execute(select(AlertRow).where(AlertRow.code == code))
        ).scalar_one_or_none()


async def _alert_language(container: Container, alert: AlertRow) -> str:
    async with container.db.read() as session:
        written = await session.scalar(
            select(SubscriptionRow.language).where(SubscriptionRow.id == alert.subscription_id)
        )
    return written if written in i18n.LANGUAGES else i18n.DEFAULT


def _valid(container: Container, code: str, sig: str) -> bool:
    return bool(CODE.match(code)) and len(sig) <= 100 and container.link_signer.verify(code, sig)


@get(f"{ACK}/{{code:str}}", opt=OPT, include_in_schema=False, name="web-ack-link")
async def ack_link_page(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    code: FromPath[str],
    sig: FromQuery[str] = "",
) -> Response[Any]:
    """What the link in a message opens: the alert's code and a button. Changes nothing."""
    code = code.strip().upper()[:40]
    signed = await current(request, container)
    base = {"code": code, "sig": sig, "signed_in": signed is not None}
    if signed is not None:
        base["csrf"] = signed[0].csrf
    if not _valid(container, code, sig):
        return _ack_page(request, {**base, "state": "invalid"}, status=403)
    alert = await _alert(container, code)
    if alert is None:
        return _ack_page(request, {**base, "state": "invalid"}, status=404)
    if "lang" not in request.query_params and i18n.COOKIE not in request.cookies:
        # Nobody chose a language on this phone yet: the one the alert was written in.
        written = await _alert_language(container, alert)
        if written != i18n.DEFAULT:
            target = f"{ACK}/{code}?{urlencode({'sig': sig, 'lang': written})}"
            return Redirect(path=target, status_code=303, headers={"cache-control": "no-store"})
    state = "done" if alert.acked_at is not None else "ask"
    return _ack_page(request, {**base, "state": state, "alert": alert})


@post(f"{ACK}/{{code:str}}", opt=OPT, include_in_schema=False)
async def ack_link_post(
    request: Request[Any, Any, Any], container: NamedDependency[Container], code: FromPath[str]
) -> Response[Any]:
    """Acknowledge: the link's signature is the credential. With a session and its CSRF token,
    the acknowledgement is recorded as the signed-in user's when the alert is theirs."""
    code = code.strip().upper()[:40]
    form = await request.form()
    sig = str(form.get("sig") or "")[:100]
    signed = await current(request, container)
    base: dict[str, Any] = {"code": code, "sig": sig, "signed_in": signed is not None}
    if signed is not None:
        base["csrf"] = signed[0].csrf
    if not _valid(container, code, sig):
        return _ack_page(request, {**base, "state": "invalid"}, status=403)
    now = _now()
    result = None
    if signed is not None and sessions.same(form.get("session_csrf"), signed[0].csrf):
        try:
            result = await container.alerts.acknowledge(signed[1], code, now=now)
        except NotFound:
            result = None
    try:
        if result is None:
            result = await container.alerts.acknowledge_by_link(code, sig, now=now)
    except DomainError:
        return _ack_page(request, {**base, "state": "invalid"}, status=403)
    return _ack_page(
        request,
        {**base, "state": "already" if result.already else "acked", "result": result},
    )


ROUTES: list[Any] = [
    subscriptions_page,
    subscription_create,
    subscription_delete,
    subscription_test,
    admin_page,
    admin_token_issue,
    admin_token_revoke,
    admin_intake_rotate,
    admin_invitation_accept,
    admin_invitation_decline,
    admin_invitation_withdraw,
    ack_link_page,
    ack_link_post,
]
