"""Rolling risk per zone: decayed, weighted incident intensity mapped to five levels."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import shapely

from incidents.errors import InvalidField
from incidents.taxonomy.catalogue import SUB_SCORES, TYPES, sub_score_of
from incidents.vocabulary import level_label

__all__ = [
    "FORECAST_THRESHOLDS",
    "LEVEL_BASES",
    "LEVEL_CODES",
    "LEVEL_LABELS",
    "LEVEL_MEANINGS",
    "RELIABILITY_CODES",
    "STATUS_CODES",
    "TRENDS",
    "WEIGHTED_THRESHOLDS",
    "RiskConfig",
    "RiskInputs",
    "ZoneRisk",
    "confidence_weights",
    "decay",
    "exposure_factor",
    "forecast_level_config",
    "incident_weights",
    "level_for",
    "levels_for",
    "score_zones",
    "weighted_level_config",
    "zone_intensity",
    "zone_neighbours",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

LEVEL_CODES: Final[Mapping[int, str]] = MappingProxyType(
    {1: "low", 2: "moderate", 3: "substantial", 4: "high", 5: "extreme"}
)
# (French, English) names of the levels, from the one vocabulary (incidents/vocabulary).
LEVEL_LABELS: Final[Mapping[int, tuple[str, str]]] = MappingProxyType(
    {n: (level_label(code, "fr"), level_label(code, "en")) for n, code in LEVEL_CODES.items()}
)
TRENDS: Final = ("rising", "stable", "falling")
RELIABILITY_CODES: Final = ("A", "B", "C", "D", "E", "F")
STATUS_CODES: Final = ("disputed", "reported", "retracted", "verified")  # sorted: searchsorted

# Sorted once so that mapping a million type codes is one np.searchsorted, not a dict per row.
_TYPE_VOCAB: Final = np.array(sorted(TYPES), dtype=str)
_SUB_SCORE_OF_TYPE: Final = np.array(
    [SUB_SCORES.index(sub_score_of(str(code))) for code in _TYPE_VOCAB], dtype=np.intp
)
_RELIABILITY_VOCAB: Final = np.array(RELIABILITY_CODES, dtype=str)

# What the level is cut from (docs/risk.md, "What the level means"):
# - "forecast" (the default): the expected number of incidents in the next 30 days
#   (confidence-weighted, every type alike, no area scaling), lifted to level 2 for a while
#   after a serious incident;
# - "weighted": risk-weighted incidents per 30 days (type x severity x confidence), per exposure.
LEVEL_BASES: Final = ("weighted", "forecast")
# What a stored level means, as the number the service keeps beside the levels
# (incidents.risk.versions.LEVEL_MEANING; 0, never written, is a database from before it was
# kept, whose levels are "weighted"). When it differs from the running model's, the next
# re-scoring re-baselines every zone as one model change instead of alerting zone by zone.
LEVEL_MEANINGS: Final[Mapping[str, int]] = MappingProxyType({"weighted": 1, "forecast": 2})
# Levels 2-5 from these scores: weighted incidents per 30 days ...
WEIGHTED_THRESHOLDS: Final = (0.5, 2.0, 5.0, 12.0)
# ... or expected incidents in the next 30 days: level 2 from one in four months, 3 from about
# one a month (0.75), 4 from two, 5 from more than four (the old table's words, "armed attack"
# read as "incident"; six armed attacks in a week from sources not judged make a quiet town 3).
FORECAST_THRESHOLDS: Final = (0.25, 0.75, 2.0, 4.0)
_STATUS_VOCAB: Final = np.array(STATUS_CODES, dtype=str)


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Every knob of the risk model; defaults = the walk-forward choice on ACLED Mali 2017-2020.

    `half_lives_days` / `half_life_shares`: an incident's weight today is split between several
    memories, short and long; each part halves after its own half-life (see docs/risk.md).
    """

    # Fitted by incidents.backtest.tune_config on ACLED Mali up to 2020-12-01 (docs/risk.md).
    half_lives_days: tuple[float, ...] = (7.0, 15.0, 30.0, 60.0, 90.0, 180.0, 365.0, 730.0)
    half_life_shares: tuple[float, ...] = (0.65, 0.03, 0.03, 0.08, 0.10, 0.06, 0.03, 0.02)
    window_days: float = 730.0
    spillover: float = 0.0
    reference_area_km2: float = 10_000.0
    forecast_days: float = 30.0
    # Levels 2-5 from these scores, in the units of `level_basis` (FORECAST_THRESHOLDS for
    # "forecast", WEIGHTED_THRESHOLDS for "weighted").
    thresholds: tuple[float, float, float, float] = FORECAST_THRESHOLDS
    hysteresis: float = 0.2
    # What the level is cut from: "forecast" or "weighted" (LEVEL_BASES; docs/risk.md).
    level_basis: str = "forecast"
    # "forecast" only: a serious incident (severity >= serious_severity, counted at all) less
    # than serious_floor_days old keeps the score at least at the level-2 threshold (0: off).
    serious_floor_days: float = 30.0
    serious_severity: int = 4
    trend_days: float = 30.0
    trend_baseline_days: float = 90.0
    trend_ratio: float = 1.5
    trend_min_change: float = 2.0
    severity_factors: tuple[float, float, float, float, float] = (0.25, 0.5, 1.0, 1.5, 2.0)
    reliability_factors: Mapping[str, float] = field(
        default_factory=lambda: {"A": 1.0, "B": 0.9, "C": 0.75, "D": 0.5, "E": 0.25, "F": 0.6}
    )
    credibility_factors: tuple[float, float, float, float, float, float] = (
        1.0,
        0.9,
        0.7,
        0.4,
        0.1,
        0.6,
    )
    status_factors: Mapping[str, float] = field(
        default_factory=lambda: {
            "verified": 1.2,
            "reported": 1.0,
            "disputed": 0.3,
            "retracted": 0.0,
        }
    )
    type_weights: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if not self.half_lives_days or len(self.half_lives_days) != len(self.half_life_shares):
            raise InvalidField(
                "half_life_shares", "give one share per half-life (same number of values)"
            )
        if any(h <= 0 for h in self.half_lives_days):
            raise InvalidField("half_lives_days", "half-lives must be positive numbers of days")
        if any(s < 0 for s in self.half_life_shares) or sum(self.half_life_shares) <= 0:
            raise InvalidField("half_life_shares", "shares must be >= 0 and not all zero")
        if self.window_days <= 0:
            raise InvalidField("window_days", "the window must be a positive number of days")
        if self.spillover < 0:
            raise InvalidField("spillover", "spill-over must be >= 0 (0 switches it off)")
        if self.reference_area_km2 <= 0:
            raise InvalidField("reference_area_km2", "the reference area must be positive")
        if self.forecast_days <= 0:
            raise InvalidField("forecast_days", "the forecast period must be positive")
        t = self.thresholds
        if len(t) != 4 or any(b <= a for a, b in itertools.pairwise(t)) or t[0] <= 0:
            raise InvalidField(
                "thresholds", "give four positive, strictly increasing thresholds (levels 2 to 5)"
            )
        if self.level_basis not in LEVEL_BASES:
            raise InvalidField("level_basis", f"the level basis is one of {', '.join(LEVEL_BASES)}")
        if self.serious_floor_days < 0:
            raise InvalidField("serious_floor_days", "give 0 (off) or a positive number of days")
        if not 1 <= self.serious_severity <= 5:
            raise InvalidField("serious_severity", "serious_severity is a severity from 1 to 5")
        if not 0 <= self.hysteresis < 1:
            raise InvalidField("hysteresis", "hysteresis is a fraction between 0 and 1 (e.g. 0.2)")
        if self.trend_days <= 0 or self.trend_baseline_days <= 0 or self.trend_ratio < 1:
            raise InvalidField(
                "trend_ratio", "trend periods must be positive and the ratio at least 1"
            )
        if len(self.severity_factors) != 5 or any(f < 0 for f in self.severity_factors):
            raise InvalidField("severity_factors", "give five factors >= 0, severity 1 to 5")
        if len(self.credibility_factors) != 6 or any(f < 0 for f in self.credibility_factors):
            raise InvalidField("credibility_factors", "give six factors >= 0, credibility 1 to 6")
        for name, mapping, codes in (
            ("reliability_factors", self.reliability_factors, RELIABILITY_CODES),
            ("status_factors", self.status_factors, STATUS_CODES),
        ):
            missing = sorted(set(codes) - set(mapping))
            if missing or any(v < 0 for v in mapping.values()):
                raise InvalidField(name, f"give a factor >= 0 for each of {', '.join(codes)}")
        if self.type_weights is not None:
            unknown = sorted(set(self.type_weights) - set(TYPES))
            if unknown:
                raise InvalidField("type_weights", f"unknown incident types: {', '.join(unknown)}")

    @property
    def level_meaning(self) -> int:
        """The number standing for what these levels mean (LEVEL_MEANINGS)."""
        return LEVEL_MEANINGS[self.level_basis]

    def kernel_mass_days(self) -> float:
        """Total weight one incident adds over its whole life, in days: turns sums into rates."""
        total = math.fsum(self.half_life_shares)
        return math.fsum(
            share / total * h / math.log(2) * (1.0 - 2.0 ** (-self.window_days / h))
            for h, share in zip(self.half_lives_days, self.half_life_shares, strict=True)
        )


def forecast_level_config(base: RiskConfig | None = None) -> RiskConfig:
    """`base` (default: RiskConfig()) with the level cut from the 30-day forecast (docs/risk.md)."""
    cfg = base or RiskConfig()
    return dataclasses.replace(cfg, level_basis="forecast", thresholds=FORECAST_THRESHOLDS)


def weighted_level_config(base: RiskConfig | None = None) -> RiskConfig:
    """`base` (default: RiskConfig()) with the level cut from the weighted score, per exposure
    (the meaning of levels before the forecast became the default; docs/risk.md)."""
    cfg = base or RiskConfig()
    return dataclasses.replace(cfg, level_basis="weighted", thresholds=WEIGHTED_THRESHOLDS)


def _codes(values: npt.ArrayLike, vocab: npt.NDArray[np.str_], name: str, hint: str) -> IntArray:
    arr = np.asarray(values)
    if arr.dtype.kind != "U":
        arr = arr.astype(str)
    idx = np.searchsorted(vocab, arr, side="left")
    # A value is in the vocabulary iff it sorts to a different place on its right side: two
    # searches, no gathered copy of a million strings to compare.
    bad = np.searchsorted(vocab, arr, side="right") == idx
    if bad.any():
        example = str(arr[np.flatnonzero(bad)[0]])
        raise InvalidField(name, f"unknown value {example!r}; {hint}")
    return idx.astype(np.intp)


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """Incidents as columns (one row per incident) plus their (incident, zone) memberships.

    `t_days` is when the incident occurred, in days since 1970-01-01 UTC. An incident in several
    zones (on a border, or a line crossing two cercles) has one pair per zone and counts in each.
    The string columns are turned into small integer codes once, here, so that scoring the same
    inputs many times (the backtest) does not pay for it again.
    """

    incident_ids: npt.NDArray[Any]
    t_days: FloatArray
    type_codes: npt.NDArray[np.str_]
    severity: npt.NDArray[np.integer[Any]]
    reliability: npt.NDArray[np.str_]
    credibility: npt.NDArray[np.integer[Any]]
    status: npt.NDArray[np.str_]
    pair_incident: IntArray
    pair_zone: IntArray
    type_index: IntArray = field(init=False, repr=False)
    reliability_index: IntArray = field(init=False, repr=False)
    status_index: IntArray = field(init=False, repr=False)
    # Combined codes so that a weight is one table look-up per incident, not five.
    confidence_index: IntArray = field(init=False, repr=False)
    type_severity_index: IntArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.t_days)
        for name in (
            "incident_ids",
            "type_codes",
            "severity",
            "reliability",
            "credibility",
            "status",
        ):
            if len(getattr(self, name)) != n:
                raise InvalidField(name, f"expected {n} values, one per incident (like t_days)")
        if len(self.pair_incident) != len(self.pair_zone):
            raise InvalidField("pair_zone", "pair_incident and pair_zone must have equal lengths")
        t = np.asarray(self.t_days, dtype=np.float64)
        if n and not np.isfinite(t).all():
            raise InvalidField("t_days", "every incident needs a date (finite days since 1970)")
        sev = np.asarray(self.severity)
        if n and (sev.min() < 1 or sev.max() > 5):
            raise InvalidField("severity", "severity is an integer from 1 to 5")
        cred = np.asarray(self.credibility)
        if n and (cred.min() < 1 or cred.max() > 6):
            raise InvalidField("credibility", "credibility is an integer from 1 to 6")
        pi = np.asarray(self.pair_incident, dtype=np.intp)
        if pi.size and (pi.min() < 0 or pi.max() >= n):
            raise InvalidField("pair_incident", f"incident positions must be in 0..{n - 1}")
        pz = np.asarray(self.pair_zone, dtype=np.intp)
        if pz.size and pz.min() < 0:
            raise InvalidField("pair_zone", "zone positions must be >= 0")
        object.__setattr__(self, "t_days", t)
        object.__setattr__(self, "severity", sev.astype(np.intp))
        object.__setattr__(self, "credibility", cred.astype(np.intp))
        object.__setattr__(self, "pair_incident", pi)
        object.__setattr__(self, "pair_zone", pz)
        empty = np.empty(0, dtype=np.intp)
        object.__setattr__(
            self,
            "type_index",
            _codes(
                self.type_codes, _TYPE_VOCAB, "type_codes", "use a type code from docs/taxonomy.md"
            )
            if n
            else empty,
        )
        object.__setattr__(
            self,
            "reliability_index",
            _codes(self.reliability, _RELIABILITY_VOCAB, "reliability", "use A, B, C, D, E or F")
            if n
            else empty,
        )
        object.__setattr__(
            self,
            "status_index",
            _codes(self.status, _STATUS_VOCAB, "status", "use " + ", ".join(STATUS_CODES))
            if n
            else empty,
        )
        object.__setattr__(
            self,
            "confidence_index",
            (
                (self.reliability_index * 6 + self.credibility - 1) * len(STATUS_CODES)
                + self.status_index
            ).astype(np.intp),
        )
        object.__setattr__(
            self, "type_severity_index", (self.type_index * 5 + self.severity - 1).astype(np.intp)
        )

    def __len__(self) -> int:
        return len(self.t_days)


@dataclass(frozen=True, slots=True)
class ZoneRisk:
    """The risk of one zone at one moment, with what explains it.

    `score` is what the level is cut from (`RiskConfig.level_basis`): with "weighted", the
    risk-weighted incidents per `forecast_days` (30 days), per exposure (see `exposure_factor`);
    with "forecast", `expected_incidents` (the forecast count for the next period), lifted to
    the level-2 threshold after a recent serious incident. `weighted_score` is always the
    risk-weighted figure per exposure, `exposure` the zone's exposure factor.
    `contributors` are (incident id, share of the score) for the incidents weighing most.
    """

    zone_index: int
    score: float
    level: int
    sub_scores: dict[str, float]
    trend: str
    expected_incidents: float
    contributors: list[tuple[Any, float]]
    weighted_score: float = math.nan
    exposure: float = 1.0
    serious_floor: bool = False

    @property
    def level_code(self) -> str:
        return LEVEL_CODES[self.level]

    def level_label(self, language: str = "fr") -> str:
        fr, en = LEVEL_LABELS[self.level]
        return en if language.lower().startswith("en") else fr


def decay(age_days: npt.ArrayLike, config: RiskConfig) -> FloatArray:
    """Weight left of an incident `age_days` old: 1 today, halving per half-life, 0 outside."""
    age = np.asarray(age_days, dtype=np.float64)
    out = np.zeros(age.shape, dtype=np.float64)
    live = (age >= 0) & (age < config.window_days)
    a = age[live]
    k = np.zeros(a.shape, dtype=np.float64)
    part = np.empty_like(a)
    total = sum(config.half_life_shares)
    for h, share in zip(config.half_lives_days, config.half_life_shares, strict=True):
        np.multiply(a, -1.0 / h, out=part)
        np.exp2(part, out=part)
        part *= share / total
        k += part
    out[live] = k
    return out


def confidence_weights(inputs: RiskInputs, config: RiskConfig) -> FloatArray:
    """How much each incident counts as having happened: reliability x credibility x status."""
    rel = np.array([config.reliability_factors[c] for c in RELIABILITY_CODES])
    sta = np.array([config.status_factors[c] for c in STATUS_CODES])
    cred = np.asarray(config.credibility_factors, dtype=np.float64)
    table = (rel[:, None, None] * cred[None, :, None] * sta[None, None, :]).ravel()
    out: FloatArray = table[inputs.confidence_index]
    return out


def _type_weight_table(config: RiskConfig) -> FloatArray:
    custom = config.type_weights or {}
    return np.array(
        [custom.get(str(c), TYPES[str(c)].risk_weight) for c in _TYPE_VOCAB], dtype=np.float64
    )


def incident_weights(inputs: RiskInputs, config: RiskConfig) -> FloatArray:
    """Risk weight of each incident today: type weight x severity factor x confidence."""
    return _type_severity_weights(inputs, config) * confidence_weights(inputs, config)


def _type_severity_weights(inputs: RiskInputs, config: RiskConfig) -> FloatArray:
    sev = np.asarray(config.severity_factors, dtype=np.float64)
    table = (_type_weight_table(config)[:, None] * sev[None, :]).ravel()
    out: FloatArray = table[inputs.type_severity_index]
    return out


def exposure_factor(zone_area_km2: npt.ArrayLike, config: RiskConfig) -> FloatArray:
    """Multiplier that makes big and small zones comparable: sqrt(reference / area), at most 1.

    Someone crossing a zone travels a distance that grows like the square root of its area, so
    the incidents they can run into grow like count / sqrt(area); zones smaller than the
    reference area are not inflated (a town is not ten times worse for being drawn small).
    """
    area = np.asarray(zone_area_km2, dtype=np.float64)
    if area.size and not (np.isfinite(area).all() and (area > 0).all()):
        raise InvalidField("zone_area_km2", "every zone needs a positive area in km²")
    return np.sqrt(config.reference_area_km2 / np.maximum(area, config.reference_area_km2))


def _raw_level(score: FloatArray, thresholds: FloatArray) -> IntArray:
    return (1 + np.searchsorted(thresholds, score, side="right")).astype(np.intp)


def levels_for(
    scores: npt.ArrayLike, previous_levels: npt.ArrayLike | None, config: RiskConfig
) -> IntArray:
    """Levels 1-5 for many zones; `previous_levels` 0 (or None) means no previous level.

    Up at once when a threshold is crossed; down only when the score falls below the threshold
    less `hysteresis` (20 %: a zone at "high" since a score of 5 goes back at 4 or less).
    Raising early and lowering late is the prudent side for staff safety.
    """
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(config.thresholds, dtype=np.float64)
    raw = _raw_level(s, t)
    if previous_levels is None:
        return raw
    prev = np.asarray(previous_levels, dtype=np.intp)
    if prev.shape != raw.shape:
        raise InvalidField("previous_levels", "give one previous level per zone (0 = none)")
    if prev.size and (prev.min() < 0 or prev.max() > 5):
        raise InvalidField("previous_levels", "levels are 1 to 5 (0 = no previous level)")
    sticky = np.minimum(prev, _raw_level(s, t * (1.0 - config.hysteresis)))
    return np.where((prev == 0) | (raw >= prev), raw, np.maximum(raw, sticky))


def level_for(score: float, previous_level: int | None, config: RiskConfig) -> int:
    """Level 1-5 of one score, with hysteresis against `previous_level` (None: no history)."""
    prev = None if previous_level is None else np.array([previous_level])
    return int(levels_for(np.array([score]), prev, config)[0])


def _spill(own: FloatArray, neighbours: tuple[IntArray, IntArray] | None, s: float) -> FloatArray:
    """own + s x (sum over neighbours); `own` is (zones,) or (zones, k)."""
    if neighbours is None or s == 0 or len(neighbours[0]) == 0:
        return own
    a, b = neighbours
    out = own.copy()
    np.add.at(out, a, s * own[b])
    return out


def _check_neighbours(
    neighbours: tuple[npt.ArrayLike, npt.ArrayLike] | None, zone_count: int
) -> tuple[IntArray, IntArray] | None:
    if neighbours is None:
        return None
    a = np.asarray(neighbours[0], dtype=np.intp)
    b = np.asarray(neighbours[1], dtype=np.intp)
    if a.shape != b.shape or (
        a.size and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= zone_count)
    ):
        raise InvalidField(
            "neighbours", f"give two equal-length arrays of zones 0..{zone_count - 1}"
        )
    return a, b


def zone_intensity(
    inputs: RiskInputs,
    weights: FloatArray,
    *,
    zone_count: int,
    now_days: float,
    config: RiskConfig,
) -> FloatArray:
    """Decayed sum of `weights` per zone at `now_days` (own incidents only, no spill-over)."""
    k = decay(now_days - inputs.t_days, config) * weights
    return _sum_by_zone(inputs.pair_zone, k[inputs.pair_incident], zone_count)


def _sum_by_zone(zones: IntArray, values: FloatArray, zone_count: int) -> FloatArray:
    return np.bincount(zones, weights=values, minlength=zone_count).astype(np.float64)


def score_zones(
    inputs: RiskInputs,
    *,
    zone_count: int,
    zone_area_km2: npt.ArrayLike,
    now_days: float,
    config: RiskConfig | None = None,
    previous_levels: npt.ArrayLike | None = None,
    neighbours: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    top_contributors: int = 5,
) -> list[ZoneRisk]:
    """Risk of every zone at `now_days`, from incidents that occurred at or before it.

    `neighbours` is (zone_a, zone_b) pairs listing each adjacency in both directions (see
    `zone_neighbours`); a share `config.spillover` of each neighbour's intensity is added.
    """
    cfg = config or RiskConfig()
    area = np.asarray(zone_area_km2, dtype=np.float64)
    if area.shape != (zone_count,):
        raise InvalidField("zone_area_km2", f"give one area per zone ({zone_count} values)")
    if inputs.pair_zone.size and inputs.pair_zone.max() >= zone_count:
        raise InvalidField("pair_zone", f"zone positions must be in 0..{zone_count - 1}")
    if top_contributors < 0:
        raise InvalidField("top_contributors", "give 0 or more")
    nb = _check_neighbours(neighbours, zone_count)
    exposure = exposure_factor(area, cfg)
    per_period = cfg.forecast_days / cfg.kernel_mass_days()

    age = now_days - inputs.t_days
    kern = decay(age, cfg)
    conf_w = confidence_weights(inputs, cfg)
    risk_w = _type_severity_weights(inputs, cfg) * conf_w
    live_pairs = np.flatnonzero(kern[inputs.pair_incident] > 0)
    pi = inputs.pair_incident[live_pairs]
    pz = inputs.pair_zone[live_pairs]

    sub = SUB_SCORES
    sub_idx = _SUB_SCORE_OF_TYPE[inputs.type_index[pi]]
    weighted_contrib = (risk_w * kern)[pi] * per_period  # weighted units before exposure
    weighted_sub = _spill(
        _by_zone_and_sub(pz, sub_idx, weighted_contrib, zone_count), nb, cfg.spillover
    )
    weighted = (weighted_sub * exposure[:, None]).sum(axis=1)
    count_contrib = (conf_w * kern)[pi] * per_period  # expected incidents
    count_sub = _spill(_by_zone_and_sub(pz, sub_idx, count_contrib, zone_count), nb, cfg.spillover)
    expected = _spill(_sum_by_zone(pz, count_contrib, zone_count), nb, cfg.spillover)
    floored = np.zeros(zone_count, dtype=bool)
    if cfg.level_basis == "forecast":
        # Every incident counts as one expected incident (confidence-weighted); no area scaling.
        sub_scores, contrib, scale = count_sub, count_contrib, np.ones(zone_count)
        scores = expected.copy()
        if cfg.serious_floor_days > 0:
            serious = (
                (inputs.severity >= cfg.serious_severity)
                & (conf_w > 0)
                & (age >= 0)
                & (age < min(cfg.serious_floor_days, cfg.window_days))
            )
            hit = _sum_by_zone(
                inputs.pair_zone, serious[inputs.pair_incident].astype(float), zone_count
            )
            floored = (hit > 0) & (scores < cfg.thresholds[0])
            scores[floored] = cfg.thresholds[0]
    else:
        sub_scores, contrib, scale = weighted_sub * exposure[:, None], weighted_contrib, exposure
        scores = weighted
    levels = levels_for(scores, previous_levels, cfg)
    trends = _trends(inputs, risk_w, age, zone_count, cfg)
    contributors = _top_contributors(
        inputs, pi, pz, contrib, scale, nb, cfg.spillover, zone_count, top_contributors
    )
    return [
        ZoneRisk(
            zone_index=z,
            score=float(scores[z]),
            level=int(levels[z]),
            sub_scores={name: float(sub_scores[z, j]) for j, name in enumerate(sub)},
            trend=trends[z],
            expected_incidents=float(expected[z]),
            contributors=contributors[z],
            weighted_score=float(weighted[z]),
            exposure=float(exposure[z]),
            serious_floor=bool(floored[z]),
        )
        for z in range(zone_count)
    ]


def _by_zone_and_sub(
    pz: IntArray, sub_idx: IntArray, values: FloatArray, zone_count: int
) -> FloatArray:
    n = len(SUB_SCORES)
    return _sum_by_zone(pz * n + sub_idx, values, zone_count * n).reshape(zone_count, n)


def _trends(
    inputs: RiskInputs, risk_w: FloatArray, age: FloatArray, zone_count: int, cfg: RiskConfig
) -> list[str]:
    """Last `trend_days` against the average per `trend_days` over the period just before."""
    # One pass: period 0 = recent, 1 = the baseline before it, 2 = neither.
    period = np.full(age.shape, 2, dtype=np.intp)
    period[(age >= cfg.trend_days) & (age < cfg.trend_days + cfg.trend_baseline_days)] = 1
    period[(age >= 0) & (age < cfg.trend_days)] = 0
    pi, pz = inputs.pair_incident, inputs.pair_zone
    sums = _sum_by_zone(pz * 3 + period[pi], risk_w[pi], zone_count * 3).reshape(zone_count, 3)
    recent = sums[:, 0]
    before = sums[:, 1] * (cfg.trend_days / cfg.trend_baseline_days)
    rising = (recent >= cfg.trend_ratio * before) & (recent - before >= cfg.trend_min_change)
    falling = (before >= cfg.trend_ratio * recent) & (before - recent >= cfg.trend_min_change)
    return [
        "rising" if r else "falling" if f else "stable"
        for r, f in zip(rising.tolist(), falling.tolist(), strict=True)
    ]


def _top_contributors(
    inputs: RiskInputs,
    pi: IntArray,
    pz: IntArray,
    contrib: FloatArray,
    exposure: FloatArray,
    nb: tuple[IntArray, IntArray] | None,
    spillover: float,
    zone_count: int,
    n: int,
) -> list[list[tuple[Any, float]]]:
    """Per zone, the n incidents adding most to its score, own or spilled over from neighbours.

    A zone's top n is among its own top n and each neighbour's top n (scaled by the spill-over
    share), so one grouping of the live pairs by zone is enough.
    """
    empty: list[list[tuple[Any, float]]] = [[] for _ in range(zone_count)]
    if n == 0 or pi.size == 0:
        return empty
    # Group the pairs by zone with a stable sort on small unsigned ints (numpy uses a radix
    # sort for 16-bit keys: ~10x faster than sorting floats), then keep each zone's top n.
    key = pz.astype(np.uint16) if zone_count <= np.iinfo(np.uint16).max else pz
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(pz[order], np.arange(zone_count + 1), side="left")
    own: list[list[tuple[int, float]]] = []
    for z in range(zone_count):
        rows = order[bounds[z] : bounds[z + 1]]
        values = contrib[rows]
        if len(rows) > n:
            keep = np.argpartition(-values, n - 1)[:n]
            rows, values = rows[keep], values[keep]
        best = np.argsort(-values, kind="stable")
        own.append(list(zip(pi[rows[best]].tolist(), values[best].tolist(), strict=True)))
    around: list[list[int]] = [[] for _ in range(zone_count)]
    if nb is not None and spillover > 0:
        for a, b in zip(nb[0].tolist(), nb[1].tolist(), strict=True):
            around[a].append(b)
    ids = inputs.incident_ids
    out: list[list[tuple[Any, float]]] = []
    for z in range(zone_count):
        totals: dict[int, float] = {}
        for i, c in own[z]:
            totals[i] = totals.get(i, 0.0) + c
        for b in around[z]:
            for i, c in own[b]:
                totals[i] = totals.get(i, 0.0) + spillover * c
        ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        out.append([(_plain(ids[i]), c * float(exposure[z])) for i, c in ranked if c > 0])
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def zone_neighbours(
    geometries: Sequence[shapely.Geometry], *, within_km: float = 5.0
) -> tuple[IntArray, IntArray]:
    """Pairs (a, b), both directions, of zones that touch or lie within `within_km` of each other.

    The distance is converted to degrees with the length of a degree of latitude (111 km), which
    is close enough at Sahel latitudes for deciding who is a neighbour.
    """
    geoms = np.asarray(list(geometries), dtype=object)
    if geoms.size == 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="dwithin", distance=within_km / 111.0)
    keep = a != b
    a, b = a[keep], b[keep]
    order = np.lexsort((b, a))
    return a[order].astype(np.intp), b[order].astype(np.intp)
