"""Shared pieces of the converters: per-row results, header errors, CSV streaming, values."""

from __future__ import annotations

import codecs
import csv
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import IO, Any, Protocol

from incidents.records.model import IMPACT_FIELDS

#: What importers hand over: the same JSON names as `POST /api/v1/incidents`.
IncidentInput = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RowResult:
    """The outcome for one input row: an incident input dict, or why the row was refused.

    `row_number` counts records as a spreadsheet shows them (the first header line is row 1).
    `duplicate_of` is set, with no incident and no error, when the row repeats an earlier row's
    event (ACLED repeats an event once per actor).
    """

    row_number: int
    incident: IncidentInput | None
    error: str | None = None
    field: str | None = None
    duplicate_of: int | None = None

    @property
    def accepted(self) -> bool:
        return self.incident is not None

    @property
    def outcome(self) -> str:
        """`accepted`, `duplicate` or `rejected`: what an import report counts."""
        if self.incident is not None:
            return "accepted"
        return "duplicate" if self.duplicate_of is not None else "rejected"


class RowError(ValueError):
    """A value in one row cannot be used; `field` names the column or incident field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ImportFormatError(ValueError):
    """The whole file cannot be imported (wrong header, not UTF-8, not JSON); no row was read."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------- places


class Place(Protocol):
    """A named point; geo.gazetteer.Locality fits."""

    @property
    def name(self) -> str: ...

    @property
    def lat(self) -> float: ...

    @property
    def lon(self) -> float: ...


class PlaceFinder(Protocol):
    """What the parser needs from a gazetteer (geo.gazetteer.Gazetteer fits)."""

    def lookup(self, name: str) -> Place | None: ...

    def search_in_text(self, words: Sequence[str]) -> Place | None: ...


@cache
def default_gazetteer() -> PlaceFinder:
    from geo.gazetteer import Gazetteer

    return Gazetteer.load()


# ---------------------------------------------------------------------------- text


def fold(text: str) -> str:
    """Lower case without accents, so "Ménaka", "MENAKA" and "menaka" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


# ---------------------------------------------------------------------------- CSV streaming

UTF8_ADVICE = "save the file as UTF-8 (in Excel: 'CSV UTF-8') and import it again"


class _DecodedLines:
    """Decode a byte stream line by line, remembering which lines were not valid UTF-8.

    Decoding per line (not per file) lets an importer reject only the rows that hold bad bytes
    while streaming, instead of failing half-way through a file it has partly stored.
    """

    def __init__(self, raw: Iterable[bytes]) -> None:
        self._raw = iter(raw)
        self.line_number = 0
        self.bad_lines: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        data = next(self._raw)
        self.line_number += 1
        if self.line_number == 1 and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.bad_lines.add(self.line_number)
            return data.decode("utf-8", errors="replace")


def _text_lines(fileobj: IO[Any] | Iterable[Any]) -> tuple[Iterator[str], _DecodedLines | None]:
    """Lines of text from a binary or text file object (or any iterable of lines).

    Pass binary files: undecodable bytes are then reported per row instead of stopping the stream.
    """
    first = _peek(fileobj)
    if first is None:
        return iter(()), None
    head, rest = first
    if isinstance(head, bytes):
        lines = _DecodedLines(_chain(head, rest))
        return lines, lines
    return _chain(head.removeprefix("\ufeff"), rest), None


def _peek(fileobj: Iterable[Any]) -> tuple[Any, Iterator[Any]] | None:
    it = iter(fileobj)
    for head in it:
        return head, it
    return None


def _chain(head: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield head
    yield from rest


@dataclass(frozen=True, slots=True)
class CsvRecord:
    row_number: int
    values: list[str]
    undecodable: bool


class CsvStream:
    """A streamed CSV file: `header` is read at once, `records()` yields the rest one by one."""

    def __init__(self, fileobj: IO[Any] | Iterable[Any], *, delimiter: str | None = None) -> None:
        lines, self._decoded = _text_lines(fileobj)
        first = _peek(lines)
        if first is None:
            raise ImportFormatError("file", "the file is empty; export it again with its header")
        head, rest = first
        if self._decoded is not None and self._decoded.bad_lines:
            raise ImportFormatError("file", f"the header line is not UTF-8 text; {UTF8_ADVICE}")
        if delimiter is None:
            # French Excel writes ';' separated files; a header never holds both.
            delimiter = ";" if head.count(";") > head.count(",") else ","
        self._reader = csv.reader(_chain(head, rest), delimiter=delimiter)
        try:
            self.header = [h.strip() for h in next(self._reader)]
        except csv.Error as exc:
            raise ImportFormatError("file", f"the header line is not valid CSV ({exc})") from exc
        self.row_number = 1

    def records(self) -> Iterator[CsvRecord]:
        last_line = self._reader.line_num
        while True:
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.row_number += 1
                yield CsvRecord(self.row_number, [f"<{exc}>"], undecodable=True)
                continue
            self.row_number += 1
            lines = range(last_line + 1, self._reader.line_num + 1)
            last_line = self._reader.line_num
            if not any(v.strip() for v in values):
                continue
            bad = self._decoded is not None and any(n in self._decoded.bad_lines for n in lines)
            yield CsvRecord(self.row_number, values, undecodable=bad)


# ---------------------------------------------------------------------------- values

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "janvier", "jan"),
            ("february", "fevrier", "feb", "fev"),
            ("march", "mars", "mar"),
            ("april", "avril", "apr", "avr"),
            ("may", "mai"),
            ("june", "juin", "jun"),
            ("july", "juillet", "jul", "juil"),
            ("august", "aout", "aug"),
            ("september", "septembre", "sep", "sept"),
            ("october", "octobre", "oct"),
            ("november", "novembre", "nov"),
            ("december", "decembre", "dec"),
        ]
    )
    for m in names
}
_WORD_DATE = re.compile(r"^(\d{1,2})[\s-]+([a-z]+)\.?[\s-]+(\d{4})$")
_SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_when(value: str, field: str) -> datetime:
    """An aware UTC datetime from ISO 8601, "31 December 2020" or "31/12/2020" (day first).

    A value without offset is taken as UTC: Mali keeps GMT all year.
    """
    text = value.strip()
    if not text:
        raise RowError(field, "the date is empty; give it as YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None:
        folded = fold(text)
        match = _WORD_DATE.match(folded)
        slash = _SLASH_DATE.match(folded)
        try:
            if match and match.group(2) in _MONTHS:
                parsed = datetime(
                    int(match.group(3)), _MONTHS[match.group(2)], int(match.group(1)), tzinfo=UTC
                )
            elif slash:
                parsed = datetime(
                    int(slash.group(3)), int(slash.group(2)), int(slash.group(1)), tzinfo=UTC
                )
        except ValueError:
            parsed = None
    if parsed is None:
        raise RowError(
            field, f"'{value}' is not a date; give it as YYYY-MM-DD or '31 December 2020'"
        )
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise RowError(
            field, f"'{value}' is outside the calendar once put in UTC; check the year"
        ) from None


def iso_utc(moment: datetime | date) -> str:
    """The API's date-time form: ISO 8601 in UTC with a Z."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------- spreadsheet cells

#: A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_cell(value: str) -> str:
    """A text cell a spreadsheet shows as text: a leading `'` before a formula start (OWASP CSV
    injection rule). A plain number (-9.18, +1, 1e-3) is left alone: it stays a number."""
    if value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralised_row(row: Iterable[Any]) -> list[Any]:
    """Every text cell of a CSV row through `neutralise_cell`; numbers are left as they are."""
    return [neutralise_cell(c) if isinstance(c, str) else c for c in row]


def restore_cell(value: str) -> str:
    """The text `neutralise_cell` was given: an export read back imports the original text."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def start_of_day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def parse_float(value: str | float | None, field: str) -> float:
    if isinstance(value, float | int):
        number = float(value)
    else:
        text = (value or "").strip().replace(",", ".")
        try:
            number = float(text)
        except ValueError:
            raise RowError(field, f"'{value}' is not a number") from None
    if not math.isfinite(number):
        raise RowError(field, f"'{value}' is not a finite number")
    return number


def parse_count(value: str | int | None, field: str) -> int:
    """A count of people; empty means 0."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    try:
        number = float(str(value).strip())
    except ValueError:
        raise RowError(field, f"'{value}' is not a whole number of people") from None
    if number < 0 or number != int(number):
        raise RowError(field, f"'{value}' must be a whole number of people, 0 or more")
    return int(number)


_TRUE = {"1", "true", "yes", "oui", "y", "o", "vrai", "x"}
_FALSE = {"0", "false", "no", "non", "n", "faux", ""}


def parse_bool(value: str | bool | None, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = fold((value or "").strip())
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowError(field, f"'{value}' is not yes/no (oui/non, true/false, 1/0)")


def point(lon: float, lat: float, *, field: str = "geometry") -> dict[str, Any]:
    """A GeoJSON Point, refusing coordinates that cannot be on Earth."""
    if not -90 <= lat <= 90:
        raise RowError(
            field, f"latitude {lat} is outside -90..90; are latitude and longitude swapped?"
        )
    if not -180 <= lon <= 180:
        raise RowError(field, f"longitude {lon} is outside -180..180")
    return {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}


def empty_impact() -> dict[str, Any]:
    impact: dict[str, Any] = dict.fromkeys(IMPACT_FIELDS, 0)
    impact["aid_workers_affected"] = False
    return impact


def severity_for(base: int, impact: Mapping[str, Any]) -> int:
    """Severity 1-5 from the type's default and the human toll.

    Deaths raise the floor (1-2 killed: 3, 3-9: 4, 10 or more: 5); abductions or any harm to aid
    workers raise it to 4, because those are what field teams must react to first.
    """
    killed = int(impact.get("killed", 0) or 0)
    severity = base
    if killed >= 10:
        severity = 5
    elif killed >= 3:
        severity = max(severity, 4)
    elif killed >= 1:
        severity = max(severity, 3)
    if int(impact.get("injured", 0) or 0) >= 5:
        severity = max(severity, 3)
    if int(impact.get("abducted", 0) or 0) >= 1:
        severity = max(severity, 3)
    if impact.get("aid_workers_affected") and (
        killed or impact.get("injured") or impact.get("abducted")
    ):
        severity = max(severity, 4)
    return max(1, min(5, severity))


def column_problems(
    header: Sequence[str], *, required: Iterable[str], known: Iterable[str] | None
) -> list[str]:
    """Human-readable problems with a header: missing required columns, unknown columns."""
    present = {h.strip().lower() for h in header}
    problems = []
    missing = [c for c in required if c.lower() not in present]
    if missing:
        problems.append("missing column(s): " + ", ".join(missing))
    if known is not None:
        known_set = {k.lower() for k in known}
        unknown = [h for h in header if h.strip() and h.strip().lower() not in known_set]
        if unknown:
            problems.append("unknown column(s): " + ", ".join(unknown) + " (rename or remove them)")
    dupes = sorted({h for h in header if h.strip() and list(header).count(h) > 1})
    if dupes:
        problems.append("repeated column(s): " + ", ".join(dupes))
    return problems


def days_before(moment: datetime, days: int) -> datetime:
    return moment - timedelta(days=days)
