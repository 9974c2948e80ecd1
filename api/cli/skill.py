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
from incidents.risk.backtest import method_label, plot_backtest
from incidents.risk.model import LEVEL_LABELS
from incidents.risk.service import risk_config
from incidents.risk.skill import SkillReport, SkillRequest, measure_skill, parse_skill_request

__all__ = ["backtest_command", "backtest_options", "print_report"]


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


def _pm(value: float, error: float, sign: bool = False) -> str:
    if math.isnan(value):
        return "-"
    head = f"{value:+.3f}" if sign else f"{value:.3f}"
    return head if math.isnan(error) else f"{head} ± {error:.3f}"


def print_report(report: SkillReport) -> None:
    """The level's score against the baselines (with standard errors), then the calibration."""
    from rich.console import Console
    from rich.table import Table

    result = report.result
    title = (
        f"Backtest: {len(result.steps)} steps ({report.step}) from {report.start} to "
        f"{report.end}, {report.zone_count} {report.zones} zones, {report.incident_count} "
        f"incidents, horizon {result.horizon_days} days; the level is cut from the "
        f"{'30-day forecast' if result.level_basis == 'forecast' else 'weighted score'}"
    )
    methods = Table(caption="± one standard error of the mean over the steps")
    methods.add_column("forecast at each step")
    methods.add_column("mean ρ", justify="right")
    methods.add_column(f"top-{result.k} capture", justify="right")
    for name, m in result.methods.items():
        style = "bold" if name == result.headline else None
        methods.add_row(
            method_label(name),
            _pm(m.mean_rho, m.se_rho),
            _pm(m.mean_top_k, m.se_top_k),
            style=style,
        )
    margins = Table(
        caption="± the larger of the step-to-step and the block-bootstrap (3 months) error; "
        "steps better / steps"
    )
    margins.add_column("level score minus")
    margins.add_column("Δ mean ρ", justify="right")
    margins.add_column(f"Δ top-{result.k} capture", justify="right")
    margins.add_column("steps better (ρ, top)", justify="right")
    for name, g in result.margins().items():
        margins.add_row(
            method_label(name),
            _pm(g.d_rho, g.error_rho, sign=True),
            _pm(g.d_top_k, g.error_top_k, sign=True),
            f"{g.better_rho}, {g.better_top_k} / {g.steps}",
        )
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
    console.print(margins)
    console.print(levels)
    if result.beats_baselines_by_one_se():
        verdict = "beats every baseline on both means by more than one standard error"
    elif result.beats_baselines():
        verdict = "beats every baseline on both means, but not by more than one standard error"
    else:
        verdict = "does NOT beat every baseline on both means"
    rises = "rises" if result.calibration_rises() else "does NOT rise"
    console.print(f"The level score {verdict}; calibration {rises} with the level.", soft_wrap=True)
