"""Three `sentinelle serve` processes on one PostgreSQL database, against the truth.

1. A burst of severe reports spread over the three: within 1 s of the last commit every process
   serves the score and level that a fresh process computes from the committed rows, and the
   same incident count for an assessment.
2. The same writes, one after the other, through one process and through three in turn: the
   zones' level-change records are the same (zone, order, from, to). The writes are sent one at a
   time and each is followed by a read of the ranking (which re-scores what is pending), so that
   a single process has one definite answer to compare with: within a concurrent burst the
   number of changes depends on how the writes were batched, in one process as in several.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from api.bootstrap import build
from api.settings import Settings
from incidents.db import Database, create_engine
from incidents.zones.tables import ZoneLevelChangeRow, ZoneRiskRow
from tests.factories import GAO, KIDAL, MENAKA
from tests.multiprocess.world import PG_ENV, World, fetch_all, fresh_database, make_tokens, query

pytestmark = pytest.mark.skipif(
    not os.environ.get(PG_ENV),
    reason=f"several processes share one database only on PostgreSQL: set {PG_ENV} to run it",
)

SERVERS = ("serve_a", "serve_b", "serve_c")
BURST = 45
AGREE_WITHIN_S = 1.0
# The sequence for the level-change comparison: old reports first (they raise levels from the
# past), then recent ones, in three places.
SEQUENCE = 36


def environment(url: str, var_dir: Path, key: str) -> dict[str, str]:
    return {
        **os.environ,
        "SENTINELLE_DATABASE_URL": url,
        "SENTINELLE_VAR_DIR": str(var_dir),
        "SENTINELLE_SECRET_KEYS": key,
        "SENTINELLE_DISPATCH_IN_PROCESS": "false",
        "SENTINELLE_RATE_LIMIT_PER_MINUTE": "100000",
    }


@contextmanager
def servers(url: str, var_dir: Path, names: tuple[str, ...], key: str) -> Iterator[World]:
    var_dir.mkdir(parents=True, exist_ok=True)
    officer, operator = asyncio.run(make_tokens(url))
    world = World(url, environment(url, var_dir, key), officer, operator)
    try:
        for name in names:
            world.serve(name)
        world.wait_healthy(list(names))
        yield world
    finally:
        world.stop_all()


def severe(k: int, base: datetime) -> dict[str, Any]:
    lat, lon = (MENAKA, GAO, KIDAL)[k % 3]
    # 7 h apart in each town: every report a distinct event (none linked to another as one).
    when = base - timedelta(hours=1 + 7 * (k // 3))
    return {
        "type": ("armed_attack", "kidnapping", "ied")[k % 3],
        "occurred_at": when.isoformat().replace("+00:00", "Z"),
        "lat": lat + 0.01 * ((k % 7) - 3),
        "lon": lon + 0.01 * ((k % 5) - 2),
        "severity": 5,
    }


def sequence_report(k: int, base: datetime) -> dict[str, Any]:
    """Old reports (40 to 80 days back) first, then recent ones; Ménaka, Gao and Kidal."""
    lat, lon = (MENAKA, GAO, KIDAL)[k % 3]
    days = 80 - 2 * k if k < SEQUENCE // 2 else 1 + (k % 5)
    when = base - timedelta(days=days, hours=k % 6)
    return {
        "type": ("armed_attack", "ied", "kidnapping", "theft")[k % 4],
        "occurred_at": when.isoformat().replace("+00:00", "Z"),
        "lat": lat + 0.01 * ((k % 5) - 2),
        "lon": lon + 0.01 * ((k % 3) - 1),
        "severity": 3 + k % 3,
    }


def served(client: httpx.Client, base: str, token: str) -> dict[str, tuple[int | None, float]]:
    answer = client.get(f"{base}/api/v1/risk", headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    return {z["zone_id"]: (z["level"], z["score"]) for z in answer.json()["zones"]}


async def truth(url: str, key: str, var_dir: Path) -> dict[str, tuple[int | None, float]]:
    """Every zone's level and score as a fresh process computes them from the committed rows, at
    the time the stored scores were computed; nothing is written (rolled back)."""
    db = Database(create_engine(url, pooled=False))
    container = build(Settings(database_url=url, secret_keys=key, var_dir=str(var_dir)), db=db)
    try:
        async with db.sessions() as session:
            transaction = await session.begin()
            at = (await session.execute(select(func.max(ZoneRiskRow.computed_at)))).scalar()
            assert at is not None
            await container.risk.recompute(session, now=at)
            rows = (
                await session.execute(
                    select(ZoneRiskRow.zone_id, ZoneRiskRow.level, ZoneRiskRow.score)
                )
            ).all()
            await transaction.rollback()
        return {zone: (level, score) for zone, level, score in rows}
    finally:
        await db.dispose()


def same(
    seen: dict[str, tuple[int | None, float]], true: dict[str, tuple[int | None, float]]
) -> bool:
    """Served ranking equal to the truth (scores as served: rounded), for every served zone; a
    zone without data is served as "no data" (level None), which only a zone with nothing
    scored may be (docs/coverage.md)."""
    return all(
        zone in true
        and (level == true[zone][0] or (level is None and true[zone][1] == 0.0))
        and abs(score - true[zone][1]) < 1e-3
        for zone, (level, score) in seen.items()
    )


def test_a_burst_through_three_servers_is_served_true_by_each_within_a_second(
    tmp_path: Path,
) -> None:
    key = Fernet.generate_key().decode()
    base = datetime.now(UTC)
    with fresh_database() as url, servers(url, tmp_path / "var", SERVERS, key) as world:
        auth = {"Authorization": f"Bearer {world.officer}"}
        before = served(httpx.Client(timeout=30), world.base("serve_a"), world.officer)
        last_commit = [0.0]
        lock = threading.Lock()

        def post(k: int) -> None:
            with httpx.Client(timeout=30) as client:
                answer = client.post(
                    f"{world.base(SERVERS[k % 3])}/api/v1/incidents",
                    headers={**auth, "Idempotency-Key": f"burst-{k}"},
                    json=severe(k, base),
                )
            assert answer.status_code == 201, answer.text
            with lock:
                last_commit[0] = max(last_commit[0], time.monotonic())

        with ThreadPoolExecutor(max_workers=9) as pool:
            list(pool.map(post, range(BURST)))

        # Each server, read right after the last 201 until it serves the truth (or 5 s).
        agreed: dict[str, float] = {}
        seen: dict[str, dict[str, tuple[int, float]]] = {}
        with httpx.Client(timeout=30) as client:
            first = {name: served(client, world.base(name), world.officer) for name in SERVERS}
            first_at = time.monotonic() - last_commit[0]
            true = asyncio.run(truth(url, key, tmp_path / "truth"))
            for name in SERVERS:
                if same(first[name], true):
                    agreed[name] = first_at
                    seen[name] = first[name]
            deadline = time.monotonic() + 5
            while len(agreed) < len(SERVERS) and time.monotonic() < deadline:
                for name in SERVERS:
                    if name in agreed:
                        continue
                    seen[name] = served(client, world.base(name), world.officer)
                    if same(seen[name], true):
                        agreed[name] = time.monotonic() - last_commit[0]
                time.sleep(0.05)
            assessed = {
                name: client.post(
                    f"{world.base(name)}/api/v1/risk/assess",
                    headers=auth,
                    json={
                        "geometry": {"type": "Point", "coordinates": [MENAKA[1], MENAKA[0]]},
                        "radius_km": 30,
                    },
                ).json()["incident_count"]
                for name in SERVERS
            }

        assert set(agreed) == set(SERVERS), (
            f"serving another score than the committed truth: "
            f"{ {n: s for n, s in seen.items() if n not in agreed} } vs {true}"
        )
        assert max(agreed.values()) <= AGREE_WITHIN_S, agreed
        menaka_before, menaka_after = before["town_menaka"], true["town_menaka"]
        assert menaka_after[1] > menaka_before[1]  # the burst counted, everywhere
        assert len(set(assessed.values())) == 1, assessed
        assert assessed["serve_a"] == BURST // 3, assessed  # every Ménaka report, each once
        print(
            f"\nthree servers: {BURST} reports; each served the truth within "
            f"{max(agreed.values()):.2f} s of the last commit ({agreed}); Ménaka score "
            f"{menaka_before[1]:.1f} -> {menaka_after[1]:.1f}; assessment {assessed}"
        )


def level_changes(url: str) -> list[tuple[str, int, int | None, int]]:
    rows = query(
        url,
        lambda conn: fetch_all(
            conn,
            select(
                ZoneLevelChangeRow.zone_id,
                ZoneLevelChangeRow.seq,
                ZoneLevelChangeRow.from_level,
                ZoneLevelChangeRow.to_level,
            ).order_by(ZoneLevelChangeRow.zone_id, ZoneLevelChangeRow.seq),
        ),
    )
    return [(z, s, f, t) for z, s, f, t in rows]


def run_sequence(
    url: str, var_dir: Path, names: tuple[str, ...], key: str, base: datetime
) -> list[tuple[str, int, int | None, int]]:
    with servers(url, var_dir, names, key) as world, httpx.Client(timeout=30) as client:
        auth = {"Authorization": f"Bearer {world.officer}"}
        for k in range(SEQUENCE):
            writer, reader = names[k % len(names)], names[(k + 1) % len(names)]
            answer = client.post(
                f"{world.base(writer)}/api/v1/incidents",
                headers={**auth, "Idempotency-Key": f"seq-{k}"},
                json=sequence_report(k, base),
            )
            assert answer.status_code == 201, answer.text
            served(client, world.base(reader), world.officer)  # re-scores what is pending
        return level_changes(url)


def test_level_changes_through_three_servers_equal_those_of_one(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    base = datetime.now(UTC)
    with fresh_database() as one_url:
        alone = run_sequence(one_url, tmp_path / "one", ("serve_a",), key, base)
    with fresh_database() as three_url:
        together = run_sequence(three_url, tmp_path / "three", SERVERS, key, base)
    assert alone, "the sequence changed no level: it tests nothing"
    assert together == alone
    print(
        f"\nlevel changes: {len(alone)} through one server, {len(together)} through three, "
        f"identical ({len({z for z, *_ in alone})} zones)"
    )
