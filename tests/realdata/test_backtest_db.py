"""`sentinelle risk backtest` on ACLED Mali and the 53 cercles stored in a SQLite database."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from api.cli.main import main
from api.cli.zones import import_zone_file
from api.migrations.runner import upgrade
from api.settings import Settings
from incidents.db import Database, create_engine
from incidents.identity.accounts import create_organisation
from incidents.interop.acled import acled_to_incidents
from incidents.interop.service import import_incidents

pytestmark = pytest.mark.realdata

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ACLED = DATA / "acled_mali_2017-2020.csv"
CERCLES = DATA / "mli_admbnda_adm2_1m_gov_20211220.geojson"
IMPORTED_AT = datetime(2021, 6, 1, tzinfo=UTC)


async def build_database(settings: Settings) -> None:
    """ACLED events first (no observers), then the cercles: importing zones re-assigns every
    incident in one vectorised pass, much faster than one assignment per incident."""
    db = Database(create_engine(settings.database_url, pooled=False))
    try:
        await upgrade(db.engine)
        async with db.transaction() as session:
            org_id = await create_organisation(session, "ACLED", now=IMPORTED_AT)
        with ACLED.open("rb") as fh:
            await import_incidents(db, acled_to_incidents(fh), org_id=org_id, now=IMPORTED_AT)
        await import_zone_file(db, settings, CERCLES)
    finally:
        await db.dispose()


@pytest.fixture(name="env", scope="module")
def fx_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if not (ACLED.is_file() and CERCLES.is_file()):
        pytest.skip(f"real Mali data not found in {DATA} (ACLED export and OCHA cercles)")
    tmp = tmp_path_factory.mktemp("backtest_db")
    env = {
        "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'mali.db'}",
        "SENTINELLE_VAR_DIR": str(tmp / "var"),
        "SENTINELLE_DISPATCH_IN_PROCESS": "false",
    }
    asyncio.run(build_database(Settings.from_env(env)))
    return env


@pytest.fixture(name="backtest", scope="module")
def fx_backtest(env: dict[str, str]) -> Result:
    began = time.perf_counter()
    result = CliRunner().invoke(
        main,
        ["risk", "backtest", "--zones", "admin2", "--from", "2019-01-01", "--to", "2020-12-01"],
        env=env,
        catch_exceptions=False,
    )
    print(f"\n{result.stdout}\n{result.stderr}\nCLI wall time {time.perf_counter() - began:.1f} s")
    return result


def mean(stdout: str, label: str) -> tuple[float, float]:
    """Mean rho and top-k capture of a method's row: "label │ 0.687 ± 0.015 │ 0.720 ± 0.019"."""
    line = next(x for x in stdout.splitlines() if label in x)
    rho, _, top, _ = (float(v) for v in re.findall(r"\d\.\d{3}", line.split(label, 1)[1]))
    return rho, top


def test_backtest_succeeds_on_the_53_cercles_and_24_months(backtest: Result) -> None:
    assert backtest.exit_code == 0, backtest.output
    assert "24 steps (1mo) from 2019-01-01 to 2020-12-01" in backtest.stdout.replace("\n", " ")
    assert "53 admin2 zones" in backtest.stdout.replace("\n", " ")


@pytest.mark.parametrize("baseline", ["last 30 days", "last 90 days", "last 180 days"])
def test_expected_incidents_beat_baseline_on_both_means(backtest: Result, baseline: str) -> None:
    model_rho, model_top = mean(backtest.stdout, "expected incidents (side figure)")
    base_rho, base_top = mean(backtest.stdout, baseline)
    assert model_rho > base_rho, backtest.stdout
    assert model_top > base_top, backtest.stdout


@pytest.mark.parametrize("baseline", ["last 30 days", "last 90 days", "last 180 days"])
def test_the_level_score_beats_baseline_on_both_means(backtest: Result, baseline: str) -> None:
    # The margins table: "last 180 days │ +0.001 ± 0.006 │ +0.010 ± 0.008 │ 11, 8 / 24".
    line = [x for x in backtest.stdout.splitlines() if baseline in x][1]
    d_rho, _, d_top, _ = (float(v) for v in re.findall(r"[+-]?\d\.\d{3}", line.split(baseline)[1]))
    assert d_rho > 0, backtest.stdout
    assert d_top > 0, backtest.stdout
    assert "the level is cut from the 30-day forecast" in backtest.stdout.replace("\n", " ")


def test_calibration_rises_with_the_level(backtest: Result) -> None:
    assert "calibration rises with the level" in backtest.stdout


def test_chart_is_written_as_png(backtest: Result, env: dict[str, str]) -> None:
    chart = Path(env["SENTINELLE_VAR_DIR"]) / "backtest.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
