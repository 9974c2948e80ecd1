"""GET /api/v1/risk/skill: the backtest of the risk model on the deployment's own incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from incidents.db import Database
from tests.factories import Factory
from tests.skill_data import seed_steady_zones

URL = "/api/v1/risk/skill"
STEADY = {"zones": "custom", "k": "2"}


@pytest.fixture(name="seeded")
async def fx_seeded(client: AsyncTestClient[Litestar], db: Database) -> None:
    await seed_steady_zones(db, datetime.now(UTC))


async def get_skill(
    client: AsyncTestClient[Litestar],
    factory: Factory,
    params: dict[str, str],
    role: str = "officer",
) -> Any:
    caller = await factory.caller(role)
    return await client.get(URL, params=params, headers=caller.headers)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", ["officer", "admin"])
async def test_skill_reports_model_and_baselines_per_step(
    client: AsyncTestClient[Litestar], factory: Factory, role: str
) -> None:
    response = await get_skill(client, factory, STEADY, role)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["zones"] == "custom"
    assert body["zone_count"] == 5
    assert body["k"] == 2
    assert set(body["methods"]) == {
        "level_score",
        "model",
        "risk_score",
        "last_30_days",
        "last_90_days",
        "last_180_days",
    }
    steps = body["steps"]
    assert len(steps) >= 10  # a year of history before the first step, then monthly steps
    assert all(s.endswith("-01") for s in steps)
    for method in body["methods"].values():
        assert len(method["rho"]) == len(method["top_k"]) == len(steps)
    assert [c["level"] for c in body["calibration"]] == [1, 2, 3, 4, 5]
    assert len(body["chosen"]) == len(steps)
    assert body["chosen"][-1]["training_steps"] > body["chosen"][0]["training_steps"]
    # The headline is the score the level is cut from, with its errors and margins.
    assert body["headline"] == "level_score"
    assert body["methods"]["level_score"]["role"] == "headline"
    assert body["methods"]["model"]["role"] == "side"
    assert body["methods"]["last_180_days"]["role"] == "baseline"
    assert body["methods"]["level_score"]["se_rho"] is not None
    assert body["best_baseline"] in {"last_30_days", "last_90_days", "last_180_days"}
    assert set(body["margins"]) == {"last_30_days", "last_90_days", "last_180_days"}
    margin = body["margins"]["last_180_days"]
    assert margin["steps"] == len(steps)
    assert margin["se_rho"] is not None
    assert margin["block_se_top_k"] is not None
    assert isinstance(body["beats_baselines_by_one_se"], bool)


@pytest.mark.usefixtures("seeded")
async def test_steady_rates_are_foreseen(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    # Zones with 8, 4, 2, 1 and 0 incidents a month: the two busiest hold 12 of every 15.
    body = (await get_skill(client, factory, STEADY)).json()
    model = body["methods"]["model"]
    assert model["mean_rho"] > 0.9
    assert model["mean_top_k"] == pytest.approx(12 / 15, abs=0.05)


@pytest.mark.usefixtures("seeded")
async def test_explicit_window_weekly_steps_and_horizon(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    last = datetime.now(UTC).date().replace(day=1)
    first = last.replace(year=last.year - 1)
    params = {
        **STEADY,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "step": "2w",
        "horizon": "2w",
    }
    response = await get_skill(client, factory, params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["horizon_days"] == 14
    assert body["step"] == "14d"
    assert body["from"] == first.isoformat()
    assert body["steps"][1] == first.replace(day=15).isoformat()


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"zones": "district"}, "zones"),
        ({"zones": "admin1"}, "zones"),  # no régions imported: fewer than two zones
        ({"zones": "country"}, "zones"),  # the default country zone alone
        ({**STEADY, "horizon": "3000d"}, "horizon"),
        ({**STEADY, "horizon": "thirty"}, "horizon"),
        ({**STEADY, "horizon": "1mo"}, "horizon"),
        ({**STEADY, "from": "2019-13-01"}, "from"),
        ({**STEADY, "to": "soon"}, "to"),
        ({**STEADY, "from": "2020-06-01", "to": "2020-01-01"}, "to"),
        ({**STEADY, "from": "1990-01-01", "to": "1991-01-01"}, "from"),
        ({**STEADY, "step": "2mo"}, "step"),
        ({**STEADY, "step": "0d"}, "step"),
        ({**STEADY, "k": "0"}, "k"),
        ({**STEADY, "k": "five"}, "k"),
        ({**STEADY, "k": "5"}, "k"),  # the top 5 of 5 zones would capture everything
    ],
)
async def test_bad_input_is_422_naming_the_parameter(
    client: AsyncTestClient[Litestar], factory: Factory, params: dict[str, str], field: str
) -> None:
    response = await get_skill(client, factory, params)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == field
    assert problem["detail"]


async def test_zones_without_incidents_get_a_clear_message(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database
) -> None:
    await seed_steady_zones(db, datetime.now(UTC), with_incidents=False)
    response = await get_skill(client, factory, STEADY)
    assert response.status_code == 422
    assert response.json()["field"] == "zones"
    assert "no incident" in response.json()["detail"]


async def test_a_window_without_incidents_gets_a_clear_message(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database
) -> None:
    now = datetime.now(UTC)
    await seed_steady_zones(db, now, quiet=(400, 150))  # nothing from 400 to 150 days ago
    params = {
        **STEADY,
        "from": (now - timedelta(days=360)).date().isoformat(),
        "to": (now - timedelta(days=250)).date().isoformat(),
    }
    response = await get_skill(client, factory, params)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "from"
    assert "no incident between" in response.json()["detail"]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("role", ["reporter", "planner"])
async def test_reporters_and_planners_may_not_see_it(
    client: AsyncTestClient[Litestar], factory: Factory, role: str
) -> None:
    response = await get_skill(client, factory, STEADY, role)
    assert response.status_code == 403
