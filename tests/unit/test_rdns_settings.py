"""The rDNS backend settings: validation naming what is missing, and bootstrap's choice."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from fluxbilling import bootstrap, errors
from fluxbilling.config import Settings
from fluxbilling.network.cloudflare import CloudflareRdns
from fluxbilling.network.powerdns import PowerDnsRdns
from fluxbilling.network.rdns import InternalRdns

POWERDNS = {
    "rdns_backend": "powerdns",
    "rdns_powerdns_api_url": "http://127.0.0.1:8081/api/v1",
    "rdns_powerdns_api_key": "k3y-s3cret",
    "rdns_powerdns_networks": "192.0.2.0/24, 2001:db8::/48",
    "rdns_powerdns_allowed_networks": "127.0.0.0/8",
}


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db",
        secret_key=Fernet.generate_key().decode(),
        api_token="t" * 32,
        stripe_webhook_secret="whsec_x",
        **values,  # type: ignore[arg-type]
    )


def test_internal_is_the_default(tmp_path: Path) -> None:
    assert Settings().rdns_backend == "internal"
    assert isinstance(bootstrap.build(settings(tmp_path)).rdns, InternalRdns)


@pytest.mark.parametrize(
    ("left_out", "named"),
    [
        ("rdns_powerdns_api_key", "FLUXBILLING_RDNS_POWERDNS_API_KEY"),
        ("rdns_powerdns_api_url", "FLUXBILLING_RDNS_POWERDNS_API_URL"),
        ("rdns_powerdns_networks", "FLUXBILLING_RDNS_POWERDNS_NETWORKS"),
    ],
)
def test_powerdns_without_a_setting_names_it(tmp_path: Path, left_out: str, named: str) -> None:
    values = {k: v for k, v in POWERDNS.items() if k != left_out}
    with pytest.raises(ValidationError, match=named) as raised:
        settings(tmp_path, **values)
    assert "k3y-s3cret" not in str(raised.value)


def test_an_empty_powerdns_key_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="FLUXBILLING_RDNS_POWERDNS_API_KEY"):
        settings(tmp_path, **{**POWERDNS, "rdns_powerdns_api_key": ""})


def test_cloudflare_needs_a_connection_name(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="FLUXBILLING_RDNS_CLOUDFLARE_CONNECTION"):
        settings(tmp_path, rdns_backend="cloudflare")


def test_an_unknown_backend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="rdns_backend"):
        settings(tmp_path, rdns_backend="bind")


def test_the_key_is_a_secret(tmp_path: Path) -> None:
    chosen = settings(tmp_path, **POWERDNS)
    assert "k3y-s3cret" not in repr(chosen)


def test_bootstrap_builds_powerdns(tmp_path: Path) -> None:
    installation = bootstrap.build(settings(tmp_path, **POWERDNS))
    rdns = installation.rdns
    assert isinstance(rdns, PowerDnsRdns)
    assert rdns.place("192.0.2.7").zone == "2.0.192.in-addr.arpa."
    assert rdns.place("2001:db8::1").zone.endswith("8.b.d.0.1.0.0.2.ip6.arpa.")
    assert rdns.nameservers == ("ns1.fluxbilling.invalid.",)


def test_bootstrap_builds_cloudflare_over_the_connection(tmp_path: Path) -> None:
    installation = bootstrap.build(
        settings(tmp_path, rdns_backend="cloudflare", rdns_cloudflare_connection="cf-dns")
    )
    rdns = installation.rdns
    assert isinstance(rdns, CloudflareRdns)
    assert isinstance(rdns.http, bootstrap.ConnectionJson)
    assert (rdns.http.name, rdns.upstream) == ("cf-dns", "cf-dns")


def test_a_nameserver_must_be_host_and_port(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="FLUXBILLING_RDNS_NAMESERVER"):
        settings(tmp_path, rdns_nameserver="127.0.0.1:99999")
    built = bootstrap.build(settings(tmp_path, **POWERDNS, rdns_nameserver="[::1]:5300"))
    assert isinstance(built.rdns, PowerDnsRdns)
    assert built.rdns.dns_server == ("::1", 5300)
    default = bootstrap.build(settings(tmp_path, **POWERDNS))
    assert isinstance(default.rdns, PowerDnsRdns)
    assert default.rdns.dns_server == ("127.0.0.1", 53)  # the API's host


@pytest.mark.anyio
async def test_the_internal_dns_server_starts_once_and_the_backend_asks_it(
    tmp_path: Path,
) -> None:
    installation = bootstrap.build(settings(tmp_path, dns_listen_port=0))
    rdns = installation.rdns
    assert isinstance(rdns, InternalRdns)
    before = rdns.nameserver
    try:
        server = await installation.start_dns()
        assert server is not None and server.address[1] > 0
        assert await installation.start_dns() is server
        assert (before, rdns.nameserver) == (None, server.address)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            port = taken.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                tcp.bind(("127.0.0.1", port))
                tcp.listen()
                other = bootstrap.build(settings(tmp_path, dns_listen_port=port))
                with pytest.raises(errors.InvalidSettings, match=r"cannot listen on 127\.0\.0\.1:"):
                    await other.start_dns()
                await other.close()
    finally:
        await installation.close()
    assert getattr(installation, "dns") is None  # noqa: B009 - read again after close
    off = bootstrap.build(settings(tmp_path, dns_server_enabled=False))
    assert await off.start_dns() is None
    await off.close()
