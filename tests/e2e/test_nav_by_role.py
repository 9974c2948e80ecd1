"""Every page's navigation shows what its viewer may open: the console to officers and admins,
the admin page to admins, neither to a reporter (the report and alerts pages included)."""

from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Factory


async def signed_in(client: AsyncTestClient[Litestar], token: str) -> None:
    form = await client.get("/web/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    answer = await client.post(
        "/web/sign-in", data={"csrf": csrf.group(1), "token": token, "next": "/web/report"}
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("role", "console", "admin"),
    [("reporter", False, False), ("officer", True, False), ("admin", True, True)],
)
async def test_the_report_and_alerts_pages_show_the_links_of_the_viewers_role(
    app: Litestar, factory: Factory, role: str, console: bool, admin: bool
) -> None:
    caller = await factory.caller(role)
    async with AsyncTestClient(app=app) as client:
        await signed_in(client, caller.token)
        for path in ("/web/report", "/web/alerts"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert ('href="/web/officer"' in page.text) is console, (role, path)
            assert ('href="/web/admin"' in page.text) is admin, (role, path)
