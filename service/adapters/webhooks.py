"""The one module that sends webhooks: Standard Webhooks signing and SSRF checks.

Signature: webhook-signature = "v1," + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")),
where key is the secret's bytes, or the base64-decoded part after "whsec_" for
secrets in the Standard Webhooks format. The id stays the same across retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]


def _key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_") :])
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def verify(secret: str, headers: dict[str, str], body: str) -> bool:
    """Receiver side (used by tests and documented for clients)."""
    expected = sign(secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
    given = headers["webhook-signature"].split()
    return any(hmac.compare_digest(expected, part) for part in given)


def signed_headers(secret: str, msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


# IPv6 forms that carry an IPv4 address (RFC 6052 NAT64, RFC 3056 6to4, RFC 4380 Teredo,
# RFC 4291 IPv4-compatible and -mapped): the IPv4 inside decides where a packet goes.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: a site's own translators
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
TEREDO = ipaddress.ip_network("2001::/32")
# Not public whatever Python's is_global says (its tables predate or omit them):
NOT_PUBLIC_V6 = (
    ipaddress.ip_network("fec0::/10"),  # site-local (RFC 3879: deprecated, still routed inside)
    ipaddress.ip_network("3fff::/20"),  # documentation (RFC 9637)
    ipaddress.ip_network("2001:db8::/32"),  # documentation (RFC 3849)
)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address may lead to (mapped, NAT64, 6to4, Teredo)."""
    found = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in NAT64_WELL_KNOWN or ip in IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def is_public_address(address: str) -> bool:
    """True only for a globally routable unicast address, also after unwrapping the IPv4
    inside IPv4-mapped, NAT64 (64:ff9b::/96), 6to4 (2002::/16) and Teredo addresses.
    Local-use NAT64 (64:ff9b:1::/48), IPv4-compatible (::/96) and Teredo are refused
    outright: no public service is reached through them; so are site-local (fec0::/10)
    and documentation (2001:db8::/32, 3fff::/20) addresses."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL or ip in IPV4_COMPATIBLE or ip in TEREDO:
            return False
        if any(ip in network for network in NOT_PUBLIC_V6):
            return False
        inner = embedded_ipv4(ip)
        if inner:  # a carrier of an IPv4 address: that address is where packets go
            candidates = list(inner)
    return all(
        c.is_global and not (c.is_multicast or c.is_reserved or c.is_unspecified)
        for c in candidates
    )


class CallbackRefused(Exception):
    """The URL may not be called. `transient`: the host did not resolve (may heal)."""

    def __init__(self, reason: str, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True)
class Target:
    """Where a callback goes: the URL's host (Host header, TLS server name) and the one
    address that was checked, which is the address the connection is made to."""

    scheme: str
    host: str
    port: int
    address: str
    target: str  # path and query, as sent in the request line


def resolve_target(
    url: str,
    allow_private: bool = False,
    allowlist: Iterable[str] = (),
    resolve: Resolver = _system_resolver,
    *,
    resolve_trusted: bool = True,
) -> Target:
    """Check the URL and resolve its host once; raises CallbackRefused with the reason.

    Every address the name resolves to must be public (unless private callbacks are
    allowed or the host is on the allow-list): one private answer refuses the URL.
    `resolve_trusted=False` (a check, not a send): a trusted host is not looked up at all
    and the Target's address is empty."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise CallbackRefused("callback_url is not a valid URL") from None
    if parts.scheme not in {"http", "https"}:
        raise CallbackRefused("callback_url must use http or https")
    if parts.port == 0:  # `port or default` would quietly call port 80 instead
        raise CallbackRefused("callback_url port must be 1 to 65535")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise CallbackRefused("callback_url has no host")
    if parts.username or parts.password:
        raise CallbackRefused("callback_url must not carry credentials")
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    trusted = allow_private or host in {h.strip().lower() for h in allowlist}
    if trusted and not resolve_trusted:
        return Target(parts.scheme, host, port, "", target)
    try:
        addresses = [host] if _is_ip(host) else resolve(host, port)
    except (OSError, UnicodeError):
        raise CallbackRefused(f"callback_url host {host} does not resolve", True) from None
    if not addresses:
        raise CallbackRefused(f"callback_url host {host} does not resolve", True)
    if not trusted and not all(is_public_address(a) for a in addresses):
        raise CallbackRefused("callback_url points to a loopback, link-local or private address")
    return Target(parts.scheme, host, port, addresses[0], target)


def check_callback_url(
    url: str,
    allow_private: bool = False,
    allowlist: Iterable[str] = (),
    resolve: Resolver = _system_resolver,
) -> str | None:
    """None when the URL may be called back; otherwise a readable reason why not."""
    try:
        resolve_target(url, allow_private, allowlist, resolve, resolve_trusted=False)
    except CallbackRefused as exc:
        return exc.reason
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to `address`, whatever `host` (the Host header) resolves to now."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to `address`, with `host` as the server name (SNI) and certificate name."""

    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self.address = target.address
        self.tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


@dataclass(frozen=True)
class WebhookResult:
    status: int
    body: str


def post(
    url: str,
    headers: dict[str, str],
    body: str,
    timeout: float = 10.0,
    *,
    allow_private: bool = False,
    allowlist: Iterable[str] = (),
    resolve: Resolver = _system_resolver,
    tls: ssl.SSLContext | None = None,
) -> WebhookResult:
    """Check the URL, resolve it once, POST once to the address that was checked.

    Raises CallbackRefused (the URL may not be called) or OSError (network); any HTTP
    status is returned. Redirects are answers, never followed (SSRF)."""
    target = resolve_target(url, allow_private, allowlist, resolve)
    if target.scheme == "https":
        connection: http.client.HTTPConnection = _PinnedHTTPS(
            target, timeout, tls or ssl.create_default_context()
        )
    else:
        connection = _PinnedHTTP(target, timeout)
    try:
        connection.request("POST", target.target, body=body.encode(), headers=headers)
        response = connection.getresponse()
        return WebhookResult(response.status, response.read(2048).decode(errors="replace"))
    finally:
        connection.close()


def is_retryable(status: int) -> bool:
    """5xx, 408 and 429 may heal; other non-2xx answers will not."""
    return status >= 500 or status in {408, 429}
