"""Subscriptions: area validation, area geometries, quiet hours and whole-subscription parsing."""

from __future__ import annotations

import uuid
from datetime import time

import pytest
import shapely

from alerts.core.subscription import (
    DEFAULT_STATUSES,
    GeometryArea,
    PointArea,
    QuietHours,
    RouteArea,
    SubscriptionError,
    ZonesArea,
    area_from_json,
    area_geometries,
    parse_quiet_hours,
    subscription_from_json,
)
from geo.measure import buffer_km, geodesic_distance_km
from incidents.taxonomy.catalogue import TYPES, expand_codes

DIEMA = {"lat": 14.54, "lon": -9.19}
square_near_diema = {
    "type": "Polygon",
    "coordinates": [[[-9.3, 14.4], [-9.0, 14.4], [-9.0, 14.7], [-9.3, 14.7], [-9.3, 14.4]]],
}
bowtie_polygon = {
    "type": "Polygon",
    "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
}
road_bamako_segou = {
    "type": "LineString",
    "coordinates": [[-8.0, 12.64], [-6.95, 12.77], [-6.27, 13.45]],
}


def test_point_area_is_parsed_with_its_radius():
    area = area_from_json({"kind": "point", **DIEMA, "radius_km": 30})
    assert area == PointArea(lat=14.54, lon=-9.19, radius_km=30.0)


def test_kind_is_inferred_from_the_keys_given():
    assert isinstance(area_from_json({"zones": ["ML0105"]}), ZonesArea)
    assert isinstance(area_from_json({"geometry": square_near_diema}), GeometryArea)
    assert isinstance(area_from_json({**DIEMA, "radius_km": 5}), PointArea)
    assert isinstance(area_from_json({"route": road_bamako_segou}), RouteArea)


def test_route_corridor_defaults_to_10_km():
    area = area_from_json({"route": road_bamako_segou})
    assert isinstance(area, RouteArea)
    assert area.corridor_km == 10.0


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (None, "area"),
        ({}, "area"),
        ([], "area"),
        ({"kind": "circle"}, "area.kind"),
        ({"zones": ["ML0105"], **DIEMA, "radius_km": 5}, "area.kind"),
        ({"zones": []}, "area.zones"),
        ({"zones": ["ML0105", ""]}, "area.zones[1]"),
        ({"zones": "ML0105"}, "area.zones"),
        ({"kind": "point", **DIEMA}, "area.radius_km"),
        ({**DIEMA, "radius_km": 0}, "area.radius_km"),
        ({**DIEMA, "radius_km": -3}, "area.radius_km"),
        ({**DIEMA, "radius_km": 500.5}, "area.radius_km"),
        ({**DIEMA, "radius_km": "30"}, "area.radius_km"),
        ({**DIEMA, "radius_km": float("nan")}, "area.radius_km"),
        ({"lat": 95, "lon": -9.19, "radius_km": 5}, "area.lat"),
        ({"lat": 14.5, "lon": -190, "radius_km": 5}, "area.lon"),
        ({"lat": True, "lon": -9.19, "radius_km": 5}, "area.lat"),
        ({"route": road_bamako_segou, "corridor_km": 0}, "area.corridor_km"),
        ({"route": road_bamako_segou, "corridor_km": 501}, "area.corridor_km"),
        ({"route": square_near_diema}, "area.route"),
        ({"geometry": road_bamako_segou}, "area.geometry"),
        ({"geometry": {"type": "Polygon", "coordinates": []}}, "area.geometry.coordinates"),
        ({"geometry": "POLYGON((0 0, 1 0, 1 1, 0 0))"}, "area.geometry"),
    ],
)
def test_invalid_areas_are_rejected_naming_the_field(obj, field):
    with pytest.raises(SubscriptionError) as info:
        area_from_json(obj)
    assert info.value.field == field


def test_radius_of_exactly_500_km_is_accepted():
    assert area_from_json({**DIEMA, "radius_km": 500}).radius_km == 500.0


def test_error_field_uses_the_callers_prefix():
    with pytest.raises(SubscriptionError) as info:
        area_from_json({**DIEMA, "radius_km": 0}, field="subscriptions[2].area")
    assert info.value.field == "subscriptions[2].area.radius_km"


def test_self_intersecting_polygon_is_rejected_with_the_reason():
    with pytest.raises(SubscriptionError, match="cross") as info:
        area_from_json({"geometry": bowtie_polygon})
    assert info.value.field == "area.geometry.coordinates"


def test_point_area_geometry_is_a_circle_of_the_radius():
    area = area_from_json({**DIEMA, "radius_km": 30})
    circle = area.to_geometry({})
    xs, ys = shapely.get_coordinates(circle.exterior).T
    distances = geodesic_distance_km(DIEMA["lon"], DIEMA["lat"], xs, ys)
    assert distances.min() > 29.0
    assert distances.max() < 30.5


def test_route_geometry_covers_the_road_and_not_far_towns():
    area = area_from_json({"route": road_bamako_segou, "corridor_km": 10})
    corridor = area.to_geometry({})
    fana_roadside = shapely.Point(-6.95, 12.80)
    koutiala = shapely.Point(-5.46, 12.39)
    assert corridor.contains(fana_roadside)
    assert not corridor.contains(koutiala)


def test_zones_area_geometry_is_the_union_of_its_zones():
    west = shapely.box(0, 0, 1, 1)
    east = shapely.box(1, 0, 2, 1)
    area = area_from_json({"zones": ["west", "east"]})
    assert area.to_geometry({"west": west, "east": east, "north": shapely.box(0, 1, 1, 2)}).equals(
        shapely.box(0, 0, 2, 1)
    )


def test_unknown_zone_id_names_its_position():
    area = area_from_json({"zones": ["west", "atlantis"]})
    with pytest.raises(SubscriptionError) as info:
        area.to_geometry({"west": shapely.box(0, 0, 1, 1)})
    assert info.value.field == "area.zones[1]"
    assert "atlantis" in info.value.message


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("22:00-06:00", time(22), time(6)),
        ("7:30-12:00", time(7, 30), time(12)),
        (" 23:15 - 05:45 ", time(23, 15), time(5, 45)),
    ],
)
def test_quiet_hours_parse(text, start, end):
    assert parse_quiet_hours(text) == QuietHours(start, end)


@pytest.mark.parametrize(
    "text", ["", "22h-6h", "22:00", "25:00-06:00", "22:60-06:00", "22:00-22:00"]
)
def test_bad_quiet_hours_are_rejected(text):
    with pytest.raises(SubscriptionError) as info:
        parse_quiet_hours(text)
    assert info.value.field == "quiet_hours"


def test_quiet_hours_error_shows_the_expected_form():
    with pytest.raises(SubscriptionError, match="HH:MM-HH:MM"):
        parse_quiet_hours("10pm to 6am")


def test_quiet_hours_print_back_as_typed():
    assert str(parse_quiet_hours("22:00-06:00")) == "22:00-06:00"


def _subscribe(**body):
    base = {"channels": ["json://127.0.0.1:8080/hook"], "area": {**DIEMA, "radius_km": 30}}
    return subscription_from_json(
        {**base, **body}, id=uuid.uuid4(), owner_user_id=uuid.uuid4(), owner_org_id=None
    )


def test_defaults_are_french_all_types_reported_and_verified():
    sub = _subscribe()
    assert sub.language == "fr"
    assert sub.types == frozenset()
    assert sub.statuses == DEFAULT_STATUSES == {"reported", "verified"}
    assert sub.quiet_hours is None
    assert not sub.paused


def test_category_codes_expand_to_their_types():
    sub = _subscribe(types=["abduction", "armed_attack"])
    assert sub.types == expand_codes(["abduction"]) | {"armed_attack"}
    assert all(code in TYPES for code in sub.types)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"types": ["armed_atack"]}, "types[0]"),
        ({"types": "armed_attack"}, "types"),
        ({"min_severity": 0}, "min_severity"),
        ({"min_severity": 6}, "min_severity"),
        ({"min_level": "4"}, "min_level"),
        ({"statuses": ["rumour"]}, "statuses[0]"),
        ({"statuses": []}, "statuses"),
        ({"language": "bm"}, "language"),
        ({"format": "pigeon"}, "format"),
        ({"quiet_hours": "tonight"}, "quiet_hours"),
        ({"paused": "yes"}, "paused"),
        ({"channels": []}, "channels"),
        ({"channels": ["json://127.0.0.1/x", 3]}, "channels[1]"),
        ({"area": None}, "area"),
    ],
)
def test_invalid_subscription_fields_are_named(body, field):
    with pytest.raises(SubscriptionError) as info:
        _subscribe(**body)
    assert info.value.field == field


def test_misspelt_type_suggests_the_right_code():
    with pytest.raises(SubscriptionError, match="armed_attack"):
        _subscribe(types=["armed_atack"])


def test_channel_validator_is_called_with_each_field_name():
    seen = []
    subscription_from_json(
        {"channels": ["a://x", "b://y"], "area": {"zones": ["z"]}},
        id=uuid.uuid4(),
        owner_user_id=uuid.uuid4(),
        owner_org_id=None,
        validate_channel=lambda url, field: seen.append((url, field)),
    )
    assert seen == [("a://x", "channels[0]"), ("b://y", "channels[1]")]


def test_subscription_json_round_trips():
    sub = _subscribe(types=["ied"], quiet_hours="22:00-06:00", language="en", format="sms")
    again = subscription_from_json(
        sub.to_json(), id=sub.id, owner_user_id=sub.owner_user_id, owner_org_id=None
    )
    assert again == sub


def test_point_circle_agrees_with_a_metric_buffer():
    area = PointArea(lat=16.27, lon=-0.04, radius_km=120)
    circle = area.to_geometry({})
    buffered = buffer_km(shapely.Point(area.lon, area.lat), area.radius_km)
    assert circle.symmetric_difference(buffered).area / buffered.area < 0.01


def test_circles_are_counter_clockwise_as_geojson_wants():
    circle = PointArea(lat=14.54, lon=-9.19, radius_km=30).to_geometry({})
    assert circle.is_valid
    assert circle.exterior.is_ccw


def test_batch_area_geometries_equal_one_by_one():
    zones = {"west": shapely.box(0, 0, 1, 1)}
    areas = [
        PointArea(lat=14.54, lon=-9.19, radius_km=30),
        ZonesArea(("west",)),
        area_from_json({"route": road_bamako_segou}),
        PointArea(lat=16.27, lon=-0.04, radius_km=5),
    ]
    batch = area_geometries(areas, zones)
    assert all(b.equals(a.to_geometry(zones)) for a, b in zip(areas, batch, strict=True))
