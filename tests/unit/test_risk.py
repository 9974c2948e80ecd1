"""Rolling risk per zone: hand-computed decay, weights, normalisation, levels, trend, causes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import shapely

from incidents.errors import InvalidField
from incidents.risk.model import (
    LEVEL_LABELS,
    RiskConfig,
    RiskInputs,
    ZoneRisk,
    decay,
    exposure_factor,
    incident_weights,
    level_for,
    levels_for,
    score_zones,
    zone_neighbours,
)

NOW = 20_000.0  # days since 1970-01-01 (2024-10-04)
# One half-life, spill-over off, reference area 10,000 km²: numbers a reader can redo by hand.
# These tests check the weighted score (type x severity x confidence, per exposure), so the level
# is cut from it here; the forecast basis (the default) is tested in test_risk_level_model.py.
SIMPLE = RiskConfig(
    half_lives_days=(30.0,),
    half_life_shares=(1.0,),
    spillover=0.0,
    thresholds=(1.0, 2.0, 4.0, 8.0),
    hysteresis=0.2,
    level_basis="weighted",
)
PER_PERIOD = 30.0 / (30.0 / math.log(2) * (1 - 2 ** (-730 / 30)))  # 30 days / kernel mass
TOWN_KM2 = 500.0
CERCLE_KM2 = 10_000.0
DESERT_KM2 = 40_000.0

square_gao = shapely.box(0.0, 16.0, 1.0, 17.0)
square_east_of_gao = shapely.box(1.0, 16.0, 2.0, 17.0)  # shares an edge with square_gao
square_far_away = shapely.box(5.0, 16.0, 6.0, 17.0)


def make_inputs(rows: list[dict[str, Any]]) -> RiskInputs:
    """Incidents from dicts; defaults: armed attack, severity 4, A1, reported, zone 0."""
    full = [
        {
            "id": f"i{n}",
            "age": 0.0,
            "type": "armed_attack",
            "severity": 4,
            "reliability": "A",
            "credibility": 1,
            "status": "reported",
            "zones": (0,),
            **row,
        }
        for n, row in enumerate(rows)
    ]
    pairs = [(n, z) for n, r in enumerate(full) for z in r["zones"]]
    return RiskInputs(
        incident_ids=np.array([r["id"] for r in full], dtype=object),
        t_days=np.array([NOW - r["age"] for r in full], dtype=float),
        type_codes=np.array([r["type"] for r in full], dtype=str),
        severity=np.array([r["severity"] for r in full], dtype=int),
        reliability=np.array([r["reliability"] for r in full], dtype=str),
        credibility=np.array([r["credibility"] for r in full], dtype=int),
        status=np.array([r["status"] for r in full], dtype=str),
        pair_incident=np.array([p[0] for p in pairs], dtype=np.intp),
        pair_zone=np.array([p[1] for p in pairs], dtype=np.intp),
    )


def score(
    rows: list[dict[str, Any]],
    *,
    areas: tuple[float, ...] = (CERCLE_KM2,),
    config: RiskConfig = SIMPLE,
    **kwargs: Any,
) -> list[ZoneRisk]:
    return score_zones(
        make_inputs(rows),
        zone_count=len(areas),
        zone_area_km2=np.array(areas),
        now_days=NOW,
        config=config,
        **kwargs,
    )


def test_an_armed_attack_today_scores_its_weight_times_the_period_factor() -> None:
    # armed_attack weight 2.5 x severity 4 factor 1.5 x A (1.0) x 1 (1.0) x reported (1.0)
    (zone,) = score([{}])
    assert zone.score == pytest.approx(2.5 * 1.5 * PER_PERIOD)
    assert zone.sub_scores["violence"] == pytest.approx(zone.score)


def test_an_incident_one_half_life_old_counts_half() -> None:
    (today,) = score([{"age": 0.0}])
    (month_old,) = score([{"age": 30.0}])
    assert month_old.score == pytest.approx(today.score / 2)


@pytest.mark.parametrize(
    ("age", "weight"),
    [(0.0, 1.0), (30.0, 0.5), (60.0, 0.25), (729.9, 2 ** (-729.9 / 30)), (730.0, 0.0), (-1.0, 0.0)],
)
def test_decay_halves_per_half_life_and_stops_at_the_window(age: float, weight: float) -> None:
    assert decay(np.array([age]), SIMPLE)[0] == pytest.approx(weight)


def test_two_half_lives_mix_by_their_shares() -> None:
    mixed = RiskConfig(half_lives_days=(10.0, 100.0), half_life_shares=(0.5, 0.5))
    assert decay(np.array([10.0]), mixed)[0] == pytest.approx(0.5 * 0.5 + 0.5 * 2**-0.1)


def test_only_the_proportions_of_the_shares_matter() -> None:
    halves = RiskConfig(half_lives_days=(10.0, 100.0), half_life_shares=(0.5, 0.5))
    ones = RiskConfig(half_lives_days=(10.0, 100.0), half_life_shares=(1.0, 1.0))
    rows = [{"age": 3.0}, {"age": 40.0}]
    assert score(rows, config=ones)[0].score == pytest.approx(score(rows, config=halves)[0].score)


def test_an_incident_not_yet_happened_is_ignored() -> None:
    (zone,) = score([{"age": -0.5}])
    assert zone.score == 0.0
    assert zone.level == 1


def test_a_retracted_incident_contributes_nothing() -> None:
    (alone,) = score([{"id": "kept"}])
    (with_retracted,) = score(
        [{"id": "kept"}, {"id": "gone", "status": "retracted", "severity": 5}]
    )
    assert with_retracted.score == pytest.approx(alone.score)
    assert [i for i, _ in with_retracted.contributors] == ["kept"]
    assert with_retracted.expected_incidents == pytest.approx(alone.expected_incidents)


def test_status_orders_verified_reported_disputed_retracted() -> None:
    by_status = {
        s: score([{"status": s}])[0].score
        for s in ("verified", "reported", "disputed", "retracted")
    }
    assert by_status["verified"] == pytest.approx(1.2 * by_status["reported"])
    assert by_status["disputed"] == pytest.approx(0.3 * by_status["reported"])
    assert by_status["retracted"] == 0.0


@pytest.mark.parametrize(
    ("reliability", "credibility", "factor"),
    [("A", 1, 1.0), ("B", 2, 0.81), ("F", 6, 0.36), ("E", 5, 0.025)],
)
def test_reliability_and_credibility_scale_the_weight(
    reliability: str, credibility: int, factor: float
) -> None:
    w = incident_weights(
        make_inputs([{"reliability": reliability, "credibility": credibility}]), SIMPLE
    )
    assert w[0] == pytest.approx(2.5 * 1.5 * factor)


def test_same_incidents_weigh_less_in_a_zone_four_times_the_reference_area() -> None:
    rows = [{"zones": (0, 1, 2)}, {"age": 10.0, "zones": (0, 1, 2)}]
    town, cercle, desert = score(rows, areas=(TOWN_KM2, CERCLE_KM2, DESERT_KM2))
    assert town.score == pytest.approx(cercle.score)  # small zones are not inflated
    assert desert.score == pytest.approx(cercle.score / 2)  # sqrt(10,000 / 40,000)
    assert desert.expected_incidents == pytest.approx(cercle.expected_incidents)


def test_exposure_factor_refuses_a_zone_without_area() -> None:
    with pytest.raises(InvalidField) as err:
        exposure_factor(np.array([100.0, 0.0]), SIMPLE)
    assert err.value.field == "zone_area_km2"


@pytest.mark.parametrize(
    ("value", "level"), [(0.0, 1), (0.99, 1), (1.0, 2), (3.9, 3), (4.0, 4), (8.0, 5), (1e9, 5)]
)
def test_levels_start_at_their_threshold(value: float, level: int) -> None:
    assert level_for(value, None, SIMPLE) == level


def test_a_score_oscillating_around_a_threshold_does_not_flap() -> None:
    levels: list[int] = []
    previous = None
    for value in (1.9, 2.1, 1.9, 2.1, 1.7, 2.05, 1.61):
        previous = level_for(value, previous, SIMPLE)
        levels.append(previous)
    assert levels == [2, 3, 3, 3, 3, 3, 3]


def test_a_level_comes_down_once_the_score_is_clearly_below_the_threshold() -> None:
    assert level_for(1.59, 3, SIMPLE) == 2  # below 2 x (1 - 0.2)
    assert level_for(0.5, 4, SIMPLE) == 1  # a collapse drops several levels at once
    assert level_for(3.5, 4, SIMPLE) == 4  # 3.5 >= 4 x 0.8: stays high


def test_levels_for_many_zones_match_level_for_each() -> None:
    scores = np.array([0.1, 1.7, 3.3, 9.0])
    previous = np.array([0, 3, 4, 2])
    expected = [level_for(s, int(p) or None, SIMPLE) for s, p in zip(scores, previous, strict=True)]
    assert levels_for(scores, previous, SIMPLE).tolist() == expected == [1, 3, 4, 5]


def test_level_labels_are_french_then_english() -> None:
    assert LEVEL_LABELS[3] == ("notable", "substantial")
    (zone,) = score([{}] * 3)
    assert zone.level_label("fr") == LEVEL_LABELS[zone.level][0]
    assert zone.level_label("en") == LEVEL_LABELS[zone.level][1]


def test_sub_scores_follow_the_taxonomy_and_add_up() -> None:
    (zone,) = score(
        [
            {"type": "armed_attack"},
            {"type": "robbery"},
            {"type": "illegal_checkpoint"},
            {"type": "demonstration"},
        ]
    )
    assert all(v > 0 for v in zone.sub_scores.values())
    assert sum(zone.sub_scores.values()) == pytest.approx(zone.score)
    # robbery weight 1.5 x severity 4 factor 1.5
    assert zone.sub_scores["crime"] == pytest.approx(1.5 * 1.5 * PER_PERIOD)


@pytest.mark.parametrize(
    ("ages", "trend"),
    [
        ([1, 2, 3, 4], "rising"),  # 4 now against 0 before
        ([40, 50, 60, 70, 80, 90, 100, 110, 115], "falling"),  # 0 now against 3 per 30 days
        ([5, 40, 70, 100], "stable"),  # 1 now against 1 per 30 days
        ([5], "stable"),  # one riot is not a trend (the change must reach 2.0)
        ([5, 6], "rising"),
    ],
)
def test_trend_compares_the_last_30_days_with_the_90_before(ages: list[int], trend: str) -> None:
    rows = [{"type": "riot", "severity": 3, "age": float(a)} for a in ages]  # weight 1.0 each
    (zone,) = score(rows)
    assert zone.trend == trend


def test_contributors_name_the_incidents_that_weigh_most() -> None:
    (zone,) = score(
        [
            {"id": "old", "age": 60.0},
            {"id": "fresh", "age": 1.0},
            {"id": "minor", "type": "theft", "severity": 1},
        ],
        top_contributors=2,
    )
    assert [i for i, _ in zone.contributors] == ["fresh", "old"]
    fresh = 2.5 * 1.5 * 2 ** (-1 / 30) * PER_PERIOD
    assert zone.contributors[0][1] == pytest.approx(fresh)


def test_spill_over_adds_a_share_of_the_neighbours_and_names_their_incidents() -> None:
    spill = RiskConfig(
        half_lives_days=(30.0,),
        half_life_shares=(1.0,),
        spillover=0.1,
        thresholds=(1.0, 2.0, 4.0, 8.0),
        level_basis="weighted",
    )
    neighbours = (np.array([0, 1]), np.array([1, 0]))
    gao, east, far = score(
        [{"id": "attack_in_gao", "zones": (0,)}],
        areas=(CERCLE_KM2,) * 3,
        config=spill,
        neighbours=neighbours,
    )
    assert east.score == pytest.approx(0.1 * gao.score)
    assert far.score == 0.0
    assert east.contributors == [("attack_in_gao", pytest.approx(0.1 * gao.score))]


def test_an_incident_in_two_zones_counts_in_both() -> None:
    a, b = score([{"zones": (0, 1)}], areas=(CERCLE_KM2, CERCLE_KM2))
    assert a.score > 0
    assert a.score == pytest.approx(b.score)


def test_expected_incidents_of_a_steady_stream_is_its_rate() -> None:
    rows = [{"type": "theft", "age": float(d) + 0.5} for d in range(0, 730, 2)]  # one per 2 days
    (zone,) = score(rows)
    assert zone.expected_incidents == pytest.approx(15.0, rel=0.02)


def test_previous_levels_keep_a_zone_up_inside_the_hysteresis_band() -> None:
    rows = [{"type": "riot", "severity": 3}] * 2  # 2 x 1.0 x PER_PERIOD = 1.39
    (fresh,) = score(rows)
    (held,) = score(rows, previous_levels=np.array([3]))
    assert (fresh.level, held.level) == (2, 2)  # 1.39 < 2 x 0.8: comes down
    (kept,) = score(rows * 2, previous_levels=np.array([3]))  # 2.77 >= 2: level 3 anyway
    assert kept.level == 3


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"type": "ambuscade"}, "type_codes"),
        ({"severity": 6}, "severity"),
        ({"credibility": 0}, "credibility"),
        ({"reliability": "G"}, "reliability"),
        ({"status": "confirmed"}, "status"),
    ],
)
def test_bad_incident_values_name_their_field(override: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as err:
        make_inputs([override])
    assert err.value.field == field


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(InvalidField) as err:
        RiskInputs(
            incident_ids=np.array(["a"]),
            t_days=np.array([1.0, 2.0]),
            type_codes=np.array(["riot"]),
            severity=np.array([3]),
            reliability=np.array(["A"]),
            credibility=np.array([1]),
            status=np.array(["reported"]),
            pair_incident=np.array([0]),
            pair_zone=np.array([0]),
        )
    assert err.value.field == "incident_ids"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"thresholds": (1.0, 3.0, 2.0, 8.0)}, "thresholds"),
        ({"half_lives_days": (30.0, 0.0), "half_life_shares": (0.5, 0.5)}, "half_lives_days"),
        ({"half_lives_days": (30.0,), "half_life_shares": (0.5, 0.5)}, "half_life_shares"),
        ({"hysteresis": 1.5}, "hysteresis"),
        ({"type_weights": {"dragon_attack": 2.0}}, "type_weights"),
        ({"status_factors": {"reported": 1.0}}, "status_factors"),
    ],
)
def test_bad_configuration_names_its_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as err:
        RiskConfig(**kwargs)
    assert err.value.field == field


def test_a_type_weight_override_changes_the_score() -> None:
    heavy = RiskConfig(
        half_lives_days=(30.0,),
        half_life_shares=(1.0,),
        spillover=0.0,
        type_weights={"armed_attack": 5.0},
        level_basis="weighted",  # type weights shape the weighted score, not the forecast
    )
    (base,) = score([{}])
    (weighted,) = score([{}], config=heavy)
    assert weighted.score == pytest.approx(2 * base.score)


def test_no_incident_at_all_gives_level_one_everywhere() -> None:
    zones = score_zones(
        make_inputs([]), zone_count=2, zone_area_km2=np.array([1.0, 2.0]), now_days=NOW
    )
    assert [(z.score, z.level, z.trend, z.contributors) for z in zones] == [
        (0.0, 1, "stable", [])
    ] * 2


def test_zone_neighbours_pairs_touching_zones_both_ways() -> None:
    a, b = zone_neighbours([square_gao, square_east_of_gao, square_far_away])
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 1), (1, 0)]


def test_zone_neighbours_reach_across_a_small_gap() -> None:
    gap_3km = shapely.box(1.027, 16.0, 2.0, 17.0)
    assert len(zone_neighbours([square_gao, gap_3km], within_km=5.0)[0]) == 2
    assert len(zone_neighbours([square_gao, gap_3km], within_km=1.0)[0]) == 0
