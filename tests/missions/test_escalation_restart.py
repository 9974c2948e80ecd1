"""A `sentinelle serve` process (in-process dispatcher and mission tick) killed with SIGKILL in the
middle of an escalation: another one started afterwards resumes the ladder where it stood, and no
step is fired or delivered twice (PostgreSQL, real processes, real Apprise delivery)."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from incidents.db import Database, create_engine
from incidents.identity import accounts
from incidents.intake.service import register_phone
from incidents.records.model import Role
from missions.tables import MissionEscalationRow
from tests.alert_receivers import HttpReceiver, http_receiver
from tests.multiprocess.world import PG_ENV, World, fetch_all, fresh_database, query

pytestmark = pytest.mark.skipif(
    not os.environ.get(PG_ENV),
    reason=f"several processes share one database only on PostgreSQL: set {PG_ENV} to run it",
)

PHONES = {
    "traveller": "+22376100001",
    "planner": "+22376100002",
    "officer_1": "+22376100003",
    "officer_2": "+22376100004",
}


async def people(url: str) -> tuple[str, dict[str, str]]:
    db = Database(create_engine(url, pooled=False))
    now = datetime.now(UTC)
    ids: dict[str, str] = {}
    try:
        async with db.transaction() as session:
            org = await accounts.create_organisation(session, "ONG en route", now=now)
            planner, _, token = await accounts.create_user_with_token(
                session, org, role=Role.PLANNER, now=now, name="planner"
            )
            await register_phone(session, planner, PHONES["planner"])
            ids["planner"] = str(planner)
            for name in ("officer_1", "officer_2"):
                user = await accounts.create_user(
                    session, org, name=name, role=Role.OFFICER, now=now
                )
                await register_phone(session, user, PHONES[name])
                ids[name] = str(user)
        return token, ids
    finally:
        await db.dispose()


def wait_for_phone(receiver: HttpReceiver, phone: str, timeout_s: float = 40) -> None:
    digits = phone.lstrip("+")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(r.path.endswith(digits) for r in list(receiver.received)):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing reached {phone}: {[r.path for r in receiver.received]}")


def test_a_killed_server_resumes_the_ladder_after_restart_without_repeating_a_step(
    tmp_path: Path,
) -> None:
    with fresh_database() as url, http_receiver() as receiver:
        token, ids = asyncio.run(people(url))
        env = {
            **os.environ,
            "SENTINELLE_DATABASE_URL": url,
            "SENTINELLE_VAR_DIR": str(tmp_path),
            "SENTINELLE_SECRET_KEYS": Fernet.generate_key().decode(),
            "SENTINELLE_DISPATCH_IN_PROCESS": "true",
            "SENTINELLE_DISPATCH_LEASE_SECONDS": "3",
            "SENTINELLE_DISPATCH_POLL_SECONDS": "0.2",
            "SENTINELLE_CHANNEL_ALLOW_HOSTS": "127.0.0.1",
            "SENTINELLE_RATE_LIMIT_PER_MINUTE": "100000",
            "SENTINELLE_MISSIONS_STEP_SECONDS": "4",
            "SENTINELLE_MISSIONS_TICK_SECONDS": "0.3",
            "SENTINELLE_MISSIONS_SMS_URL": receiver.url("sms/{phone}"),
        }
        world = World(url, env)
        try:
            world.serve("serve_a")
            world.wait_healthy(["serve_a"])
            now = datetime.now(UTC)
            answer = httpx.post(
                f"{world.base('serve_a')}/api/v1/missions",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "title": "Gao - Ansongo",
                    "departure_at": (now - timedelta(minutes=1)).isoformat(),
                    "arrival_at": (now + timedelta(seconds=4)).isoformat(),
                    "grace_minutes": 0,
                    "route": {"places": ["Gao", "Ansongo"]},
                    "travellers": [{"name": "Awa", "phone": PHONES["traveller"]}],
                    "responders": [ids["planner"], ids["officer_1"], ids["officer_2"]],
                },
                timeout=60,
            )
            assert answer.status_code == 201, answer.text
            assert answer.json()["needs_approval"] is False
            wait_for_phone(receiver, PHONES["traveller"])  # step 0: the reminder
            wait_for_phone(receiver, PHONES["planner"])  # step 1
            world.kill("serve_a")  # in the middle of the ladder
            time.sleep(5)  # step 2 falls due while no process runs
            assert not any(
                r.path.endswith(PHONES["officer_1"].lstrip("+")) for r in receiver.received
            )
            world.serve("serve_b")
            world.wait_healthy(["serve_b"])
            wait_for_phone(receiver, PHONES["officer_1"])  # step 2, fired by the new process
            wait_for_phone(receiver, PHONES["officer_2"])  # step 3
            time.sleep(2)
        finally:
            world.stop_all()
        steps = query(
            url,
            lambda c: fetch_all(
                c,
                select(MissionEscalationRow.round, MissionEscalationRow.step).order_by(
                    MissionEscalationRow.step
                ),
            ),
        )
        assert [tuple(s) for s in steps] == [(0, 0), (0, 1), (0, 2), (0, 3)]
        # One alert each, delivered under one idempotency key (a redelivery after the kill
        # would carry the same key; none came under a second one).
        for name, phone in PHONES.items():
            keys = {r.key for r in receiver.received if r.path.endswith(phone.lstrip("+"))}
            assert len(keys) == 1, (name, keys)
        order = list(dict.fromkeys(r.path.rsplit("/", 1)[-1] for r in receiver.received))
        assert order == [p.lstrip("+") for p in PHONES.values()]
