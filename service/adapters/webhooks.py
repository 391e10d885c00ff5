"""The one module that sends webhooks: Standard Webhooks signing and SSRF checks.

Signature: webhook-signature = "v1," + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")),
where key is the secret's bytes, or the base64-decoded part after "whsec_" for
secrets in the Standard Webhooks format. The id stays the same across retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import socket
import urllib.error
import urllib.request
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


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_callback_url(
    url: str,
    allow_private: bool = False,
    allowlist: Iterable[str] = (),
    resolve: Resolver = _system_resolver,
) -> str | None:
    """None when the URL may be called back; otherwise a readable reason why not."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "callback_url is not a valid URL"
    if parts.scheme not in {"http", "https"}:
        return "callback_url must use http or https"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "callback_url has no host"
    if parts.username or parts.password:
        return "callback_url must not carry credentials"
    if allow_private or host in {h.strip().lower() for h in allowlist}:
        return None
    try:
        addresses = [host] if _is_ip(host) else resolve(host, port)
    except OSError:
        return f"callback_url host {host} does not resolve"
    if not addresses:
        return f"callback_url host {host} does not resolve"
    if any(_refused(a) for a in addresses):
        return "callback_url points to a loopback, link-local or private address"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None  # a redirect is an answer, never followed (SSRF)


@dataclass(frozen=True)
class WebhookResult:
    status: int
    body: str


def post(url: str, headers: dict[str, str], body: str, timeout: float = 10.0) -> WebhookResult:
    """POST once. Network errors raise OSError; any HTTP status is returned."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            return WebhookResult(response.status, response.read(2048).decode(errors="replace"))
    except urllib.error.HTTPError as exc:
        with exc:
            text = exc.read(2048).decode(errors="replace") if exc.fp else ""
        return WebhookResult(exc.code, text)


def is_retryable(status: int) -> bool:
    """5xx, 408 and 429 may heal; other non-2xx answers will not."""
    return status >= 500 or status in {408, 429}
