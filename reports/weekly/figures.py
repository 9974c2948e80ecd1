"""The weekly report's figures: counts by UN category and by zone, the changes against the
previous period, the level changes with their reasons and the summary sentences (pure: plain
data in, plain data out; `now` is never read here)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from incidents import vocabulary
from reports.categories import UN_CATEGORIES, label, subject

WEEKS_CHARTED = 12
MAX_NOTABLE = 8
SUMMARY_SENTENCES = 3
# Sharing levels, the most restricted first (TLP 2.0).
SHARING_ORDER = ("red", "amber_strict", "amber", "green", "clear")


@dataclass(frozen=True, slots=True)
class Period:
    """From `start` to `end`, both days included (UTC days)."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Period:
        length = timedelta(days=self.days)
        return Period(self.start - length, self.end - length)

    def holds(self, when: datetime) -> bool:
        return self.start <= when.date() <= self.end


@dataclass(frozen=True, slots=True)
class ReportZone:
    zone_id: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class ReportIncident:
    """One incident as the viewer may see it. A masked one carries its category, coarse day and
    the zone of its grid cell only; `type_label`, `place` and `severity` are then None."""

    key: str
    un_category: str
    occurred_at: datetime
    masked: bool
    zone_id: str | None
    type_label: str | None = None
    place: str | None = None
    severity: int | None = None
    sharing_level: str | None = None
    source: str | None = None
    demo: bool = False  # a synthetic incident of `sentinelle demo` (counted in demo mode only)


@dataclass(frozen=True, slots=True)
class ZoneLevels:
    """A zone's level at the end of the previous period and at the end of this one, with the
    sub-score that weighs most now."""

    zone_id: str
    before: int | None
    after: int | None
    main_sub_score: str | None = None


@dataclass(frozen=True, slots=True)
class CategoryCount:
    code: str
    label: str
    now: int
    before: int

    @property
    def change(self) -> int:
        return self.now - self.before


@dataclass(frozen=True, slots=True)
class ZoneCount:
    zone_id: str
    name: str
    now: int
    before: int
    level: int | None


@dataclass(frozen=True, slots=True)
class LevelShift:
    zone_id: str
    name: str
    before: int | None
    after: int | None
    why: str


@dataclass(frozen=True, slots=True)
class WeekBar:
    start: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class NotableRow:
    """A line of the notable incidents' table: one incident seen in full, or an aggregate of
    the masked entries of one (zone, category) with their count."""

    when: str
    category: str
    what: str
    zone: str
    count: int = 1
    masked: bool = False


@dataclass(slots=True)
class Figures:
    period: Period
    lang: str
    categories: list[CategoryCount]
    zones: list[ZoneCount]
    shifts: list[LevelShift]
    weeks: list[WeekBar]
    notable: list[NotableRow]
    summary: list[str]
    total_now: int
    total_before: int
    masked_now: int
    marking: str
    sources: list[tuple[str, int]] = field(default_factory=list)
    demo: bool = False


# --- words --------------------------------------------------------------------------------------

LEVEL_CODES = {1: "low", 2: "moderate", 3: "substantial", 4: "high", 5: "extreme"}
SUB_SCORE_NAMES = {
    "fr": {
        "violence": "la violence",
        "crime": "la criminalité",
        "access": "les contraintes d'accès",
        "other": "les autres incidents",
    },
    "en": {
        "violence": "violence",
        "crime": "crime",
        "access": "access constraints",
        "other": "other incidents",
    },
}
MARKINGS = {
    "red": (
        "TLP:RED — réservé au destinataire nommé, ne pas transmettre",
        "TLP:RED — for the named addressee only, do not forward",
    ),
    "amber_strict": (
        "TLP:AMBER+STRICT — pour le destinataire et son organisation seulement",
        "TLP:AMBER+STRICT — for the addressee and their organisation only",
    ),
    "amber": (
        "TLP:AMBER — pour le destinataire et les organisations qui en ont besoin",
        "TLP:AMBER — for the addressee and the organisations that need it",
    ),
    "green": (
        "TLP:GREEN — pour la communauté humanitaire, pas de publication",
        "TLP:GREEN — for the humanitarian community, not for publication",
    ),
    "clear": ("TLP:CLEAR — diffusion libre", "TLP:CLEAR — may be shared freely"),
}


def level_name(level: int | None, lang: str) -> str:
    """The level's name from the one vocabulary; None: no data (incidents.risk.coverage)."""
    return vocabulary.level_label(LEVEL_CODES.get(level or 0, "no_data"), lang)


def day_text(day: date, lang: str) -> str:
    return day.strftime("%d/%m/%Y") if lang == "fr" else day.isoformat()


def in_zone(zone: ReportZone, lang: str) -> str:
    """ "dans le cercle de Diéma" / "in Diéma cercle"."""
    if lang == "en":
        suffix = {"admin2": " cercle", "admin1": " region", "region": " region"}.get(zone.kind, "")
        return f"in {zone.name}{suffix}"
    prefix = {"admin2": "le cercle de ", "admin1": "la région de ", "region": "la région de "}
    return f"dans {prefix.get(zone.kind, '')}{zone.name}"


def _change_sentence(code: str, now: int, before: int, where: str | None, lang: str) -> str | None:
    what = subject(code, lang)
    place = f" {where}" if where else ""
    if lang == "en":
        if before > 0 and now >= 2 * before:
            verb = "doubled" if now < 3 * before else "more than doubled"
        elif before == 0 and now > 0:
            verb = "appeared"
        elif now > before:
            verb = "rose"
        elif now < before:
            verb = "fell"
        else:
            return None
        return f"{what} {verb}{place} ({now} against {before})."
    if before > 0 and now >= 2 * before:
        verb = "ont doublé" if now < 3 * before else "ont plus que doublé"
    elif before == 0 and now > 0:
        verb = "sont apparus"
    elif now > before:
        verb = "sont en hausse"
    elif now < before:
        verb = "sont en baisse"
    else:
        return None
    return f"{what} {verb}{place} ({now} contre {before})."


def _shift_sentence(zone: ReportZone, shift: ZoneLevels, lang: str) -> str:
    before, after = level_name(shift.before, lang), level_name(shift.after, lang)
    if lang == "en":
        where = in_zone(zone, lang).removeprefix("in ")
        return f"The level of {where} went from {before} to {after}."
    where = in_zone(zone, lang).removeprefix("dans ")
    of = "du " + where.removeprefix("le ") if where.startswith("le ") else "de " + where
    return f"Le niveau {of} est passé de « {before} » à « {after} »."


def _why(shift: ZoneLevels, now: int, before: int, lang: str) -> str:
    main = SUB_SCORE_NAMES["en" if lang == "en" else "fr"].get(shift.main_sub_score or "", "")
    if lang == "en":
        text = f"{now} incidents against {before}"
        return text + (f"; mostly {main}." if main else ".")
    text = f"{now} incidents contre {before}"
    return text + (f" ; surtout {main}." if main else ".")


# --- the figures --------------------------------------------------------------------------------


def week_starts(end: date, weeks: int = WEEKS_CHARTED) -> list[date]:
    """The Mondays of the `weeks` weeks ending with the week holding `end`."""
    monday = end - timedelta(days=end.weekday())
    return [monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]


def compute(
    period: Period,
    incidents: Sequence[ReportIncident],
    zones: Sequence[ReportZone],
    levels: Sequence[ZoneLevels],
    lang: str,
) -> Figures:
    """Every figure of the report from the incidents of this period, the previous one and
    the charted weeks (other incidents are ignored)."""
    lang = "en" if lang == "en" else "fr"
    previous = period.previous
    now_items = [i for i in incidents if period.holds(i.occurred_at)]
    before_items = [i for i in incidents if previous.holds(i.occurred_at)]
    by_cat_now = Counter(i.un_category for i in now_items)
    by_cat_before = Counter(i.un_category for i in before_items)
    categories = [
        CategoryCount(code, label(code, lang), by_cat_now[code], by_cat_before[code])
        for code in UN_CATEGORIES
    ]
    zone_of = {z.zone_id: z for z in zones}
    level_of = {lv.zone_id: lv for lv in levels}
    by_zone_now = Counter(i.zone_id for i in now_items if i.zone_id in zone_of)
    by_zone_before = Counter(i.zone_id for i in before_items if i.zone_id in zone_of)
    zone_counts = [
        ZoneCount(
            z.zone_id,
            z.name,
            by_zone_now[z.zone_id],
            by_zone_before[z.zone_id],
            level_of[z.zone_id].after if z.zone_id in level_of else None,
        )
        for z in zones
        if by_zone_now[z.zone_id] or by_zone_before[z.zone_id]
    ]
    zone_counts.sort(key=lambda c: (-c.now, -c.before, c.name))

    shifts = []
    for lv in levels:
        zone = zone_of.get(lv.zone_id)
        if zone is None or lv.before == lv.after:
            continue
        why = _why(lv, by_zone_now[lv.zone_id], by_zone_before[lv.zone_id], lang)
        shifts.append(LevelShift(zone.zone_id, zone.name, lv.before, lv.after, why))
    shifts.sort(key=lambda s: (-abs((s.after or 0) - (s.before or 0)), -(s.after or 0), s.name))

    starts = week_starts(period.end)
    weeks = []
    for monday in starts:
        sunday = monday + timedelta(days=6)
        counts = Counter(
            i.un_category for i in incidents if monday <= i.occurred_at.date() <= sunday
        )
        weeks.append(WeekBar(monday, {c: counts[c] for c in UN_CATEGORIES}))

    summary = _summary(period, now_items, before_items, zones, levels, categories, lang)
    return Figures(
        period=period,
        lang=lang,
        categories=categories,
        zones=zone_counts,
        shifts=shifts,
        weeks=weeks,
        notable=notable_rows(now_items, zone_of, lang),
        summary=summary,
        total_now=len(now_items),
        total_before=len(before_items),
        masked_now=sum(1 for i in now_items if i.masked),
        marking=marking(now_items, lang),
        demo=any(i.demo for i in now_items),
        sources=sorted(
            Counter(i.source for i in now_items if i.source and not i.masked).items(),
            key=lambda kv: (-kv[1], kv[0]),
        ),
    )


def _summary(
    period: Period,
    now_items: Sequence[ReportIncident],
    before_items: Sequence[ReportIncident],
    zones: Sequence[ReportZone],
    levels: Sequence[ZoneLevels],
    categories: Sequence[CategoryCount],
    lang: str,
) -> list[str]:
    """The three most important changes in words: level changes first (the largest), then the
    largest changes of one category in one zone, then of one category in the whole area."""
    if not now_items:
        days = f"{day_text(period.start, lang)} – {day_text(period.end, lang)}"
        head = (
            f"No incident reported from {days}."
            if lang == "en"
            else f"Aucun incident signalé du {day_text(period.start, lang)} au "
            f"{day_text(period.end, lang)}."
        )
        out = [head]
        if before_items:
            out.append(
                f"{len(before_items)} in the previous period."
                if lang == "en"
                else f"{len(before_items)} sur la période précédente."
            )
        return out
    zone_of = {z.zone_id: z for z in zones}
    shifts: list[tuple[float, str]] = []
    local: list[tuple[float, str]] = []
    overall: list[tuple[float, str]] = []
    for lv in levels:
        if lv.zone_id in zone_of and lv.before != lv.after:
            weight = 100 + 10 * abs((lv.after or 0) - (lv.before or 0)) + (lv.after or 0)
            shifts.append((weight, _shift_sentence(zone_of[lv.zone_id], lv, lang)))
    pairs_now = Counter((i.zone_id, i.un_category) for i in now_items if i.zone_id in zone_of)
    pairs_before = Counter((i.zone_id, i.un_category) for i in before_items if i.zone_id in zone_of)
    for key in set(pairs_now) | set(pairs_before):
        now, before = pairs_now[key], pairs_before[key]
        zone_id, code = key
        if zone_id is None or abs(now - before) < 2:
            continue
        sentence = _change_sentence(code, now, before, in_zone(zone_of[zone_id], lang), lang)
        if sentence:
            local.append((abs(now - before) + 0.5 * (now > before), sentence))
    for c in categories:
        if c.now != c.before:
            sentence = _change_sentence(c.code, c.now, c.before, None, lang)
            if sentence:
                overall.append((abs(c.change), sentence))
    # The largest of each kind first (a level change, a change in one zone, a change in the
    # whole area), then the next largest whatever its kind.
    for group in (shifts, local, overall):
        group.sort(key=lambda r: (-r[0], r[1]))
    firsts = [g[0] for g in (shifts, local, overall) if g]
    rest = sorted((r for g in (shifts, local, overall) for r in g[1:]), key=lambda r: (-r[0], r[1]))
    ranked = firsts + rest
    total = len(now_items)
    before_total = len(before_items)
    head = (
        f"{total} incidents reported in the period against {before_total} in the previous one."
        if lang == "en"
        else f"{total} incidents signalés sur la période contre {before_total} la période "
        "précédente."
    )
    return [head, *[s for _, s in ranked[:SUMMARY_SENTENCES]]]


def notable_rows(
    items: Sequence[ReportIncident], zone_of: dict[str, ReportZone], lang: str
) -> list[NotableRow]:
    """The most serious incidents seen in full, then the masked entries as one aggregate line
    per (zone, category): never a masked entry's own day, type or place, and in an order that
    depends only on what the viewer may see."""
    full = [i for i in items if not i.masked]
    full.sort(key=lambda i: (-(i.severity or 0), i.occurred_at, i.key))
    rows = [
        NotableRow(
            when=day_text(i.occurred_at.date(), lang),
            category=label(i.un_category, lang),
            what=i.type_label or "",
            zone=i.place or (zone_of[i.zone_id].name if i.zone_id in zone_of else ""),
        )
        for i in full[:MAX_NOTABLE]
    ]
    masked = Counter(
        (zone_of[i.zone_id].name if i.zone_id in zone_of else "", i.un_category)
        for i in items
        if i.masked
    )
    restricted = "Diffusion restreinte" if lang == "fr" else "Restricted"
    for (zone, code), n in sorted(masked.items(), key=lambda kv: (-kv[1], kv[0])):
        rows.append(
            NotableRow(
                when="—",
                category=label(code, lang),
                what=restricted,
                zone=zone,
                count=n,
                masked=True,
            )
        )
    return rows


def marking(items: Sequence[ReportIncident], lang: str) -> str:
    """The report's handling marking: that of the most restricted incident shown in full."""
    shown = {i.sharing_level for i in items if not i.masked and i.sharing_level}
    level = next((s for s in SHARING_ORDER if s in shown), "green")
    fr, en = MARKINGS[level]
    return en if lang == "en" else fr


__all__ = [
    "Figures",
    "LevelShift",
    "NotableRow",
    "Period",
    "ReportIncident",
    "ReportZone",
    "ZoneLevels",
    "compute",
    "level_name",
    "week_starts",
]
