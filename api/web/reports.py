"""/web/reports: the weekly situation report in the browser (the same HTML as the API's, with a
form to choose the week, the language and the zones), for a signed-in session."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency

from api.bootstrap import Container
from api.web.pages import OPT, PREFIX, current, language, to_sign_in
from incidents import vocabulary
from incidents.errors import DomainError
from reports.weekly.render import to_html
from reports.weekly.request import parse_request

# The report carries its own style sheet and inline SVG: styles only, never a script.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
FORM_TEXT = {
    "fr": ("Du", "au", "Zones (codes, virgules)", "Voir", "Télécharger le PDF", "Retour"),
    "en": ("From", "to", "Zones (codes, commas)", "Show", "Download the PDF", "Back"),
}


def _form(lang: str, start: str, end: str, zones: str, error: str | None) -> str:
    t = FORM_TEXT[lang]
    pdf = (
        f"/api/v1/reports/weekly?from={escape(start)}&amp;to={escape(end)}&amp;lang={lang}"
        f"&amp;zones={escape(zones)}&amp;format=pdf"
    )
    problem = f'<p role="alert"><strong>{escape(error)}</strong></p>' if error else ""
    return (
        f'<form method="get" action="{PREFIX}/reports" class="report-form">'
        f'<a href="{PREFIX}/report">{t[5]}</a> · '
        f'<label>{t[0]} <input type="date" name="from" value="{escape(start)}"></label> '
        f'<label>{t[1]} <input type="date" name="to" value="{escape(end)}"></label> '
        f'<label>{t[2]} <input name="zones" value="{escape(zones)}" size="12"></label> '
        f'<input type="hidden" name="lang" value="{lang}">'
        f'<button type="submit">{t[3]}</button> · <a href="{pdf}">{t[4]}</a></form>{problem}'
    )


@get(f"{PREFIX}/reports", opt=OPT, include_in_schema=False, name="web-reports")
async def report_page(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Response[Any]:
    signed = await current(request, container)
    if signed is None:
        return to_sign_in(request)
    _, principal = signed
    lang = language(request)
    query = request.query_params
    start, end = query.get("from") or None, query.get("to") or None
    zones = (query.get("zones") or "")[:500]
    now = datetime.now(UTC)
    error = None
    try:
        wanted = parse_request(start=start, end=end, lang=lang, zones=zones, now=now)
    except DomainError as exc:
        error = vocabulary.translate_message(exc.detail, lang)
        wanted = parse_request(start=None, end=None, lang=lang, zones=None, now=now)
    assert container.reports is not None
    try:
        report = await container.reports.build(principal, wanted, now=now)
    except DomainError as exc:  # an unknown zone: the default zones, and say why
        error = vocabulary.translate_message(exc.detail, lang)
        wanted = parse_request(start=None, end=None, lang=lang, zones=None, now=now)
        report = await container.reports.build(principal, wanted, now=now)
    html = to_html(report)
    form = _form(lang, wanted.period.start.isoformat(), wanted.period.end.isoformat(), zones, error)
    html = html.replace("<body>", "<body>\n" + form, 1)
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        status_code=422 if error else 200,
        headers={"content-security-policy": REPORT_CSP, "cache-control": "no-store"},
    )


ROUTES = [report_page]
