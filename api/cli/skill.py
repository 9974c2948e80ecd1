"""`sentinelle risk backtest`: how well the risk model foresaw the incidents in the database."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from api.cli.main import fail, migrate, run
from api.settings import Settings
from incidents.db import Database
from incidents.errors import InvalidField
from incidents.risk.backtest import plot_backtest
from incidents.risk.model import LEVEL_LABELS
from incidents.risk.service import risk_config
from incidents.risk.skill import SkillReport, SkillRequest, measure_skill, parse_skill_request

__all__ = ["backtest_command", "backtest_options", "print_report"]

METHOD_LABELS = {
    "model": "model (expected incidents)",
    "risk_score": "risk score behind the level (information)",
}


def backtest_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options of `risk backtest` (kept here so the risk group gains one small command)."""
    options = [
        click.option("--from", "start", default=None, help="First step, YYYY-MM-DD."),
        click.option("--to", "end", default=None, help="Last step, YYYY-MM-DD."),
        click.option("--horizon", default="30d", show_default=True, help="Judged on: 30d, 4w."),
        click.option(
            "--zones", default="admin2", show_default=True, help="Zone kind: admin1, admin2..."
        ),
        click.option("--step", default="1mo", show_default=True, help="Between steps: 1mo, 30d."),
        click.option("--k", default=None, help="Top-k zones for capture (default 10).", type=str),
        click.option(
            "--chart",
            type=click.Path(path_type=Path, dir_okay=False),
            default=None,
            help="PNG chart to write (default var/backtest.png).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def backtest_command(
    settings: Settings,
    *,
    start: str | None,
    end: str | None,
    horizon: str,
    zones: str,
    step: str,
    k: str | None,
    chart: Path | None,
) -> None:
    """Parse, run the backtest on the database, print the table and write the chart."""
    try:
        request = parse_skill_request(
            start=start, end=end, horizon=horizon, zones=zones, step=step, k=k
        )
    except InvalidField as exc:
        fail(f"--{exc.field}: {exc.detail}")
        return
    began = time.perf_counter()
    try:
        report = run(lambda db: _measure(db, settings, request), settings)
    except InvalidField as exc:
        fail(f"--{exc.field}: {exc.detail}")
        return
    seconds = time.perf_counter() - began
    path = chart or settings.var_path / "backtest.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_backtest(report.result, path)
    print_report(report)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"Chart: {path}. Backtest took {seconds:.1f} s.", err=True)


async def _measure(db: Database, settings: Settings, request: SkillRequest) -> SkillReport:
    await migrate(db)
    return await measure_skill(db, request, config=risk_config(settings))


def _fmt(value: float, pattern: str = "{:.3f}") -> str:
    return "-" if math.isnan(value) else pattern.format(value)


def print_report(report: SkillReport) -> None:
    """The model against the baselines, and the calibration of the levels, as rich tables."""
    from rich.console import Console
    from rich.table import Table

    result = report.result
    title = (
        f"Backtest: {len(result.steps)} steps ({report.step}) from {report.start} to "
        f"{report.end}, {report.zone_count} {report.zones} zones, {report.incident_count} "
        f"incidents, horizon {result.horizon_days} days"
    )
    methods = Table()
    methods.add_column("forecast at each step")
    methods.add_column("mean ρ", justify="right")
    methods.add_column(f"top-{result.k} capture", justify="right")
    for name, m in result.methods.items():
        label = METHOD_LABELS.get(name, name.replace("_", " "))
        style = "bold" if name == "model" else None
        methods.add_row(label, _fmt(m.mean_rho), _fmt(m.mean_top_k), style=style)
    levels = Table()
    levels.add_column("level")
    levels.add_column("zone-steps", justify="right")
    levels.add_column(
        f"with a serious incident (severity ≥ 4) in the next {result.horizon_days} days",
        justify="right",
    )
    for row in result.calibration:
        fr, en = LEVEL_LABELS[row.level]
        levels.add_row(f"{row.level} {fr} / {en}", str(row.zone_steps), _fmt(row.share, "{:.1%}"))
    console = Console(width=110)
    console.print(title, soft_wrap=True)
    console.print(methods)
    console.print(levels)
    verdict = "beats" if result.beats_baselines() else "does NOT beat"
    rises = "rises" if result.calibration_rises() else "does NOT rise"
    console.print(
        f"The model {verdict} every baseline on both means; calibration {rises} with the level."
    )
