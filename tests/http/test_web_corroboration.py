"""The officer console says "corroboré par N signalements" where the API's full view carries
`corroboration`, counting only the reports the viewer reads in full; never on a masked entry, nor
to another organisation, a reporter or the operator."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Caller, Factory
from tests.http.test_event_links import read, report
from tests.http.test_web_vocabulary import sign_in

Client = AsyncTestClient[Litestar]


async def console(client: Client, caller: Caller, lang: str = "fr") -> str:
    client.cookies.clear()
    await sign_in(client, caller, "/web/officer")
    page = await client.get(f"/web/officer?lang={lang}")
    assert page.status_code == 200, page.text
    return page.text


async def test_the_console_shows_the_corroboration_of_what_the_officer_reads_in_full(
    client: Client, factory: Factory
) -> None:
    officer = await factory.caller("officer")
    reporter = await factory.caller("reporter", org_id=officer.org_id)
    first = await report(client, reporter, type="theft", sharing_level="amber_strict")
    second = await report(
        client, reporter, type="theft", sharing_level="amber_strict", days_ago=0.9
    )
    assert (await read(client, officer, second))["corroboration"]["reports"] == 2
    html = await console(client, officer)
    assert html.count("Corroboré par 2 signalements") == 2
    assert first in html
    english = await client.get("/web/officer?lang=en")
    assert "Corroborated by 2 reports" in english.text

    # Another organisation's officer reads both only masked: no count, no link between them.
    outsider = await factory.caller("officer")
    html = await console(client, outsider)
    assert html.count('class="masked"') == 2
    assert "Corroboré" not in html
    assert first not in html
    assert second not in html
    # A reporter and the operator have no console at all, so no count either.
    for caller in (reporter, await factory.operator()):
        client.cookies.clear()
        await sign_in(client, caller, "/web/report")
        page = await client.get("/web/officer")
        assert "Corroboré" not in page.text
        assert first not in page.text


async def test_a_single_report_says_nothing_of_corroboration(
    client: Client, factory: Factory
) -> None:
    officer = await factory.caller("officer")
    await report(client, officer, type="theft", sharing_level="amber")
    assert "Corroboré" not in await console(client, officer)
