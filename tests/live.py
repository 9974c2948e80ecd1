"""A real server for the tests that need requests to overlap and cross a socket: uvicorn on a
free loopback port, in a thread. Import the fixtures into a conftest or a test module.

`health_during` checks that heavy work stays off the server's event loop. It watches the loop
itself: every callback the server's loop runs is timed in CPU seconds of the server's thread
(`time.thread_time`), so that a machine loaded by other work (CI on two cores, another xdist
worker, PostgreSQL) does not make a free loop look blocked, while a computation done on the
loop shows as one long callback whatever the load."""

from __future__ import annotations

import asyncio
import gc
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


# CPU seconds one callback of the server's loop may take. Parsing and answering the largest
# allowed request takes a few hundredths of a second; buffering a long route or validating a
# 10,000-vertex polygon on the loop takes several tenths.
LOOP_CALLBACK_ALLOWANCE = 0.25


class LoopWatch:
    """The longest callback, in CPU seconds of the thread running it, among those run by the
    loops of the watched threads since the last `reset`. Garbage collections are left out: a
    full collection in a test process holding thousands of tests' objects can take tenths of a
    second whatever callback it falls in, and it is not work the code under test put there."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.longest = 0.0
        self._original = asyncio.events.Handle._run
        self._gc_started: dict[int, float] = {}
        self._gc_spent: dict[int, float] = {}

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        thread = threading.get_ident()
        if thread not in self.threads:
            return
        if phase == "start":
            self._gc_started[thread] = time.thread_time()
        elif thread in self._gc_started:
            spent = time.thread_time() - self._gc_started.pop(thread)
            self._gc_spent[thread] = self._gc_spent.get(thread, 0.0) + spent

    def install(self) -> None:
        watch = self
        original = self._original

        def timed_run(handle: asyncio.events.Handle) -> None:
            thread = threading.get_ident()
            if thread not in watch.threads:
                original(handle)
                return
            started = time.thread_time()
            collected = watch._gc_spent.get(thread, 0.0)
            try:
                original(handle)
            finally:
                spent = time.thread_time() - started
                spent -= watch._gc_spent.get(thread, 0.0) - collected
                watch.longest = max(watch.longest, spent)

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]
        gc.callbacks.append(self._on_gc)

    def uninstall(self) -> None:
        asyncio.events.Handle._run = self._original  # type: ignore[method-assign]
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def reset(self) -> None:
        self.longest = 0.0


WATCHES: dict[str, LoopWatch] = {}


@pytest.fixture(name="live_url")
def fx_live_url(app: Litestar) -> Iterator[str]:
    """The app served by uvicorn in a thread: requests really overlap and really cross a socket."""
    port = free_port()
    server = uvicorn.Server(
        # The standard library's loop, not uvloop: its callbacks are Python objects that the
        # watch below can time.
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", loop="asyncio"
        )
    )
    watch = LoopWatch()
    url = f"http://127.0.0.1:{port}"

    def run() -> None:
        watch.threads.add(threading.get_ident())
        server.run()

    watch.install()
    WATCHES[url] = watch
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start")
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        watch.uninstall()
        WATCHES.pop(url, None)


@pytest.fixture(name="http")
async def fx_http(live_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_url, timeout=120) as client:
        yield client


async def health_during(http: httpx.AsyncClient, work: Awaitable[T]) -> tuple[T, float]:
    """Run `work` (a request) while polling /api/v1/health, which must keep answering 200; the
    longest callback the server's loop ran meanwhile, in CPU seconds of its thread, as a share
    of LOOP_CALLBACK_ALLOWANCE (at most 1.0 passes).

    Heavy work belongs off the event loop: done on it, it is one callback holding the loop for
    as long as it computes, and every other request waits. CPU time of the server's thread, not
    wall-clock time, so that a loaded machine neither fails a free loop nor hides a blocked one."""
    watch = WATCHES[str(http.base_url).rstrip("/")]
    watch.reset()
    task = asyncio.ensure_future(work)
    polls = 0
    async with httpx.AsyncClient(base_url=str(http.base_url), timeout=120) as probe:
        while not task.done() or polls < 3:
            response = await probe.get("/api/v1/health")
            assert response.status_code == 200
            polls += 1
            await asyncio.sleep(0.05)
    result = await task
    return result, watch.longest / LOOP_CALLBACK_ALLOWANCE
