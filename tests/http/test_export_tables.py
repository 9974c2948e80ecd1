"""GET /api/v1/incidents?format=csv|hxl|acled: one CSV column set (API and CLI alike), HXL that
libhxl's own schema accepts, ACLED's columns and codes; masked entries leak nothing through any."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import hxl
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

# The CLI module first: it registers its commands (api.cli.interop among them) on import.
import api.cli.main  # noqa: F401
from api.cli.interop import export_to
from incidents.db import Database
from incidents.interop import acled_to_incidents
from incidents.interop.acled import ACLED_COLUMNS
from incidents.taxonomy.catalogue import from_acled, to_acled
from tests.factories import DIEMA, GAO, MENAKA, Caller, Factory, incident_payload

URL = "/api/v1/incidents"
NARRATIVE = "Deux agents de l'ONG Beta enlevés par le groupe Y au puits de Tinzar"
SECRET_ACTOR = "Groupe Y de Tinzar"
# A masked incident's own place and time, far enough from any grid-cell centre to be told apart.
SECRET_AT = (14.5513, -9.0687)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def report(client: AsyncTestClient[Litestar], caller: Caller, **extra: Any) -> str:
    answer = await client.post(URL, json=incident_payload(**extra), headers=caller.headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def export(client: AsyncTestClient[Litestar], caller: Caller, fmt: str) -> str:
    answer = await client.get(URL, params={"format": fmt}, headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return answer.text


async def strict_report_of_another_org(client: AsyncTestClient[Litestar], factory: Factory) -> str:
    other = await factory.caller("officer")
    return await report(
        client,
        other,
        type="kidnapping",
        at=SECRET_AT,
        sharing_level="amber_strict",
        description=NARRATIVE,
        actor=SECRET_ACTOR,
        place_name="Puits de Tinzar",
        impact={"abducted": 2, "aid_workers_affected": True},
        occurred_at="2026-11-03T04:17:00Z",
    )


@pytest.mark.parametrize("fmt", ["csv", "hxl", "acled"])
async def test_content_type_names_the_charset_once(
    client: AsyncTestClient[Litestar], factory: Factory, fmt: str
) -> None:
    reporter = await factory.caller("reporter")
    await report(client, reporter, type="ambush", at=GAO)

    answer = await client.get(URL, params={"format": fmt}, headers=reporter.headers)

    assert answer.headers["content-type"] == "text/csv; charset=utf-8"


async def test_api_and_cli_csv_have_the_same_columns_and_values(
    app: Litestar, client: AsyncTestClient[Litestar], factory: Factory, db: Database
) -> None:
    officer = await factory.caller("officer")
    first = await report(
        client,
        officer,
        type="ambush",
        at=DIEMA,
        place_name="Diéma",
        impact={"killed": 2, "aid_workers_affected": True},
    )
    await report(client, officer, type="theft", at=GAO)
    api_text = await export(client, officer, "csv")
    container = app.state.container
    cli_out = io.StringIO(newline="")

    await export_to(
        db,
        "csv",
        cli_out,
        org_id=officer.org_id,
        zone_lookup=container.incidents.zone_lookup,
        cipher=container.cipher,
    )

    api_header = next(csv.reader(io.StringIO(api_text)))
    cli_header = next(csv.reader(io.StringIO(cli_out.getvalue())))
    assert api_header == cli_header
    api_rows = {r["id"]: r for r in rows_of(api_text)}
    cli_rows = {r["id"]: r for r in rows_of(cli_out.getvalue())}
    assert api_rows == cli_rows
    assert api_rows[first]["impact_aid_workers_affected"] == "true"
    assert {r["impact_aid_workers_affected"] for r in api_rows.values()} == {"true", "false"}
    assert api_rows[first]["category"] == "violence"


async def test_hxl_with_masked_rows_passes_libhxl_default_schema(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    viewer = await factory.caller("officer")
    await report(
        client,
        viewer,
        type="ambush",
        at=DIEMA,
        time_precision="day",
        impact={"killed": 1, "aid_workers_affected": True},
    )
    await report(client, viewer, type="theft", at=GAO, time_precision="week")
    await strict_report_of_another_org(client, factory)
    text = await export(client, viewer, "hxl")

    report_ = hxl.validate(list(csv.reader(io.StringIO(text))))

    errors = [i for i in report_["issues"] if i["severity"] == "error"]
    assert errors == []
    assert report_["is_valid"] is True
    assert report_["stats"]["error"] == 0
    rows = list(csv.reader(io.StringIO(text)))
    tags = rows[1]
    body = [dict(zip(tags, r, strict=True)) for r in rows[2:]]
    assert len(body) == 3
    masked = [r for r in body if not r["#event+type"]]
    assert [r["#event+category"] for r in masked] == ["abduction"]
    assert all(r["#event+category"] for r in body)


@pytest.mark.parametrize("role", ["reporter", "officer", "admin", "operator"])
async def test_masked_incident_leaks_nothing_through_any_table_format(
    client: AsyncTestClient[Litestar], factory: Factory, role: str
) -> None:
    viewer = await factory.operator() if role == "operator" else await factory.caller(role)
    hidden = await strict_report_of_another_org(client, factory)

    exports = {fmt: await export(client, viewer, fmt) for fmt in ("csv", "hxl", "acled")}

    lat, lon = SECRET_AT
    for fmt, text in exports.items():
        for secret in (
            hidden,
            NARRATIVE,
            SECRET_ACTOR,
            "Tinzar",
            "04:17",
            f"{lat:.3f}",
            f"{lon:.3f}",
            "kidnapping",
        ):
            assert secret not in text, (fmt, secret)
    # The masked entry is in the plain and HXL tables, with its category and nothing precise.
    [masked] = rows_of(exports["csv"])
    assert masked["category"] == "abduction"
    assert masked["location_precision"] == "grid"
    assert masked["type"] == masked["description"] == masked["actor"] == ""
    assert masked["impact_abducted"] == masked["impact_aid_workers_affected"] == ""
    # ACLED: no row at all, only the header.
    assert rows_of(exports["acled"]) == []


async def test_acled_export_uses_acleds_columns_and_codes(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    officer = await factory.caller("officer")
    ambush = await report(
        client,
        officer,
        type="ambush",
        at=DIEMA,
        place_name="Diéma",
        perpetrator="non_state_armed_group",
        actor="JNIM",
        time_precision="week",
        location_precision="near",
        impact={"killed": 3},
        description="Embuscade sur l'axe Diéma-Nioro",
    )
    await report(client, officer, type="flood", at=GAO)  # outside ACLED's scope: no row

    rows = rows_of(await export(client, officer, "acled"))

    assert list(rows[0]) == list(ACLED_COLUMNS)
    [row] = rows
    assert row["event_id_cnty"] == f"SNT-{ambush}"
    assert row["event_type"] == "Violence against civilians"
    assert row["sub_event_type"] == "Attack"
    assert row["disorder_type"] == "Political violence"
    assert (row["actor1"], row["inter1"]) == ("JNIM", "2")
    assert (row["actor2"], row["inter2"], row["interaction"]) == ("Civilians (Mali)", "7", "27")
    assert row["civilian_targeting"] == "Civilian targeting"
    assert (row["time_precision"], row["geo_precision"]) == ("2", "2")
    assert row["fatalities"] == "3"
    assert row["location"] == "Diéma"
    assert (float(row["latitude"]), float(row["longitude"])) == pytest.approx(DIEMA, abs=1e-4)
    assert row["notes"] == "Embuscade sur l'axe Diéma-Nioro"
    assert row["year"] == row["event_date"][:4]


async def test_acled_export_reads_back_with_the_acled_importer_as_the_same_events(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    officer = await factory.caller("officer")
    day = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    sent = [
        {"type": "ambush", "at": DIEMA, "place_name": "Diéma", "impact": {"killed": 2}},
        {"type": "kidnapping", "at": MENAKA, "place_name": "Ménaka", "perpetrator": "criminal"},
        {"type": "demonstration", "at": GAO, "place_name": "Gao", "time_precision": "week"},
        {"type": "ied", "at": GAO, "impact": {"killed": 5, "injured": 3}, "perpetrator": "unknown"},
        {"type": "detention", "at": MENAKA, "perpetrator": "state_forces"},
    ]
    ids = []
    for number, extra in enumerate(sent):
        occurred = (day - timedelta(days=number)).isoformat().replace("+00:00", "Z")
        ids.append(await report(client, officer, occurred_at=occurred, **extra))
    created = {
        i: (await client.get(f"{URL}/{i}", headers=officer.headers)).json()["properties"]
        for i in ids
    }

    text = await export(client, officer, "acled")
    read_back = list(acled_to_incidents(io.StringIO(text)))

    assert [r.error for r in read_back] == [None] * len(sent)
    by_id = {
        str(r.incident["external_id"]).removeprefix("acled:SNT-"): r.incident
        for r in read_back
        if r.incident
    }
    assert set(by_id) == set(ids)
    for incident_id, extra in zip(ids, sent, strict=True):
        original, again = created[incident_id], by_id[incident_id]
        assert again["type"] == from_acled(*to_acled(original["type"]))
        assert again["occurred_at"][:10] == original["occurred_at"][:10]
        lon, lat = again["geometry"]["coordinates"]
        assert (lat, lon) == pytest.approx(extra["at"], abs=1e-4)
        assert again["place_name"] == extra.get("place_name")
        assert again["impact"]["killed"] == original["impact"]["killed"]
        # ACLED's time precision 1 is a day: an exact time comes back as its day.
        assert again["time_precision"] == original["time_precision"].replace("exact", "day")
    assert by_id[ids[1]]["perpetrator"] == "criminal"
    assert by_id[ids[4]]["perpetrator"] == "state_forces"
