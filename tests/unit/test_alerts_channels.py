"""Channel addresses (Apprise URLs): validation, masking, and delivery through local servers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from alerts.delivery.channels import (
    AppriseNotifier,
    ChannelError,
    ChannelPolicy,
    DeliveryResult,
    FakeNotifier,
    mask_channel_url,
    validate_channel_url,
)

# The local servers of these tests listen on loopback, which the default policy refuses.
LOCAL = ChannelPolicy.from_settings("", "127.0.0.1,localhost")


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/path",
        "mailto://user:pass@127.0.0.1:2525?from=alertes@sentinelle.org&to=a@b.org",
        "mailto://127.0.0.1:2525?from=alertes@sentinelle.org&to=a@b.org",
        "mailtos://user:secret@example.com",
        "tgram://123456789:ABCdefGHIjklMNOpqrSTUvwxYZ/987654321",
        "signal://127.0.0.1:8080/+22370112233/+22376554433",
    ],
)
def test_usable_addresses_are_accepted(url):
    validate_channel_url(url, "channels[0]", policy=LOCAL)


@pytest.mark.parametrize(
    "url",
    [
        "notaurl://x",
        "json://",
        "garbage",
        "",
        "   ",
        # Apprise derives the sender from user@host; an IP host makes no valid sender.
        "mailto://user:pass@127.0.0.1:2525?to=a@b.org",
    ],
)
def test_unusable_addresses_are_rejected_naming_the_field(url):
    with pytest.raises(ChannelError) as info:
        validate_channel_url(url, "channels[2]", policy=LOCAL)
    assert info.value.field == "channels[2]"


def test_rejection_never_repeats_the_secret():
    with pytest.raises(ChannelError) as info:
        validate_channel_url("tgram://SECRETTOKEN/", "channels[0]")
    assert "SECRETTOKEN" not in str(info.value)
    assert "tgram://" in str(info.value)


def test_deployment_can_refuse_schemes():
    with pytest.raises(ChannelError, match="mailto://"):
        validate_channel_url(
            "json://127.0.0.1:8080/path",
            "channels[0]",
            policy=ChannelPolicy.from_settings("mailto", "127.0.0.1"),
        )


@pytest.mark.parametrize(
    ("url", "masked", "hidden"),
    [
        ("json://127.0.0.1:8080/hook", "json://127.0.0.1:8080/hook", None),
        ("json://user:pw123@127.0.0.1:8080/hook", "json://user:****@127.0.0.1:8080/hook", "pw123"),
        (
            "mailto://user:pass@127.0.0.1:2525?from=x@y.org&to=a@b.org",
            "mailto://user:****@127.0.0.1:2525/a@b.org?from=x@y.org",
            "pass",
        ),
        (
            "tgram://123456789:ABCdefGHIjklMNOpqrSTUvwxYZ/987654321",
            None,
            "ABCdefGHIjklMNOpqrSTUvwxYZ",
        ),
    ],
)
def test_masking_hides_secrets(url, masked, hidden):
    result = mask_channel_url(url)
    if masked is not None:
        assert result == masked
    if hidden is not None:
        assert hidden not in result
    assert result.startswith(url.split("://")[0] + "://")


def test_masking_shortens_phone_numbers():
    result = mask_channel_url("signal://127.0.0.1:8080/+22370112233/+22376554433")
    assert "70112233" not in result
    assert "+223****33" in result


def test_masking_an_unusable_address_keeps_only_the_scheme():
    assert mask_channel_url("tgram://SECRETTOKEN/") == "tgram://****"
    assert mask_channel_url("garbage") == "invalid://****"


# --- delivery ----------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200 if "fail" not in self.path else 500)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(name="http_receiver")
def fx_http_receiver() -> Iterator[tuple[int, list[dict]]]:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Receiver.received
    server.shutdown()
    server.server_close()


async def test_apprise_notifier_delivers_to_a_local_json_receiver(http_receiver):
    port, received = http_receiver
    result = await AppriseNotifier(timeout_s=10, policy=LOCAL).send(
        f"json://127.0.0.1:{port}/hook", "Alerte Sentinelle", "Attaque armée - Diéma"
    )
    assert result == DeliveryResult(True)
    assert received[0]["title"] == "Alerte Sentinelle"
    assert received[0]["message"] == "Attaque armée - Diéma"


async def test_apprise_notifier_reports_a_server_error(http_receiver):
    port, _ = http_receiver
    result = await AppriseNotifier(timeout_s=10, policy=LOCAL).send(
        f"json://127.0.0.1:{port}/fail", "t", "b"
    )
    assert not result.ok
    # A subscriber reads a reason class, never the receiver's answer or a network error.
    assert result.error == "delivery failed: rejected_by_receiver"


async def test_apprise_notifier_reports_an_unreachable_host():
    result = await AppriseNotifier(timeout_s=10, policy=LOCAL).send(
        "json://127.0.0.1:9/hook", "t", "b"
    )
    assert not result.ok
    assert result.error == "delivery failed: unreachable"


async def test_apprise_notifier_refuses_an_unusable_address():
    result = await AppriseNotifier(policy=ChannelPolicy.from_settings("default,notaurl")).send(
        "notaurl://x", "t", "b"
    )
    assert result == DeliveryResult(False, "delivery failed: invalid_address", final=True)


async def test_apprise_notifier_delivers_mail_to_a_local_smtp_server():
    aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Message

    messages = []

    class Collect(Message):
        def handle_message(self, message):
            messages.append(message)

    with socket.socket() as probe:  # aiosmtpd's readiness check needs a real port up front
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = aiosmtpd_controller.Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        url = f"mailto://127.0.0.1:{port}?from=alertes@sentinelle.org&to=ong@example.org"
        result = await AppriseNotifier(timeout_s=10, policy=LOCAL).send(
            url, "Alerte Sentinelle", "Route fermée"
        )
    finally:
        controller.stop()
    assert result.ok, result.error
    assert messages[0]["To"] == "ong@example.org"
    assert "Alerte Sentinelle" in messages[0]["Subject"]


async def test_fake_notifier_records_and_fails_on_demand():
    fake = FakeNotifier()
    fake.fail_next(2, error="gateway down")
    fake.failing_urls.add("tgram://broken/1")
    outcomes = [
        await fake.send("json://a/1", "t", "1"),
        await fake.send("json://a/1", "t", "2"),
        await fake.send("tgram://broken/1", "t", "3"),
        await fake.send("json://a/1", "t", "4"),
    ]
    assert [o.ok for o in outcomes] == [False, False, False, True]
    assert outcomes[0].error == "gateway down"
    assert [c.body for c in fake.calls] == ["1", "2", "3", "4"]
    assert [c.body for c in fake.delivered] == ["4"]
