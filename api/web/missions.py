"""The mission pages: the organisation's missions with their state and route level per stretch,
plan a mission, approve it (officers), check in (OK, ARRIVE, RETARD, AIDE; a position only if
the traveller gives it), take an alarm, close, the notification export (officers, audited), and
the kidnapping protocol checklist.

Who sees and does what is the missions service's (missions.service): a mission the viewer may
not see answers 404 on every page and form, the same answer as for one that does not exist.
The form is checked here field by field in the user's language, then given to the service as the
API's POST /api/v1/missions body; what the service still refuses is shown by the field it names.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from api.bootstrap import Container
from api.web import i18n
from api.web import session as sessions
from api.web.pages import (
    OPT,
    PREFIX,
    _gazetteer,
    _headers,
    current,
    language,
    page,
    places_of,
    to_sign_in,
)
from incidents.errors import Conflict, DomainError, Forbidden, InvalidField, NotFound
from incidents.identity.accounts import Principal
from incidents.intake.service import normalise_phone
from incidents.risk.coverage import NO_DATA
from incidents.risk.model import LEVEL_LABELS
from missions.messages import KIDNAPPING_CHECKLIST
from missions.model import check_duress_word
from missions.service import PLANNERS, MissionService, export_notification

HOME = f"{PREFIX}/missions"
STATES = ("planned", "active", "overdue", "alarm", "arrived", "closed")
SHARING = ("amber_strict", "red", "amber")
KINDS = ("ok", "arrived", "late", "help")
STOP_ROWS = 4
TRAVELLER_ROWS = 3
VEHICLE_ROWS = 2
MAX_DAYS = 60
TEXT_MAX = 200
TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")
_PLACE_SPLIT = re.compile(r"\s*(?:,|;|\n|→|->|\s-\s)\s*")

Signed = tuple[sessions.WebSession, Principal]


# ------------------------------------------------------------------------------ words


def state_labels(_: Any) -> dict[str, str]:
    return {
        "planned": _("planned"),
        "active": _("under way"),
        "arrived": _("arrived"),
        "overdue": _("overdue"),
        "alarm": _("alarm"),
        "closed": _("closed"),
    }


def _level_label(level: int | None, lang: str) -> str:
    if level is None:  # a route without data (incidents.risk.coverage)
        return i18n.level_label(NO_DATA, lang)
    fr, en = LEVEL_LABELS.get(level, (str(level), str(level)))
    return en if lang == "en" else fr


def _when(iso: str | None, lang: str) -> str:
    """ "02/12/2026 07:00" (fr) or "2026-12-02 07:00" (en), Mali time (UTC)."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%d/%m/%Y %H:%M" if lang == "fr" else "%Y-%m-%d %H:%M")


_REASONS = (
    (re.compile(r"^level (\d) on the route \(approval from level (\d)\)$"), "level"),
    (re.compile(r"^an IED reported near the route in the last (\d+) days$"), "ied"),
    (re.compile(r"^a military exclusion zone reported on the route$"), "exclusion"),
)


def reason_text(reason: str, _: Any) -> str:
    """Why a route needs approval (the service's words), in the user's language."""
    for pattern, kind in _REASONS:
        m = pattern.match(reason)
        if m is None:
            continue
        if kind == "level":
            return _("level %(level)s on the route (approval from level %(from)s)") % {
                "level": m.group(1),
                "from": m.group(2),
            }
        if kind == "ied":
            return _("an IED reported near the route in the last %(days)s days") % {
                "days": m.group(1)
            }
        return _("a military exclusion zone reported on the route")
    return reason


def _service(container: Container) -> MissionService:
    assert container.missions is not None  # the composition root always builds it
    return container.missions


# ------------------------------------------------------------------------------ access


def _not_found(request: Request[Any, Any, Any], web: sessions.WebSession) -> Template:
    return page(request, "missions/not_found.html", {"csrf": web.csrf}, status=404)


def _refused(request: Request[Any, Any, Any], web: sessions.WebSession, text: str) -> Template:
    return page(request, "missions/refused.html", {"csrf": web.csrf, "message": text}, status=403)


async def _signed(request: Request[Any, Any, Any], container: Container) -> Signed | Response[Any]:
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request)
    return signed


async def _form(
    request: Request[Any, Any, Any], container: Container, back: str
) -> tuple[sessions.WebSession, Principal, dict[str, Any]] | Response[Any]:
    """The signed-in viewer and the form, its CSRF token checked before anything else is read."""
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request, back)
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
    form: dict[str, Any] = {}
    for key in raw:
        values = [str(v)[: TEXT_MAX + 10] for v in raw.getall(key) if isinstance(v, str)]
        form[key] = values if key == "member" else (values[0] if values else "")
    return web, principal, form


# ------------------------------------------------------------------------------ list


def _no_data(risk: dict[str, Any]) -> bool:
    return risk.get("coverage") == "no_data"


def _segments(view: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    risk = view.get("risk") or {}
    return [
        {
            "from_km": round(s["from_km"]),
            "to_km": round(s["to_km"]),
            "level": None if _no_data(risk) else s["level"],
            "label": _level_label(None if _no_data(risk) else s["level"], lang),
        }
        for s in risk.get("segments", [])
    ]


def _stretches(segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive stretches of the same level as one: "km 0 to 250: 3"."""
    out: list[dict[str, Any]] = []
    for s in segments:
        if out and out[-1]["level"] == s["level"]:
            out[-1] = {**out[-1], "to_km": s["to_km"]}
        else:
            out.append(dict(s))
    return out


def _card(view: dict[str, Any], lang: str) -> dict[str, Any]:
    risk = view.get("risk") or {}
    places = [p["name"] for p in (view.get("route") or {}).get("places", [])]
    level = None if _no_data(risk) else risk.get("level")
    return {
        **view,
        "places": places,
        "segments": _segments(view, lang),
        "stretches": _stretches(_segments(view, lang)),
        "level": level,
        "level_label": _level_label(level, lang) if level or _no_data(risk) else None,
        "departure": _when(view["departure_at"], lang),
        "arrival": _when(view["arrival_at"], lang),
        "next_checkin": _when(view.get("next_checkin_by"), lang),
    }


@get(HOME, opt=OPT, include_in_schema=False, name="web-missions")
async def missions_list(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await _signed(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    lang = language(request)
    _ = i18n.gettext_for(lang)
    state = request.query_params.get("state") or None
    if state not in STATES:
        state = None
    listed = await _service(container).list_missions(principal, state=state)
    return page(
        request,
        "missions/list.html",
        {
            "csrf": web.csrf,
            "missions": [_card(v, lang) for v in listed["items"]],
            "states": STATES,
            "state": state,
            "state_labels": state_labels(_),
            "may_plan": principal.role in PLANNERS,
            "is_officer": principal.is_officer,
        },
    )


# ------------------------------------------------------------------------------ plan


def _time(text: str) -> datetime | None:
    text = text.strip()
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _place(text: str, _: Any, places: Any = None) -> tuple[Any, str | None]:
    """The gazetteer's place for `text` (`places`: the API's, with the imported places), or
    the error to show (with close names)."""
    gazetteer = places if places is not None else _gazetteer()
    found = gazetteer.lookup(text)
    if found is not None:
        return found, None
    close = [p.name for p in gazetteer.suggest(text, limit=3)]
    message = _("Unknown place: %(name)s.") % {"name": text[:60]}
    if close:
        message += " " + _("Did you mean: %s?") % ", ".join(close)
    return None, message


def build_mission(
    form: dict[str, Any], members: set[str], lang: str, gazetteer: Any = None
) -> tuple[dict[str, Any] | None, dict[str, str], dict[str, str]]:
    """The form as the body of POST /api/v1/missions, or the errors per field (in `lang`);
    and which form field each API field of the body came from (to show the service's own
    refusals where they belong)."""
    _ = i18n.gettext_for(lang)
    errors: dict[str, str] = {}
    origin: dict[str, str] = {}
    title = str(form.get("title", "")).strip()
    if not title:
        errors["title"] = _("Give the mission a title, e.g. Mopti - Gao, distribution.")
    elif len(title) > TEXT_MAX:
        errors["title"] = _("At most %d characters.") % TEXT_MAX
    moments: dict[str, datetime] = {}
    for name in ("departure", "arrival"):
        text = str(form.get(name, "")).strip()
        moment = _time(text) if text else None
        if moment is None:
            errors[name] = _("Enter the date and time as YYYY-MM-DD HH:MM (Mali time, UTC).")
        else:
            moments[name] = moment
    departure, arrival = moments.get("departure"), moments.get("arrival")
    if departure and arrival:
        if arrival <= departure:
            errors["arrival"] = _("The arrival must be after the departure: check the dates.")
        elif arrival - departure > timedelta(days=MAX_DAYS):
            errors["arrival"] = _(
                "A mission lasts at most 60 days: plan longer stays as several missions."
            )
    names = [n for n in _PLACE_SPLIT.split(str(form.get("route", "")).strip()) if n]
    places: list[str] = []
    if len(names) < 2:
        errors["route"] = _("Give at least two places, in travel order: Mopti, Douentza, Gao.")
    else:
        for name in names[:50]:
            found, problem = _place(name, _, gazetteer)
            if problem:
                errors["route"] = problem
                break
            if not places or places[-1] != found.name:
                places.append(found.name)
        if "route" not in errors and len(places) < 2:
            errors["route"] = _("Give at least two different places.")
    stops: list[dict[str, Any]] = []
    for k in range(STOP_ROWS):
        where = str(form.get(f"stop_place_{k}", "")).strip()
        when_text = str(form.get(f"stop_time_{k}", "")).strip()
        if not where and not when_text:
            continue
        key = f"stop_{k}"
        if not where:
            errors[key] = _("Give the stop's place.")
            continue
        found, problem = _place(where, _, gazetteer)
        if problem:
            errors[key] = problem
            continue
        expected = _time(when_text) if when_text else None
        if expected is None:
            errors[key] = _(
                "Give the time you expect to check in there, as YYYY-MM-DD HH:MM (Mali time, UTC)."
            )
            continue
        if departure and arrival and not departure <= expected <= arrival:
            errors[key] = _("A stop's time lies between the departure and the arrival.")
            continue
        origin[f"stops[{len(stops)}]"] = key
        stops.append({"place": found.name, "expected_at": _iso(expected)})
    travellers: list[dict[str, Any]] = []
    for member in form.get("member") or []:
        if member in members and all(t.get("user_id") != member for t in travellers):
            origin[f"travellers[{len(travellers)}]"] = "travellers"
            travellers.append({"user_id": member})
    for k in range(TRAVELLER_ROWS):
        name = str(form.get(f"traveller_name_{k}", "")).strip()
        phone = str(form.get(f"traveller_phone_{k}", "")).strip()
        if not name and not phone:
            continue
        key = f"traveller_{k}"
        if not name or len(name) > TEXT_MAX:
            errors[key] = _("Give the traveller's name (at most 200 characters).")
            continue
        try:
            normalise_phone(phone)
        except InvalidField:
            errors[key] = _("Give the traveller's phone with its country code, e.g. +22376123456.")
            continue
        origin[f"travellers[{len(travellers)}]"] = key
        travellers.append({"name": name, "phone": phone})
    if not travellers and not any(k.startswith("traveller_") for k in errors):
        errors["travellers"] = _(
            "Choose at least one traveller: a member of your organisation, or a name and a phone."
        )
    vehicles = []
    for k in range(VEHICLE_ROWS):
        label = str(form.get(f"vehicle_label_{k}", "")).strip()
        markings = str(form.get(f"vehicle_markings_{k}", "")).strip()
        if not label and not markings:
            continue
        if len(label) > 100 or len(markings) > TEXT_MAX:
            errors[f"vehicle_{k}"] = _("At most %d characters.") % 100
            continue
        vehicles.append({"label": label or None, "markings": markings or None})
    grace_text = str(form.get("grace_minutes", "")).strip() or "30"
    grace = int(grace_text) if grace_text.isdigit() else -1
    if not 0 <= grace <= 720:
        errors["grace_minutes"] = _("Enter a grace window from 0 to 720 minutes.")
    level = str(form.get("sharing_level") or "amber_strict")
    if level not in SHARING:
        errors["sharing_level"] = _("Choose who may see this mission.")
    contact = str(form.get("contact", "")).strip()
    if len(contact) > TEXT_MAX:
        errors["contact"] = _("At most %d characters.") % TEXT_MAX
    if errors or departure is None or arrival is None:
        return None, errors, origin
    body: dict[str, Any] = {
        "title": title,
        "departure_at": _iso(departure),
        "arrival_at": _iso(arrival),
        "route": {"places": places},
        "stops": stops,
        "travellers": travellers,
        "vehicles": vehicles,
        "grace_minutes": grace,
        "sharing_level": level,
    }
    if contact:
        body["contact"] = contact
    return body, {}, origin


def refusal(exc: DomainError, origin: dict[str, str], lang: str) -> dict[str, str]:
    """A refusal of the service, in the user's language, on the form field it concerns."""
    _ = i18n.gettext_for(lang)
    detail = i18n.error_text(exc.detail, lang)[:300]
    field = exc.field or ""
    key = next(
        (origin[f] for f in sorted(origin, key=len, reverse=True) if field.startswith(f)), ""
    )
    if field.startswith("stops[") and key:
        return {
            key: _("This stop is outside the route's corridor: add it to the route or correct it.")
        }
    if field.startswith("travellers[") and key:
        if field.endswith(".phone"):
            return {
                key: _(
                    "This number cannot be used for this mission: give another number, or "
                    "choose the member in the list."
                )
            }
        return {key: _("This traveller cannot be named for this mission.")}
    if field.startswith("responders"):
        return {
            "travellers": _(
                "Nobody would be alerted if the travellers went silent: ask your administrator "
                "to add an officer to your organisation."
            )
        }
    if field.startswith("route"):
        return {"route": _("This route was refused.") + f" ({detail})"}
    return {"form": _("The service refused this value:") + " " + detail}


async def _plan_page(
    request: Request[Any, Any, Any],
    container: Container,
    web: sessions.WebSession,
    principal: Principal,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    default = {
        "departure": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "arrival": (now + timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M"),
        "grace_minutes": str(_service(container).config.grace_minutes),
        "sharing_level": "amber_strict",
        "member": [],
    }
    return page(
        request,
        "missions/plan.html",
        {
            "csrf": web.csrf,
            "v": values or default,
            "errors": errors or {},
            "members": await _service(container).members(principal),
            "stop_rows": range(STOP_ROWS),
            "traveller_rows": range(TRAVELLER_ROWS),
            "vehicle_rows": range(VEHICLE_ROWS),
            "sharing": SHARING,
        },
        status=status,
    )


@get(f"{HOME}/new", opt=OPT, include_in_schema=False)
async def plan_form(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await _signed(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    if principal.role not in PLANNERS:
        _ = i18n.gettext_for(language(request))
        return _refused(
            request, web, _("Planners, officers and administrators plan missions; ask one of them.")
        )
    return await _plan_page(request, container, web, principal)


@post(HOME, opt=OPT, include_in_schema=False)
async def plan(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    checked = await _form(request, container, f"{HOME}/new")
    if not isinstance(checked, tuple):
        return checked
    web, principal, form = checked
    lang = language(request)
    _ = i18n.gettext_for(lang)
    if principal.role not in PLANNERS:
        return _refused(
            request, web, _("Planners, officers and administrators plan missions; ask one of them.")
        )
    members = {m["user_id"] for m in await _service(container).members(principal)}
    body, errors, origin = build_mission(form, members, lang, places_of(container))
    if body is not None:
        try:
            created = await _service(container).create(principal, body, now=datetime.now(UTC))
        except Forbidden as exc:
            return _refused(request, web, exc.detail)
        except DomainError as exc:
            errors = refusal(exc, origin, lang)
        else:
            return Redirect(
                path=f"{HOME}/{created['id']}?done=planned&lang={lang}", status_code=303
            )
    return await _plan_page(request, container, web, principal, form, errors, status=422)


# ------------------------------------------------------------------------------ one mission


def _may_act(view: dict[str, Any], principal: Principal) -> dict[str, bool]:
    """Which buttons to show; the service decides again when one is pressed."""
    me = str(principal.user_id)
    state = view["state"]
    traveller = any(t["user_id"] == me for t in view["travellers"])
    own = bool(view.get("your_organisation"))
    alarm = view.get("alarm")
    open_ = state in ("planned", "active", "overdue", "alarm")
    waiting = view["needs_approval"] and view["approved_by"] is None
    return {
        "checkin": traveller and open_ and not (state == "planned" and waiting),
        "duress": traveller and open_,
        "approve": principal.is_officer and own and state == "planned" and waiting,
        "start": state == "planned"
        and not waiting
        and (traveller or (own and principal.role in PLANNERS)),
        "acknowledge": bool(alarm)
        and (state in ("overdue", "alarm") or bool(alarm and alarm.get("duress_at")))
        and not (alarm or {}).get("acknowledged_by"),
        "close": own and state != "closed" and principal.role in PLANNERS,
        "export": principal.is_officer and own and not view["purged"],
    }


async def _mission_page(
    request: Request[Any, Any, Any],
    container: Container,
    web: sessions.WebSession,
    principal: Principal,
    mission_id: uuid.UUID,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response[Any]:
    lang = language(request)
    _ = i18n.gettext_for(lang)
    try:
        view = await _service(container).get(principal, mission_id)
    except NotFound:
        return _not_found(request, web)
    card = _card(view, lang)
    card["approval_reasons"] = [reason_text(r, _) for r in view["approval_reasons"]]
    card["stops"] = [{**s, "when": _when(s["expected_at"], lang)} for s in view["stops"]]
    alarm = view.get("alarm")
    if alarm:
        card["alarm"] = {
            **alarm,
            "when": _when(alarm.get("at"), lang),
            "duress_when": _when(alarm.get("duress_at"), lang),
            "taken_when": _when(alarm.get("acknowledged_at"), lang),
        }
    done = (request.query_params.get("done") or "")[:20]
    return page(
        request,
        "missions/mission.html",
        {
            "csrf": web.csrf,
            "m": card,
            "may": _may_act(view, principal),
            "state_labels": state_labels(_),
            "export_on": _service(container).config.notification_export,
            "done": done,
            "last_checkin": _when(view.get("last_checkin_at"), lang),
            "approved_when": _when(view.get("approved_at"), lang),
            "notice": notice,
            "errors": errors or {},
            "kinds": KINDS,
        },
        status=status,
    )


@get(f"{HOME}/{{mission_id:uuid}}", opt=OPT, include_in_schema=False)
async def mission_page(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    mission_id: FromPath[uuid.UUID],
) -> Response[Any]:
    signed = await _signed(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    return await _mission_page(request, container, web, principal, mission_id)


async def _act(
    request: Request[Any, Any, Any],
    container: Container,
    mission_id: uuid.UUID,
    action: str,
) -> Response[Any]:
    """One button of the mission page: the service call, then back to the page (303), or the page
    with the refusal. A mission the viewer may not see is 404 whatever the action."""
    back = f"{HOME}/{mission_id}"
    checked = await _form(request, container, back)
    if not isinstance(checked, tuple):
        return checked
    web, principal, form = checked
    lang = language(request)
    _ = i18n.gettext_for(lang)
    service = _service(container)
    if not await service.is_visible(principal, mission_id):
        return _not_found(request, web)
    now = datetime.now(UTC)
    errors: dict[str, str] = {}
    try:
        if action == "checkin":
            body, errors = _checkin_body(form, _)
            if not errors:
                await service.checkin(principal, mission_id, body, via="web", now=now)
        elif action == "duress":
            word = str(form.get("duress_word", ""))
            try:
                check_duress_word(word)
            except ValueError:
                errors = {
                    "duress_word": _(
                        "One word of 3 to 24 letters, not OK, ARRIVE, RETARD or AIDE, e.g. MANGUE."
                    )
                }
            else:
                await service.set_duress(principal, mission_id, word, now=now)
        elif action == "approve":
            await service.approve(principal, mission_id, now=now)
        elif action == "start":
            await service.start(principal, mission_id, now=now)
        elif action == "acknowledge":
            await service.acknowledge(principal, mission_id, now=now)
        elif action == "close":
            await service.close(principal, mission_id, now=now)
    except NotFound:
        return _not_found(request, web)
    except Forbidden:
        return await _mission_page(
            request, container, web, principal, mission_id,
            notice=_("You may not do this on this mission."), status=403,
        )  # fmt: skip
    except Conflict as exc:
        return await _mission_page(
            request, container, web, principal, mission_id,
            notice=_conflict_text(action, exc, _), status=409,
        )  # fmt: skip
    except DomainError as exc:
        detail = i18n.error_text(exc.detail, lang)[:300]
        errors = {"checkin": _("The service refused this value:") + " " + detail}
    if errors:
        return await _mission_page(
            request, container, web, principal, mission_id, errors=errors, status=422
        )
    return Redirect(path=f"{back}?done={action}&lang={lang}", status_code=303)


def _checkin_body(form: dict[str, Any], _: Any) -> tuple[dict[str, Any], dict[str, str]]:
    kind = str(form.get("kind") or "ok")
    if kind not in KINDS:
        return {}, {"checkin": _("Choose OK, arrived, late or help.")}
    body: dict[str, Any] = {"kind": kind}
    if kind == "late":
        delay = str(form.get("delay_minutes", "")).strip()
        if not delay.isdigit() or not 1 <= int(delay) <= 24 * 60:
            return {}, {"delay_minutes": _("Say how late, in minutes: 1 to 1440 (24 h).")}
        body["delay_minutes"] = int(delay)
    lat_text = str(form.get("lat", "")).strip().replace(",", ".")
    lon_text = str(form.get("lon", "")).strip().replace(",", ".")
    if lat_text or lon_text:
        try:
            lat, lon = float(lat_text), float(lon_text)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError
        except ValueError:
            return {}, {
                "position": _(
                    "Enter a latitude and a longitude in degrees, e.g. 14.54 and -9.18, or leave "
                    "both empty."
                )
            }
        body["lat"], body["lon"] = lat, lon
    word = str(form.get("word", "")).strip()
    if word:
        body["word"] = word[:100]
    return body, {}


def _conflict_text(action: str, exc: Conflict, _: Any) -> str:
    if "approval" in exc.detail:
        return _("This mission needs an officer's approval before it starts.")
    return {
        "checkin": _(
            "This mission is no longer under way: nothing was recorded. Call your focal point."
        ),
        "acknowledge": _("This mission has no alarm to take."),
        "approve": _("Only a planned mission is approved."),
        "start": _("Only a planned mission can start."),
        "close": _("This mission is already closed."),
    }.get(action, _("This change could not be made."))


def _action_route(action: str) -> Any:
    async def handler(
        request: Request[Any, Any, Any],
        container: NamedDependency[Container],
        mission_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        return await _act(request, container, mission_id, action)

    handler.__name__ = f"mission_{action}"
    return post(
        f"{HOME}/{{mission_id:uuid}}/{action}",
        opt=OPT,
        include_in_schema=False,
        name=f"web-mission-{action}",
    )(handler)


ACTIONS = [
    _action_route(a) for a in ("checkin", "duress", "approve", "start", "acknowledge", "close")
]


@get(f"{HOME}/{{mission_id:uuid}}/notification", opt=OPT, include_in_schema=False)
async def notification(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    mission_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """The humanitarian notification, downloaded by an officer (the service audits it)."""
    signed = await _signed(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    lang = language(request)
    _ = i18n.gettext_for(lang)
    service = _service(container)
    if not await service.is_visible(principal, mission_id):
        return _not_found(request, web)
    fmt = request.query_params.get("format") or "csv"
    try:
        content, media = await export_notification(
            service, principal, mission_id, fmt, lang, now=datetime.now(UTC)
        )
    except NotFound:
        return _not_found(request, web)
    except Forbidden as exc:
        return _refused(request, web, _notification_refusal(exc, _))
    except DomainError as exc:
        return await _mission_page(
            request, container, web, principal, mission_id,
            notice=_("The export could not be made:") + " " + i18n.error_text(exc.detail, lang)[:300],
            status=exc.status,
        )  # fmt: skip
    ext = {"application/pdf": "pdf", "text/html; charset=utf-8": "html"}.get(media, "csv")
    return Response(
        content,
        media_type=media,
        headers=_headers(
            {
                "content-disposition": f'attachment; filename="notification-{quote(str(mission_id)[:8])}.{ext}"'
            }
        ),
    )


def _notification_refusal(exc: Forbidden, _: Any) -> str:
    if "off on this server" in exc.detail:
        return _(
            "The humanitarian notification export is off on this server; an administrator turns "
            "it on (SENTINELLE_MISSIONS_NOTIFICATION_EXPORT=true)."
        )
    return _("Only a security officer of the mission's organisation exports its notification.")


# ------------------------------------------------------------------------------ protocol


@get(f"{HOME}/protocol", opt=OPT, include_in_schema=False)
async def protocol(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    """The kidnapping protocol checklist (the link of the protocol alert), for officers."""
    signed = await _signed(request, container)
    if not isinstance(signed, tuple):
        return signed
    web, principal = signed
    lang = language(request)
    _ = i18n.gettext_for(lang)
    if not principal.is_officer:
        return _refused(request, web, _("This checklist is for security officers."))
    return page(
        request,
        "missions/protocol.html",
        {"csrf": web.csrf, "steps": KIDNAPPING_CHECKLIST["en" if lang == "en" else "fr"]},
    )


ROUTES: list[Any] = [missions_list, plan_form, plan, protocol, mission_page, *ACTIONS, notification]
