"""The weekly report as HTML (Jinja2 template, readable on a phone) and as PDF (WeasyPrint, fonts
subset: DejaVu from the Debian package fonts-dejavu-core carries the French accents)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from reports.weekly.figures import Figures, day_text, level_name
from reports.weekly.map import LEVEL_COLOURS, legend

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Rapport de situation hebdomadaire",
        "demo": "DONNÉES DE DÉMONSTRATION (synthétiques) : ne décrivent aucun fait réel.",
        "previous": "comparé au",
        "made": "établi le",
        "summary": "En bref",
        "map": "Carte : niveaux de risque et incidents de la période",
        "masked_note": "%d incident(s) à diffusion restreinte : comptés dans les totaux, non "
        "placés sur la carte.",
        "counts": "Incidents par catégorie",
        "category": "Catégorie",
        "this_period": "Période",
        "previous_period": "Précédente",
        "change": "Écart",
        "total": "Total",
        "weeks": "Incidents par semaine (12 dernières semaines)",
        "zones": "Zones les plus touchées",
        "zone": "Zone",
        "level": "Niveau",
        "none": "Aucun incident signalé.",
        "shifts": "Changements de niveau",
        "why": "Pourquoi",
        "no_shift": "Aucun changement de niveau.",
        "more_shifts": "Et %d autre(s) changement(s).",
        "shift_note": "Incidents de la zone sur la période contre la précédente ; le niveau compte "
        "aussi les incidents plus anciens et les zones voisines.",
        "notable": "Incidents notables",
        "day": "Jour",
        "what": "Type",
        "where": "Lieu",
        "count": "Nb",
        "no_incident": "Aucun incident signalé.",
        "routes": "Accès et routes",
        "route": "Axe",
        "route_incidents": "Incidents",
        "no_route": "Aucun axe suivi.",
        "sources": "Couverture et sources",
    },
    "en": {
        "title": "Weekly situation report",
        "demo": "DEMONSTRATION DATA (synthetic): no real event is described.",
        "previous": "compared with",
        "made": "made on",
        "summary": "Summary",
        "map": "Map: risk levels and the period's incidents",
        "masked_note": "%d restricted incident(s): counted in the totals, not placed on the map.",
        "counts": "Incidents by category",
        "category": "Category",
        "this_period": "Period",
        "previous_period": "Previous",
        "change": "Change",
        "total": "Total",
        "weeks": "Incidents by week (last 12 weeks)",
        "zones": "Zones most affected",
        "zone": "Zone",
        "level": "Level",
        "none": "No incident reported.",
        "shifts": "Level changes",
        "why": "Why",
        "no_shift": "No level change.",
        "more_shifts": "And %d more change(s).",
        "shift_note": "The zone's incidents in the period against the previous one; levels also "
        "weigh older incidents and the neighbouring zones.",
        "notable": "Notable incidents",
        "day": "Day",
        "what": "Type",
        "where": "Place",
        "count": "N",
        "no_incident": "No incident reported.",
        "routes": "Access and roads",
        "route": "Road",
        "route_incidents": "Incidents",
        "no_route": "No road followed.",
        "sources": "Coverage and sources",
    },
}


@dataclass(frozen=True, slots=True)
class RouteLine:
    name: str
    length_km: int
    level: str
    incidents: int


@dataclass(slots=True)
class WeeklyReport:
    """Everything the report shows, ready to render."""

    figures: Figures
    org_name: str
    made_at: datetime
    map_svg: str
    chart_svg: str
    coverage_text: str
    routes: list[RouteLine] = field(default_factory=list)


_ENV = Environment(
    loader=PackageLoader("reports.weekly", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def context(report: WeeklyReport) -> dict[str, Any]:
    f = report.figures
    lang = f.lang
    return {
        "lang": lang,
        "t": TEXTS[lang],
        "figures": f,
        "org_name": report.org_name,
        "period_text": f"{day_text(f.period.start, lang)} – {day_text(f.period.end, lang)}",
        "previous_text": f"{day_text(f.period.previous.start, lang)} – "
        f"{day_text(f.period.previous.end, lang)}",
        "made_at": day_text(report.made_at.date(), lang),
        "marking": f.marking,
        "map_svg": report.map_svg,
        "chart_svg": report.chart_svg,
        "symbols": legend(lang),
        "level_legend": [(LEVEL_COLOURS[n], level_name(n, lang)) for n in (1, 2, 3, 4, 5, None)],
        "level_name": lambda n: level_name(n, lang),
        "routes": report.routes,
        "coverage_text": report.coverage_text,
    }


def to_html(report: WeeklyReport) -> str:
    return _ENV.get_template("weekly.html").render(**context(report))


def to_pdf(report: WeeklyReport) -> bytes:
    """The PDF (WeasyPrint embeds only the glyphs used: a two-page report stays small)."""
    import weasyprint  # type: ignore[import-untyped,import-not-found,unused-ignore]

    pdf: bytes = weasyprint.HTML(string=to_html(report)).write_pdf()
    return pdf


__all__ = ["TEXTS", "RouteLine", "WeeklyReport", "to_html", "to_pdf"]
