"""`sentinelle zones import|list` and `sentinelle risk show` on an embedded database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli.main import main

# COD-AB-like régions: a clean square and a bow-tie that must be repaired.
square_region = {
    "type": "Feature",
    "properties": {"ADM1_FR": "Région Carrée", "ADM1_PCODE": "ML90", "ADM0_PCODE": "ML"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[-1, 14], [0, 14], [0, 15], [-1, 15], [-1, 14]]],
    },
}
bowtie_region = {
    "type": "Feature",
    "properties": {"ADM1_FR": "Papillon", "ADM1_PCODE": "ML91", "ADM0_PCODE": "ML"},
    "geometry": {"type": "Polygon", "coordinates": [[[1, 14], [2, 15], [2, 14], [1, 15], [1, 14]]]},
}


@pytest.fixture(name="env")
def fx_env(tmp_path: Path) -> dict[str, str]:
    return {
        "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "SENTINELLE_VAR_DIR": str(tmp_path / "var"),
    }


def test_import_detects_cod_fields_and_reports_repairs(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "regions.geojson"
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": [square_region, bowtie_region]})
    )
    runner = CliRunner()
    result = runner.invoke(main, ["zones", "import", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "repaired: Papillon (ML91)" in result.output
    assert "2 added" in result.output
    listed = runner.invoke(main, ["zones", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "ml90" in listed.output
    assert "admin1" in listed.output
    assert "town_kidal" in listed.output  # default zones are there too
    again = runner.invoke(main, ["zones", "import", str(path)], env=env)
    assert "2 replaced" in again.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("kidal,gao\n1,2\n", "is not GeoJSON"),
        (json.dumps({"type": "Feature", "geometry": None}), "FeatureCollection"),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {"nom": "x"},
                            "geometry": square_region["geometry"],
                        }
                    ],
                }
            ),
            "name_field and code_field",
        ),
    ],
    ids=["csv", "single-feature", "no-cod-fields"],
)
def test_bad_file_imports_nothing(
    tmp_path: Path, env: dict[str, str], content: str, message: str
) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(content)
    runner = CliRunner()
    result = runner.invoke(main, ["zones", "import", str(path)], env=env)
    assert result.exit_code == 2
    assert message in result.output
    listed = runner.invoke(main, ["zones", "list"], env=env)
    assert "admin1" not in listed.output


def test_name_and_code_fields_can_be_given(tmp_path: Path, env: dict[str, str]) -> None:
    feature = {
        "type": "Feature",
        "properties": {"nom": "Zone Est", "id": "Z-1"},
        "geometry": square_region["geometry"],
    }
    path = tmp_path / "custom.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    result = CliRunner().invoke(
        main, ["zones", "import", str(path), "--name-field", "nom", "--code-field", "id"], env=env
    )
    assert result.exit_code == 0, result.output
    shown = CliRunner().invoke(main, ["risk", "show"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "z_1" in shown.output
    assert "Zone Est" in shown.output
