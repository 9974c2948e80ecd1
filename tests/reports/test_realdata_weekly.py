"""The weekly report from the real ACLED Mali export and the OCHA COD-AB zones, written by the
CLI as PDF: its text (pdftotext) and its first page (pdftoppm) as a reader would see them."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib import image

from api.cli.main import main
from api.settings import Settings
from incidents.db import Database, create_engine
from incidents.zones.store import ensure_default_zones

pytestmark = pytest.mark.realdata
ACLED_FILE = "acled_mali_2017-2020.csv"
END = datetime(2020, 12, 31, tzinfo=UTC)


async def _default_zones(settings: Settings) -> None:
    db = Database(create_engine(settings.database_url, pooled=False))
    try:
        await ensure_default_zones(db, settings, now=END)
    finally:
        await db.dispose()


@pytest.fixture(name="acled_env", scope="module")
def fx_acled_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / ACLED_FILE).is_file():
        pytest.skip(f"real Mali data not found at {SHARED_DATA} (the ../shared folder is absent)")
    tmp = tmp_path_factory.mktemp("acled-report")
    env = {
        "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'acled.db'}",
        "SENTINELLE_VAR_DIR": str(tmp / "var"),
        "SENTINELLE_DISPATCH_IN_PROCESS": "false",
    }
    runner = CliRunner()
    org = runner.invoke(main, ["admin", "create-org", "ACLED"], env=env).stdout.strip()
    asyncio.run(_default_zones(Settings.from_env(env)))
    for level in ("adm1", "adm2"):
        boundaries = SHARED_DATA / f"mli_admbnda_{level}_1m_gov_20211220.geojson"
        added = runner.invoke(main, ["zones", "import", str(boundaries)], env=env)
        assert added.exit_code == 0, added.output[-2000:]
    imported = runner.invoke(
        main, ["incidents", "import", str(SHARED_DATA / ACLED_FILE), "--org", org], env=env
    )
    assert imported.exit_code == 0, imported.output[-2000:]
    return env, org


def _pdf_text(path: Path) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return done.stdout


def test_the_cli_writes_the_weeks_pdf_with_summary_counts_level_changes_and_a_map(
    acled_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdftotext, pdftoppm) is not installed")
    env, org = acled_env
    out = tmp_path / "rapport.pdf"
    args = ["report", "weekly", "--from", "2020-11-23", "--to", "2020-11-29", "--lang", "fr"]
    written = CliRunner().invoke(main, [*args, "--org", org, "--out", str(out)], env=env)
    assert written.exit_code == 0, written.output[-3000:]
    assert out.stat().st_size <= 500_000
    # `SENTINELLE_REPORT_EXAMPLE_DIR=/tmp/x pytest ...` keeps the PDF (docs/img's example).
    keep = os.environ.get("SENTINELLE_REPORT_EXAMPLE_DIR")
    if keep:
        shutil.copy(out, Path(keep) / "report-weekly.pdf")
    text = _pdf_text(out)
    assert "Rapport de situation hebdomadaire" in text
    assert "23/11/2020 – 29/11/2020" in text
    # The summary: the week's total against the previous week's, then the largest changes.
    assert "incidents signalés sur la période contre" in text
    # Counts by UN category with the previous week's.
    for name in ("Conflit armé", "Terrorisme", "Criminalité", "Troubles civils", "Aléas"):
        assert name in text
    assert "Précédente" in text
    assert "Changements de niveau" in text
    assert "Couverture et sources" in text
    pages = text.count("\f")
    assert 1 <= pages <= 2
    # The first page shows the map: coloured zones, not a blank page.
    png = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(out), str(png)], check=True
    )
    pixels = image.imread(next(tmp_path.glob("page*.png")))[..., :3]
    coloured = np.abs(pixels - pixels.mean(axis=2, keepdims=True)).max(axis=2) > 0.08
    assert coloured.mean() > 0.03, "the first page has almost no colour: no map"
