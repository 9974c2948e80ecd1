"""`sentinelle risk backtest`: the table, the chart, and bad options named."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from api.cli.main import main
from api.migrations.runner import upgrade
from incidents.db import Database, create_engine
from tests.skill_data import seed_steady_zones

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(name="env")
def fx_env(tmp_path: Path) -> dict[str, str]:
    env = {
        "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "SENTINELLE_VAR_DIR": str(tmp_path / "var"),
        "SENTINELLE_DISPATCH_IN_PROCESS": "false",
    }

    async def seed() -> None:
        db = Database(create_engine(env["SENTINELLE_DATABASE_URL"], pooled=False))
        try:
            await upgrade(db.engine)
            await seed_steady_zones(db, datetime.now(UTC))
        finally:
            await db.dispose()

    asyncio.run(seed())
    return env


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["risk", "backtest", *args], env=env)


def test_prints_model_and_baselines_and_writes_the_chart(env: dict[str, str]) -> None:
    result = invoke(env, "--zones", "custom", "--k", "2")
    assert result.exit_code == 0, result.output
    for label in (
        "level score (what sets the level)",
        "expected incidents (side figure)",
        "last 30 days",
        "last 90 days",
        "last 180 days",
    ):
        assert label in result.stdout
    assert "level score minus" in result.stdout  # the margins against each baseline
    assert "top-2 capture" in result.stdout
    assert "5 extrême / extreme" in result.stdout
    assert "5 custom zones" in result.stdout
    chart = Path(env["SENTINELLE_VAR_DIR"]) / "backtest.png"
    assert chart.read_bytes()[:8] == PNG
    assert f"Chart: {chart}" in result.stderr


def test_chart_goes_where_asked(env: dict[str, str], tmp_path: Path) -> None:
    chart = tmp_path / "charts" / "skill.png"
    result = invoke(
        env,
        "--zones",
        "custom",
        "--k",
        "2",
        "--step",
        "30d",
        "--horizon",
        "2w",
        "--chart",
        str(chart),
    )
    assert result.exit_code == 0, result.output
    assert "(30d)" in result.stdout
    assert "horizon 14 days" in result.stdout
    assert chart.read_bytes()[:8] == PNG


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--zones", "district"], "--zones"),
        (["--zones", "admin2"], "--zones"),  # no cercles imported
        (["--zones", "custom", "--horizon", "3000d"], "--horizon"),
        (["--zones", "custom", "--from", "01/02/2019"], "--from"),
        (["--zones", "custom", "--step", "quarterly"], "--step"),
        (["--zones", "custom", "--k", "9"], "--k"),
    ],
)
def test_bad_options_are_named(env: dict[str, str], args: list[str], option: str) -> None:
    result = invoke(env, *args)
    assert result.exit_code == 2
    assert f"Error: {option}:" in result.stderr
    assert "Traceback" not in result.output
