"""What a weekly report is asked for: period, language, zones (pure; bad input is an
InvalidField naming the field, before anything is read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from incidents.errors import InvalidField
from reports.weekly.figures import Period

MAX_DAYS = 92
LANGUAGES = ("fr", "en")
FORMATS = ("pdf", "html")


@dataclass(frozen=True, slots=True)
class ReportRequest:
    period: Period
    lang: str = "fr"
    zones: tuple[str, ...] = ()


def last_week(now: datetime) -> Period:
    """The last full week (Monday to Sunday) before `now`."""
    monday = now.date() - timedelta(days=now.weekday() + 7)
    return Period(monday, monday + timedelta(days=6))


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise InvalidField(field, f"{value!r} is not a day: give YYYY-MM-DD.") from None


def parse_request(
    *,
    start: str | None,
    end: str | None,
    lang: str | None,
    zones: str | None,
    now: datetime,
) -> ReportRequest:
    language = (lang or "fr").strip().lower()
    if language not in LANGUAGES:
        raise InvalidField("lang", f"{lang!r} is not a report language: give fr or en.")
    if start is None and end is None:
        period = last_week(now)
    else:
        if start is None or end is None:
            raise InvalidField("from" if start is None else "to", "Give both from and to.")
        period = Period(_day(start, "from"), _day(end, "to"))
    if period.end < period.start:
        raise InvalidField("to", "to is before from.")
    if period.days > MAX_DAYS:
        raise InvalidField(
            "to",
            f"The period is {period.days} days long: a report covers {MAX_DAYS} days at most "
            "(a quarter), so that it stays short enough to read and to send.",
        )
    if period.start > now.date():
        raise InvalidField("from", "from is in the future.")
    wanted = tuple(z.strip() for z in (zones or "").split(",") if z.strip())
    if len(wanted) > 100:
        raise InvalidField("zones", "Give at most 100 zones.")
    return ReportRequest(period, language, wanted)


def parse_format(value: str | None, accept: str | None = None) -> str:
    """pdf or html: `format=` first, else the Accept header, else pdf."""
    if value:
        chosen = value.strip().lower()
        if chosen not in FORMATS:
            raise InvalidField("format", f"{value!r} is not a report format: give pdf or html.")
        return chosen
    if accept and "text/html" in accept and "application/pdf" not in accept:
        return "html"
    return "pdf"


__all__ = ["MAX_DAYS", "ReportRequest", "last_week", "parse_format", "parse_request"]
