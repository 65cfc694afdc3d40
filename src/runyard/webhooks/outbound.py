"""Outbound safety for deliveries: which URLs and which addresses a webhook may reach.

A URL must be ``https://`` (unless ``allow_http``) and its host must resolve only to public
addresses (unless ``allow_private``). The check is made on the address actually connected to:
``PinnedTransport`` resolves the host itself, refuses the request if any address is not
allowed, then connects to the checked address while keeping the original ``Host`` header and
TLS server name (so certificates are still verified for the hostname). A DNS answer that
changes between registration and delivery (DNS rebinding) cannot reach an internal service.
Connections are not kept alive (one hostname's verified TLS connection is never reused for
another name on the same address) and redirects are not followed (the client is built with
``follow_redirects=False``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

import httpx

from runyard.settings import WebhookSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The URL or one of the addresses its host resolves to is not allowed."""


#: IPv6 forms that carry an IPv4 address a translator or the host may turn into a connection to
#: it (Python 3.11's ``is_global`` calls them global): IPv4-compatible (deprecated), SIIT
#: (IPv4-translated) and NAT64's well-known and local-use prefixes. Refused whatever they carry:
#: a NAT64 gateway turns 64:ff9b::a9fe:a9fe into 169.254.169.254.
TRANSLATED = tuple(
    ipaddress.IPv6Network(n) for n in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48")
)


def is_public(address: IPAddress) -> bool:
    """Only globally routable unicast addresses: no private, loopback, link-local, shared
    (100.64/10), reserved, multicast or unspecified ones, also when wrapped in IPv6, and no
    IPv6 form an IPv4 address is translated from."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public(mapped)
        if any(address in network for network in TRANSLATED):
            return False
    return address.is_global and not address.is_multicast


class AddressPolicy:
    """Reads the settings at every call (tests flip ``allow_private``)."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings

    def check_url(self, url: str) -> tuple[str, int]:
        """The URL's (host, port) if its form is allowed; ``AddressRefused`` says why not."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise AddressRefused(f"not a valid URL: {exc}") from None
        schemes = ("https", "http") if self.settings.allow_http else ("https",)
        if parts.scheme not in schemes and self.settings.allow_http:
            raise AddressRefused("webhook URLs must start with https:// or http://")
        if parts.scheme not in schemes:
            raise AddressRefused(
                "webhook URLs must start with https:// (a server operator may allow http:// "
                "with RUNYARD_WEBHOOK_ALLOW_HTTP=true, e.g. for a receiver in development)"
            )
        if not parts.hostname:
            raise AddressRefused("the URL has no host")
        if parts.username or parts.password:
            raise AddressRefused("the URL must not carry credentials")
        return parts.hostname, port or (443 if parts.scheme == "https" else 80)

    def check_address(self, host: str, address: str) -> IPAddress:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not self.settings.allow_private and not is_public(ip):
            # Which address a name resolves to is not the caller's business: only that it is
            # not allowed (a registration must not become a DNS oracle for internal names).
            raise AddressRefused(
                f"{host} is not an allowed webhook target: only public addresses may be reached "
                "(private, loopback, link-local, reserved and translated ones are refused; a "
                "server operator may allow them with RUNYARD_WEBHOOK_ALLOW_PRIVATE=true, e.g. "
                "for a receiver on this machine or your own network)"
            )
        return ip

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to, in order: every address the host resolves to must be
        allowed."""
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            return [self.check_address(host, str(literal))]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise AddressRefused(f"cannot resolve {host}: {exc}") from None
        addresses = [self.check_address(host, str(info[4][0])) for info in infos]
        if not addresses:
            raise AddressRefused(f"{host} resolves to no address")
        return list(dict.fromkeys(addresses))

    async def check(self, url: str) -> None:
        """Registration-time check of a URL (form and current DNS answer)."""
        host, port = self.check_url(url)
        try:
            async with asyncio.timeout(self.settings.timeout):
                await self.resolve(host, port)
        except TimeoutError:
            limit = self.settings.timeout
            raise AddressRefused(f"resolving {host} took longer than {limit} s") from None


class PinnedTransport(httpx.AsyncBaseTransport):
    """Connects to the address the policy checked, never to one resolved again later."""

    def __init__(self, policy: AddressPolicy, verify: ssl.SSLContext | bool = True) -> None:
        self.policy = policy
        self._inner = httpx.AsyncHTTPTransport(
            verify=verify, limits=httpx.Limits(max_keepalive_connections=0), retries=0
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host, port = self.policy.check_url(str(request.url))
        addresses = await self.policy.resolve(host, port)
        extensions = dict(request.extensions)
        if request.url.scheme == "https":
            extensions["sni_hostname"] = host
        for index, address in enumerate(addresses):
            pinned = httpx.Request(
                request.method,
                request.url.copy_with(host=str(address)),
                headers=request.headers,  # keeps Host: <the original name>
                stream=request.stream,
                extensions=extensions,
            )
            try:
                return await self._inner.handle_async_request(pinned)
            except httpx.ConnectError:
                if index == len(addresses) - 1:
                    raise
                # Nothing was sent: the next checked address may answer.
        raise AddressRefused(f"{host} resolves to no address")

    async def aclose(self) -> None:
        await self._inner.aclose()
