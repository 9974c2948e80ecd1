"""The fast path for JSON web hooks (json:// and jsons://): the same request Apprise sends,
written straight onto an asyncio connection instead of through `requests` in a thread.

Apprise costs 1.5-2 ms of CPU per message in the sending process (plugin parsing, a `requests`
session, a thread hop); a fan-out of 1,000 web hooks then spends seconds in the event loop. Here
the address is parsed once (by Apprise itself, so the meaning of every option is Apprise's) and
the policy's static checks are run once per address; each delivery then only resolves, checks
and connects. Any option this path does not reproduce exactly sends the address back to Apprise.

The outbound-request policy is kept: every address the host resolves to is checked (as the
socket guard does) and the connection goes to the address that was checked, so a name that
changes between the check and the connection (DNS rebinding) cannot reach a refused address.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ipaddress
import json
import logging
import re
import socket
import ssl
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote, unquote

from alerts.delivery.channels import (
    ChannelPolicy,
    DeliveryResult,
    IPAddress,
    PolicyRefusal,
    _connect_allowed,
    _Egress,
    _instantiate,
    failure,
)

log = logging.getLogger("sentinelle.alerts")

FAST_SCHEMES = frozenset({"json", "jsons"})
_HEADER_PARTS = ("%2bidempotency-key=", "+idempotency-key=")


@dataclass(frozen=True, slots=True)
class JsonTarget:
    """Where and how a json:// address posts, as Apprise parsed it."""

    secure: bool
    host: str
    port: int
    path: str
    authorization: str | None
    verify: bool
    connect_timeout: float
    read_timeout: float

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        return host if self.port == default else f"{host}:{self.port}"


def split_idempotency(url: str) -> tuple[str, str | None]:
    """The address without the Idempotency-Key header the dispatcher added, and the key."""
    base, sep, query = url.partition("?")
    if not sep:
        return url, None
    kept: list[str] = []
    key: str | None = None
    for part in query.split("&"):
        low = part[:19].lower()
        if not low.startswith(_HEADER_PARTS):
            kept.append(part)
        else:
            key = unquote(part.partition("=")[2])
    return (f"{base}?{'&'.join(kept)}" if kept else base), key


def requote_uri(path: str) -> str:
    """The path as `requests` sends it: characters outside the URI set percent-encoded, escapes
    already there kept."""
    return quote(path, safe="!#$%&'()*+,/:;=?@[]~")


def json_target(url: str) -> JsonTarget | None:
    """The target of a plain json:// or jsons:// address; None if it uses anything this path does
    not reproduce (another method, extra headers, query parameters, payload fields...)."""
    plugin: Any = _instantiate(url)
    if plugin is None or type(plugin).__name__ != "NotifyJSON":
        return None
    if (
        str(getattr(plugin, "method", "POST")).upper() != "POST"
        or getattr(plugin, "headers", None)
        or getattr(plugin, "params", None)
        or getattr(plugin, "payload_extras", None)
    ):
        return None
    host = getattr(plugin, "host", None)
    if not isinstance(host, str) or not host:
        return None
    secure = bool(plugin.secure)
    port = plugin.port if isinstance(plugin.port, int) and plugin.port else (443 if secure else 80)
    path = requote_uri(plugin.fullpath or "/")
    if not path.startswith("/") or any(c <= " " or c > "~" for c in path):
        return None
    authorization = None
    if plugin.user:
        raw = f"{plugin.user}:{plugin.password or ''}"
        try:
            encoded = raw.encode("latin1")  # as requests' HTTPBasicAuth
        except UnicodeEncodeError:
            encoded = raw.encode()
        authorization = "Basic " + base64.b64encode(encoded).decode()
    return JsonTarget(
        secure=secure,
        host=host.strip("[]"),
        port=port,
        path=path,
        authorization=authorization,
        verify=bool(plugin.verify_certificate),
        connect_timeout=float(plugin.socket_connect_timeout or 4.0),
        read_timeout=float(plugin.socket_read_timeout or 4.0),
    )


# The plain form: no query, no fragment; anything else goes through Apprise's parser.
_PLAIN = re.compile(
    r"^(?P<scheme>jsons?)://"
    r"(?:(?P<user>[^:@/?#\[\]\s]+)(?::(?P<password>[^@/?#\s]*))?@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<path>/[^?#\s]*)?$"
)


@dataclass(frozen=True, slots=True)
class _HostOnly:
    """What the policy's host check reads of a plugin."""

    host: str
    port: int | None


def plain_json_target(url: str) -> JsonTarget | None:
    """The target of a json:// address in its plain form, parsed without Apprise (microseconds
    instead of a millisecond); None for any other form. Same result as json_target."""
    match = _PLAIN.match(url)
    if match is None:
        return None
    secure = match["scheme"] == "jsons"
    port = int(match["port"]) if match["port"] else (443 if secure else 80)
    if not 0 < port < 65536:
        return None
    path = requote_uri(match["path"] or "/")
    if any(c <= " " or c > "~" for c in path):
        return None
    authorization = None
    if match["user"]:
        raw = f"{unquote(match['user'])}:{unquote(match['password'] or '')}"
        try:
            encoded = raw.encode("latin1")
        except UnicodeEncodeError:
            encoded = raw.encode()
        authorization = "Basic " + base64.b64encode(encoded).decode()
    return JsonTarget(
        secure=secure,
        host=match["host"].strip("[]").lower(),
        port=port,
        path=path,
        authorization=authorization,
        verify=True,
        connect_timeout=4.0,
        read_timeout=4.0,
    )


def json_payload(title: str, body: str) -> bytes:
    """Apprise's JSON payload (apprise.plugins.custom_json), byte for byte."""
    return json.dumps(
        {"version": "1.0", "title": title, "message": body, "attachments": [], "type": "info"}
    ).encode()


@dataclass(frozen=True, slots=True)
class _Parsed:
    at: float
    refusal: tuple[str, str] | None
    target: JsonTarget | None


class JsonWebhooks:
    """Sends to json:// addresses without Apprise; `send` returns None to hand an address (or a
    redirect) back to Apprise."""

    def __init__(
        self, policy: ChannelPolicy, *, app_id: str, cache_s: float = 60.0, size: int = 4096
    ) -> None:
        self.policy = policy
        self.app_id = app_id
        self.cache_s = cache_s
        self.size = size
        self._parsed: OrderedDict[str, _Parsed] = OrderedDict()
        self._ssl: dict[bool, ssl.SSLContext] = {}
        self._verdicts: dict[tuple[IPAddress, int, frozenset[Any]], bool] = {}
        # The host check without name resolution: the names a plain address uses are resolved,
        # and each address checked, at every connection.
        self._no_dns = dataclasses.replace(policy, resolve=lambda host, port: [])

    def _context(self, verify: bool) -> ssl.SSLContext:
        if verify not in self._ssl:
            context = ssl.create_default_context()
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl[verify] = context
        return self._ssl[verify]

    async def _parse(self, base: str) -> _Parsed:
        now = time.monotonic()
        hit = self._parsed.get(base)
        if hit is not None and now - hit.at <= self.cache_s:
            self._parsed.move_to_end(base)
            return hit
        plain = plain_json_target(base)
        if plain is not None:
            parsed = _Parsed(now, self._plain_refusal(base, plain), plain)
        else:
            parsed = await asyncio.to_thread(self._full_parse, base, now)
        self._parsed[base] = parsed
        while len(self._parsed) > self.size:
            self._parsed.popitem(last=False)
        return parsed

    def _plain_refusal(self, url: str, target: JsonTarget) -> tuple[str, str] | None:
        """The policy's verdict on a plain address (it has no options to refuse): its scheme,
        and its host by name or literal address."""
        scheme = "jsons" if target.secure else "json"
        if scheme not in self.policy.schemes:
            return self.policy.refusal(url)  # the policy's own message
        try:
            self._no_dns._refuse_hosts(scheme, _HostOnly(target.host, target.port))
        except PolicyRefusal as exc:
            return "refused_by_policy", str(exc)
        return None

    def _full_parse(self, base: str, now: float) -> _Parsed:
        refusal = self.policy.refusal(base)
        return _Parsed(now, refusal, None if refusal else json_target(base))

    def _may_connect(
        self, ip: IPAddress, port: int, allowed: frozenset[tuple[IPAddress, int | None]]
    ) -> bool:
        """The socket guard's rule for one address (remembered: the answer depends on the
        address, the port and the allow-list alone)."""
        key = (ip, port, allowed)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = _connect_allowed(_Egress(allowed), (str(ip), port))
            if len(self._verdicts) >= self.size:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict

    async def _addresses(self, target: JsonTarget) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(target.host.split("%", 1)[0])]
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            return []
        found: list[IPAddress] = []
        for family, *_rest, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                try:
                    found.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
                except ValueError:
                    continue
        return list(dict.fromkeys(found))

    async def send(
        self,
        url: str,
        title: str,
        body: str,
        allowed: frozenset[tuple[IPAddress, int | None]],
    ) -> DeliveryResult | None:
        base, key = split_idempotency(url)
        parsed = await self._parse(base)
        if parsed.refusal is not None:
            reason, message = parsed.refusal
            log.warning("alert delivery to json:// refused (%s): %s", reason, message)
            return DeliveryResult(False, failure(reason), final=True)
        target = parsed.target
        if target is None:
            return None  # an option only Apprise knows: Apprise sends it
        addresses = await self._addresses(target)
        if not addresses:
            log.warning("alert delivery to json://: the host does not resolve")
            return DeliveryResult(False, failure("unreachable"))
        if not all(self._may_connect(ip, target.port, allowed) for ip in addresses):
            log.warning("alert delivery to json:// tried a connection the policy refuses")
            return DeliveryResult(False, failure("refused_by_policy"), final=True)
        headers = [
            ("Host", target.host_header),
            ("User-Agent", self.app_id),
            ("Accept", "*/*"),
            ("Content-Type", "application/json"),
            ("Connection", "close"),
        ]
        if target.authorization:
            headers.append(("Authorization", target.authorization))
        if key is not None:
            headers.append(("Idempotency-Key", key))
        payload = json_payload(title, body)
        headers.append(("Content-Length", str(len(payload))))
        try:
            status = await self._post(target, str(addresses[0]), headers, payload)
        except TimeoutError:
            log.warning("alert delivery to json:// failed (timeout)")
            return DeliveryResult(False, failure("timeout"))
        except (OSError, ssl.SSLError, ValueError) as exc:
            log.warning("alert delivery to json:// failed (unreachable): %s", type(exc).__name__)
            return DeliveryResult(False, failure("unreachable"))
        if 200 <= status < 300:
            return DeliveryResult(True)
        if 300 <= status < 400:
            return None  # Apprise follows redirects, each hop under the socket guard
        log.warning("alert delivery to json:// failed (rejected_by_receiver): error=%s", status)
        return DeliveryResult(False, failure("rejected_by_receiver"))

    async def _post(
        self, target: JsonTarget, address: str, headers: list[tuple[str, str]], payload: bytes
    ) -> int:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[int] = loop.create_future()
        request = request_bytes(target.path, headers, payload)
        async with asyncio.timeout(target.connect_timeout):
            transport, _ = await loop.create_connection(
                lambda: _Exchange(request, answer),
                address,
                target.port,
                ssl=self._context(target.verify) if target.secure else None,
                server_hostname=target.host if target.secure else None,
            )
        try:
            async with asyncio.timeout(target.read_timeout):
                return await answer
        finally:
            transport.close()


def request_bytes(path: str, headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One HTTP/1.1 POST. Every part is ours or checked: the path is percent-encoded printable
    ASCII, the host a name or an address, the key and credentials have no line breaks."""
    lines = [f"POST {path} HTTP/1.1"]
    for name, value in headers:
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"the {name} header holds a line break")
        lines.append(f"{name}: {value}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("latin1", errors="strict") + payload


_STATUS = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})(?: |\r|\n)")
_MAX_HEAD = 64 * 1024


def response_status(data: bytes) -> int | None:
    """The final status code of an answer that starts with `data`; None until it is known.
    Informational answers (1xx) are skipped; anything that is not HTTP raises ValueError."""
    while True:
        end = data.find(b"\r\n")
        if end < 0:
            if len(data) > _MAX_HEAD:
                raise ValueError("no status line")
            return None
        match = _STATUS.match(data[: end + 2])
        if match is None:
            raise ValueError("not an HTTP answer")
        status = int(match.group(1))
        if status >= 200:
            return status
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        data = data[head_end + 4 :]


class _Exchange(asyncio.Protocol):
    """Writes the request when connected; resolves `answer` with the status code."""

    def __init__(self, request: bytes, answer: asyncio.Future[int]) -> None:
        self.request = request
        self.answer = answer
        self.data = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(asyncio.Transport, transport).write(self.request)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            return
        self.data += data
        try:
            status = response_status(self.data)
        except ValueError as exc:
            self.answer.set_exception(ConnectionError(str(exc)))
            self.transport.close()
            return
        if status is not None:
            self.answer.set_result(status)
            self.transport.close()  # the body is not read: the status says it all

    def eof_received(self) -> bool | None:
        return None  # close

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc or ConnectionResetError("closed before an answer"))
