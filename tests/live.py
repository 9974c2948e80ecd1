"""A real server for the tests that need requests to overlap and cross a socket: uvicorn on a
free loopback port, in a thread. Import the fixtures into a conftest or a test module."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import TypeVar

import httpx
import pytest
import uvicorn
from litestar import Litestar

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(name="live_url")
def fx_live_url(app: Litestar) -> Iterator[str]:
    """The app served by uvicorn in a thread: requests really overlap and really cross a socket."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(name="http")
async def fx_http(live_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_url, timeout=120) as client:
        yield client


async def health_during(http: httpx.AsyncClient, work: Awaitable[T]) -> tuple[T, float]:
    """Run `work` (a request) while polling /api/v1/health; how long the slowest health answer
    took, as a share of what is allowed (at most 1.0 passes).

    The server must keep answering /health while the largest allowed requests run: heavy work
    belongs off the event loop. A blocked loop holds a health answer for the whole of the work;
    a free one answers in a fraction of it. So the allowance is half the work's own duration,
    and at least 1 s: a ratio, not a wall-clock budget, so that a loaded machine (CI on two
    cores) slows both alike and a blocked loop still fails."""
    started_work = time.monotonic()
    task = asyncio.ensure_future(work)
    worst = 0.0
    polls = 0
    async with httpx.AsyncClient(base_url=str(http.base_url), timeout=30) as probe:
        while not task.done() or polls < 3:
            started = time.monotonic()
            response = await probe.get("/api/v1/health")
            assert response.status_code == 200
            worst = max(worst, time.monotonic() - started)
            polls += 1
            await asyncio.sleep(0.05)
    result = await task
    work_seconds = time.monotonic() - started_work
    return result, worst / max(1.0, 0.5 * work_seconds)
