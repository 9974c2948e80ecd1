"""The real ACLED Mali export imported by two organisations: every zone's score is unchanged
(the second import's rows are further reports of the same events, incidents.events)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from api.bootstrap import build
from api.cli.main import main
from api.settings import Settings
from incidents.db import Database, create_engine
from incidents.records.tables import IncidentRow
from incidents.zones.store import ensure_default_zones
from incidents.zones.tables import ZoneRiskRow

ACLED_FILE = "acled_mali_2017-2020.csv"
# The end of the file's period: every event in it is within reach of the risk window.
END = datetime(2020, 12, 31, tzinfo=UTC)


async def default_zones(settings: Settings) -> None:
    db = Database(create_engine(settings.database_url, pooled=False))
    try:
        await ensure_default_zones(db, settings, now=END)
    finally:
        await db.dispose()


async def scores(settings: Settings) -> dict[str, float]:
    db = Database(create_engine(settings.database_url, pooled=False))
    try:
        container = build(settings, db)
        await container.risk.recompute_all(now=END, cause="test")
        async with db.read() as session:
            rows = (await session.execute(select(ZoneRiskRow.zone_id, ZoneRiskRow.score))).all()
        return {zone: float(score) for zone, score in rows}
    finally:
        await db.dispose()


async def incident_counts(settings: Settings) -> tuple[int, int]:
    db = Database(create_engine(settings.database_url, pooled=False))
    try:
        async with db.read() as session:
            total = await session.scalar(select(func.count()).select_from(IncidentRow))
            linked = await session.scalar(
                select(func.count())
                .select_from(IncidentRow)
                .where(IncidentRow.event_id.isnot(None))
            )
        return int(total or 0), int(linked or 0)
    finally:
        await db.dispose()


def test_the_acled_file_imported_by_two_organisations_leaves_every_score_unchanged(
    shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / ACLED_FILE
    env = {
        "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'acled.db'}",
        "SENTINELLE_VAR_DIR": str(tmp_path / "var"),
        "SENTINELLE_DISPATCH_IN_PROCESS": "false",
    }
    settings = Settings.from_env(env)
    runner = CliRunner()
    first_org = runner.invoke(main, ["admin", "create-org", "ACLED A"], env=env).stdout.strip()
    second_org = runner.invoke(main, ["admin", "create-org", "ACLED B"], env=env).stdout.strip()
    # The default zones (country, regions, border belts, towns) and the 10 régions and 53
    # cercles of the OCHA boundaries.
    asyncio.run(default_zones(settings))
    for level in ("adm1", "adm2"):
        boundaries = shared_data / f"mli_admbnda_{level}_1m_gov_20211220.geojson"
        added = runner.invoke(main, ["zones", "import", str(boundaries)], env=env)
        assert added.exit_code == 0, added.output[-2000:]
    first = runner.invoke(main, ["incidents", "import", str(source), "--org", first_org], env=env)
    assert first.exit_code == 0, first.output[-2000:]
    once = asyncio.run(scores(settings))
    created, _ = asyncio.run(incident_counts(settings))

    second = runner.invoke(main, ["incidents", "import", str(source), "--org", second_org], env=env)
    assert second.exit_code == 0, second.output[-2000:]
    twice = asyncio.run(scores(settings))
    total, linked = asyncio.run(incident_counts(settings))

    scored = [z for z, s in once.items() if s > 0]
    print(
        f"\nACLED Mali under two organisations: {created} events, {total} reports, {linked} "
        f"linked; {len(once)} zones compared, {len(scored)} with a score above 0"
    )
    assert total == 2 * created
    assert linked == created  # every row of the second import joined its event
    assert len(once) >= 21 + 10 + 53
    assert len(scored) >= 50
    assert twice.keys() == once.keys()
    changed = {z: (once[z], twice[z]) for z in once if abs(once[z] - twice[z]) > 1e-9}
    assert not changed, f"{len(changed)} zone scores changed, e.g. {list(changed.items())[:5]}"
