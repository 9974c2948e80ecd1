"""A browser signed in through one API process is signed in on the others (sessions in the
database, api.web.session), and signing out through one ends the session on all."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from litestar.testing import AsyncTestClient

from api.settings import Settings
from api.web import session as sessions
from incidents.db import Database, create_engine
from tests.e2e.web import create_web_app
from tests.factories import Factory


async def test_signed_in_through_one_process_signed_in_on_another_and_out_on_both(
    settings: Settings,
    db: Database,
    database_url: str,
    factory: Factory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = replace(settings, secret_keys=Fernet.generate_key().decode())
    other_db = Database(create_engine(database_url, pooled=False))
    first = create_web_app(shared, db, monkeypatch)
    second = create_web_app(replace(shared, var_dir=str(tmp_path / "var-2")), other_db, monkeypatch)
    reporter = await factory.caller("reporter")
    try:
        async with AsyncTestClient(app=first) as a, AsyncTestClient(app=second) as b:
            form = await a.get("/web/sign-in")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf is not None
            signed = await a.post(
                "/web/sign-in",
                data={"csrf": csrf.group(1), "token": reporter.token, "next": "/web/report"},
                follow_redirects=False,
            )
            assert signed.status_code == 303
            sid = signed.cookies.get(sessions.COOKIE)
            assert sid
            b.cookies.set(sessions.COOKIE, sid)
            page = await b.get("/web/report", follow_redirects=False)
            assert page.status_code == 200  # not sent to sign-in: the other process knows it
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token is not None
            out = await b.post("/web/logout", data={"csrf": token.group(1)}, follow_redirects=False)
            assert out.status_code == 303
            a.cookies.set(sessions.COOKIE, sid)
            again = await a.get("/web/report", follow_redirects=False)
            assert again.status_code in (302, 303)
            assert "/web/sign-in" in again.headers["location"]
    finally:
        await other_db.dispose()
