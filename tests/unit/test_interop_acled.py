"""ACLED CSV import: one incident per event, every row accounted for, clear refusals."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest

from incidents.interop.acled import acled_deleted_ids, acled_to_incidents, check_header
from incidents.interop.rows import ImportFormatError, RowResult

HEADER = (
    "data_id,iso,event_id_cnty,event_id_no_cnty,event_date,year,time_precision,event_type,"
    "sub_event_type,actor1,assoc_actor_1,inter1,interaction,region,country,admin1,admin2,admin3,"
    "location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,timestamp,iso3"
)
# Invented events in ACLED's layout (the real export is never copied into the repository).
ROWS = [
    '1,466,MLI9001,9001,"31 December 2020",2020,1,"Violence against civilians",'
    '"Abduction/forced disappearance","JNIM: Group for Support of Islam and Muslims",,2,27,'
    '"Western Africa",Mali,Kayes,Dièma,Dièma,Dièma,14.5400,-9.1921,1,"Source",Local,'
    '"Invented: two aid workers abducted near Dièma.",0,1622068036,MLI',
    # Same event, second actor row: a duplicate, nothing merged.
    '1,466,MLI9001,9001,"31 December 2020",2020,1,"Violence against civilians",'
    '"Abduction/forced disappearance","Civilians (Mali)",,7,27,"Western Africa",Mali,Kayes,'
    'Dièma,Dièma,Dièma,14.5400,-9.1921,1,"Source",Local,"Invented: other notes",5,1622068036,MLI',
    '2,466,MLI9002,9002,2020-12-30,2020,2,"Battles","Armed clash",'
    '"Military Forces of Mali (2013-2020)",,1,12,"Western Africa",Mali,Menaka,Menaka,Menaka,'
    'Menaka,15.9180,2.4022,2,"Source",National,"Invented: clash, 12 killed.",12,1622068036,MLI',
    '3,466,MLI9003,9003,"15 June 2019",2019,3,"Explosions/Remote violence",'
    '"Remote explosive/landmine/IED","Unidentified Armed Group (Mali)",,3,37,"Western Africa",'
    'Mali,Mopti,Douentza,Boni,Boni,15.0,-1.9,3,"Source",National,"Invented: IED.",2,1,MLI',
    '4,466,MLI9004,9004,"15 June 2019",2019,1,"Battles","Armed clash",'
    '"Military Forces of France (2017-)",,8,18,"Western Africa",Mali,Gao,Gao,Gao,Gao,16.27,'
    '-0.04,1,"Source",International,"Invented.",1,1,MLI',
    '5,466,MLI9005,9005,"not a date",2019,1,"Battles","Armed clash",x,,2,2,"W",Mali,Gao,Gao,'
    'Gao,Gao,16.27,-0.04,1,s,s,"Invented.",0,1,MLI',
    '6,466,MLI9006,9006,"1 May 2019",2019,1,"Alien invasion","UFO",x,,2,2,"W",Mali,Gao,Gao,'
    'Gao,Gao,16.27,-0.04,1,s,s,"Invented.",0,1,MLI',
    '7,466,MLI9007,9007,"1 May 2019",2019,1,"Riots","Mob violence","Dozo Communal Militia (Mali)"'
    ',,4,4,"W",Mali,Mopti,Bankass,Bankass,Bankass,95.0,-3.5,1,s,s,"Invented.",0,1,MLI',
]


def acled_file(*rows: str, header: str = HEADER) -> io.BytesIO:
    return io.BytesIO(("\n".join([header, *rows]) + "\n").encode("utf-8"))


@pytest.fixture(name="results")
def fx_results() -> list[RowResult]:
    return list(acled_to_incidents(acled_file(*ROWS)))


def test_every_row_is_accounted_for(results: list[RowResult]) -> None:
    assert [r.row_number for r in results] == list(range(2, 2 + len(ROWS)))
    assert Counter(r.outcome for r in results) == {"accepted": 4, "duplicate": 1, "rejected": 3}


def test_first_actor_row_wins_and_repeats_are_duplicates(results: list[RowResult]) -> None:
    first, repeat = results[0], results[1]

    assert first.incident is not None
    assert first.incident["actor"] == "JNIM: Group for Support of Islam and Muslims"
    assert first.incident["perpetrator"] == "non_state_armed_group"
    assert first.incident["impact"]["killed"] == 0  # the repeat's 5 fatalities are not merged
    assert repeat.incident is None
    assert repeat.duplicate_of == 2
    assert repeat.error is None


def test_fields_are_mapped(results: list[RowResult]) -> None:
    incident = results[0].incident
    assert incident is not None

    assert incident["type"] == "kidnapping"
    assert incident["external_id"] == "acled:MLI9001"
    assert incident["occurred_at"] == "2020-12-31T00:00:00Z"
    assert incident["time_precision"] == "day"
    assert incident["geometry"] == {"type": "Point", "coordinates": [-9.1921, 14.54]}
    assert incident["location_precision"] == "exact"
    assert incident["place_name"] == "Dièma"
    assert incident["description"] == "Invented: two aid workers abducted near Dièma."
    assert incident["sharing_level"] == "green"
    assert incident["source_type"] == "media"
    assert incident["reliability"] == "B"
    assert incident["credibility"] == 2


def test_iso_dates_and_precisions(results: list[RowResult]) -> None:
    clash, ied = results[2].incident, results[3].incident
    assert clash is not None
    assert ied is not None

    assert clash["occurred_at"] == "2020-12-30T00:00:00Z"
    assert clash["time_precision"] == "week"
    assert clash["location_precision"] == "near"
    assert ied["time_precision"] == "month"
    assert ied["location_precision"] == "admin2"


@pytest.mark.parametrize(
    ("index", "perpetrator"),
    [(2, "state_forces"), (3, "non_state_armed_group"), (4, "foreign_forces")],
)
def test_perpetrator(results: list[RowResult], index: int, perpetrator: str) -> None:
    incident = results[index].incident
    assert incident is not None
    assert incident["perpetrator"] == perpetrator


def test_severity_follows_fatalities(results: list[RowResult]) -> None:
    clash_12_killed, french_clash_1_killed = results[2].incident, results[4].incident
    assert clash_12_killed is not None
    assert french_clash_1_killed is not None

    assert clash_12_killed["severity"] == 5
    assert french_clash_1_killed["severity"] >= 3


@pytest.mark.parametrize(
    ("index", "field", "words"),
    [(5, "event_date", "not a date"), (6, "event_type", "Alien invasion"), (7, "latitude", "95")],
)
def test_bad_rows_say_why(results: list[RowResult], index: int, field: str, words: str) -> None:
    rejected = results[index]

    assert rejected.outcome == "rejected"
    assert rejected.field == field
    assert rejected.error is not None
    assert words in rejected.error


def test_undecodable_row_is_rejected_alone() -> None:
    latin1_row = ROWS[2].replace("Menaka,Menaka,Menaka", "Ménaka,Ménaka,Ménaka").encode("latin-1")
    data = (HEADER + "\n" + ROWS[0] + "\n").encode() + latin1_row + b"\n" + ROWS[3].encode()

    results = list(acled_to_incidents(io.BytesIO(data)))

    assert [r.outcome for r in results] == ["accepted", "rejected", "accepted"]
    assert "UTF-8" in (results[1].error or "")


def test_not_an_acled_file_is_refused_before_any_row() -> None:
    with pytest.raises(ImportFormatError) as caught:
        next(acled_to_incidents(acled_file("1,2,3", header="id,date,what")))

    assert caught.value.field == "header"
    assert "event_id_cnty" in caught.value.message


def test_check_header_accepts_acled_columns_in_any_order() -> None:
    check_header(list(reversed(HEADER.split(","))))
    with pytest.raises(ImportFormatError):
        check_header(["event_id_cnty", "event_date"])


def test_deleted_ids() -> None:
    data = io.StringIO("event_id_cnty,deleted_timestamp\nMLI9001,1622068036\nBFO12,1622068037\n")

    assert acled_deleted_ids(data) == {"MLI9001", "BFO12"}


def test_deleted_list_with_wrong_header_is_refused() -> None:
    with pytest.raises(ImportFormatError):
        acled_deleted_ids(io.StringIO("id,when\n1,2\n"))


SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
REAL_ACLED = SHARED_DATA / "acled_mali_2017-2020.csv"


@pytest.mark.realdata
@pytest.mark.skipif(not REAL_ACLED.exists(), reason=f"real ACLED extract absent ({REAL_ACLED})")
def test_real_acled_mali_2017_2020() -> None:
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    types: Counter[str] = Counter()
    killed = 0
    with REAL_ACLED.open("rb") as fh:
        for result in acled_to_incidents(fh):
            outcomes[result.outcome] += 1
            if result.incident is not None:
                types[result.incident["type"]] += 1
                killed += result.incident["impact"]["killed"]
                assert result.incident["external_id"].startswith("acled:MLI")
            elif result.duplicate_of is None:
                reasons[f"{result.field}: {result.error}"] += 1
    print(f"\nACLED Mali 2017-2020: {dict(outcomes)}; killed {killed}; types {dict(types)}")
    print(f"rejections: {dict(reasons)}")

    assert sum(outcomes.values()) == 6214
    assert outcomes["accepted"] + outcomes["rejected"] == 3314
    assert outcomes["duplicate"] == 6214 - 3314
    assert outcomes["accepted"] == 3314
    assert killed == 7422
