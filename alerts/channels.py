"""Delivery channels: Apprise URL validation and masking, the Notifier port and its adapters."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import apprise


class ChannelError(ValueError):
    """A channel address the user must correct; `field` names it, e.g. "channels[1]"."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*)://")
# Phone numbers and long numeric ids (7+ digits, optionally +/%2B prefixed) in a masked URL.
_NUMBER = re.compile(r"(?:\+|%2B)?\d{7,}")


def _scheme(url: str) -> str | None:
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else None


def _instantiate(url: str) -> apprise.plugins.NotifyBase | None:
    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


def validate_channel_url(
    url: str, field: str = "channel", *, allowed_schemes: Collection[str] | None = None
) -> None:
    """Raise ChannelError unless Apprise can deliver to `url`. The message names the field and
    the scheme but never repeats the address, which may hold passwords or tokens.

    `allowed_schemes` lets a deployment refuse schemes it does not want (e.g. json:// to
    internal hosts); None accepts every scheme Apprise supports.
    """
    if not isinstance(url, str) or not url.strip():
        raise ChannelError(field, "give a notification address, e.g. mailto://..., tgram://...")
    scheme = _scheme(url)
    if scheme is None:
        raise ChannelError(
            field, "not a notification address: it must start with a scheme such as mailto://, "
            "tgram://, signal:// or json://"
        )
    if allowed_schemes is not None and scheme not in allowed_schemes:
        raise ChannelError(
            field, f"{scheme}:// is not allowed here; use one of "
            + ", ".join(f"{s}://" for s in sorted(allowed_schemes))
        )
    if _instantiate(url.strip()) is None:
        raise ChannelError(
            field, f"{scheme}:// address is not usable: check the scheme and that the host, "
            "token or recipient are all given (see the Apprise documentation for this service)"
        )


def mask_channel_url(url: str) -> str:
    """The address with passwords, tokens and keys hidden and phone numbers shortened, for display.

    Uses the Apprise plugin's own privacy rendering, keeping only the options the user wrote.
    """
    plugin = _instantiate(url.strip()) if isinstance(url, str) else None
    if plugin is None:
        return f"{_scheme(url) or 'invalid'}://****" if isinstance(url, str) else "invalid://****"
    private = urlsplit(str(plugin.url(privacy=True)))  # type: ignore[no-untyped-call]
    given = {k.lower() for k, _ in parse_qsl(urlsplit(url.strip()).query, keep_blank_values=True)}
    query = "&".join(
        part for part in private.query.split("&") if part.split("=", 1)[0].lower() in given
    )
    masked = urlunsplit((private.scheme, private.netloc, private.path.rstrip("/"), query, ""))
    return unquote(_NUMBER.sub(_shorten_number, masked))


def _shorten_number(match: re.Match[str]) -> str:
    text = match.group(0).replace("%2B", "+")
    keep = 4 if text.startswith("+") else 3
    return f"{text[:keep]}****{text[-2:]}"


# --- the Notifier port -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of sending one message to one address."""

    ok: bool
    error: str | None = None


class Notifier(Protocol):
    """Sends one message to one channel address; never raises for delivery failures."""

    async def send(self, url: str, title: str, body: str) -> DeliveryResult: ...


class AppriseNotifier:
    """Delivers through Apprise, one URL per call, so each delivery has its own outcome
    (Apprise reports one result for all the URLs of a call)."""

    def __init__(self, *, timeout_s: float = 30.0, app_id: str = "Sentinelle") -> None:
        self._timeout_s = timeout_s
        self._asset = apprise.AppriseAsset(app_id=app_id, app_desc=app_id)

    async def send(self, url: str, title: str, body: str) -> DeliveryResult:
        scheme = _scheme(url) or "?"
        ap = apprise.Apprise(asset=self._asset)
        if not ap.add(url):
            return DeliveryResult(False, f"{scheme}:// address is not usable")
        try:
            result = await ap.async_notify(
                body=body, title=title, body_format=apprise.NotifyFormat.TEXT,
                timeout=self._timeout_s,
            )
        except Exception as exc:  # Apprise plugins raise arbitrary errors; report, don't crash.
            return DeliveryResult(False, f"{scheme}: {type(exc).__name__}: {exc}")
        if result:
            return DeliveryResult(True)
        messages = [
            entry.message
            for entry in result.logs()
            if entry.level in ("WARNING", "ERROR", "CRITICAL")
        ]
        status = getattr(getattr(result, "status", None), "name", "FAILURE")
        detail = "; ".join(dict.fromkeys(messages)) or "no detail from the service"
        return DeliveryResult(False, f"{scheme}: {status.lower()}: {detail}"[:1000])


@dataclass(frozen=True, slots=True)
class SentMessage:
    url: str
    title: str
    body: str
    ok: bool


@dataclass(slots=True)
class FakeNotifier:
    """In-memory Notifier for tests: records every call; fails the next `fail_times` calls
    and always fails for URLs in `failing_urls`."""

    fail_times: int = 0
    failing_urls: set[str] = field(default_factory=set)
    error: str = "simulated delivery failure"
    calls: list[SentMessage] = field(default_factory=list)

    def fail_next(self, times: int, error: str | None = None) -> None:
        self.fail_times = times
        if error is not None:
            self.error = error

    async def send(self, url: str, title: str, body: str) -> DeliveryResult:
        ok = url not in self.failing_urls and self.fail_times <= 0
        if url not in self.failing_urls and self.fail_times > 0:
            self.fail_times -= 1
        self.calls.append(SentMessage(url, title, body, ok))
        return DeliveryResult(True) if ok else DeliveryResult(False, self.error)

    @property
    def delivered(self) -> list[SentMessage]:
        """Calls that succeeded, in order."""
        return [c for c in self.calls if c.ok]
