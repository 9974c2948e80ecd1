"""Synthetic zones with steady incident rates, for the backtest endpoint and command tests."""

from __future__ import annotations

from datetime import datetime, timedelta

import shapely

from geo.zones import Zone
from incidents.db import Database
from incidents.identity.accounts import create_organisation
from incidents.interop.importer import import_rows
from incidents.interop.rows import RowResult
from incidents.zones.store import import_zones

# (code, lon, lat of the south-west corner, incidents per 30 days): five 0.5° squares in Mali.
STEADY_ZONES = (
    ("carre_menaka", 2.2, 15.7, 8),
    ("carre_gao", -0.3, 16.0, 4),
    ("carre_kidal", 1.2, 18.2, 2),
    ("carre_diema", -9.4, 14.3, 1),
    ("carre_bamako", -8.2, 12.4, 0),
)
HISTORY_DAYS = 720


def steady_rows(
    now: datetime, *, days: int = HISTORY_DAYS, quiet: tuple[int, int] | None = None
) -> list[RowResult]:
    """Incidents evenly spaced in time at each zone's rate, the last one a day before `now`.

    `quiet` (from, to days ago): no incident anywhere in that stretch.
    """
    rows: list[RowResult] = []
    for code, lon, lat, per_month in STEADY_ZONES:
        if per_month == 0:
            continue
        gap = 30.0 / per_month
        count = int(days / gap)
        for i in range(count):
            ago = 1 + i * gap
            if quiet is not None and quiet[1] <= ago <= quiet[0]:
                continue
            at = now - timedelta(days=ago)
            rows.append(
                RowResult(
                    row_number=len(rows) + 2,
                    incident={
                        "type": "armed_attack",
                        "occurred_at": at.isoformat().replace("+00:00", "Z"),
                        "lat": lat + 0.25,
                        "lon": lon + 0.25,
                        "severity": 4 if i % 2 else 3,
                        "external_id": f"{code}-{i}",
                    },
                )
            )
    return rows


def steady_zones() -> list[Zone]:
    return [
        Zone(
            id=code,
            code=code,
            name_fr=code.replace("_", " ").title(),
            name_en=code.replace("_", " ").title(),
            kind="custom",
            geometry=shapely.box(lon, lat, lon + 0.5, lat + 0.5),
            parent_code=None,
            provenance="synthetic test zone",
            approximate=False,
        )
        for code, lon, lat, _ in STEADY_ZONES
    ]


async def seed_steady_zones(
    db: Database,
    now: datetime,
    *,
    with_incidents: bool = True,
    quiet: tuple[int, int] | None = None,
) -> None:
    """Store the steady incidents (bulk importer), then the zones: importing zones assigns them."""
    if with_incidents:
        async with db.transaction() as session:
            org_id = await create_organisation(session, "CSO backtest", now=now)
        rows = steady_rows(now, quiet=quiet)
        report = await import_rows(db, rows, org_id=org_id, user_id=None, now=now)
        assert not report.rejected, report.rejected
    await import_zones(db, steady_zones(), [], now=now)
