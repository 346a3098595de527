"""Tests for `fluxbilling.images.hashing`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.images import hashing

DATA = b"fluxbilling image " * 100_000  # ~1.8 MB: several chunks
DIGEST = hashlib.sha256(DATA).hexdigest()
EMPTY_DIGEST = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "debian 12.qcow2"
    path.write_bytes(DATA)
    return path


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (EMPTY_DIGEST, True),
        (EMPTY_DIGEST.upper(), True),
        (EMPTY_DIGEST[:-1], False),
        (EMPTY_DIGEST + "0", False),
        ("g" * 64, False),
        ("sha256:" + EMPTY_DIGEST, False),
        (EMPTY_DIGEST + "\n", False),
        ("", False),
    ],
)
def test_is_valid_sha256(value: str, expected: bool) -> None:
    assert hashing.is_valid_sha256(value) is expected


@pytest.mark.anyio
async def test_plain_path(image: Path) -> None:
    assert await hashing.sha256_of(str(image)) == DIGEST


@pytest.mark.anyio
async def test_file_url_with_small_chunks(image: Path) -> None:
    assert await hashing.sha256_of(image.as_uri(), chunk_size=4096) == DIGEST


@pytest.mark.anyio
async def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert await hashing.sha256_of(str(path)) == EMPTY_DIGEST


@pytest.mark.anyio
async def test_verify_image_accepts_matching_digest_in_any_case(image: Path) -> None:
    await hashing.verify_image(image.as_uri(), DIGEST.upper())


@pytest.mark.anyio
async def test_verify_image_mismatch(image: Path) -> None:
    url = image.as_uri()
    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await hashing.verify_image(url, EMPTY_DIGEST)
    error = caught.value
    assert error.message == f"image {url} sha256 mismatch: expected {EMPTY_DIGEST}, got {DIGEST}"
    assert error.upstream == "image-library"
    assert error.operation == "verify image"
    assert error.details["actual"] == DIGEST


@pytest.mark.anyio
async def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(errors.PermanentUpstreamError, match="image source not found") as caught:
        await hashing.verify_image(str(tmp_path / "nope.img"), DIGEST)
    assert caught.value.upstream == "image-library"
    assert isinstance(caught.value.__cause__, FileNotFoundError)


@pytest.mark.anyio
async def test_directory_is_permanent(tmp_path: Path) -> None:
    with pytest.raises(errors.PermanentUpstreamError, match="not readable"):
        await hashing.sha256_of(str(tmp_path))


@pytest.mark.anyio
async def test_remote_file_url_is_rejected() -> None:
    with pytest.raises(errors.InvalidSettings, match="remote host"):
        await hashing.sha256_of("file://server/share/image.qcow2")


@pytest.mark.anyio
@pytest.mark.parametrize("url", ["ftp://example.net/image.qcow2", "s3://bucket/image"])
async def test_unsupported_scheme(url: str) -> None:
    with pytest.raises(errors.InvalidSettings, match="unsupported image source scheme"):
        await hashing.sha256_of(url)


@pytest.mark.anyio
async def test_verify_image_takes_a_sha512_by_its_length(image: Path) -> None:
    sha512 = hashlib.sha512(DATA).hexdigest()
    assert await hashing.digest_of(str(image), "sha512") == sha512
    await hashing.verify_image(image.as_uri(), sha512.upper())
    wrong = hashlib.sha512(b"").hexdigest()
    with pytest.raises(errors.PermanentUpstreamError, match="sha512 mismatch") as caught:
        await hashing.verify_image(image.as_uri(), wrong)
    assert caught.value.details["actual"] == sha512


@pytest.mark.anyio
async def test_bad_arguments(image: Path) -> None:
    with pytest.raises(errors.InvalidSettings):
        await hashing.sha256_of(str(image), chunk_size=0)
    with pytest.raises(errors.InvalidSettings):
        await hashing.verify_image(str(image), "not-a-digest")
    with pytest.raises(errors.InvalidSettings):
        await hashing.verify_image(str(image), "g" * 64)
    with pytest.raises(errors.InvalidSettings):
        await hashing.digest_of(str(image), "md5")


@pytest.mark.anyio
async def test_http_source_is_streamed() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=DATA)

    async with client_for(handler) as client:
        await hashing.verify_image(
            "https://images.example.net/debian-12.qcow2", DIGEST, client=client
        )
    assert seen == ["https://images.example.net/debian-12.qcow2"]


@pytest.mark.anyio
async def test_http_mismatch_hides_credentials_in_the_message() -> None:
    async with client_for(lambda request: httpx.Response(200, content=b"other")) as client:
        with pytest.raises(errors.PermanentUpstreamError) as caught:
            await hashing.verify_image(
                "https://user:secret@images.example.net:8443/d.img?token=abc",
                DIGEST,
                client=client,
            )
    assert caught.value.message.startswith("image https://images.example.net:8443/d.img sha256")
    assert "secret" not in str(caught.value.to_dict())
    assert "token" not in str(caught.value.to_dict())


@pytest.mark.anyio
@pytest.mark.parametrize("status", [404, 410])
async def test_http_not_found_is_permanent(status: int) -> None:
    async with client_for(lambda request: httpx.Response(status)) as client:
        with pytest.raises(errors.PermanentUpstreamError, match="image source not found") as caught:
            await hashing.sha256_of("http://images.example.net/gone.img", client=client)
    assert caught.value.status == status


@pytest.mark.anyio
async def test_http_forbidden_is_permanent() -> None:
    async with client_for(lambda request: httpx.Response(403, text="denied")) as client:
        with pytest.raises(errors.PermanentUpstreamError) as caught:
            await hashing.sha256_of("http://images.example.net/x.img", client=client)
    assert caught.value.status == 403
    assert caught.value.upstream == "image-library"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_http_5xx_is_transient(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Retry-After": "30"}, text="busy")

    async with client_for(handler) as client:
        with pytest.raises(errors.TransientUpstreamError) as caught:
            await hashing.sha256_of("http://images.example.net/x.img", client=client)
    assert caught.value.status == status
    assert caught.value.retry_after == 30.0
    assert caught.value.operation == "verify image"


@pytest.mark.anyio
async def test_http_timeout_is_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with client_for(handler) as client:
        with pytest.raises(errors.TransientUpstreamError) as caught:
            await hashing.verify_image("http://images.example.net/x.img", DIGEST, client=client)
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


@pytest.mark.anyio
async def test_own_client_connection_refused_is_transient() -> None:
    # Port 1 on loopback refuses connections: exercises the client created internally.
    with pytest.raises(errors.TransientUpstreamError):
        await hashing.sha256_of("http://127.0.0.1:1/image.img")
