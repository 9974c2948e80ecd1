"""/api/v1/risk/skill: how well the risk model foresaw the incidents in the database."""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import Parameter, QueryParameter
from msgspec import Struct

from api.bootstrap import Skill
from api.http.auth import OFFICERS
from incidents.risk.backtest import BacktestResult, Margin, method_label, method_role
from incidents.risk.model import LEVEL_CODES, LEVEL_LABELS
from incidents.risk.skill import SkillReport, parse_skill_request


class MethodSkillOut(Struct):
    label: str
    mean_rho: float | None
    mean_top_k: float | None
    rho: list[float | None]
    top_k: list[float | None]
    # "headline" (the score the level is cut from), "side" (other figures) or "baseline".
    role: str = "side"
    se_rho: float | None = None
    se_top_k: float | None = None


class MarginOut(Struct):
    """The headline minus one baseline: mean differences, their errors, steps better."""

    baseline: str
    d_rho: float | None
    se_rho: float | None
    block_se_rho: float | None
    better_rho: int
    d_top_k: float | None
    se_top_k: float | None
    block_se_top_k: float | None
    better_top_k: int
    steps: int
    ahead: bool
    ahead_by_one_se: bool


class CalibrationOut(Struct):
    level: int
    level_code: str
    level_label: str
    level_label_en: str
    zone_steps: int
    serious: int
    share: float | None


class ChosenOut(Struct):
    step: date
    half_lives_days: list[float]
    half_life_shares: list[float]
    spillover: float
    training_steps: int


class SkillOut(Struct):
    zones: str
    zone_count: int
    incident_count: int
    first_incident: date
    last_incident: date
    from_: date = msgspec.field(name="from")
    to: date = msgspec.field(name="to")
    step: str = "1mo"
    horizon_days: int = 30
    k: int = 10
    window_days: float = 730.0
    serious_severity: int = 4
    steps: list[date] = msgspec.field(default_factory=list)
    methods: dict[str, MethodSkillOut] = msgspec.field(default_factory=dict)
    # The headline: which method is the level's own score, and what the level is cut from.
    headline: str = "level_score"
    level_basis: str = "weighted"
    best_baseline: str = "last_180_days"
    margins: dict[str, MarginOut] = msgspec.field(default_factory=dict)
    beats_baselines: bool = False
    beats_baselines_by_one_se: bool = False
    calibration: list[CalibrationOut] = msgspec.field(default_factory=list)
    calibration_rises: bool = False
    chosen: list[ChosenOut] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)


def _num(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 4)


def _margin_out(g: Margin) -> MarginOut:
    return MarginOut(
        baseline=g.baseline,
        d_rho=_num(g.d_rho),
        se_rho=_num(g.se_rho),
        block_se_rho=_num(g.block_se_rho),
        better_rho=g.better_rho,
        d_top_k=_num(g.d_top_k),
        se_top_k=_num(g.se_top_k),
        block_se_top_k=_num(g.block_se_top_k),
        better_top_k=g.better_top_k,
        steps=g.steps,
        ahead=g.ahead,
        ahead_by_one_se=g.ahead_by_one_se,
    )


def skill_out(report: SkillReport) -> SkillOut:
    result: BacktestResult = report.result
    return SkillOut(
        zones=report.zones,
        zone_count=report.zone_count,
        incident_count=report.incident_count,
        first_incident=report.first_incident,
        last_incident=report.last_incident,
        from_=report.start,
        to=report.end,
        step=report.step,
        horizon_days=result.horizon_days,
        k=result.k,
        window_days=report.window_days,
        steps=list(result.steps),
        methods={
            name: MethodSkillOut(
                label=method_label(name),
                mean_rho=_num(m.mean_rho),
                mean_top_k=_num(m.mean_top_k),
                rho=[_num(x) for x in m.rho],
                top_k=[_num(x) for x in m.top_k],
                role=method_role(name),
                se_rho=_num(m.se_rho),
                se_top_k=_num(m.se_top_k),
            )
            for name, m in result.methods.items()
        },
        headline=result.headline,
        level_basis=result.level_basis,
        best_baseline=result.best_baseline(),
        margins={name: _margin_out(g) for name, g in result.margins().items()},
        beats_baselines=result.beats_baselines(),
        beats_baselines_by_one_se=result.beats_baselines_by_one_se(),
        calibration=[
            CalibrationOut(
                level=r.level,
                level_code=LEVEL_CODES[r.level],
                level_label=LEVEL_LABELS[r.level][0],
                level_label_en=LEVEL_LABELS[r.level][1],
                zone_steps=r.zone_steps,
                serious=r.serious,
                share=_num(r.share),
            )
            for r in result.calibration
        ],
        calibration_rises=result.calibration_rises(),
        chosen=[
            ChosenOut(
                step=date.fromisoformat(c["step"]),
                half_lives_days=list(c["half_lives_days"]),
                half_life_shares=list(c["half_life_shares"]),
                spillover=float(c["spillover"]),
                training_steps=int(c["training_steps"]),
            )
            for c in result.chosen
        ],
        notes=report.notes,
    )


@get(
    "/api/v1/risk/skill",
    guards=[OFFICERS],
    tags=["risk"],
    summary="How well the risk model foresaw incidents (walk-forward backtest)",
    description="At each step the zones of kind `zones` are scored with what was known before "
    "it and compared with the incidents of the next `horizon`: Spearman ρ and top-k capture, "
    "with standard errors, for the headline `level_score` (the score each zone's level is cut "
    "from), for the side figures (`model`: expected incidents; `risk_score`: weighted score "
    "per exposure) and for the incident counts of the last 30, 90 and 180 days; `margins`: the "
    "level score minus each baseline; and how often each level saw a serious incident. "
    "Officers and admins.",
)
async def get_skill(
    skill: NamedDependency[Skill],
    from_: Annotated[
        str | None, QueryParameter(name="from", description="First step, YYYY-MM-DD.")
    ] = None,
    to: Annotated[str | None, Parameter(description="Last step, YYYY-MM-DD.")] = None,
    horizon: Annotated[str, Parameter(description="Judged on the next 30d, 4w...")] = "30d",
    zones: Annotated[str, Parameter(description="Zone kind: admin1, admin2...")] = "admin2",
    step: Annotated[str, Parameter(description="Between steps: 1mo, 30d...")] = "1mo",
    k: Annotated[str | None, Parameter(description="Top-k zones (default 10).")] = None,
) -> SkillOut:
    query = parse_skill_request(start=from_, end=to, horizon=horizon, zones=zones, step=step, k=k)
    return skill_out(await skill(query))


ROUTES = [get_skill]
