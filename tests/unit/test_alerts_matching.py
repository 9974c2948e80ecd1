"""Subscription matching: spatial index plus type, severity, status and pause filters."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import shapely

from alerts.core.matching import AlertedState, SubscriptionIndex, should_realert
from alerts.core.subscription import PointArea, RouteArea, Subscription, ZonesArea, area_from_json
from incidents.records.model import Impact
from incidents.taxonomy.catalogue import TYPES

point_near_diema = shapely.Point(-9.15, 14.58)
point_in_gao = shapely.Point(-0.04, 16.27)
point_in_kidal = shapely.Point(1.41, 18.44)
point_roadside_fana = shapely.Point(-6.95, 12.80)
point_in_koutiala = shapely.Point(-5.46, 12.39)
road_bamako_segou = {
    "type": "LineString",
    "coordinates": [[-8.0, 12.64], [-6.95, 12.77], [-6.27, 13.45]],
}


def _sub(area, **kwargs):
    return Subscription(
        id=uuid.uuid4(),
        owner_user_id=uuid.uuid4(),
        owner_org_id=None,
        channels=["json://127.0.0.1:8080/hook"],
        area=area,
        **kwargs,
    )


def _index(*subs, zones=None):
    return SubscriptionIndex((s, s.area.to_geometry(zones or {})) for s in subs)


@pytest.fixture(name="diema")
def fx_diema():
    return _sub(PointArea(lat=14.54, lon=-9.19, radius_km=30))


def test_point_radius_around_diema_matches_near_diema_not_gao(diema):
    index = _index(diema)
    assert index.match_incident(point_near_diema, "armed_attack", 3, "reported") == [diema.id]
    assert index.match_incident(point_in_gao, "armed_attack", 3, "reported") == []


def test_route_corridor_matches_the_roadside_not_a_town_60_km_away():
    route = _sub(area_from_json({"route": road_bamako_segou, "corridor_km": 10}))
    index = _index(route)
    assert index.match_incident(point_roadside_fana, "ied", 4, "reported") == [route.id]
    assert index.match_incident(point_in_koutiala, "ied", 4, "reported") == []


def test_incident_polygon_touching_the_area_matches(diema):
    cercle_edge = shapely.box(-9.0, 14.5, -8.5, 15.0)  # overlaps the eastern rim of the circle
    assert _index(diema).match_incident(cercle_edge, "ambush", 3, "reported") == [diema.id]


@pytest.mark.parametrize(
    ("filters", "incident", "matches"),
    [
        ({"types": frozenset({"ied"})}, ("ied", 3, "reported"), True),
        ({"types": frozenset({"ied"})}, ("armed_attack", 3, "reported"), False),
        ({"types": frozenset({"ied"})}, ("not_a_type", 3, "reported"), False),
        ({}, ("not_a_type", 3, "reported"), True),
        ({"min_severity": 4}, ("ied", 3, "reported"), False),
        ({"min_severity": 4}, ("ied", 4, "reported"), True),
        ({}, ("ied", 3, "disputed"), False),
        ({}, ("ied", 3, "retracted"), False),
        ({"statuses": frozenset({"verified"})}, ("ied", 3, "reported"), False),
        ({"statuses": frozenset({"verified"})}, ("ied", 3, "verified"), True),
        ({"paused": True}, ("ied", 5, "verified"), False),
    ],
)
def test_filters(filters, incident, matches):
    sub = _sub(PointArea(lat=14.54, lon=-9.19, radius_km=30), **filters)
    result = _index(sub).match_incident(point_near_diema, *incident)
    assert result == ([sub.id] if matches else [])


def test_results_keep_the_order_subscriptions_were_given():
    subs = [_sub(PointArea(lat=14.54, lon=-9.19, radius_km=r)) for r in (50, 10, 30)]
    index = _index(*subs)
    assert index.match_incident(point_near_diema, "ied", 3, "reported") == [s.id for s in subs]
    assert index.match_area(shapely.box(-10, 14, -9, 15)) == [s.id for s in subs]


def test_index_built_from_subscriptions_computes_their_areas(diema):
    west = _sub(ZonesArea(("west",)))
    index = SubscriptionIndex.from_subscriptions([diema, west], {"west": shapely.box(0, 0, 1, 1)})
    assert index.match_incident(point_near_diema, "ied", 3, "reported") == [diema.id]
    assert index.match_incident(shapely.Point(0.5, 0.5), "ied", 3, "reported") == [west.id]


def test_empty_index_matches_nothing():
    index = SubscriptionIndex([])
    assert len(index) == 0
    assert index.match_incident(point_near_diema, "ied", 3, "reported") == []
    assert index.match_incidents([point_near_diema], ["ied"], [3], ["reported"]) == [[]]


def _random_subscriptions(rng, n):
    types = sorted(TYPES)
    subs, geoms = [], []
    lons, lats = rng.uniform(-12, 4, n), rng.uniform(10, 25, n)
    radii = rng.uniform(5, 150, n)
    circles = shapely.buffer(shapely.points(lons, lats), radii / 111.0, quad_segs=4)
    for lon, lat, radius, circle in zip(lons, lats, radii, circles, strict=True):
        k = rng.integers(0, 3)
        sub = _sub(
            PointArea(lat=float(lat), lon=float(lon), radius_km=float(radius)),
            types=frozenset(rng.choice(types, size=k, replace=False)) if k else frozenset(),
            min_severity=int(rng.integers(1, 6)),
            statuses=frozenset(
                rng.choice(
                    ["reported", "verified", "disputed"], size=rng.integers(1, 3), replace=False
                )
            ),
            paused=bool(rng.random() < 0.1),
        )
        subs.append(sub)
        geoms.append(circle)
    return subs, geoms


def _brute_force(subs, geoms, point, type_code, severity, status):
    return [
        s.id
        for s, g in zip(subs, geoms, strict=True)
        if g.intersects(point)
        and not s.paused
        and (not s.types or type_code in s.types)
        and s.min_severity <= severity
        and status in s.statuses
    ]


def test_10000_subscriptions_match_like_a_brute_force_loop():
    rng = np.random.default_rng(42)
    subs, geoms = _random_subscriptions(rng, 10_000)
    index = SubscriptionIndex(zip(subs, geoms, strict=True))
    types = sorted(TYPES)
    incidents = [
        (
            shapely.Point(rng.uniform(-12, 4), rng.uniform(10, 25)),
            str(rng.choice(types)),
            int(rng.integers(1, 6)),
            str(rng.choice(["reported", "verified", "disputed"])),
        )
        for _ in range(40)
    ]
    expected = [_brute_force(subs, geoms, *incident) for incident in incidents]
    assert sum(map(len, expected)) > 100  # the sample really exercises the filters

    one_by_one = [index.match_incident(*incident) for incident in incidents]
    batch = index.match_incidents(*(list(col) for col in zip(*incidents, strict=True)))
    assert one_by_one == expected
    assert batch == expected


def test_batch_rejects_columns_of_different_lengths(diema):
    with pytest.raises(ValueError, match="one type"):
        _index(diema).match_incidents([point_near_diema], ["ied", "ied"], [3], ["reported"])


# --- zone level changes ------------------------------------------------------------------------

cercle_west = shapely.box(0, 0, 1, 1)
cercle_east = shapely.box(1, 0, 2, 1)  # shares a border with cercle_west


@pytest.mark.parametrize(
    ("min_level", "old", "new", "told"),
    [
        (4, 3, 4, True),  # rose to the threshold
        (4, 2, 5, True),  # rose past it
        (4, 4, 5, True),  # rose further above it
        (4, 4, 3, True),  # fell below it
        (4, 5, 4, True),  # fell but is still at the threshold
        (4, 2, 3, False),  # moved below the threshold
        (4, 3, 2, False),
        (4, 4, 4, False),  # no change
    ],
)
def test_level_change_respects_min_level(min_level, old, new, told):
    sub = _sub(ZonesArea(("west",)), min_level=min_level)
    index = _index(sub, zones={"west": cercle_west})
    result = index.match_zone_level_change("west", cercle_west, new, old)
    assert result == ([sub.id] if told else [])


def test_level_change_in_a_neighbouring_zone_is_not_sent_across_the_border():
    west = _sub(ZonesArea(("west",)), min_level=3)
    index = _index(west, zones={"west": cercle_west})
    assert index.match_zone_level_change("east", cercle_east, 5, 2) == []


def test_level_change_reaches_point_areas_inside_the_zone_and_skips_paused():
    inside = _sub(PointArea(lat=0.5, lon=0.5, radius_km=10), min_level=3)
    paused = _sub(PointArea(lat=0.5, lon=0.5, radius_km=10), min_level=3, paused=True)
    elsewhere = _sub(PointArea(lat=0.5, lon=5.5, radius_km=10), min_level=3)
    index = _index(inside, paused, elsewhere)
    assert index.match_zone_level_change("west", cercle_west, 4, 2) == [inside.id]


def test_broadcast_area_reaches_active_subscriptions_only():
    road = _sub(RouteArea(road_bamako_segou, shapely.LineString(road_bamako_segou["coordinates"])))
    kidal = _sub(PointArea(lat=18.44, lon=1.41, radius_km=20))
    asleep = _sub(PointArea(lat=18.44, lon=1.41, radius_km=20), paused=True)
    index = _index(road, kidal, asleep)
    assert index.match_area(point_in_kidal.buffer(0.5)) == [kidal.id]


# --- repeated alerts ---------------------------------------------------------------------------


class _Incident:
    def __init__(self, severity=3, status="reported", impact=None):
        self.severity = severity
        self.status = status
        self.impact = impact or Impact()


two_dead = Impact(killed=2, injured=1)


@pytest.mark.parametrize(
    ("now", "again"),
    [
        (_Incident(impact=two_dead), False),
        (_Incident(severity=2, impact=two_dead), False),
        (_Incident(severity=4, impact=two_dead), True),
        (_Incident(status="verified", impact=two_dead), True),
        (_Incident(status="disputed", impact=two_dead), False),
        (_Incident(severity=5, status="retracted", impact=two_dead), False),
        (_Incident(impact=Impact(killed=3, injured=1)), True),
        (_Incident(impact=Impact(killed=2, injured=1, abducted=1)), True),
        (_Incident(impact=Impact(killed=2)), False),  # a correction downwards
        (_Incident(impact=Impact(killed=2, injured=1, aid_workers_affected=True)), True),
    ],
)
def test_should_realert_only_on_escalation(now, again):
    before = AlertedState(severity=3, status="reported", impact=two_dead)
    assert should_realert(before, now) is again


def test_first_alert_is_always_sent():
    assert should_realert(None, _Incident())


def test_verified_incident_verified_again_is_not_resent():
    before = AlertedState.of(_Incident(status="verified"))
    assert not should_realert(before, _Incident(status="verified"))
