"""The address policy: URL forms and address classes (no network: IP literals only)."""

from __future__ import annotations

import ipaddress

import pytest

from runyard.settings import WebhookSettings
from runyard.webhooks.outbound import AddressPolicy, AddressRefused, is_public

REFUSED = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "::127.0.0.1",  # IPv4-compatible (issue 32)
    "::ffff:0:7f00:1",  # SIIT
    "64:ff9b::7f00:1",  # NAT64, well-known prefix
    "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
    "64:ff9b::808:808",  # NAT64 of a public address: refused as a form
    "64:ff9b:1::a00:7",  # NAT64, local-use prefix
]
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_private_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_global_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "ftp://example.com/",
        "https:///nohost",
        "https://user:pw@example.com/",
        "example.com/hook",
        "https://example.com:99999/",
    ],
)
def test_url_forms_refused(url: str) -> None:
    with pytest.raises(AddressRefused):
        AddressPolicy(WebhookSettings()).check_url(url)


def test_https_urls_pass_and_http_only_when_allowed() -> None:
    assert AddressPolicy(WebhookSettings()).check_url("https://example.com/x") == (
        "example.com",
        443,
    )
    relaxed = AddressPolicy(WebhookSettings(allow_http=True))
    assert relaxed.check_url("http://example.com:8080/x") == ("example.com", 8080)


async def test_literal_addresses_are_checked_unless_private_is_allowed() -> None:
    strict = AddressPolicy(WebhookSettings())
    with pytest.raises(AddressRefused, match="private, loopback"):
        await strict.resolve("127.0.0.1", 443)
    with pytest.raises(AddressRefused):
        await strict.resolve("::1", 443)
    assert [str(a) for a in await strict.resolve("8.8.8.8", 443)] == ["8.8.8.8"]
    relaxed = AddressPolicy(WebhookSettings(allow_private=True))
    assert [str(a) for a in await relaxed.resolve("127.0.0.1", 443)] == ["127.0.0.1"]
