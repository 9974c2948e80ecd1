"""The zone page's history says "pas de données / no data" for the days on which the zone had too
little data, as the API's history does, never the stored level 1."""

from __future__ import annotations

import re

from litestar.testing import AsyncTestClient

from incidents import vocabulary
from tests.factories import Factory, incident_payload
from tests.http.test_web_vocabulary import sign_in

ITEM = re.compile(r"<li>([^<]*) · ([^<]*) · ([^<]*)</li>")


async def test_days_before_any_incident_show_no_data_and_today_shows_the_level(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    made = await client.post("/api/v1/incidents", json=incident_payload(), headers=reporter.headers)
    assert made.status_code == 201, made.text
    planner = await factory.caller("planner")
    await sign_in(client, planner, "/web/zones/town_diema")
    for lang in ("fr", "en"):
        page = await client.get(f"/web/zones/town_diema?lang={lang}")
        assert page.status_code == 200
        listed = page.text.split('id="history-list"', 1)[1].split("</ul>", 1)[0]
        items = ITEM.findall(listed)
        assert len(items) > 10, listed[:500]
        no_data = vocabulary.level_label("no_data", lang)
        # A year ago nothing had happened in Diéma or around it: no data, not "low".
        assert items[0][1:] == ("–", no_data), items[0]
        # Today the report counts: a level, named from the vocabulary.
        level, label = items[-1][1:]
        assert level != "–"
        assert label != no_data
        assert all((lvl == "–") == (name == no_data) for _, lvl, name in items)
