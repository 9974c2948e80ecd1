"""The humanitarian notification (deconfliction) export of one mission: the minimal form
coordination bodies ask for — dates, route corridor, organisation, number of vehicles,
markings, contact — as CSV, a printable HTML page, and PDF when WeasyPrint is installed.
Never sent by Sentinelle: the officer downloads it and decides. Every export is audited."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping
from typing import Any

STATEMENT = {
    "fr": (
        "La notification humanitaire est volontaire. Elle informe les parties de la présence d'un "
        "mouvement humanitaire ; elle ne garantit aucune sécurité, ne vaut pas autorisation et "
        "ne remplace ni l'analyse de sécurité ni l'acceptation locale."
    ),
    "en": (
        "Humanitarian notification is voluntary. It informs the parties that a humanitarian "
        "movement is taking place; it guarantees no safety, is not an authorisation, and "
        "replaces neither the security analysis nor local acceptance."
    ),
}

FIELDS = (
    ("organisation", "Organisation", "Organisation"),
    ("departure", "Départ prévu (UTC)", "Planned departure (UTC)"),
    ("arrival", "Arrivée prévue (UTC)", "Planned arrival (UTC)"),
    ("route", "Itinéraire", "Route"),
    ("corridor_km", "Corridor (km de part et d'autre)", "Corridor (km either side)"),
    ("vehicles", "Nombre de véhicules", "Number of vehicles"),
    ("markings", "Marquages", "Markings"),
    ("contact", "Contact", "Contact"),
)


def notification(mission: Mapping[str, Any], organisation: str) -> dict[str, str]:
    """The fields of the notification: no traveller, no stop time, no check-in, no risk."""
    route = mission.get("route") or {}
    places = [p["name"] for p in route.get("places", [])]
    if places:
        itinerary = " - ".join(places)
    else:
        coords = (route.get("line") or {}).get("coordinates") or []
        itinerary = " ; ".join(f"{lat:.3f},{lon:.3f}" for lon, lat in coords[:50])
    vehicles = mission.get("vehicles") or []
    markings = "; ".join(v.get("markings") or "" for v in vehicles if v.get("markings"))
    return {
        "organisation": organisation,
        "departure": str(mission.get("departure_at") or ""),
        "arrival": str(mission.get("arrival_at") or ""),
        "route": itinerary,
        "corridor_km": f"{mission.get('corridor_km', 0):g}",
        "vehicles": str(len(vehicles)),
        "markings": markings,
        "contact": str(mission.get("contact") or ""),
    }


def _cell(value: str) -> str:
    # A spreadsheet must not run what a field holds.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(fields: Mapping[str, str], language: str = "fr") -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    col = 1 if language != "en" else 2
    writer.writerow([f[col] for f in FIELDS] + ["statement"])
    writer.writerow(
        [_cell(fields[f[0]]) for f in FIELDS] + [STATEMENT["en" if language == "en" else "fr"]]
    )
    return out.getvalue()


def to_html(fields: Mapping[str, str], language: str = "fr") -> str:
    lang = "en" if language == "en" else "fr"
    col = 2 if lang == "en" else 1
    title = "Humanitarian notification" if lang == "en" else "Notification humanitaire"
    rows = "".join(
        f"<tr><th>{html.escape(f[col])}</th><td>{html.escape(fields[f[0]])}</td></tr>"
        for f in FIELDS
    )
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
        "td,th{border-bottom:1px solid #ccc;padding:.4em}p.statement{font-weight:bold;"
        "border:2px solid #000;padding:1em}</style></head><body>"
        f"<h1>{title}</h1><table>{rows}</table>"
        f'<p class="statement">{html.escape(STATEMENT[lang])}</p></body></html>'
    )


def to_pdf(fields: Mapping[str, str], language: str = "fr") -> bytes | None:
    """The PDF, or None when WeasyPrint (and its system libraries) is not installed."""
    try:
        import weasyprint  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except (ImportError, OSError):
        return None
    pdf: bytes = weasyprint.HTML(string=to_html(fields, language)).write_pdf()
    return pdf
