"""`sentinelle incidents export --format acled`: ACLED in, Sentinelle, ACLED out: the same events,
under their ACLED ids, read back by the ACLED importer."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from incidents.interop import acled_to_incidents
from incidents.interop.acled import ACLED_COLUMNS
from tests.cli.test_cli_interop import (
    abduction_near_diema,
    clash_at_menaka,
    fx_env,  # noqa: F401  (the CLI tests' database and organisation)
    fx_org,  # noqa: F401
    invoke,
    write_acled,
)


def test_acled_round_trip_through_the_cli_keeps_the_events(
    env: dict[str, str], org: str, tmp_path: Path
) -> None:
    source = write_acled(
        tmp_path / "acled.csv", abduction_near_diema.format(killed=2), clash_at_menaka
    )
    imported = invoke(env, "incidents", "import", str(source), "--org", org)
    assert imported.exit_code == 0, imported.output
    out = tmp_path / "export.csv"

    exported = invoke(env, "incidents", "export", "--format", "acled", "--output", str(out))

    assert exported.exit_code == 0, exported.output
    assert "Exported 2 incidents (acled)" in exported.stderr
    text = out.read_text(encoding="utf-8")
    rows = {r["event_id_cnty"]: r for r in csv.DictReader(io.StringIO(text))}
    assert next(csv.reader(io.StringIO(text))) == list(ACLED_COLUMNS)
    assert set(rows) == {"MLI9001", "MLI9002"}
    abduction, clash = rows["MLI9001"], rows["MLI9002"]
    assert (abduction["event_type"], abduction["sub_event_type"]) == (
        "Violence against civilians",
        "Abduction/forced disappearance",
    )
    assert (abduction["event_date"], abduction["fatalities"]) == ("2020-12-31", "2")
    assert (abduction["latitude"], abduction["longitude"]) == ("14.5400", "-9.1921")
    assert abduction["geo_precision"] == "1"
    assert (clash["time_precision"], clash["geo_precision"]) == ("2", "2")
    assert (clash["inter1"], clash["actor1"]) == ("1", "Military Forces of Mali (2013-2020)")
    assert clash["fatalities"] == "12"

    with source.open("rb") as original, out.open("rb") as again:
        before = {
            r.incident["external_id"]: r.incident
            for r in acled_to_incidents(original)
            if r.incident
        }
        after = {
            r.incident["external_id"]: r.incident for r in acled_to_incidents(again) if r.incident
        }
    assert set(after) == set(before)
    for event_id, incident in before.items():
        for field in (
            "type",
            "occurred_at",
            "time_precision",
            "geometry",
            "place_name",
            "impact",
            "perpetrator",
            "actor",
            "location_precision",
        ):
            assert after[event_id][field] == incident[field], (event_id, field)
