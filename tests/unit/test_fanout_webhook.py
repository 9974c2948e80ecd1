"""The json:// fast path sends what Apprise sends, and keeps the outbound-request policy."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from alerts.delivery.channels import AppriseNotifier, ChannelPolicy
from alerts.delivery.dispatcher import with_idempotency_header
from alerts.delivery.webhook import (
    json_target,
    plain_json_target,
    request_bytes,
    response_status,
    split_idempotency,
)
from tests.alert_receivers import http_receiver

LOCAL = ChannelPolicy.from_settings("", "127.0.0.1")


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/hook",
        "json://127.0.0.1",
        "jsons://hooks.example.org/a/b%20c",
        "json://user:p%40ss@hooks.example.org:9000/x",
        "json://[2001:db8::1]:8443/v6",
    ],
)
def test_the_plain_parser_reads_an_address_as_apprise_does(url: str) -> None:
    assert plain_json_target(url) == json_target(url)


@pytest.mark.parametrize(
    "url",
    ["json://h.example.org/x?verify=no", "json://h.example.org/x?method=GET", "xml://h.org/x"],
)
def test_addresses_with_options_are_not_taken_by_the_plain_parser(url: str) -> None:
    assert plain_json_target(url) is None


def test_the_idempotency_header_is_split_from_the_address() -> None:
    url = with_idempotency_header("json://127.0.0.1:1/x", "a1b2/c")
    assert split_idempotency(url) == ("json://127.0.0.1:1/x", "a1b2/c")
    assert split_idempotency("json://127.0.0.1:1/x") == ("json://127.0.0.1:1/x", None)


async def _send(fast: bool, url: str, policy: ChannelPolicy = LOCAL) -> Any:
    notifier = AppriseNotifier(policy=policy, fast_webhooks=fast)
    return await notifier.send(url, "Titre é", "Corps\nligne 2 — ✓")


@pytest.mark.parametrize("path", ["hook", "a/b"])
async def test_the_fast_path_sends_the_same_request_as_apprise(path: str) -> None:
    with http_receiver() as receiver:
        base = receiver.url(path).replace("json://", "json://bob:s3cret@")
        a = await _send(False, with_idempotency_header(base, "key-apprise"))
        b = await _send(True, with_idempotency_header(base, "key-fast"))
        assert a.ok
        assert b.ok
        got = receiver.wait_for(2)
    apprise_req, fast_req = got
    assert fast_req.body == apprise_req.body
    assert fast_req.path == apprise_req.path == f"/{path}"
    assert (apprise_req.key, fast_req.key) == ("key-apprise", "key-fast")
    for header in ("content-type", "user-agent", "authorization"):
        assert fast_req.headers[header] == apprise_req.headers[header]


async def test_a_receiver_error_is_retried_and_a_closed_port_is_unreachable() -> None:
    with http_receiver(always_fail=True) as receiver:
        result = await _send(True, receiver.url())
    assert not result.ok
    assert not result.final
    assert result.error == "delivery failed: rejected_by_receiver"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await _send(True, f"json://127.0.0.1:{port}/x")
    assert (result.ok, result.final, result.error) == (False, False, "delivery failed: unreachable")


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:{port}/x",
        "json://localhost:{port}/x",
        "json://169.254.169.254/latest",
        "json://metadata.google.internal/x",
        "json://[::ffff:127.0.0.1]:{port}/x",
    ],
)
async def test_the_fast_path_refuses_what_the_policy_refuses_and_nothing_connects(
    url: str,
) -> None:
    with http_receiver() as receiver:
        result = await _send(True, url.format(port=receiver.port), ChannelPolicy())
        assert receiver.requests == 0
    assert (result.ok, result.final) == (False, True)
    assert result.error == "delivery failed: refused_by_policy"


async def test_a_name_that_resolves_to_loopback_at_delivery_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the name is public when checked, loopback when the message is sent."""
    real = socket.getaddrinfo

    def rebound(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.example.org":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebound)
    with http_receiver() as receiver:
        result = await _send(True, f"json://hooks.example.org:{receiver.port}/x", ChannelPolicy())
        assert receiver.requests == 0
    assert (result.ok, result.final, result.error) == (
        False,
        True,
        "delivery failed: refused_by_policy",
    )


async def test_an_allowed_name_reaches_only_the_allowed_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: real("127.0.0.1" if host == "hooks.lan" else host, *a, **k),
    )
    with http_receiver() as receiver:
        allowed = ChannelPolicy.from_settings("", f"hooks.lan:{receiver.port}")
        ok = await _send(True, f"json://hooks.lan:{receiver.port}/x", allowed)
        other_port = await _send(True, f"json://hooks.lan:{receiver.port + 1}/x", allowed)
        assert receiver.wait_for(1)
        assert receiver.requests == 1
    assert ok.ok
    assert (other_port.ok, other_port.error) == (False, "delivery failed: refused_by_policy")


def test_the_status_of_an_answer_is_read_past_informational_ones() -> None:
    assert response_status(b"HTTP/1.1 20") is None
    assert response_status(b"HTTP/1.0 204 No Content\r\n") == 204
    assert response_status(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\n") == 503
    assert response_status(b"HTTP/1.1 100 Continue\r\nX: y\r\n") is None
    with pytest.raises(ValueError, match="not an HTTP answer"):
        response_status(b"SSH-2.0-OpenSSH\r\n")


def test_a_header_with_a_line_break_is_never_written() -> None:
    with pytest.raises(ValueError, match="line break"):
        request_bytes("/x", [("Idempotency-Key", "k\r\nX-Evil: 1")], b"{}")
