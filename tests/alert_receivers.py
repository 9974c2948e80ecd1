"""Local stand-ins for the outside world of alert delivery: an HTTP web hook and an SMTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class HttpReceiver:
    """Answers `status` (after failing `fail_first` requests with 500), optionally slowly."""

    port: int = 0
    fail_first: int = 0
    always_fail: bool = False
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    requests: int = 0
    arrivals: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    @property
    def keys(self) -> list[str | None]:
        with self.lock:
            return [r.key for r in self.received]

    def wait_for_keys(self, keys: set[str], timeout_s: float = 10.0) -> bool:
        """Block until every key in `keys` has arrived (at least once)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if keys <= set(self.keys):
                return True
            time.sleep(0.02)
        return False

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        with self.lock:
            return list(self.received)


def _handler(receiver: HttpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            with receiver.lock:
                receiver.requests += 1
                failing = receiver.always_fail or receiver.requests <= receiver.fail_first
                if not failing:
                    body = json.loads(raw or b"{}")
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    receiver.arrivals.setdefault(self.path, time.monotonic())
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def http_receiver(*, backlog: int = 5, **options: Any) -> Iterator[HttpReceiver]:
    """A receiver on a free loopback port; `backlog`: connections queued before the kernel
    resets new ones (the standard library's 5 by default; a burst test wants more)."""
    receiver = HttpReceiver(**options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver), bind_and_activate=False)
    server.daemon_threads = True
    server.request_queue_size = backlog
    server.server_bind()
    server.server_activate()
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpReceiver:
    port: int = 0
    messages: list[Any] = field(default_factory=list)

    def url(self, to: str = "officer@cso.example.org") -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?from=sentinelle@example.org&to={to}"
            "&secure=no&smtp=127.0.0.1"
        )


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    from aiosmtpd.controller import Controller

    receiver = SmtpReceiver()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            receiver.messages.append(envelope)
            return "250 Message accepted for delivery"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        receiver.port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
