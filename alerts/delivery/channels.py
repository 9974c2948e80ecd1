"""Delivery channels: Apprise URL validation and masking, the outbound-request policy, the
Notifier port and its adapters.

Outbound requests (server-side request forgery): a channel address makes the server connect
somewhere. `ChannelPolicy` allows only the operator's list of Apprise schemes, refuses method and
header overrides, and refuses hosts that resolve to loopback, private, link-local, unspecified,
multicast or cloud-metadata addresses unless the operator lists them (SENTINELLE_CHANNEL_ALLOW_HOSTS).
It is checked when a subscription is saved, again before each delivery, and a third time on every
socket the delivery opens (`egress_guard`: an audit hook on `socket.connect`, so a name that
resolves to a public address at check time and to 127.0.0.1 a second later — DNS rebinding — is
still refused). A subscriber only ever sees "delivery failed" and a reason class.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import apprise
from apprise.utils.parse import parse_url as apprise_parse_url

log = logging.getLogger("sentinelle.alerts")


class ChannelError(ValueError):
    """A channel address the user must correct; `field` names it, e.g. "channels[1]"."""

    def __init__(self, field: str, message: str, *, reason: str = "refused_by_policy") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.reason = reason  # the delivery log's reason class, when found at delivery time


_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*)://")
# Phone numbers and long numeric ids (7+ digits, optionally +/%2B prefixed) in a masked URL.
_NUMBER = re.compile(r"(?:\+|%2B)?\d{7,}")


def _scheme(url: str) -> str | None:
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else None


def _instantiate(url: str) -> apprise.plugins.NotifyBase | None:
    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


# --- the outbound-request policy ---------------------------------------------------------------

# Apprise schemes accepted by default (names as in apprise 2.x): SMS gateways, e-mail, chat,
# push services, and JSON / form / XML web hooks. SENTINELLE_CHANNEL_SCHEMES replaces the list;
# the word "default" in it stands for this list.
SMS_SCHEMES = frozenset(
    {
        "atalk",
        "bulksms",
        "clickatell",
        "clicksend",
        "d7sms",
        "httpsms",
        "infobip",
        "kaleyra",
        "msgbird",
        "msg91",
        "nexmo",
        "vonage",
        "octopush",
        "plivo",
        "seven",
        "sinch",
        "smseagle",
        "smseagles",
        "telnyx",
        "twilio",
    }
)
EMAIL_SCHEMES = frozenset({"mailto", "mailtos"})
CHAT_SCHEMES = frozenset(
    {
        "tgram",
        "whatsapp",
        "signal",
        "signals",
        "matrix",
        "matrixs",
        "slack",
        "discord",
        "workflow",
        "workflows",
        "rocket",
        "rockets",
        "mmost",
        "mmosts",
        "gchat",
        "zulip",
        "webex",
        "wxteams",
    }
)
PUSH_SCHEMES = frozenset({"ntfy", "ntfys", "gotify", "gotifys", "pover", "pbul"})
WEBHOOK_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
DEFAULT_SCHEMES = SMS_SCHEMES | EMAIL_SCHEMES | CHAT_SCHEMES | PUSH_SCHEMES | WEBHOOK_SCHEMES

# Schemes whose URL names the server to connect to (the others talk to their vendor's hosts,
# and the socket guard still covers them).
HOST_SCHEMES = (
    WEBHOOK_SCHEMES
    | EMAIL_SCHEMES
    | frozenset(
        {
            "ntfy",
            "ntfys",
            "gotify",
            "gotifys",
            "matrix",
            "matrixs",
            "rocket",
            "rockets",
            "mmost",
            "mmosts",
            "signal",
            "signals",
            "smseagle",
            "smseagles",
            "apprise",
            "apprises",
        }
    )
)
# Our own header on web hooks (see alerts.dispatcher.with_idempotency_header).
OWN_HEADERS = frozenset({"idempotency-key"})

# Cloud metadata services by name and by address (link-local and ULA ones are refused anyway).
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.com",
        "metadata.packet.net",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "168.63.129.16",
        "100.100.100.200",
        "192.0.0.192",
    )
)
_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa", ".lan")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_6TO4 = ipaddress.ip_network("2002::/16")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def forbidden_address(ip: IPAddress) -> bool:
    """True for addresses a channel may not reach: anything not on the public internet."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return forbidden_address(ip.ipv4_mapped)
        if ip in _NAT64:
            return forbidden_address(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip in _6TO4:
            return forbidden_address(ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF))
    return (
        ip in METADATA_ADDRESSES
        or not ip.is_global
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_reserved
    )


def forbidden_name(host: str) -> bool:
    """Names that point inside the server's own network whatever they resolve to."""
    name = host.lower().rstrip(".")
    return (
        name == "localhost"
        or name in METADATA_HOSTS
        or name.endswith(_LOCAL_SUFFIXES)
        or ("." not in name and not _looks_numeric(name))
    )


def _looks_numeric(name: str) -> bool:
    # "2130706433" or "0x7f000001" are addresses in disguise: resolved and checked as such.
    return bool(re.fullmatch(r"(0x)?[0-9a-f.]+", name))


def resolve_addresses(host: str, port: int | None) -> list[IPAddress]:
    """Every address `host` resolves to (blocking: call it from a thread); [] if it does not."""
    try:
        infos = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return []
    found: list[IPAddress] = []
    for family, *_rest, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(ValueError):
                found.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    return found


@dataclass(frozen=True, slots=True)
class AllowedHost:
    """One SENTINELLE_CHANNEL_ALLOW_HOSTS entry: a host name or address, any port or one port."""

    host: str
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> AllowedHost:
        entry = text.strip().lower()
        if not entry:
            raise ValueError("empty host")
        if entry.startswith("["):  # [v6] or [v6]:port
            host, _, rest = entry[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else None
        elif entry.count(":") == 1:
            host, port = entry.split(":")
        else:
            host, port = entry, None
        if not host:
            raise ValueError(f"no host in {text!r}")
        if port is not None and (not port.isdigit() or not 0 < int(port) < 65536):
            raise ValueError(f"bad port in {text!r}; write host or host:port")
        return cls(host.rstrip("."), None if port is None else int(port))

    def matches(self, host: str, port: int | None) -> bool:
        return host.lower().rstrip(".").strip("[]") == self.host and (
            self.port is None or self.port == port
        )


class PolicyRefusal(Exception):
    """Internal: why a URL is refused (the text is for the user; it never repeats the URL)."""


def _default_port(scheme: str, plugin: Any) -> int | None:
    port = getattr(plugin, "port", None)
    if isinstance(port, int) and port:
        return port
    if scheme in EMAIL_SCHEMES:
        return 465 if scheme == "mailtos" else 25
    return 443 if scheme.endswith("s") else 80


@dataclass(frozen=True)
class ChannelPolicy:
    """Which channel addresses this server may deliver to (see the module docstring)."""

    schemes: frozenset[str] = DEFAULT_SCHEMES
    allow_hosts: tuple[AllowedHost, ...] = ()
    resolve: Callable[[str, int | None], list[IPAddress]] = field(
        default=resolve_addresses, compare=False, repr=False
    )

    @classmethod
    def from_settings(
        cls, schemes: str | Iterable[str] = "", allow_hosts: str = ""
    ) -> ChannelPolicy:
        """`schemes`: comma-separated Apprise schemes ("" or "default": the default list;
        "default,apprise" adds to it); `allow_hosts`: comma-separated `host` or `host:port`."""
        names = schemes.split(",") if isinstance(schemes, str) else list(schemes)
        chosen: set[str] = set()
        for name in (n.strip().lower().removesuffix("://") for n in names):
            if name == "default":
                chosen |= DEFAULT_SCHEMES
            elif name:
                chosen.add(name)
        hosts = tuple(AllowedHost.parse(h) for h in allow_hosts.split(",") if h.strip())
        return cls(frozenset(chosen) or DEFAULT_SCHEMES, hosts)

    # --- checks ---

    def check(self, url: str, field: str = "channel") -> None:
        """Raise ChannelError unless this server may deliver to `url`. Blocking (Apprise parsing,
        DNS): call it from a thread. The message names the field and the scheme, never the
        address, which may hold passwords or tokens."""
        if not isinstance(url, str) or not url.strip():
            raise ChannelError(field, "give a notification address, e.g. mailto://..., tgram://...")
        url = url.strip()
        scheme = _scheme(url)
        if scheme is None:
            raise ChannelError(
                field,
                "not a notification address: it must start with a scheme such as "
                "mailto://, tgram://, signal:// or json://",
            )
        if scheme not in self.schemes:
            raise ChannelError(
                field,
                f"{scheme}:// is not allowed on this server; use one of "
                + ", ".join(f"{s}://" for s in sorted(self.schemes))
                + " (the operator sets the list in SENTINELLE_CHANNEL_SCHEMES)",
            )
        try:
            self._refuse_overrides(url, scheme)
            plugin = _instantiate(url)
            if plugin is None:
                raise ChannelError(
                    field,
                    f"{scheme}:// address is not usable: check the scheme and that the "
                    "host, token or recipient are all given (see the Apprise documentation for "
                    "this service)",
                    reason="invalid_address",
                )
            self._refuse_plugin_overrides(plugin, scheme)
            self._refuse_hosts(scheme, plugin)
        except PolicyRefusal as exc:
            raise ChannelError(field, str(exc)) from exc

    def refusal(self, url: str) -> tuple[str, str] | None:
        """(reason class, message) if `url` is refused now, else None: the delivery-time check."""
        try:
            self.check(url)
        except ChannelError as exc:
            return exc.reason, exc.message
        return None

    def _refuse_overrides(self, url: str, scheme: str) -> None:
        parsed = apprise_parse_url(url, verify_host=False, simple=False) or {}
        qsd: dict[str, str] = parsed.get("qsd") or {}
        headers = {str(k).strip().lower() for k in (parsed.get("qsd+") or {})}
        if (headers - OWN_HEADERS) or parsed.get("qsd-") or parsed.get("qsd:"):
            raise PolicyRefusal(
                f"{scheme}:// addresses may not add headers, query parameters or payload fields "
                "(+name=, -name=, :name=); remove them"
            )
        if any(k.strip().lower() in ("method", "header", "headers") for k in qsd):
            raise PolicyRefusal(
                f"{scheme}:// addresses may not choose the request method or headers "
                "(method=, header=); remove that option, messages are always sent by POST"
            )

    def _refuse_plugin_overrides(self, plugin: Any, scheme: str) -> None:
        headers = getattr(plugin, "headers", None)
        if isinstance(headers, dict) and {str(k).strip().lower() for k in headers} - OWN_HEADERS:
            raise PolicyRefusal(f"{scheme}:// addresses may not add headers; remove them")
        method = getattr(plugin, "method", None)
        if isinstance(method, str) and method.upper() != "POST":
            raise PolicyRefusal(
                f"{scheme}:// addresses may not choose the request method; remove method="
            )

    def targets(self, scheme: str, plugin: Any) -> list[tuple[str, int | None]]:
        """The servers a plugin will connect to, when its URL names them."""
        if scheme not in HOST_SCHEMES:
            return []
        if scheme in EMAIL_SCHEMES:
            host = getattr(plugin, "smtp_host", None) or getattr(plugin, "host", None)
        elif scheme in ("ntfy", "ntfys") and getattr(plugin, "mode", None) != "private":
            return []
        else:
            host = getattr(plugin, "host", None)
        if not isinstance(host, str) or not host:
            return []
        return [(host.strip("[]"), _default_port(scheme, plugin))]

    def allowed_host(self, host: str, port: int | None) -> bool:
        return any(entry.matches(host, port) for entry in self.allow_hosts)

    def _refuse_hosts(self, scheme: str, plugin: Any) -> None:
        for host, port in self.targets(scheme, plugin):
            if self.allowed_host(host, port):
                continue
            refused = PolicyRefusal(
                f"{scheme}:// to this host is not allowed: channels may only reach public "
                "internet addresses, not loopback, private, link-local or metadata ones (the "
                "operator may list a host in SENTINELLE_CHANNEL_ALLOW_HOSTS)"
            )
            try:
                literal: IPAddress | None = ipaddress.ip_address(host.split("%", 1)[0])
            except ValueError:
                literal = None
            if literal is not None:
                if forbidden_address(literal):
                    raise refused
                continue
            if forbidden_name(host):
                raise refused
            # Every address the name has now; a name that does not resolve is checked again
            # (and at each connection) when the message is sent.
            if any(forbidden_address(ip) for ip in self.resolve(host, port)):
                raise refused

    def allowed_addresses(self) -> frozenset[tuple[IPAddress, int | None]]:
        """The addresses (and ports) the allow-list stands for, resolved now (blocking)."""
        found: set[tuple[IPAddress, int | None]] = set()
        for entry in self.allow_hosts:
            try:
                found.add((ipaddress.ip_address(entry.host), entry.port))
                continue
            except ValueError:
                pass
            found.update((ip, entry.port) for ip in self.resolve(entry.host, entry.port))
        return frozenset(found)


DEFAULT_POLICY = ChannelPolicy()


def validate_channel_url(
    url: str, field: str = "channel", *, policy: ChannelPolicy | None = None
) -> None:
    """Raise ChannelError unless Apprise can deliver to `url` under `policy` (default: the
    default schemes, public hosts only). Blocking: call it from a thread in a server."""
    (policy or DEFAULT_POLICY).check(url, field)


# --- the socket guard --------------------------------------------------------------------------


@dataclass
class _Egress:
    allowed: frozenset[tuple[IPAddress, int | None]]
    refused: bool = False


_EGRESS: contextvars.ContextVar[_Egress | None] = contextvars.ContextVar(
    "sentinelle_egress", default=None
)
# Not a cache nor a key: `sys.addaudithook` cannot be undone, so whether the hook is installed
# is a fact about the process; the flag only makes installing it idempotent. What the hook
# enforces lives in `_EGRESS`, set per delivery by `egress_guard`.
_GUARD_INSTALLED = False
_GUARD_LOCK = threading.Lock()


def _connect_allowed(state: _Egress, address: Any) -> bool:
    if not isinstance(address, tuple) or len(address) < 2:
        return False  # AF_UNIX paths and other families: never from a delivery
    host, port = str(address[0]).split("%", 1)[0], address[1]
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = resolve_addresses(host, port)
        if not addresses:
            return False
    for ip in addresses:
        if (
            forbidden_address(ip)
            and (ip, port) not in state.allowed
            and (ip, None) not in state.allowed
        ):
            return False
    return True


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "socket.connect":
        return
    state = _EGRESS.get()
    if state is None or len(args) < 2:
        return
    if not _connect_allowed(state, args[1]):
        state.refused = True
        raise PermissionError("connection refused by the channel policy")


def install_egress_guard() -> None:
    """Install (once per process) the `socket.connect` audit hook behind `egress_guard`."""
    global _GUARD_INSTALLED
    with _GUARD_LOCK:
        if not _GUARD_INSTALLED:
            sys.addaudithook(_audit)
            _GUARD_INSTALLED = True


@contextlib.contextmanager
def egress_guard(
    allowed: frozenset[tuple[IPAddress, int | None]] = frozenset(),
) -> Iterator[_Egress]:
    """Within this block (and the threads it starts with its context, as Apprise does), every
    socket connection to a non-public address not in `allowed` fails with PermissionError."""
    install_egress_guard()
    state = _Egress(allowed)
    token = _EGRESS.set(state)
    try:
        yield state
    finally:
        _EGRESS.reset(token)


# --- display -----------------------------------------------------------------------------------


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

# What a subscriber may read about a failed delivery: "delivery failed: <reason>", one of these.
# Never the network error itself, which would tell whether a port is open.
REASONS = (
    "refused_by_policy",
    "invalid_address",
    "unreachable",
    "timeout",
    "rejected_by_receiver",
    "failed",
)


def failure(reason: str) -> str:
    """The delivery-log text for a failure of this reason class."""
    return f"delivery failed: {reason if reason in REASONS else 'failed'}"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of sending one message to one address. `error` is shown to the subscriber;
    `final` means trying again cannot help (the address is refused or unusable)."""

    ok: bool
    error: str | None = None
    final: bool = False


class Notifier(Protocol):
    """Sends one message to one channel address; never raises for delivery failures."""

    async def send(self, url: str, title: str, body: str) -> DeliveryResult: ...


def _classify(status: str, messages: list[str]) -> str:
    text = " ".join(messages).lower()
    if status == "timeout" or "timed out" in text or "timeout" in text:
        return "timeout"
    if re.search(r"error=\d{3}", text) or "failed to send" in text:
        return "rejected_by_receiver"
    if "connection" in text or "connect" in text or "resolve" in text:
        return "unreachable"
    return "failed"


class AppriseNotifier:
    """Delivers through Apprise, one URL per call, so each delivery has its own outcome
    (Apprise reports one result for all the URLs of a call). Every address is checked against
    `policy` first, and every connection the delivery opens is checked again (egress_guard)."""

    def __init__(
        self,
        *,
        timeout_s: float = 30.0,
        app_id: str = "Sentinelle",
        policy: ChannelPolicy | None = None,
        allow_cache_s: float = 60.0,
        fast_webhooks: bool = True,
    ) -> None:
        from alerts.delivery.webhook import JsonWebhooks  # it builds on this module

        self._timeout_s = timeout_s
        self._asset = apprise.AppriseAsset(app_id=app_id, app_desc=app_id)
        self.policy = policy or DEFAULT_POLICY
        self._allow_cache_s = allow_cache_s
        self._allowed: tuple[float, frozenset[tuple[IPAddress, int | None]]] | None = None
        # json:// and jsons:// web hooks without Apprise's per-message CPU (alerts.delivery.webhook)
        self._webhooks = (
            JsonWebhooks(self.policy, app_id=app_id, cache_s=allow_cache_s)
            if fast_webhooks
            else None
        )
        install_egress_guard()

    async def _allowed_addresses(self) -> frozenset[tuple[IPAddress, int | None]]:
        now = time.monotonic()
        if self._allowed is None or now - self._allowed[0] > self._allow_cache_s:
            addresses = await asyncio.to_thread(self.policy.allowed_addresses)
            self._allowed = (now, addresses)
        return self._allowed[1]

    async def send(self, url: str, title: str, body: str) -> DeliveryResult:
        scheme = _scheme(url) or "?"
        if self._webhooks is not None and scheme in ("json", "jsons"):
            fast = await self._webhooks.send(url, title, body, await self._allowed_addresses())
            if fast is not None:
                return fast
        # Checked again now: the policy may have changed, and a name may resolve elsewhere.
        refused = await asyncio.to_thread(self.policy.refusal, url)
        if refused is not None:
            reason, message = refused
            log.warning("alert delivery to %s:// refused (%s): %s", scheme, reason, message)
            return DeliveryResult(False, failure(reason), final=True)
        ap = apprise.Apprise(asset=self._asset)
        if not ap.add(url):
            return DeliveryResult(False, failure("invalid_address"), final=True)
        allowed = await self._allowed_addresses()
        with egress_guard(allowed) as guard:
            try:
                result = await ap.async_notify(
                    body=body,
                    title=title,
                    body_format=apprise.NotifyFormat.TEXT,
                    timeout=self._timeout_s,
                )
            except Exception:  # Apprise plugins raise arbitrary errors; report, don't crash.
                log.exception("alert delivery to %s:// raised", scheme)
                result = None
        if guard.refused:
            log.warning("alert delivery to %s:// tried a connection the policy refuses", scheme)
            return DeliveryResult(False, failure("refused_by_policy"), final=True)
        if result is None:
            return DeliveryResult(False, failure("failed"))
        if result:
            return DeliveryResult(True)
        messages = [
            entry.message
            for entry in result.logs()
            if entry.level in ("WARNING", "ERROR", "CRITICAL")
        ]
        status = str(getattr(getattr(result, "status", None), "name", "FAILURE")).lower()
        reason = _classify(status, messages)
        detail = "; ".join(dict.fromkeys(messages)) or "no detail from the service"
        # The detail is for the operator's log only.
        log.warning("alert delivery to %s:// failed (%s): %s", scheme, reason, detail[:500])
        return DeliveryResult(False, failure(reason))


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
