"""The report's pure parts: the UN categories cover the taxonomy, the figures and the summary
sentences, the period rules and when a scheduled report is due."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from importlib.resources import files

import pytest

from incidents.errors import InvalidField
from reports.categories import BY_CATEGORY, BY_TYPE, UN_CATEGORIES
from reports.schedule import due_period
from reports.weekly.figures import Period, ReportIncident, ReportZone, ZoneLevels, compute
from reports.weekly.request import parse_request

NOW = datetime(2020, 12, 3, 9, tzinfo=UTC)
WEEK = Period(date(2020, 11, 23), date(2020, 11, 29))
DIEMA = ReportZone("ml0103", "Diéma", "admin2")
GAO = ReportZone("ml0701", "Gao", "admin2")


def _taxonomy() -> dict[str, list[dict[str, str]]]:
    text = files("incidents").joinpath("data/taxonomy.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def test_every_taxonomy_type_and_category_has_a_un_category() -> None:
    data = _taxonomy()
    assert {t["code"] for t in data["type"]} == set(BY_TYPE)
    assert {c["code"] for c in data["category"]} == set(BY_CATEGORY)
    assert set(BY_TYPE.values()) | set(BY_CATEGORY.values()) <= set(UN_CATEGORIES)
    assert set(BY_TYPE.values()) == set(UN_CATEGORIES)  # each of the six is reachable


def _incident(
    k: int, day: int, zone: str, category: str = "terrorism", masked: bool = False
) -> ReportIncident:
    return ReportIncident(
        key=f"i{k}",
        un_category=category,
        occurred_at=datetime(2020, 11, day, 12, tzinfo=UTC),
        masked=masked,
        zone_id=zone,
        type_label=None if masked else "Enlèvement",
        place=None if masked else "Diéma",
        severity=None if masked else 4,
        sharing_level=None if masked else "green",
    )


def test_the_summary_names_the_changes_with_both_counts() -> None:
    items = [_incident(k, 24 + k % 3, "ml0103") for k in range(4)]
    items += [_incident(10 + k, 17, "ml0103") for k in range(2)]
    levels = [ZoneLevels("ml0103", 2, 3, "violence"), ZoneLevels("ml0701", 1, 1)]
    fig = compute(WEEK, items, [DIEMA, GAO], levels, "fr")
    assert fig.summary[0] == "4 incidents signalés sur la période contre 2 la période précédente."
    assert "Le niveau du cercle de Diéma est passé de « modéré » à « notable »." in fig.summary
    assert "Les actes de terrorisme ont doublé dans le cercle de Diéma (4 contre 2)." in fig.summary
    terrorism = next(c for c in fig.categories if c.code == "terrorism")
    assert (terrorism.now, terrorism.before, terrorism.change) == (4, 2, 2)
    assert [s.zone_id for s in fig.shifts] == ["ml0103"]
    english = compute(WEEK, items, [DIEMA, GAO], levels, "en")
    assert "Acts of terrorism doubled in Diéma cercle (4 against 2)." in english.summary


def test_an_empty_period_says_no_incident_reported() -> None:
    fig = compute(WEEK, [], [DIEMA], [], "fr")
    assert fig.summary[0] == "Aucun incident signalé du 23/11/2020 au 29/11/2020."
    assert fig.total_now == 0
    assert len(fig.weeks) == 12


def test_masked_entries_are_one_aggregate_line_without_day_type_or_place() -> None:
    items = [_incident(k, 24 + k, "ml0103", masked=True) for k in range(3)]
    fig = compute(WEEK, items, [DIEMA], [], "fr")
    assert len(fig.notable) == 1
    row = fig.notable[0]
    assert (row.masked, row.count, row.when, row.what) == (True, 3, "—", "Diffusion restreinte")
    assert fig.masked_now == 3
    assert not fig.demo


def test_a_report_with_demonstration_incidents_says_so() -> None:
    item = _incident(1, 24, "ml0103")
    synthetic = ReportIncident(**{**{f: getattr(item, f) for f in item.__slots__}, "demo": True})
    assert compute(WEEK, [synthetic], [DIEMA], [], "fr").demo


@pytest.mark.parametrize(
    ("start", "end", "lang", "field"),
    [
        ("2020-01-01", "2020-06-30", "fr", "to"),
        ("2020-11-29", "2020-11-23", "fr", "to"),
        ("2020-11-23", "2020-11-29", "de", "lang"),
        ("23/11/2020", "2020-11-29", "fr", "from"),
        ("2020-11-23", None, "fr", "to"),
    ],
)
def test_bad_periods_and_languages_name_the_field(
    start: str, end: str | None, lang: str, field: str
) -> None:
    with pytest.raises(InvalidField) as caught:
        parse_request(start=start, end=end, lang=lang, zones=None, now=NOW)
    assert caught.value.field == field


def test_92_days_is_the_longest_period() -> None:
    ok = parse_request(start="2020-09-01", end="2020-12-01", lang="en", zones="a, b", now=NOW)
    assert ok.period.days == 92
    assert ok.zones == ("a", "b")


def test_a_monday_seven_oclock_report_is_due_from_then_for_the_week_before() -> None:
    monday = datetime(2020, 11, 30, 6, 59, tzinfo=UTC)
    assert due_period(monday, weekday=0, hour=7) is None
    due = due_period(monday.replace(hour=7, minute=0), weekday=0, hour=7)
    assert due == WEEK
    assert due_period(NOW, weekday=0, hour=7) == WEEK
