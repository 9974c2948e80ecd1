"""The officer console: incidents shared with the officer (verify / dispute), the held SMS queue,
broadcasts with their live delivery view.

Every read and change goes through the services of the composition root (visibility, masking,
the version check and the roles are theirs); this module only turns forms into their calls.
Pages work without JavaScript; officer.js adds the live SMS preview and the live figures.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from alerts.core.policy import Priority
from alerts.core.render import CODE_LENGTH, SMS_MAX, render_broadcast, to_gsm7
from alerts.core.schemas import BroadcastDeliveries, RecipientFigures
from alerts.core.service import BROADCAST_PRIORITIES, MAX_BROADCAST_CHARS
from api.bootstrap import Container
from api.web import i18n
from api.web import session as sessions
from api.web.pages import (
    OPT,
    PREFIX,
    _headers,
    current,
    language,
    page,
    places_of,
    to_sign_in,
    zone_groups,
)
from incidents.audit import log as audit
from incidents.errors import DomainError, InvalidField, NotFound, PreconditionFailed
from incidents.identity.accounts import Principal
from incidents.intake.sms import sms_size
from incidents.records.model import Status
from incidents.records.schemas import IncidentPatch
from incidents.records.store import IncidentQuery
from incidents.taxonomy import catalogue as taxonomy

HOME = f"{PREFIX}/officer"
STATUSES = ("reported", "verified", "disputed", "retracted")
DECISIONS = ("verified", "disputed")
PERIODS = ("7", "30", "90", "365")
PAGE_SIZE = 50
PRIORITIES = ("normal", "flash")
# A sample reply code in the preview: every code has this length, so the preview's length is
# the length of what recipients get.
SAMPLE_CODE = "K7M4Q"[:CODE_LENGTH].ljust(CODE_LENGTH, "K")

Signed = tuple[sessions.WebSession, Principal]


# ------------------------------------------------------------------------------ access


def _forbidden(request: Request[Any, Any, Any], web: sessions.WebSession) -> Template:
    return page(request, "officer/forbidden.html", {"csrf": web.csrf}, status=403)


def _not_found(request: Request[Any, Any, Any], web: sessions.WebSession) -> Template:
    return page(
        request, "officer/not_found.html", {"csrf": web.csrf, "officer_nav": True}, status=404
    )


async def _officer(
    request: Request[Any, Any, Any], container: Container, back: str | None = None
) -> Signed | Response[Any]:
    """The signed-in officer (or admin), else the answer to give: sign-in and back, or 403."""
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request, back)
    web, principal = signed
    if not principal.is_officer:
        return _forbidden(request, web)
    return signed


async def _officer_post(
    request: Request[Any, Any, Any], container: Container, back: str
) -> tuple[sessions.WebSession, Principal, dict[str, str]] | Response[Any]:
    """As `_officer`, for a form: the CSRF token checked before anything else is read."""
    signed = await _officer(request, container, back)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    raw = await request.form()
    if not sessions.same(raw.get("csrf"), web.csrf):
        _ = i18n.gettext_for(language(request))
        return Response(
            _("The form expired: please try again."),
            status_code=403,
            headers=_headers(),
            media_type="text/plain",
        )
    form = {k: str(v)[: MAX_BROADCAST_CHARS + 10] for k, v in raw.items() if isinstance(v, str)}
    return web, principal, form


def _context(web: sessions.WebSession, section: str, **extra: Any) -> dict[str, Any]:
    return {"csrf": web.csrf, "officer_nav": True, "section": section, **extra}


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------ incidents

FILTER_KEYS = ("type", "status", "min_severity", "zone", "days", "cursor")


@dataclass
class Listing:
    values: dict[str, str]
    query: IncidentQuery
    errors: dict[str, str]


async def _zones(container: Container, principal: Principal, lang: str) -> list[Any]:
    rows = await container.zones.list(viewer=principal)
    kinds = ("admin1", "admin2", "town", "border_belt", "custom", "country")
    rank = {k: i for i, k in enumerate(kinds)}
    rows = sorted(
        rows, key=lambda r: (rank.get(r.kind, 9), r.name_en if lang == "en" else r.name_fr)
    )
    return [
        {"id": r.id, "kind": r.kind, "name": r.name_en if lang == "en" else r.name_fr} for r in rows
    ]


async def _listing(
    container: Container, principal: Principal, params: dict[str, str], _: Any
) -> Listing:
    """The filters of the list (those GET /api/v1/incidents offers) as an IncidentQuery."""
    values = {k: (params.get(k) or "").strip()[:600] for k in FILTER_KEYS}
    errors: dict[str, str] = {}
    query = IncidentQuery(limit=PAGE_SIZE, cursor=values["cursor"] or None)
    if values["type"]:
        try:
            query.types = taxonomy.expand_codes([values["type"]])
        except taxonomy.UnknownCodeError:
            errors["type"] = _("Unknown type.")
            values["type"] = ""
    if values["status"]:
        if values["status"] in STATUSES:
            query.statuses = frozenset({values["status"]})
        else:
            errors["status"] = _("Unknown status.")
            values["status"] = ""
    if values["min_severity"]:
        if values["min_severity"] in ("1", "2", "3", "4", "5"):
            query.min_severity = int(values["min_severity"])
        else:
            errors["min_severity"] = _("Choose a severity from 1 to 5.")
            values["min_severity"] = ""
    if values["days"]:
        if values["days"] in PERIODS:
            query.since = datetime.now(UTC) - timedelta(days=int(values["days"]))
        else:
            values["days"] = ""
    if values["zone"]:
        # Only a zone this organisation may know of (another's custom zone does not exist).
        if values["zone"] in await container.zones.known_ids(principal):
            query.zone_incident_ids = await container.zone_filter(values["zone"], principal)
        else:
            errors["zone"] = _("Unknown zone.")
            values["zone"] = ""
    return Listing(values, query, errors)


def _type_options(lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    groups = []
    for category in taxonomy.CATEGORIES.values():
        types = [(t.code, t.label(lang)) for t in taxonomy.types_in(category.code)]
        groups.append((category.label(lang), [(category.code, category.label(lang)), *types]))
    return groups


def _entry(feature: Any, lang: str) -> dict[str, Any]:
    """What the console shows of one list entry; a masked entry keeps only what it shows."""
    p = feature.properties
    category = taxonomy.CATEGORIES.get(p.category)
    when = _utc(p.occurred_at)
    if p.masked:
        return {
            "masked": True,
            "label": category.label(lang) if category else p.category,
            "when": when.strftime("%Y-%m-%d"),
        }
    code = p.type if isinstance(p.type, str) else None
    kind = taxonomy.TYPES.get(code) if code else None
    exact = p.time_precision == "exact"
    return {
        "masked": False,
        "id": str(feature.id),
        "label": kind.label(lang) if kind else (category.label(lang) if category else p.category),
        "when": when.strftime("%Y-%m-%d %H:%M UTC" if exact else "%Y-%m-%d"),
        "place": p.place_name if isinstance(p.place_name, str) else None,
        "severity": p.severity if isinstance(p.severity, int) else None,
        "status": p.status if isinstance(p.status, str) else "reported",
        "organisation": p.organisation if isinstance(p.organisation, str) else None,
        "version": p.version if isinstance(p.version, int) else None,
        "description": p.description if isinstance(p.description, str) else None,
        # Full views only (the service never corroborates a masked entry): the reports of
        # this event the viewer may read in full, this one included.
        "corroborated": getattr(p.corroboration, "reports", None),
    }


def _back_query(values: dict[str, str]) -> str:
    return urlencode({k: v for k, v in values.items() if v and k != "cursor"})


async def _incidents_page(
    request: Request[Any, Any, Any],
    container: Container,
    web: sessions.WebSession,
    principal: Principal,
    params: dict[str, str],
    *,
    notice: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    lang = language(request)
    _ = i18n.gettext_for(lang)
    listing = await _listing(container, principal, params, _)
    features, next_cursor = await container.incidents.list(principal, listing.query)
    back = _back_query(listing.values)
    return page(
        request,
        "officer/incidents.html",
        _context(
            web,
            "incidents",
            entries=[_entry(f, lang) for f in features],
            next_cursor=next_cursor,
            v=listing.values,
            errors=listing.errors,
            back=back,
            types=_type_options(lang),
            statuses=STATUSES,
            zone_groups=zone_groups(await _zones(container, principal, lang), _),
            periods=PERIODS,
            notice=notice or {},
            done=(request.query_params.get("done") or "")[:40],
        ),
        status=status,
    )


@get(HOME, opt=OPT, include_in_schema=False, name="web-officer")
async def incidents_list(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await _officer(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    params = {k: request.query_params.get(k) or "" for k in FILTER_KEYS}
    return await _incidents_page(request, container, web, principal, params)


@post(f"{HOME}/incidents/{{incident_id:uuid}}/status", opt=OPT, include_in_schema=False)
async def change_status(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    incident_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Verify or dispute at the version the officer read: a stale version changes nothing."""
    checked = await _officer_post(request, container, HOME)
    if not isinstance(checked, tuple):
        return checked
    web, principal, form = checked
    _ = i18n.gettext_for(language(request))
    params = dict(parse_qsl(form.get("back", ""))[:10])
    decision = form.get("status", "")
    version = form.get("version", "")
    key = str(incident_id)
    if decision not in DECISIONS or not version.isdigit():
        notice = {key: _("This change could not be made.")}
        return await _incidents_page(
            request, container, web, principal, params, notice=notice, status=422
        )
    try:
        await container.incidents.patch(
            principal,
            incident_id,
            IncidentPatch(status=Status(decision)),
            if_match=int(version),
            now=datetime.now(UTC),
        )
    except PreconditionFailed:
        notice = {key: _("Changed since you opened it — reload.")}
        return await _incidents_page(
            request, container, web, principal, params, notice=notice, status=409
        )
    except NotFound:
        return _not_found(request, web)
    except DomainError as exc:
        notice = {
            key: _("The service refused this change:")
            + " "
            + i18n.error_text(exc.detail, language(request))
        }
        return await _incidents_page(
            request, container, web, principal, params, notice=notice, status=exc.status
        )
    target = urlencode({**{k: v for k, v in params.items() if k in FILTER_KEYS}, "done": key})
    return Redirect(path=f"{HOME}?{target}#incident-{key}", status_code=303)


# ------------------------------------------------------------------------------ held SMS


def _held_entry(held: Any) -> dict[str, Any]:
    return {
        "id": str(held.id),
        "sender": held.sender,
        "text": held.text,
        "when": _utc(held.received_at).strftime("%Y-%m-%d %H:%M UTC"),
        "reason": held.reason,
    }


async def _held_page(
    request: Request[Any, Any, Any],
    container: Container,
    web: sessions.WebSession,
    principal: Principal,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    typed: dict[str, dict[str, str]] | None = None,
    status: int = 200,
) -> Template:
    lang = language(request)
    items = await container.intake.list_held(principal, state="held")
    return page(
        request,
        "officer/held.html",
        _context(
            web,
            "held",
            items=[_held_entry(h) for h in items],
            errors=errors or {},
            typed=typed or {},
            types=[(label, types[1:]) for label, types in _type_options(lang)],
            done=(request.query_params.get("done") or "")[:20],
        ),
        status=status,
    )


@get(f"{HOME}/held", opt=OPT, include_in_schema=False)
async def held_queue(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await _officer(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    return await _held_page(request, container, web, principal)


@post(f"{HOME}/held/{{held_id:uuid}}/publish", opt=OPT, include_in_schema=False)
async def publish_held(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    held_id: FromPath[uuid.UUID],
) -> Response[Any]:
    checked = await _officer_post(request, container, f"{HOME}/held")
    if not isinstance(checked, tuple):
        return checked
    web, principal, form = checked
    _ = i18n.gettext_for(language(request))
    key = str(held_id)
    typed = {"type": form.get("type", "")[:64], "place": form.get("place", "").strip()[:100]}
    corrections: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if typed["type"]:
        if typed["type"] in taxonomy.TYPES:
            corrections["type"] = typed["type"]
        else:
            errors["type"] = _("Choose what happened.")
    if typed["place"]:
        found = places_of(container).lookup(typed["place"])  # with the imported places
        if found is None:
            errors["place"] = _("Unknown place.")
        else:
            # As the SMS parser gives a place: a point (it never sends lat and lon).
            point = {"type": "Point", "coordinates": [found.lon, found.lat]}
            corrections.update(geometry=point, place_name=found.name, location_precision="locality")
    if not errors:
        try:
            await container.intake.publish_held(
                principal, held_id, now=datetime.now(UTC), corrections=corrections or None
            )
        except NotFound:
            return _not_found(request, web)
        except InvalidField as exc:
            field = "place" if exc.field in ("location", "lat", "lon", "geometry") else "type"
            errors[field] = (
                _("The SMS does not say where: give a place.")
                if field == "place"
                else _("The SMS does not say what happened: choose the type.")
            )
        except DomainError as exc:
            errors["text"] = (
                _("The service refused this change:")
                + " "
                + i18n.error_text(exc.detail, language(request))
            )
        else:
            return Redirect(path=f"{HOME}/held?done=published", status_code=303)
    return await _held_page(
        request, container, web, principal, errors={key: errors}, typed={key: typed}, status=422
    )


@post(f"{HOME}/held/{{held_id:uuid}}/reject", opt=OPT, include_in_schema=False)
async def reject_held(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    held_id: FromPath[uuid.UUID],
) -> Response[Any]:
    checked = await _officer_post(request, container, f"{HOME}/held")
    if not isinstance(checked, tuple):
        return checked
    web, principal, _form = checked
    _ = i18n.gettext_for(language(request))
    try:
        await container.intake.discard_held(principal, held_id, now=datetime.now(UTC))
    except NotFound:
        return _not_found(request, web)
    except DomainError as exc:
        errors = {
            str(held_id): {
                "text": _("The service refused this change:")
                + " "
                + i18n.error_text(exc.detail, language(request))
            }
        }
        return await _held_page(request, container, web, principal, errors=errors, status=409)
    return Redirect(path=f"{HOME}/held?done=rejected", status_code=303)


# ------------------------------------------------------------------------------ broadcast

BROADCAST_FIELDS = ("zone", "priority", "text_fr", "text_en")


def preview(values: dict[str, str]) -> dict[str, Any]:
    """The SMS each recipient language gets, rendered by the alerts package (its GSM-7 encoder
    and its 160-character fitting), with its size and whether the text would be cut."""
    texts = {"fr": values.get("text_fr", "").strip(), "en": values.get("text_en", "").strip()}
    message = {k: v for k, v in texts.items() if v}
    priority = BROADCAST_PRIORITIES.get(values.get("priority") or "", Priority.ROUTINE)
    out: dict[str, Any] = {"languages": [], "cut": False}
    if not message:
        return out
    for lang in ("fr", "en"):
        source = message.get(lang) or message.get("fr") or message.get("en") or ""
        rendered = render_broadcast(
            message,
            priority,
            language=lang,
            format="sms",
            code=SAMPLE_CODE,
        ).body
        size = sms_size(rendered)
        typed = sms_size(source)
        cut = to_gsm7(source) not in rendered
        out["languages"].append(
            {
                "lang": lang,
                "sms": rendered,
                "alphabet": "GSM-7" if size.alphabet == "gsm7" else "UCS-2",
                "units": size.units,
                "segments": size.segments,
                "max": SMS_MAX,
                "typed_units": typed.units,
                "typed_alphabet": "GSM-7" if typed.alphabet == "gsm7" else "UCS-2",
                "typed_segments": typed.segments,
                "cut": cut,
                "changed": to_gsm7(source) != source,
            }
        )
        out["cut"] = out["cut"] or cut
    return out


def _broadcast_errors(values: dict[str, str], zone_ids: set[str], _: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    if values["zone"] not in zone_ids:
        errors["zone"] = _("Choose the area.")
    if values["priority"] not in PRIORITIES:
        errors["priority"] = _("Choose the severity.")
    if not values["text_fr"].strip() and not values["text_en"].strip():
        errors["text_fr"] = _("Write the message (in French, English or both).")
    for name in ("text_fr", "text_en"):
        if len(values[name]) > MAX_BROADCAST_CHARS:
            errors[name] = _("At most %d characters.") % MAX_BROADCAST_CHARS
    return errors


async def _broadcast_page(
    request: Request[Any, Any, Any],
    container: Container,
    web: sessions.WebSession,
    principal: Principal,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    *,
    show_preview: bool = False,
    status: int = 200,
) -> Template:
    lang = language(request)
    _ = i18n.gettext_for(lang)
    values = values or {"zone": "", "priority": "normal", "text_fr": "", "text_en": ""}
    return page(
        request,
        "officer/broadcast.html",
        _context(
            web,
            "broadcast",
            v=values,
            errors=errors or {},
            zone_groups=zone_groups(await _zones(container, principal, lang), _),
            preview=preview(values) if show_preview else None,
            max_chars=MAX_BROADCAST_CHARS,
        ),
        status=status,
    )


@get(f"{HOME}/broadcast", opt=OPT, include_in_schema=False)
async def broadcast_form(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await _officer(request, container)
    if not isinstance(signed, tuple):
        return signed
    return await _broadcast_page(request, container, *signed)


@post(f"{HOME}/broadcast", opt=OPT, include_in_schema=False)
async def broadcast_send(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    checked = await _officer_post(request, container, f"{HOME}/broadcast")
    if not isinstance(checked, tuple):
        return checked
    web, principal, form = checked
    _ = i18n.gettext_for(language(request))
    values = {k: form.get(k, "") for k in BROADCAST_FIELDS}
    values["priority"] = values["priority"] or "normal"
    if form.get("action") == "preview":
        return await _broadcast_page(request, container, web, principal, values, show_preview=True)
    known = {z["id"] for z in await _zones(container, principal, "fr")}
    errors = _broadcast_errors(values, known, _)
    if not errors:
        message = {
            k: values[f"text_{k}"].strip() for k in ("fr", "en") if values[f"text_{k}"].strip()
        }
        body = {
            "area": {"zones": [values["zone"]]},
            "message": message,
            "priority": values["priority"],
        }
        try:
            result = await container.alerts.broadcast(principal, body, now=datetime.now(UTC))
        except DomainError as exc:
            field = (exc.field or "").split(".")
            name = {"area": "zone", "priority": "priority"}.get(field[0], "text_fr")
            if field[0] == "message" and len(field) > 1 and field[1] == "en":
                name = "text_en"
            errors[name] = (
                _("The service refused this value:")
                + " "
                + i18n.error_text(exc.detail, language(request))
            )
        else:
            audit.later(
                audit.event(
                    "alert.broadcast",
                    principal,
                    target_type="broadcast",
                    target_id=result.id,
                    priority=result.priority,
                    alerts=result.alerts,
                )
            )
            return Redirect(path=f"{HOME}/broadcasts/{result.id}", status_code=303)
    return await _broadcast_page(
        request, container, web, principal, values, errors, show_preview=True, status=422
    )


@post(f"{HOME}/broadcast/preview", opt=OPT, include_in_schema=False, status_code=200)
async def broadcast_preview(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    """The live preview (officer.js): the rendered SMS and its length, as JSON."""
    checked = await _officer_post(request, container, f"{HOME}/broadcast")
    if not isinstance(checked, tuple):
        if isinstance(checked, Redirect):
            return Response({"error": "signed_out"}, status_code=401, headers=_headers())
        return Response({"error": "forbidden"}, status_code=403, headers=_headers())
    _web, _principal, form = checked
    values = {k: form.get(k, "")[:MAX_BROADCAST_CHARS] for k in BROADCAST_FIELDS}
    return Response(preview(values), headers=_headers())


# ------------------------------------------------------------------------------ delivery view


async def _deliveries(
    container: Container, principal: Principal, broadcast_id: uuid.UUID
) -> BroadcastDeliveries | None:
    """The broadcast's delivery figures, if the viewer's organisation sent it (the alerts
    service decides, from the alerts in the database: any host, console or API)."""
    try:
        return await container.alerts.broadcast_deliveries(principal, broadcast_id)
    except NotFound:
        return None


async def figures(
    container: Container, principal: Principal, found: BroadcastDeliveries
) -> dict[str, Any]:
    """The figures as the page and its script show them: per organisation (the sender's own,
    then those it trusts; never others, whose figures would map where they work) and per
    subscription of the sender's organisation."""
    orgs = [o.org_id for o in found.organisations]
    async with container.db.read() as session:
        names = await container.organisation_names.get(session, orgs)
    subscriptions = {s.id: s for s in await container.alerts.list_subscriptions(principal)}

    def tally(f: RecipientFigures) -> dict[str, int]:
        return msgspec.structs.asdict(f)

    per_subscription = []
    for item in found.subscriptions:
        sub = subscriptions.get(item.subscription_id)
        label = (
            (sub.name or ", ".join(sub.channels))
            if sub is not None
            else str(item.subscription_id)[:8]
        )
        per_subscription.append(
            {"id": str(item.subscription_id), "label": label, **tally(item.figures)}
        )
    return {
        "organisations": [
            {"id": str(o.org_id), "name": names.get(o.org_id, ""), **tally(o.figures)}
            for o in found.organisations
        ],
        "subscriptions": per_subscription,
        "total": tally(found.total),
        "updated": datetime.now(UTC).strftime("%H:%M:%S UTC"),
    }


@get(f"{HOME}/broadcasts/{{broadcast_id:uuid}}", opt=OPT, include_in_schema=False)
async def delivery_view(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    broadcast_id: FromPath[uuid.UUID],
) -> Response[Any]:
    signed = await _officer(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    found = await _deliveries(container, principal, broadcast_id)
    if found is None:
        return _not_found(request, web)
    return page(
        request,
        "officer/delivery.html",
        _context(
            web,
            "broadcast",
            broadcast_id=str(broadcast_id),
            record={"priority": found.priority, "message": found.message},
            sent_at=_utc(found.sent_at).strftime("%Y-%m-%d %H:%M") + " UTC",
            f=await figures(container, principal, found),
        ),
    )


@get(f"{HOME}/broadcasts/{{broadcast_id:uuid}}/figures", opt=OPT, include_in_schema=False)
async def delivery_figures(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    broadcast_id: FromPath[uuid.UUID],
) -> Response[Any]:
    signed = await current(request, container)
    if signed is None:
        return Response({"error": "signed_out"}, status_code=401, headers=_headers())
    _web, principal = signed
    if not principal.is_officer:
        return Response({"error": "forbidden"}, status_code=403, headers=_headers())
    found = await _deliveries(container, principal, broadcast_id)
    if found is None:
        return Response({"error": "not_found"}, status_code=404, headers=_headers())
    return Response(await figures(container, principal, found), headers=_headers())


ROUTES: list[Any] = [
    incidents_list,
    change_status,
    held_queue,
    publish_held,
    reject_held,
    broadcast_form,
    broadcast_send,
    broadcast_preview,
    delivery_view,
    delivery_figures,
]
