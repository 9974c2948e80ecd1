"""HXL-tagged CSV (Humanitarian Exchange Language) export and import of incidents.

Export writes a header row of our column names, then the HXL hashtag row, then one row per
incident; it passes libhxl's default validation schema (every #date a date, every #affected a
number), and a masked row keeps its category (#event+category). Import finds the hashtag row among the first 25 rows (anything above it is taken as
headers), matches each column on its hashtag and attributes in any order ("#affected+killed" and
"#affected+num+killed" both give impact_killed) and ignores columns it does not know, as HXL
tools do. Values are read as in csv_io. Plain csv is enough here: libhxl would read whole rows the
same way and adds nothing we need.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

from incidents.interop.csv_io import incident_to_fields, rows_to_results
from incidents.interop.rows import (
    CsvStream,
    ImportFormatError,
    PlaceFinder,
    RowResult,
    neutralised_row,
)

# (our column, hashtag with attributes) in export order.
HXL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "#meta+id"),
    ("external_id", "#meta+id+external"),
    ("type", "#event+type"),
    ("category", "#event+category"),
    ("occurred_at", "#date+occurred"),
    # Not #date+precision: HXL's default schema holds every #date column to a date.
    ("time_precision", "#meta+time_precision"),
    ("lat", "#geo+lat"),
    ("lon", "#geo+lon"),
    ("location_precision", "#geo+precision"),
    ("place_name", "#loc+name"),
    ("admin1", "#adm1+name"),
    ("admin2", "#adm2+name"),
    ("impact_killed", "#affected+killed"),
    ("impact_injured", "#affected+injured"),
    ("impact_abducted", "#affected+abducted"),
    ("impact_detained", "#affected+detained"),
    ("impact_missing", "#affected+missing"),
    # Not #affected: HXL reads every #affected column as a number of people, this is yes/no.
    ("impact_aid_workers_affected", "#meta+aid_workers_affected"),
    ("severity", "#severity"),
    ("perpetrator", "#group+type+perpetrator"),
    ("actor", "#group+name+perpetrator"),
    ("description", "#description"),
    ("source_type", "#meta+source+type"),
    ("reliability", "#meta+source+reliability"),
    ("credibility", "#meta+credibility"),
    ("status", "#status"),
    ("sharing_level", "#meta+sharing"),
    ("reported_at", "#date+reported"),
)
# Hashtags of files exported before HXL validation was checked: still read on import.
FORMER_HXL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("time_precision", "#date+precision"),
    ("impact_aid_workers_affected", "#affected+aid_workers"),
)
HASHTAG_ROW_SEARCH = 25


def _parse_tag(spec: str) -> tuple[str, frozenset[str]]:
    """("#affected", {"killed"}) from "#Affected +killed"; HXL is case-insensitive."""
    parts = [p.strip().lower() for p in spec.strip().split("+")]
    return parts[0], frozenset(p for p in parts[1:] if p)


_PATTERNS = [(column, *_parse_tag(tag)) for column, tag in (*HXL_COLUMNS, *FORMER_HXL_COLUMNS)]


def column_for(hashtag: str) -> str | None:
    """Our column for an HXL hashtag spec: the most specific pattern it satisfies."""
    tag, attributes = _parse_tag(hashtag)
    matches = [
        (len(attrs), column)
        for column, ptag, attrs in _PATTERNS
        if ptag == tag and attrs <= attributes
    ]
    if not matches:
        return None
    best = max(n for n, _ in matches)
    candidates = [column for n, column in matches if n == best]
    return candidates[0] if len(candidates) == 1 else None


def incidents_to_hxl(incidents: Iterable[Mapping[str, Any]]) -> Iterator[list[str]]:
    """Header row, hashtag row, then one row per incident; streamed for csv.writer.

    Cells a spreadsheet would run as a formula are neutralised as in csv_io (leading `'`)."""
    yield [column for column, _ in HXL_COLUMNS]
    yield [tag for _, tag in HXL_COLUMNS]
    for incident in incidents:
        fields = incident_to_fields(incident)
        yield neutralised_row(fields.get(column, "") for column, _ in HXL_COLUMNS)


def check_header(hashtags: Sequence[str]) -> list[str | None]:
    """Our column for each hashtag (None: ignored); refuses rows that cannot give an incident."""
    columns = [column_for(h) if h.strip() else None for h in hashtags]
    present = {c for c in columns if c}
    problems = [
        f"missing {tag}"
        for column, tag in HXL_COLUMNS
        if column in {"type", "occurred_at"} and column not in present
    ]
    if not ({"lat", "lon"} <= present or "place_name" in present):
        problems.append("no location: give #geo+lat and #geo+lon, or #loc+name")
    repeated = sorted({c for c in present if columns.count(c) > 1})
    if repeated:
        problems.append("several columns for " + ", ".join(repeated))
    if problems:
        raise ImportFormatError("header", "HXL hashtags: " + "; ".join(problems))
    return columns


def hxl_to_incidents(
    fileobj: IO[Any] | Iterable[Any], *, gazetteer: PlaceFinder | None = None
) -> Iterator[RowResult]:
    """One RowResult per data row below the hashtag row, streamed.

    Raises ImportFormatError before the first row when there is no hashtag row or it lacks the
    type, date or location.
    """
    stream = CsvStream(fileobj)
    hashtags = stream.header
    if not _is_hashtag_row(hashtags):
        for record in stream.records():
            if _is_hashtag_row(record.values):
                hashtags = record.values
                break
            if stream.row_number >= HASHTAG_ROW_SEARCH:
                break
        else:
            hashtags = []
        if not _is_hashtag_row(hashtags):
            raise ImportFormatError(
                "header",
                f"no HXL hashtag row (#event+type, #date+occurred ...) in the first "
                f"{HASHTAG_ROW_SEARCH} rows; export the data with its HXL tags",
            )
    columns = check_header(hashtags)
    yield from rows_to_results(stream, columns, gazetteer)


def _is_hashtag_row(row: Sequence[str]) -> bool:
    cells = [c.strip() for c in row if c.strip()]
    return bool(cells) and all(c.startswith("#") for c in cells)
