"""Where an endpoint may point: HTTPS on a public address (server-side request forgery: an
admin's URL must not make the platform call its own network, the cloud's metadata service or
itself).

The host is resolved and every address it has is checked, at registration and again before
each delivery (a name may be pointed elsewhere later). Development and test allow loopback,
over HTTP too, so that the fake receiver on 127.0.0.1 works; production allows neither.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from backend.errors import ValidationFailed

MAX_URL_LENGTH = 2000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(ValidationFailed):
    code = "endpoint_address_refused"
    title = "The endpoint's address is not one the platform may call"


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    allow_loopback: bool  # development and test: the fakes answer on 127.0.0.1

    @classmethod
    def for_environment(cls, environment: str) -> AddressPolicy:
        return cls(allow_loopback=environment != "production")

    async def check(self, url: str) -> str:
        """``url`` if the platform may post to it, else ``AddressRefused``."""
        host, port, secure = _parts(url)
        addresses = await _resolve(host, port)
        loopback_only = all(address.is_loopback for address in addresses)
        if not secure and not (self.allow_loopback and loopback_only):
            raise AddressRefused("the endpoint must be an https:// URL", field="url")
        for address in addresses:
            if address.is_loopback and self.allow_loopback:
                continue
            if not address.is_global or address.is_multicast:
                raise AddressRefused(
                    f"{host} resolves to {address}, which is not a public address", field="url"
                )
        return url


def _parts(url: str) -> tuple[str, int, bool]:
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused(f"the URL is longer than {MAX_URL_LENGTH} characters", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"not a URL: {exc}", field="url") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AddressRefused("the endpoint must be an https:// URL with a host", field="url")
    if parts.username or parts.password:
        raise AddressRefused("the URL must not carry credentials", field="url")
    secure = parts.scheme == "https"
    return parts.hostname, port or (443 if secure else 80), secure


async def _resolve(host: str, port: int) -> list[Address]:
    try:
        return [_unmapped(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise AddressRefused(f"{host} does not resolve: {exc}", field="url") from None
    addresses = [_unmapped(ipaddress.ip_address(info[4][0])) for info in found]
    if not addresses:
        raise AddressRefused(f"{host} has no address", field="url")
    return addresses


def _unmapped(address: Address) -> Address:
    # ::ffff:10.0.0.1 is 10.0.0.1 to the network stack.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
