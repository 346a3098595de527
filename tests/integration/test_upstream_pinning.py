"""Connecting to the checked address over a real loopback socket, with TLS kept on the name.

A TLS server on 127.0.0.1 holds a certificate for `panel.example`, a name no DNS knows: the
request reaches it only because the guard connects to the address it checked, and succeeds
only because SNI and certificate verification still use the name.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address, ip_network
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fluxbilling import errors
from fluxbilling.drivers.address_guard import GuardedTransport, StaticResolver, SystemResolver
from fluxbilling.drivers.upstream import UpstreamHttp

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@dataclass
class Pki:
    """A CA and a server certificate it signed, as files."""

    ca: Path
    cert: Path
    key: Path


def make_pki(directory: Path, server_name: str) -> Pki:
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(server_name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki


@dataclass
class Panel:
    """A tiny HTTPS server on loopback that answers with the Host header it received."""

    ca: Path
    port: int = 0
    server_names: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        host = next(
            line.split(":", 1)[1].strip()
            for line in head.split("\r\n")
            if line.lower().startswith("host:")
        )
        self.hosts.append(host)
        body = host.encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def panel(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Panel]:
    name = getattr(request, "param", "panel.example")
    pki = make_pki(tmp_path, name)
    state = Panel(pki.ca)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert, pki.key)
    context.sni_callback = lambda _sock, server_name, _ctx: state.server_names.append(server_name)
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=context)
    state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield state


def client(panel: Panel, allowed: tuple[str, ...] = ("127.0.0.1/32",)) -> UpstreamHttp:
    verify = ssl.create_default_context(cafile=str(panel.ca))
    transport = GuardedTransport(
        httpx.AsyncHTTPTransport(verify=verify),
        resolver=StaticResolver({"panel.example": "127.0.0.1"}),
        allowed=[ip_network(n) for n in allowed],
        upstream="panel",
    )
    return UpstreamHttp(
        "panel", f"https://panel.example:{panel.port}/", transport=transport, trust_env=False
    )


async def test_the_checked_address_is_reached_with_sni_host_and_certificate_on_the_name(
    panel: Panel,
) -> None:
    http = client(panel)
    try:
        response = await http.request("GET", "ping", operation="ping")
    finally:
        await http.aclose()
    assert response.text == f"panel.example:{panel.port}"
    assert panel.server_names == ["panel.example"]


@pytest.mark.parametrize("panel", ["other.example"], indirect=True)
async def test_a_certificate_for_another_name_fails_verification(panel: Panel) -> None:
    http = client(panel)
    try:
        with pytest.raises(errors.PermanentUpstreamError, match="TLS verification failed"):
            await http.request("GET", "ping", operation="ping")
    finally:
        await http.aclose()


async def test_without_the_allowance_nothing_connects(panel: Panel) -> None:
    http = client(panel, allowed=())
    try:
        with pytest.raises(errors.PermanentUpstreamError, match="address policy"):
            await http.request("GET", "ping", operation="ping")
    finally:
        await http.aclose()
    assert panel.server_names == [] and panel.hosts == []


async def test_the_system_resolver_answers_getaddrinfo_addresses() -> None:
    found = await SystemResolver().resolve("127.0.0.1", 443)
    assert found == [ip_address("127.0.0.1")]
