"""The planner pages: the risk map, the zone page and the route check by place names.

Everything a viewer may or may not see comes from the services, called as the API's handlers
call them (api/http/routes/zones.py): zones through `container.zones` with the viewer (another
organisation's custom zone is unknown: 404), contributors named through
`container.sharing.shown_ids` (an incident seen masked keeps its opaque id and no share), areas
and routes through `container.risk.assess` with the viewer's read conditions and full view (only
incidents seen in full are listed; masked entries only count). No page masks anything itself.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode, urlsplit

import shapely
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from api.bootstrap import Container
from api.web import i18n
from api.web.pages import (
    OPT,
    PAGE_CSP,
    PREFIX,
    _gazetteer,
    _headers,
    current,
    language,
    page,
    places_of,
)
from api.web.pages import to_sign_in as _to_sign_in
from geo.geometry import from_wkb
from geo.zones import mali_outline, neighbour_outlines
from incidents.errors import DomainError, NotFound
from incidents.identity.accounts import Principal
from incidents.risk.coverage import NO_DATA, ZoneCoverage
from incidents.risk.model import LEVEL_CODES, TRENDS
from incidents.risk.past import coverage_on
from incidents.risk.service import Assessment, StoredRisk
from incidents.sharing.service import visible_in_full
from incidents.taxonomy import catalogue as taxonomy
from incidents.zones.tables import ZoneRow

# Map geometry: ~1 km tolerance and 3 decimals (~100 m) are finer than a country-wide map shows.
SIMPLIFY_DEGREES = 0.01
DIGITS = 3
# The zones drawn first end up below: the country under régions, cercles, belts and towns.
KIND_ORDER = {"country": 0, "admin1": 1, "admin2": 2, "border_belt": 3, "custom": 4, "town": 5}
LABEL_POPULATION = 25_000
LABEL_SPACING = 1.2  # degrees, |dlat| + |dlon|
EXPLAIN_DAYS = 30
HISTORY_DAYS = 364
HISTORY_STEP = timedelta(days=7)
MAX_STOPS = 10
CORRIDOR_KM = 10.0
SEGMENT_KM = 25.0
MAX_LISTED = 100


# ------------------------------------------------------------------------------ helpers


def _ngettext(lang: str) -> Any:
    return i18n.translations(lang).ngettext


def level_label(level: int | None, lang: str) -> str:
    """A level's name; None: "pas de données / no data" (incidents.risk.coverage)."""
    return i18n.level_label(NO_DATA if level is None else LEVEL_CODES[level], lang)


def shown_level(level: int, coverage: ZoneCoverage | None) -> int | None:
    """The level a page shows: none for a zone without data (docs/coverage.md)."""
    return None if coverage is not None and not coverage.has_data else level


def _round(coords: Any) -> Any:
    if isinstance(coords, (int, float)):
        return round(float(coords), DIGITS)
    return [_round(c) for c in coords]


def simplified(geom: shapely.Geometry, tolerance: float = SIMPLIFY_DEGREES) -> dict[str, Any]:
    """GeoJSON of `geom` simplified (topology kept) with coordinates rounded to DIGITS."""
    small = shapely.simplify(geom, tolerance, preserve_topology=True)
    obj = json.loads(shapely.to_geojson(small))
    if "coordinates" in obj:
        obj["coordinates"] = _round(obj["coordinates"])
    return obj


_ZONE_GEOMETRY: dict[tuple[str, int, int], dict[str, Any]] = {}


def zone_geometry(row: ZoneRow) -> dict[str, Any]:
    """The zone's map geometry, kept per process until the zone changes."""
    key = (row.id, row.version, hash(row.geometry_wkb))
    found = _ZONE_GEOMETRY.get(key)
    if found is None:
        if len(_ZONE_GEOMETRY) > 5000:
            _ZONE_GEOMETRY.clear()
        found = _ZONE_GEOMETRY[key] = simplified(from_wkb(row.geometry_wkb))
    return found


@cache
def base_map() -> bytes:
    """Mali, its neighbours and the gazetteer's towns, from the data packaged with the service."""
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {"layer": "neighbour", "name": iso},
            "geometry": simplified(geom, 0.05),
        }
        for iso, geom in sorted(neighbour_outlines().items())
    ]
    features.append(
        {
            "type": "Feature",
            "properties": {"layer": "mali", "name": "Mali"},
            "geometry": simplified(mali_outline()),
        }
    )
    places = sorted(_gazetteer().towns, key=lambda p: -(p.population or 0))
    labelled: list[Any] = []
    for place in places:
        # Named on the map: towns of 25,000 people or more, none within ~1° of a bigger one.
        big = (place.population or 0) >= LABEL_POPULATION and all(
            abs(place.lat - o.lat) + abs(place.lon - o.lon) > LABEL_SPACING for o in labelled
        )
        if big:
            labelled.append(place)
        features.append(
            {
                "type": "Feature",
                "properties": {"layer": "town", "name": place.name, "big": big},
                "geometry": {"type": "Point", "coordinates": _round([place.lon, place.lat])},
            }
        )
    body = {"type": "FeatureCollection", "features": features}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def tile_source(url: str) -> str | None:
    """The CSP source of a tile URL template ("https://{s}.tile.example.org/{z}/{x}/{y}.png")."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        return None
    host = parts.netloc.replace("{s}", "*")
    if not re.fullmatch(r"[A-Za-z0-9*.:-]+", host):
        return None
    return f"https://{host}"


def map_headers(settings: Any) -> dict[str, str]:
    url = settings.map_tile_url
    source = tile_source(url) if url else None
    if source is None:
        return _headers()
    return _headers(
        {"content-security-policy": PAGE_CSP.replace("img-src 'self'", f"img-src 'self' {source}")}
    )


def to_sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    return _to_sign_in(request)


def zone_name(row: ZoneRow, lang: str) -> str:
    return row.name_en if lang == "en" and row.name_en else row.name_fr


def _trend_words(lang: str) -> dict[str, str]:
    return {trend: i18n.trend_label(trend, lang) for trend in TRENDS}


_FR_STOP = {"à", "de", "d", "du", "des", "sur", "dans", "par", "ou", "sous", "et", "la", "le"}
_EN_STOP = {"in", "of", "or", "by", "over", "to", "and", "on"}
_EN_SAME = {"caught", "harassment", "shelling", "looting", "extortion", "interference"}


def _plural_fr(word: str) -> str:
    if word[-1:] in ("s", "x", "z"):
        return word
    if word.endswith("al"):
        return word[:-2] + "aux"
    if word.endswith(("au", "eu")):
        return word + "x"
    return word + "s"


def _plural_en(word: str) -> str:
    if word in _EN_SAME:
        return word
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


# Plurals the word rules below would get wrong.
PLURALS = {
    "Poste de contrôle illégal": "postes de contrôle illégaux",
    "Mine ou reste explosif de guerre": "mines ou restes explosifs de guerre",
    "Arrestation ou détention par les autorités": "arrestations ou détentions par les autorités",
    "Air or drone strike": "air or drone strikes",
}


def _outside_parentheses_comma(label: str) -> int:
    depth = 0
    for k, ch in enumerate(label):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            return k
    return len(label)


def counted(label: str, n: int, lang: str) -> str:
    """ "3 attaques armées", "1 engin explosif improvisé (EEI)", "2 armed attacks": a taxonomy
    label (its part before a comma) after a count, plural when the count is."""
    text = label[: _outside_parentheses_comma(label)].strip()
    if n > 1 and text in PLURALS:
        return f"{n} {PLURALS[text]}"
    words = text.split(" ")
    if not words[0].isupper():
        words[0] = words[0][:1].lower() + words[0][1:]
    if n > 1:
        stop = _EN_STOP if lang == "en" else _FR_STOP
        end = next(
            (
                i
                for i, w in enumerate(words)
                if w.startswith("(") or w.lower().split("'")[0] in stop
            ),
            len(words),
        )
        if lang == "en":
            # The head noun is the last word before the first preposition or parenthesis.
            j = max(end - 1, 0)
            words[j] = _plural_en(words[j])
        else:
            # French: the noun and its adjectives before the first preposition.
            for i in range(end):
                if "'" not in words[i]:
                    words[i] = _plural_fr(words[i])
    return f"{n} {' '.join(words)}"


def _join(items: list[str], _: Any) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " " + _("and") + " " + items[-1]


def decimal(value: float, lang: str, digits: int = 1) -> str:
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "fr" else text


def when_text(at: datetime, lang: str) -> str:
    return at.strftime("%d/%m/%Y") if lang == "fr" else at.strftime("%Y-%m-%d")


async def _conditions_for(container: Container, viewer: Principal) -> Any:
    policy = container.incidents.read_policy

    async def conditions(session: Any) -> list[Any]:
        return list(await policy.conditions(session, viewer))

    return conditions


async def assess_for(
    container: Container,
    viewer: Principal,
    geom: shapely.Geometry,
    *,
    now: datetime,
    window_days: int | None = None,
    corridor_km: float = CORRIDOR_KM,
    segment_km: float = SEGMENT_KM,
) -> Assessment:
    """The risk service's assessment, as POST /api/v1/risk/assess asks it for this viewer."""
    return await container.risk.assess(
        geom,
        now=now,
        corridor_km=corridor_km,
        window_days=window_days,
        segment_km=segment_km,
        conditions=await _conditions_for(container, viewer),
        full_view=visible_in_full(viewer),
        viewer_org=viewer.org_id,
    )


# ------------------------------------------------------------------------------ map


async def _zones_with_risk(
    container: Container, viewer: Principal
) -> list[tuple[ZoneRow, StoredRisk | None]]:
    """The zones this viewer may know of, with their stored risk (GET /api/v1/zones); a zone
    without data has level 0 here, which the pages show as "pas de données / no data"."""
    rows = await container.zones.list(None, viewer)
    ranking = {r.zone_id: r for r in await container.risk.ranking(viewer.org_id)}
    covered = await _coverage(container, viewer, [r.id for r in rows])
    out: list[tuple[ZoneRow, StoredRisk | None]] = []
    for row in rows:
        risk = ranking.get(row.id)
        if risk is not None and shown_level(risk.level, covered.get(row.id)) is None:
            risk = replace(risk, level=0)
        out.append((row, risk))
    return out


async def _coverage(
    container: Container, viewer: Principal, zone_ids: list[str]
) -> dict[str, ZoneCoverage]:
    return await container.risk.coverage(
        zone_ids,
        now=datetime.now(UTC),
        conditions=await _conditions_for(container, viewer),
        full_view=visible_in_full(viewer),
    )


def _ranked(pairs: list[tuple[ZoneRow, StoredRisk | None]]) -> list[tuple[ZoneRow, StoredRisk]]:
    out = [(row, risk) for row, risk in pairs if risk is not None]
    out.sort(key=lambda p: (-p[1].level, -p[1].score, p[0].code))
    return out


@get(f"{PREFIX}/map", opt=OPT, include_in_schema=False)
async def risk_map(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request)
    web, principal = signed
    lang = language(request)
    zones = _ranked(await _zones_with_risk(container, principal))
    response = page(
        request,
        "planner/map.html",
        {
            "csrf": web.csrf,
            "zones": [
                {
                    "id": row.id,
                    "name": zone_name(row, lang),
                    "kind": row.kind,
                    "level": risk.level or None,
                    "level_label": level_label(risk.level or None, lang),
                    "trend": risk.trend,
                }
                for row, risk in zones
            ],
            "trends": _trend_words(lang),
            "tile_url": container.settings.map_tile_url,
            "levels": [(n, level_label(n, lang)) for n in sorted(LEVEL_CODES)],
        },
    )
    response.headers.update(map_headers(container.settings))
    return response


@get(f"{PREFIX}/map/zones.json", opt=OPT, include_in_schema=False)
async def map_zones(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    """The zones this viewer may know of, simplified, with their level: no incident in it."""
    signed = await current(request, container)
    if signed is None:
        return Response({"error": "signed_out"}, status_code=401, headers=_headers())
    principal = signed[1]
    lang = language(request)
    pairs = await _zones_with_risk(container, principal)
    pairs.sort(key=lambda p: (KIND_ORDER.get(p[0].kind, 9), -p[0].area_km2, p[0].code))

    def build() -> bytes:
        features = []
        for row, risk in pairs:
            level = risk.level or None if risk is not None else None
            features.append(
                {
                    "type": "Feature",
                    "id": row.id,
                    "properties": {
                        "name": zone_name(row, lang),
                        "kind": row.kind,
                        "level": level,
                        "level_label": level_label(level, lang) if risk is not None else None,
                        "trend": risk.trend if risk is not None else None,
                    },
                    "geometry": zone_geometry(row),
                }
            )
        body = {"type": "FeatureCollection", "features": features}
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    return Response(
        await asyncio.to_thread(build), media_type="application/geo+json", headers=_headers()
    )


@get(f"{PREFIX}/map/base.json", opt=OPT, include_in_schema=False)
async def map_base() -> Response[bytes]:
    """Outlines and towns: the same for everyone, kept in the browser's cache for a day."""
    return Response(
        base_map(),
        media_type="application/geo+json",
        headers=_headers({"cache-control": "public, max-age=86400"}),
    )


# ------------------------------------------------------------------------------ zone page


@dataclass
class ContributorView:
    id: str
    share: float | None
    masked: bool
    type_label: str | None = None
    when: str | None = None
    place: str | None = None


async def contributors_for(
    container: Container, viewer: Principal, risk: StoredRisk, lang: str
) -> tuple[list[ContributorView], float]:
    """The contributors as GET /api/v1/zones/{id}/risk names them to this viewer: those seen in
    full with their share, those seen masked last, by opaque id, without a share."""
    shown = await container.sharing.contributors(viewer, risk.contributors)
    out: list[ContributorView] = []
    for k, share in shown.full:
        view = ContributorView(k, round(share, 4), masked=False)
        try:
            feature = await container.incidents.get(viewer, uuid.UUID(k))
        except NotFound:
            out.append(view)
            continue
        props = feature.properties
        code = props.type if isinstance(props.type, str) else ""
        known = taxonomy.TYPES.get(code)
        view.type_label = known.label(lang) if known is not None else code or None
        view.when = when_text(props.occurred_at, lang)
        view.place = props.place_name if isinstance(props.place_name, str) else None
        out.append(view)
    out += [ContributorView(i, None, masked=True) for i in shown.masked]
    return out, shown.masked_share


def percent(part: float | None, score: float) -> int | None:
    """A contributor's part of the score (both in the score's unit), in per cent."""
    if part is None or score <= 0:
        return None
    return min(100, round(100 * part / score))


def explanation(
    risk: StoredRisk, recent: Assessment | None, lang: str, days: int = EXPLAIN_DAYS
) -> list[str]:
    """The level in words: the incidents behind it in the last `days` days, by type."""
    _ = i18n.gettext_for(lang)
    sentences = [
        _("Level %(level)s (score %(score)s), %(trend)s.")
        % {
            "level": level_label(risk.level, lang),
            "score": decimal(risk.score, lang),
            "trend": _trend_words(lang).get(risk.trend, risk.trend),
        }
    ]
    if recent is None:
        return sentences
    kinds = Counter(i.type for i in recent.incidents)
    parts = [
        counted(taxonomy.TYPES[code].label(lang) if code in taxonomy.TYPES else code, n, lang)
        for code, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    hidden = recent.incident_count - len(recent.incidents)
    if not parts and hidden <= 0:
        sentences.append(_("No incident in the last %(days)d days.") % {"days": days})
    elif parts:
        sentences.append(
            _("%(what)s in the last %(days)d days.") % {"what": _join(parts, _), "days": days}
        )
    if hidden > 0:
        sentences.append(
            _ngettext(lang)(
                "And %(n)d incident you may only see masked (its category, day and area only).",
                "And %(n)d incidents you may only see masked (their category, day and area only).",
                hidden,
            )
            % {"n": hidden}
        )
    top = sorted(((k, v) for k, v in risk.sub_scores.items() if v > 0), key=lambda kv: -kv[1])
    if top:
        names = {
            "violence": _("violence"),
            "crime": _("crime"),
            "access": _("access constraints"),
            "other": _("other incidents"),
        }
        sentences.append(_("Mostly: %(what)s.") % {"what": names.get(top[0][0], top[0][0])})
    return sentences


@dataclass
class Bar:
    at: str
    level: int
    label: str
    x: int
    height: int
    title: str = ""


def history_bars(
    points: list[Any], lang: str, coverage: list[ZoneCoverage] | None = None
) -> list[Bar]:
    """One bar per history point; a day on which the zone had too little data is a low grey bar
    "pas de données / no data", never the stored level 1 (the API's history says the same)."""
    bars = []
    for k, p in enumerate(points):
        no_data = coverage is not None and k < len(coverage) and not coverage[k].has_data
        level = None if no_data else p.level
        label = level_label(level, lang)
        day = when_text(p.at, lang)
        height = 2 if level is None else 8 * level
        bars.append(Bar(day, level or 0, label, x=k * 6, height=height, title=f"{day}: {label}"))
    return bars


def _not_found(request: Request[Any, Any, Any], web: Any, zone_id: str) -> Template:
    return page(request, "planner/zone.html", {"csrf": web.csrf, "missing": zone_id}, status=404)


@get(f"{PREFIX}/zones/{{zone_id:str}}", opt=OPT, include_in_schema=False)
async def zone_page(
    request: Request[Any, Any, Any], container: NamedDependency[Container], zone_id: FromPath[str]
) -> Response[Any]:
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request)
    web, principal = signed
    lang = language(request)
    zone_id = zone_id[:200]
    now = datetime.now(UTC)
    try:
        row = await container.zones.get(zone_id, principal)  # another's custom zone: 404
        risk = await container.risk.zone_risk(zone_id, at=None, now=now)
    except NotFound:
        return _not_found(request, web, zone_id)
    contributors, masked_share = await contributors_for(container, principal, risk, lang)
    coverage = (await _coverage(container, principal, [zone_id])).get(zone_id)
    no_data = shown_level(risk.level, coverage) is None
    recent: Assessment | None
    try:
        recent = await assess_for(
            container, principal, from_wkb(row.geometry_wkb), now=now, window_days=EXPLAIN_DAYS
        )
    except DomainError:
        recent = None
    retention = container.settings.data_retention_days
    end = now
    start = (end - timedelta(days=min(HISTORY_DAYS, retention - 1))).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    try:
        points = await container.risk.history(
            zone_id, start=start, end=end, step=HISTORY_STEP, now=now
        )
    except NotFound:
        return _not_found(request, web, zone_id)
    except DomainError:
        points = []
    past = await coverage_on(
        container.risk,
        zone_id,
        [p.at for p in points],
        conditions=await _conditions_for(container, principal),
        full_view=visible_in_full(principal),
    )
    bars = history_bars(points, lang, past)
    _ = i18n.gettext_for(lang)
    return page(
        request,
        "planner/zone.html",
        {
            "csrf": web.csrf,
            "zone": {
                "id": row.id,
                "name": zone_name(row, lang),
                "kind": row.kind,
                "approximate": row.approximate,
                "provenance": row.provenance,
            },
            "risk": risk,
            "level_label": level_label(shown_level(risk.level, coverage), lang),
            "no_data": no_data,
            "coverage_days": int(
                container.risk.coverage_rule.period_days(container.risk.config.window_days)
            ),
            "last_incident": when_text(
                datetime.combine(coverage.last_incident_on, datetime.min.time()), lang
            )
            if no_data and coverage is not None and coverage.last_incident_on
            else None,
            "lowest_level": level_label(min(LEVEL_CODES), lang),
            "highest_level": level_label(max(LEVEL_CODES), lang),
            "trend": _trend_words(lang).get(risk.trend, risk.trend),
            "explanation": [] if no_data else explanation(risk, recent, lang),
            "contributors": contributors,
            "percents": [percent(c.share, risk.score) for c in contributors],
            "masked_percent": percent(masked_share, risk.score) if masked_share else None,
            "bars": bars,
            "chart_width": max(len(bars) * 6, 6),
            "months": _month_ticks(points, lang),
            "computed_at": when_text(risk.computed_at, lang) if risk.computed_at else None,
        },
    )


def _month_ticks(points: list[Any], lang: str) -> list[tuple[int, str]]:
    ticks, seen = [], set()
    for k, p in enumerate(points):
        key = (p.at.year, p.at.month)
        if key not in seen and p.at.day <= 7:
            seen.add(key)
            ticks.append((k * 6, p.at.strftime("%m/%y")))
    return ticks


# ------------------------------------------------------------------------------ route


@dataclass
class Leg:
    start: str
    end: str
    length_km: float
    level: int | None
    level_label: str
    incident_count: int
    stretches: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RouteIncident:
    id: str
    type_label: str
    when: str
    severity: int
    distance_km: str
    along_km: float
    leg: str


def _stops(request: Request[Any, Any, Any]) -> list[str]:
    values = [str(v)[:80] for v in request.query_params.getall("place", [])][:MAX_STOPS]
    remove = request.query_params.get("remove")
    if remove is not None and remove.isdigit() and int(remove) < len(values):
        del values[int(remove)]
    if request.query_params.get("add") and len(values) < MAX_STOPS:
        values.append("")
    while len(values) < 2:
        values.append("")
    return values


def _with(values: list[str], index: int, name: str, lang: str) -> str:
    changed = [name if k == index else v for k, v in enumerate(values)]
    return f"{PREFIX}/route?" + urlencode([("place", v) for v in changed] + [("lang", lang)])


@get(f"{PREFIX}/route", opt=OPT, include_in_schema=False)
async def route_page(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request)
    web, principal = signed
    lang = language(request)
    _ = i18n.gettext_for(lang)
    values = _stops(request)
    wanted = bool(request.query_params.get("go")) or (
        "place" in request.query_params
        and not request.query_params.get("add")
        and request.query_params.get("remove") is None
    )
    errors: dict[int, str] = {}
    suggestions: dict[int, list[tuple[str, str]]] = {}
    context: dict[str, Any] = {
        "csrf": web.csrf,
        "values": values,
        "max_stops": MAX_STOPS,
        "ngettext": _ngettext(lang),
    }
    if wanted:
        gazetteer = places_of(container)
        found = []
        for k, text in enumerate(values):
            text = text.strip()
            if not text:
                if k < 2 or any(v.strip() for v in values[k + 1 :]):
                    errors[k] = _("Give a place name.")
                continue
            place = gazetteer.lookup(text)
            if place is None:
                close = [p.name for p in gazetteer.suggest(text, limit=3)]
                errors[k] = _("Unknown place.") + (
                    " " + _("Did you mean: %s?") % ", ".join(close) if close else ""
                )
                suggestions[k] = [(name, _with(values, k, name, lang)) for name in close]
                continue
            found.append(place)
        if not errors and len(found) < 2:
            errors[1] = _("Give at least two places.")
        if not errors:
            distinct = [p for k, p in enumerate(found) if k == 0 or p != found[k - 1]]
            if len(distinct) < 2:
                errors[1] = _("Give at least two different places.")
            else:
                context.update(await _route_result(container, principal, distinct, lang))
                context["values"] = [p.name for p in distinct]
    context.update({"errors": errors, "suggestions": suggestions})
    return page(request, "planner/route.html", context, status=422 if errors else 200)


async def _route_result(
    container: Container, principal: Principal, places: list[Any], lang: str
) -> dict[str, Any]:
    now = datetime.now(UTC)
    line = shapely.LineString([(p.lon, p.lat) for p in places])
    whole = await assess_for(container, principal, line, now=now)
    legs: list[Leg] = []
    bounds: list[tuple[float, str]] = []
    start_km = 0.0
    for a, b in itertools.pairwise(places):
        result = await assess_for(
            container, principal, shapely.LineString([(a.lon, a.lat), (b.lon, b.lat)]), now=now
        )
        area = result.area
        length = float(area.length_km or 0.0)
        legs.append(
            Leg(
                start=a.name,
                end=b.name,
                length_km=round(length),
                level=area.level if result.has_data else None,
                level_label=level_label(area.level if result.has_data else None, lang),
                incident_count=result.incident_count,
                stretches=[
                    {
                        "from_km": round(s.from_km),
                        "to_km": round(s.to_km),
                        "level": s.level if result.has_data else None,
                        "level_label": level_label(s.level if result.has_data else None, lang),
                        "incident_count": s.incident_count,
                        "line": _round([list(c) for c in s.geometry.coords]),
                    }
                    for s in area.segments
                ],
            )
        )
        start_km += length
        bounds.append((start_km, f"{a.name} → {b.name}"))
    incidents = []
    for i in whole.incidents[:MAX_LISTED]:
        along = i.along_km or 0.0
        leg = next((name for end, name in bounds if along <= end + 1e-6), bounds[-1][1])
        incidents.append(
            RouteIncident(
                id=str(i.id),
                type_label=taxonomy.TYPES[i.type].label(lang)
                if i.type in taxonomy.TYPES
                else i.type,
                when=when_text(i.occurred_at, lang),
                severity=i.severity,
                distance_km=decimal(i.distance_km, lang),
                along_km=round(along),
                leg=leg,
            )
        )
    area = whole.area
    return {
        "route": {
            "names": [p.name for p in places],
            "level": area.level if whole.has_data else None,
            "level_label": level_label(area.level if whole.has_data else None, lang),
            "no_data": not whole.has_data,
            "coverage_days": whole.window_days,
            "length_km": round(float(area.length_km or 0.0)),
            "incident_count": whole.incident_count,
            "hidden_count": max(whole.incident_count - len(whole.incidents), 0),
            "window_days": whole.window_days,
            "corridor_km": CORRIDOR_KM,
        },
        "legs": legs,
        "incidents": incidents,
        # What the route map draws: the stretches coloured by level, and the places.
        "route_map": {
            "stretches": [
                {"line": s["line"], "level": s["level"]} for leg in legs for s in leg.stretches
            ],
            "places": [{"name": p.name, "at": _round([p.lon, p.lat])} for p in places],
        },
    }


ROUTES: list[Any] = [risk_map, map_zones, map_base, zone_page, route_page]
