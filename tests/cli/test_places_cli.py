"""`sentinelle places import`: a gazetteer (OCHA COD populated places CSV, GeoNames tab dump)
into the data directory, then used by the zone look-up by place (issue 18, item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from litestar.testing import AsyncTestClient

from api.cli.main import main
from api.http.app import create_app
from api.settings import Settings
from geo.gazetteer import IMPORTED_PLACES_FILE
from tests.factories import Factory

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
COD_PLACES = SHARED / "mli_populated_places_cod_2015.csv"
COD_HEADER = (
    '"featureNam","pcode","featureRef","featureAlt","featureA_1","popPlaceCl","popPlace_1",'
    '"admin0Name","admin0Pcod","admin1Name","admin1Pcod","admin2Name","admin2Pcod",'
    '"admin3Name","admin3Pcod","date","validOn","validTo","longitude","latitude"\n'
)


def cod_row(name: str, pcode: str, cls: int, lon: float, lat: float, alt: str = "NA") -> str:
    return (
        f'"{name}","{pcode}","{name}",{alt},NA,{cls},NA,"Mali","ML","Mopti","ML05","Tenenkou",'
        f'"ML0508","Kareri","ML050804","2015/02/02","2015/04/24",NA,{lon},{lat}\n'
    )


# Two commune seats in the COD file's format. Made-up test values
# (rounded near the towns, ids invented): no row of the OCHA file is copied here.
SMALL_COD = (
    COD_HEADER
    + cod_row("Dioura", "ML999901001", 4, -5.25, 14.83, alt='"Diourah"')
    + cod_row("Dioumara", "ML999902001", 4, -8.55, 14.55)
)
GEONAMES = (
    "9000001\tKarakoro Test\tKarakoro Test\tKarakoro-T\t15.36\t-11.75\tP\tPPLA3\tML\t\t01\t\t\t\t"
    "0\t\t40\tAfrica/Bamako\t2020-01-01\n"
    "9000002\tAlger Test\tAlger Test\t\t36.75\t3.04\tP\tPPLC\tDZ\t\t01\t\t\t\t"
    "0\t\t40\tAfrica/Algiers\t2020-01-01\n"
    "9000003\tOued Test\tOued Test\t\t15.1\t-9.1\tH\tSTM\tML\t\t01\t\t\t\t"
    "0\t\t40\tAfrica/Bamako\t2020-01-01\n"
)


@pytest.fixture(name="env")
def fx_env(tmp_path: Path) -> dict[str, str]:
    return {
        "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "SENTINELLE_VAR_DIR": str(tmp_path / "var"),
    }


def imported(tmp_path: Path) -> Path:
    return tmp_path / "var" / IMPORTED_PLACES_FILE


def test_cod_import_then_geonames_import_merge(tmp_path: Path, env: dict[str, str]) -> None:
    cod = tmp_path / "cod.csv"
    cod.write_text(SMALL_COD, encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["places", "import", str(cod)], env=env)
    assert result.exit_code == 0, result.output
    assert "2 read from cod.csv (cod format)" in result.output
    assert "2 imported places" in result.output
    first = imported(tmp_path).read_text(encoding="utf-8")
    assert "Dioura" in first
    assert "commune_seat" in first
    assert "cod:ML999901001" in first
    # The same file again replaces its places (same pcode): no duplicates.
    again = runner.invoke(main, ["places", "import", str(cod)], env=env)
    assert again.exit_code == 0, again.output
    assert "2 imported places" in again.output
    assert "(0 new)" in again.output
    geonames = tmp_path / "ML.txt"
    geonames.write_text(GEONAMES, encoding="utf-8")
    merged = runner.invoke(main, ["places", "import", str(geonames)], env=env)
    assert merged.exit_code == 0, merged.output
    assert "1 read from ML.txt (geonames format), 2 skipped" in merged.output
    assert "3 imported places" in merged.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("kidal,gao\n1,2\n", "not a gazetteer"),
        (COD_HEADER + cod_row("Bad", "ML1", 4, 200.0, 14.0), "line 2: latitude/longitude"),
        (COD_HEADER + '"Bad","ML1",NA,NA,NA,4,NA,"Mali"\n', "line 2"),
        ("1\tX\tX\t\tnorth\t2.0\tP\tPPL\tML" + "\t" * 10 + "\n", "line 1"),
        ("1\tX\tX\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", "line 1"),
    ],
    ids=["empty", "other-csv", "out-of-range", "short-row", "bad-number", "short-tsv"],
)
def test_bad_files_import_nothing_and_say_where(
    tmp_path: Path, env: dict[str, str], content: str, message: str
) -> None:
    good = tmp_path / "good.csv"
    good.write_text(SMALL_COD, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["places", "import", str(good)], env=env).exit_code == 0
    before = imported(tmp_path).read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text(content, encoding="utf-8")
    result = runner.invoke(main, ["places", "import", str(bad)], env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert imported(tmp_path).read_bytes() == before
    missing = runner.invoke(main, ["places", "import", str(tmp_path / "nope.csv")], env=env)
    assert missing.exit_code == 2
    assert "cannot read" in missing.output


async def test_imported_places_answer_zone_lookups(
    tmp_path: Path, env: dict[str, str], settings: Settings, factory: Factory
) -> None:
    """Dioumara is known from the packaged GeoNames villages, "Diourah" (an alternate name only
    the COD gives) is not; once the COD is imported, both answer from it, a commune seat."""
    cod = tmp_path / "cod.csv"
    cod.write_text(SMALL_COD, encoding="utf-8")
    planner = await factory.caller("planner")
    async with AsyncTestClient(create_app(settings)) as client:
        packaged = await client.get("/api/v1/zones/Dioumara/risk", headers=planner.headers)
        assert packaged.status_code == 200, packaged.text
        assert packaged.json()["place"]["source"].startswith("geonames:")
        unknown = await client.get("/api/v1/zones/Diourah/risk", headers=planner.headers)
        assert unknown.status_code == 404, unknown.text
    result = CliRunner().invoke(
        main, ["places", "import", str(cod)], env={**env, "SENTINELLE_VAR_DIR": settings.var_dir}
    )
    assert result.exit_code == 0, result.output
    async with AsyncTestClient(create_app(settings)) as client:  # a restarted server
        for name, holding in (("Dioumara", "border_mrt"), ("Diourah", "mli")):
            response = await client.get(f"/api/v1/zones/{name}/risk", headers=planner.headers)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["matched"] == "place"
            assert body["place"]["kind"] == "commune_seat"
            assert holding in {z["zone_id"] for z in body["nested"]}


@pytest.mark.skipif(not COD_PLACES.exists(), reason=f"{COD_PLACES} absent (real OCHA data)")
def test_real_cod_file_imports_every_row(tmp_path: Path, env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["places", "import", str(COD_PLACES)], env=env)
    assert result.exit_code == 0, result.output
    assert "18769 read" in result.output
    assert "18769 imported places" in result.output
