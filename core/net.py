"""The client's address: the one function that login throttling (django-axes) and the PII access log use.

Behind a TLS proxy REMOTE_ADDR is the proxy's. The proxy appends the address it saw to X-Forwarded-For,
so that header is read only when the request really came from a proxy named in TRUSTED_PROXIES, and
only from the right: everything left of the last trusted hop was written by the client and is ignored.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES holds a value that is not an address or network: {exc}") from None


def trusted_networks() -> tuple[Network, ...]:
    return _networks(tuple(settings.TRUSTED_PROXIES))


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a proxy writes it: bare, "v4:port" or "[v6]:port"."""
    value = (value or "").strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address, networks) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def client_ip(request) -> str | None:
    """The address of the client that sent `request`, never one it can choose itself."""
    if request is None:
        return None
    meta = getattr(request, "META", {})
    remote = _parse(meta.get("REMOTE_ADDR", ""))
    if remote is None:
        return None
    networks = trusted_networks()
    if not networks or not _trusted(remote, networks):
        return str(remote)
    client = remote
    for hop in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _parse(hop)
        if address is None:
            # A hop we cannot read: keep the last one a trusted proxy vouched for.
            break
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
