"""The pure sharing rules: who sees an incident in full, and what a masked incident still shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec
import pytest
import shapely
import shapely.geometry

from incidents.records.model import Incident, SharingLevel, TimePrecision
from incidents.sharing.rules import (
    HIDDEN_ORGANISATION,
    MASKED_PROPERTIES,
    Access,
    MaskRules,
    Sharing,
    TimeUnit,
    access,
    coarsen_time,
    mask_incident,
    opaque_id,
    representative_point,
    snap_to_grid,
    view_for,
)

REPORTING_ORG = uuid.UUID(int=1)
TRUSTED_ORG = uuid.UUID(int=2)
OTHER_ORG = uuid.UUID(int=3)
AUTHOR = uuid.UUID(int=10)
NAMED_PERSON = uuid.UUID(int=11)
COLLEAGUE = uuid.UUID(int=12)
STRANGER = uuid.UUID(int=13)
point_in_diema = {"type": "Point", "coordinates": [-9.1830, 14.5406]}
RULES = MaskRules(grid_degrees=0.25, time_unit=TimeUnit.DAY, id_key=b"test-key")


@dataclass(frozen=True)
class FakeViewer:
    user_id: uuid.UUID
    org_id: uuid.UUID
    trusted_org_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    is_officer: bool = False


author = FakeViewer(AUTHOR, REPORTING_ORG)
named_person = FakeViewer(NAMED_PERSON, OTHER_ORG)
colleague = FakeViewer(COLLEAGUE, REPORTING_ORG)
trusted = FakeViewer(STRANGER, TRUSTED_ORG, frozenset({REPORTING_ORG}))
officer_elsewhere = FakeViewer(STRANGER, OTHER_ORG, is_officer=True)
stranger = FakeViewer(STRANGER, OTHER_ORG)

F, M = Access.FULL, Access.MASKED
# viewer: red, amber_strict, amber, green, clear
TABLE = {
    "author": (author, (F, F, F, F, F)),
    "named_person": (named_person, (F, M, M, F, F)),
    "colleague": (colleague, (M, F, F, F, F)),
    "trusted_org": (trusted, (M, M, F, F, F)),
    "officer_elsewhere": (officer_elsewhere, (M, M, F, F, F)),
    "stranger": (stranger, (M, M, M, F, F)),
    "public": (None, (M, M, M, M, F)),
}
LEVELS = (
    SharingLevel.RED,
    SharingLevel.AMBER_STRICT,
    SharingLevel.AMBER,
    SharingLevel.GREEN,
    SharingLevel.CLEAR,
)


@pytest.mark.parametrize("who", list(TABLE))
@pytest.mark.parametrize("level_index", range(5), ids=[lv.value for lv in LEVELS])
def test_access_follows_tlp(who: str, level_index: int) -> None:
    viewer, expected = TABLE[who]
    sharing = Sharing(LEVELS[level_index], REPORTING_ORG, AUTHOR, frozenset({NAMED_PERSON}))
    assert access(viewer, sharing) == expected[level_index]


def test_red_incident_without_reporter_is_masked_for_everyone() -> None:
    sharing = Sharing(SharingLevel.RED, REPORTING_ORG, None)
    assert access(author, sharing) == Access.MASKED


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (-9.1830, 14.5406, (-9.125, 14.625)),
        (0.0, 0.0, (0.125, 0.125)),
        (-0.01, -0.01, (-0.125, -0.125)),
        (2.4022, 15.9182, (2.375, 15.875)),
    ],
)
def test_snap_to_grid_gives_the_cell_centre(
    lon: float, lat: float, expected: tuple[float, float]
) -> None:
    assert snap_to_grid(lon, lat, 0.25) == expected


def test_snap_refuses_a_zero_grid() -> None:
    with pytest.raises(ValueError, match="mask_grid_degrees"):
        snap_to_grid(1.0, 1.0, 0.0)


@pytest.mark.parametrize(
    ("precision", "unit", "expected", "expected_precision"),
    [
        (TimePrecision.EXACT, TimeUnit.DAY, datetime(2026, 3, 12, tzinfo=UTC), TimePrecision.DAY),
        (TimePrecision.EXACT, TimeUnit.WEEK, datetime(2026, 3, 9, tzinfo=UTC), TimePrecision.WEEK),
        (TimePrecision.WEEK, TimeUnit.DAY, datetime(2026, 3, 9, tzinfo=UTC), TimePrecision.WEEK),
        (TimePrecision.MONTH, TimeUnit.DAY, datetime(2026, 3, 1, tzinfo=UTC), TimePrecision.MONTH),
    ],
)
def test_time_is_coarsened_to_day_or_week_never_finer_than_reported(
    precision: TimePrecision, unit: TimeUnit, expected: datetime, expected_precision: TimePrecision
) -> None:
    at = datetime(2026, 3, 12, 17, 42, 5, tzinfo=UTC)  # a Thursday
    assert coarsen_time(at, precision, unit) == (expected, expected_precision)


def test_representative_point_of_a_polygon_is_its_box_centre() -> None:
    square = {"type": "Polygon", "coordinates": [[[1, 18], [2, 18], [2, 19], [1, 19], [1, 18]]]}
    assert representative_point(square) == (1.5, 18.5)


def test_the_masked_point_of_a_shape_is_the_point_its_row_stores() -> None:
    """A U-shaped area: its box centre lies outside it. The masked view used that centre while
    lists, zones and assessment snapped the stored point on its surface: two different cells."""
    u_shape = {
        "type": "Polygon",
        "coordinates": [
            [
                [0, 14],
                [3, 14],
                [3, 17],
                [2.5, 17],
                [2.5, 14.5],
                [0.5, 14.5],
                [0.5, 17],
                [0, 17],
                [0, 14],
            ]
        ],
    }
    lon, lat = representative_point(u_shape)
    stored = shapely.point_on_surface(shapely.geometry.shape(u_shape))
    assert (lon, lat) == (stored.x, stored.y)
    assert shapely.geometry.shape(u_shape).contains(shapely.Point(lon, lat))
    assert snap_to_grid(lon, lat, 0.25) != snap_to_grid(1.5, 15.5, 0.25)


def incident(**kw: object) -> Incident:
    values: dict[str, object] = {
        "id": uuid.UUID(int=99),
        "type": "kidnapping",
        "occurred_at": datetime(2026, 3, 12, 17, 42, tzinfo=UTC),
        "reported_at": datetime(2026, 3, 12, 18, 0, tzinfo=UTC),
        "geometry": point_in_diema,
        "org_id": REPORTING_ORG,
        "user_id": AUTHOR,
        "description": "Two staff taken at the checkpoint",
        "actor": "Group X",
        "place_name": "Diéma checkpoint",
        "sharing_level": SharingLevel.AMBER,
    }
    values.update(kw)
    return Incident(**values)  # type: ignore[arg-type]


def test_mask_keeps_only_category_coarse_place_and_time() -> None:
    feature = mask_incident(incident(), RULES)
    assert set(msgspec.to_builtins(feature)["properties"]) == MASKED_PROPERTIES
    assert feature.properties.category == "abduction"
    assert feature.properties.masked is True
    assert feature.geometry == {"type": "Point", "coordinates": [-9.125, 14.625]}
    assert feature.properties.occurred_at == datetime(2026, 3, 12, tzinfo=UTC)
    assert feature.properties.location_precision == "grid"


def test_masked_id_is_stable_opaque_and_keyed() -> None:
    real = uuid.UUID(int=99)
    assert mask_incident(incident(), RULES).id == opaque_id(real, b"test-key") != real
    assert opaque_id(real, b"test-key") != opaque_id(real, b"other-key")


def test_view_for_an_outsider_is_the_masked_dict() -> None:
    view = view_for(stranger, incident(), rules=RULES)
    assert set(view) == {"type", "id", "geometry", "properties"}
    assert set(view["properties"]) <= MASKED_PROPERTIES
    text = repr(view)
    for secret in ("Two staff", "Group X", "Diéma", str(REPORTING_ORG), str(AUTHOR), "-9.183"):
        assert secret not in text


def test_view_for_an_officer_of_a_hidden_organisation_says_a_member_organisation() -> None:
    view = view_for(
        officer_elsewhere, incident(hide_organisation=True), rules=RULES, organisation="CSO Kidal"
    )
    props = view["properties"]
    assert props["organisation"] == HIDDEN_ORGANISATION
    assert "organisation_id" not in props
    assert "reported_by" not in props
    assert props["description"] == "Two staff taken at the checkpoint"


def test_view_for_the_own_organisation_keeps_its_name_even_when_hidden() -> None:
    view = view_for(
        colleague, incident(hide_organisation=True), rules=RULES, organisation="CSO Kidal"
    )
    assert view["properties"]["organisation"] == "CSO Kidal"
    assert view["properties"]["reported_by"] == str(AUTHOR)
