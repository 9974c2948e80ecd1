"""/api/v1/reports: the weekly situation report (PDF or HTML), the organisation's weekly
schedule and its delivery log; /api/v1/public/reports/{id}: a sent report by its signed link."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request, Response, get, put
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, QueryParameter

from api.bootstrap import Container
from api.http.auth import ADMINS, ANY_ROLE
from api.http.routes.common import principal_of, utcnow
from incidents.errors import InvalidField, NotFound
from reports.config import ReportsConfig
from reports.delivery import schedule_of, sent_report, set_schedule
from reports.weekly.render import to_html, to_pdf
from reports.weekly.request import parse_format, parse_request

TAGS = ["reports"]
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
Json = dict[str, Any]


@get(
    "/api/v1/reports/weekly",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="The weekly situation report, as you may see it (PDF or HTML)",
    description=(
        "`from`, `to` (YYYY-MM-DD, 92 days at most; default: last week, Monday to Sunday), "
        "`lang` (fr, en), `zones` (ids or codes, comma-separated; default: every cercle), "
        "`format` (pdf, html; default from Accept, else pdf). Masked incidents stay masked: "
        "counted by category, never placed on the map."
    ),
    media_type="application/pdf",
)
async def weekly_report(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    start: Annotated[str | None, QueryParameter(name="from")] = None,
    end: Annotated[str | None, QueryParameter(name="to")] = None,
    lang: Annotated[str | None, QueryParameter(name="lang")] = None,
    zones: Annotated[str | None, QueryParameter(name="zones")] = None,
    format_: Annotated[str | None, QueryParameter(name="format")] = None,
) -> Response[bytes]:
    now = utcnow()
    chosen = parse_format(format_, request.headers.get("accept"))
    wanted = parse_request(start=start, end=end, lang=lang, zones=zones, now=now)
    assert container.reports is not None
    report = await container.reports.build(principal_of(request), wanted, now=now)
    name = f"sentinelle-{wanted.period.start.isoformat()}"
    if chosen == "html":
        return Response(
            to_html(report).encode("utf-8"),
            media_type="text/html; charset=utf-8",
            # Its own style sheet and inline SVG: styles only, never a script.
            headers={"Cache-Control": "no-store", "Content-Security-Policy": REPORT_CSP},
        )
    import asyncio

    pdf = await asyncio.to_thread(to_pdf, report)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@get(
    "/api/v1/reports/schedule",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="Your organisation's weekly report schedule and its delivery log",
)
async def get_schedule(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Json:
    return await schedule_of(container.db, principal_of(request).org_id)


@put(
    "/api/v1/reports/schedule",
    guards=[ADMINS],
    tags=TAGS,
    summary="Send your organisation the weekly report (admins)",
    description=(
        "`weekday` (0 Monday ... 6; default 0), `hour` (local, 0-23; default 7), `lang` (fr, "
        "en), `zones` (comma-separated; default all), `enabled` (false stops it). Sent to the "
        "organisation's subscriptions: e-mail with the PDF, a short summary with a link elsewhere."
    ),
)
async def put_schedule(
    request: Request[Any, Any, Any],
    container: NamedDependency[Container],
    data: Annotated[Any, Body()],
) -> Json:
    if not isinstance(data, dict):
        raise InvalidField("body", "Send a JSON object.")
    config = ReportsConfig.from_env()
    org_id = principal_of(request).org_id
    weekday, hour = data.get("weekday", config.weekday), data.get("hour", config.hour)
    lang, zones, enabled = data.get("lang", "fr"), data.get("zones", ""), data.get("enabled", True)
    if not isinstance(weekday, int) or isinstance(weekday, bool):
        raise InvalidField("weekday", "Give a weekday from 0 (Monday) to 6 (Sunday).")
    if not isinstance(hour, int) or isinstance(hour, bool):
        raise InvalidField("hour", "Give an hour from 0 to 23.")
    if not isinstance(lang, str):
        raise InvalidField("lang", "Give fr or en.")
    if not isinstance(zones, str):
        raise InvalidField("zones", "Give zone ids or codes, comma-separated.")
    if not isinstance(enabled, bool):
        raise InvalidField("enabled", "Give true or false.")
    await set_schedule(
        container.db,
        org_id,
        weekday=weekday,
        hour=hour,
        lang=lang,
        zones=zones,
        enabled=enabled,
        now=utcnow(),
    )
    return await schedule_of(container.db, org_id)


@get(
    "/api/v1/public/reports/{run_id:str}",
    tags=TAGS,
    summary="A sent weekly report by the signed link of its summary message",
    media_type="application/pdf",
)
async def shared_report(
    container: NamedDependency[Container],
    run_id: FromPath[str],
    sig: Annotated[str, QueryParameter(name="sig")] = "",
) -> Response[bytes]:
    # One answer for an unknown report and a wrong signature: the link tells nothing else.
    missing = NotFound("No such report, or the link is not valid.")
    try:
        key = uuid.UUID(run_id[:64])
    except ValueError:
        raise missing from None
    if not container.link_signer.verify(f"report:{key}", sig[:64]):
        raise missing
    pdf = await sent_report(container.db, key)
    if pdf is None:
        raise missing
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"},
    )


ROUTES = [weekly_report, get_schedule, put_schedule, shared_report]
