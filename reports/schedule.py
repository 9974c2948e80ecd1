"""When an organisation's weekly report is due (pure: `now` is passed in). Africa/Bamako is UTC
all year, so a local hour is a UTC hour."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from reports.weekly.figures import Period


def due_period(now: datetime, *, weekday: int, hour: int) -> Period | None:
    """The week whose report is due at `now`: the Monday-to-Sunday week before this week's
    send time, once that time has come; None before it."""
    monday = now.date() - timedelta(days=now.weekday())
    send_at = datetime.combine(monday + timedelta(days=weekday), time(hour), tzinfo=UTC)
    if now < send_at:
        return None
    start = monday - timedelta(days=7)
    return Period(start, start + timedelta(days=6))


def summary_text(period: Period, total: int, before: int, lang: str, link: str) -> str:
    """The SMS-length summary sent to channels that take no attachment."""
    if lang == "en":
        text = (
            f"Sentinelle weekly report {period.start:%d/%m}-{period.end:%d/%m}: {total} incidents "
            f"(previous week {before}). {link}"
        )
    else:
        text = (
            f"Sentinelle rapport hebdo {period.start:%d/%m}-{period.end:%d/%m} : {total} "
            f"incidents (semaine précédente {before}). {link}"
        )
    return text


__all__ = ["due_period", "summary_text"]
