"""Where an endpoint may point (SSRF): every address the host has is checked."""

from __future__ import annotations

import pytest

from backend.partners.addresses import AddressPolicy, AddressRefused

PRODUCTION = AddressPolicy.for_environment("production")
TEST = AddressPolicy.for_environment("test")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://localhost:8443/hooks",  # resolved: loopback
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",  # IPv4-mapped loopback
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://172.16.5.5/hooks",
        "https://169.254.169.254/latest/meta-data",  # the cloud's metadata service
        "https://[fe80::1]/hooks",
        "https://0.0.0.0/hooks",
        "https://224.0.0.1/hooks",
        "http://93.184.216.34/hooks",  # public, but not HTTPS
        "ftp://93.184.216.34/hooks",
        "https://user:pass@93.184.216.34/hooks",
        "https:///no-host",
    ],
)
async def test_production_refuses(url: str) -> None:
    with pytest.raises(AddressRefused):
        await PRODUCTION.check(url)


async def test_production_takes_a_public_https_address() -> None:
    assert await PRODUCTION.check("https://93.184.216.34/hooks") == "https://93.184.216.34/hooks"


async def test_development_allows_loopback_only() -> None:
    assert await TEST.check("http://127.0.0.1:8094/hooks")
    assert await TEST.check("http://localhost:8094/hooks")
    for url in ("https://10.1.2.3/hooks", "http://93.184.216.34/hooks"):
        with pytest.raises(AddressRefused):
            await TEST.check(url)
