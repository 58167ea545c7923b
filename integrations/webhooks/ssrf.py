"""Where a callback may go: https only, and never to a loopback, private, link-local or metadata address.

The host is resolved and every address it resolves to is checked, at registration and again at each
delivery; the delivery then connects to the checked address itself (deliver.py), so a DNS answer that
changes in between (rebinding) cannot send it elsewhere. WEBHOOK_ALLOW_LOOPBACK (development, tests) allows
http and loopback addresses, and nothing else.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.errors import ValidationFailed

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MSG_SCHEME = _("The callback URL must start with https://.")
MSG_HOST = _("The callback URL has no valid host.")
MSG_ADDRESS = _("The callback URL resolves to an address that callbacks may not reach.")
MSG_RESOLVE = _("The callback URL's host does not resolve.")
MSG_CREDENTIALS = _("The callback URL may not carry a user name or password.")

# Cloud metadata services outside the link-local range (AWS's IPv6, Alibaba Cloud's).
METADATA = frozenset({ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")})


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


def _allow_loopback() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_LOOPBACK", False))


def address_allowed(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        return False
    if address.is_loopback:
        return _allow_loopback()
    return not (
        address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _resolve(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise ValidationFailed(MSG_RESOLVE, code="url_not_resolvable", field="url") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_url(url: str) -> Target:
    """The checked target of `url` (its first allowed address), or ValidationFailed (400) saying why not."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationFailed(MSG_HOST, code="invalid_url", field="url") from None
    allowed_schemes = {"https", "http"} if _allow_loopback() else {"https"}
    if parts.scheme not in allowed_schemes:
        raise ValidationFailed(MSG_SCHEME, code="url_not_https", field="url")
    if parts.username or parts.password:
        raise ValidationFailed(MSG_CREDENTIALS, code="invalid_url", field="url")
    host = parts.hostname
    if not host:
        raise ValidationFailed(MSG_HOST, code="invalid_url", field="url")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(host, port)
    # Every address must be allowed: a host that resolves to one public and one private address is refused.
    if not addresses or not all(address_allowed(a) for a in addresses):
        raise ValidationFailed(MSG_ADDRESS, code="url_not_allowed", field="url")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=str(addresses[0]))
