"""SHA-256 and SHA-512 digests of image sources (local files and HTTP URLs), and verification.

Files are read in chunks in a worker thread, one chunk per hop, so the event loop never
blocks and cancellation takes effect between chunks; HTTP sources are streamed with httpx.
Failures are classified here, at the image library's boundary:

| Signal                                           | Class                              |
|--------------------------------------------------|------------------------------------|
| file missing, HTTP 404 / 410                     | permanent, "image source not found" |
| file unreadable (permissions, a directory)       | permanent                          |
| HTTP 408, 425, 429, 500, 502-504, timeouts       | transient (Retry-After honoured)   |
| other HTTP 4xx, TLS verification failure         | permanent                          |
| digest mismatch                                  | permanent, "image … sha256 mismatch" (or sha512) |

A mismatch is reported as permanent: the caller parks the order for an operator (and
quarantines the file) rather than retrying a download automatically.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import anyio.to_thread
import httpx

from fluxbilling import errors
from fluxbilling.drivers import upstream

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "UPSTREAM",
    "digest_of",
    "is_valid_sha256",
    "sha256_of",
    "verify_image",
]

UPSTREAM = "image-library"
DEFAULT_CHUNK_SIZE = 1 << 20
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_ALGORITHM_BY_LENGTH = {64: "sha256", 128: "sha512"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_OPERATION = "verify image"
_HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def is_valid_sha256(value: str) -> bool:
    """Whether `value` is a hex SHA-256 digest (64 hex digits, either case).

    Args:
        value: the candidate digest.

    Returns:
        True for exactly 64 hexadecimal digits, nothing else (no `sha256:` prefix).

    Examples:
        >>> is_valid_sha256("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        True
        >>> is_valid_sha256("abc")
        False
    """
    return bool(_SHA256_HEX.fullmatch(value))


def _redacted(url: str) -> str:
    """`url` without userinfo or query (they may carry credentials or signed tokens)."""
    parts = urlsplit(url)
    if not parts.scheme or parts.scheme == "file":
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _permanent(message: str, **details: Any) -> errors.PermanentUpstreamError:
    return errors.PermanentUpstreamError(
        message, upstream=UPSTREAM, operation=_OPERATION, **details
    )


def _local_path(url: str) -> Path | None:
    """The filesystem path for `file://` URLs and plain paths; None for anything else."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise errors.InvalidSettings(f"file URL {url!r} names a remote host")
        return Path(url2pathname(unquote(parts.path)))
    if parts.scheme == "":
        return Path(url)
    return None


def _read_into(stream: IO[bytes], digest: Any, chunk_size: int) -> int:
    chunk = stream.read(chunk_size)
    digest.update(chunk)
    return len(chunk)


async def _digest_of_file(path: Path, url: str, algorithm: str, chunk_size: int) -> str:
    digest = hashlib.new(algorithm)
    try:
        stream = await anyio.to_thread.run_sync(path.open, "rb")
    except FileNotFoundError as exc:
        raise _permanent(f"image source not found: {url}", url=url) from exc
    except (PermissionError, IsADirectoryError) as exc:
        raise _permanent(
            f"image source {url} is not readable ({type(exc).__name__})", url=url
        ) from exc
    with upstream.upstream_call(UPSTREAM, _OPERATION):
        try:
            while await anyio.to_thread.run_sync(_read_into, stream, digest, chunk_size):
                pass
        finally:
            await anyio.to_thread.run_sync(stream.close)
    return digest.hexdigest()


async def _digest_of_http(
    url: str, client: httpx.AsyncClient, algorithm: str, chunk_size: int
) -> str:
    digest = hashlib.new(algorithm)
    shown = _redacted(url)
    with upstream.upstream_call(UPSTREAM, _OPERATION):
        async with client.stream("GET", url) as response:
            if response.status_code in (404, 410):
                raise _permanent(
                    f"image source not found: {shown}", url=shown, status=response.status_code
                )
            if response.status_code >= 400:
                await response.aread()
                raise upstream.classify_response(
                    UPSTREAM,
                    _OPERATION,
                    response.status_code,
                    response.text,
                    upstream.parse_retry_after(response.headers.get("retry-after")),
                )
            async for chunk in response.aiter_bytes(chunk_size):
                digest.update(chunk)
    return digest.hexdigest()


async def digest_of(
    url: str,
    algorithm: str = "sha256",
    *,
    client: httpx.AsyncClient | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> str:
    """The lowercase hex digest (`sha256` or `sha512`) of the image at `url`.

    Args:
        url: a `file://` URL, a plain filesystem path, or an `http(s)://` URL.
        algorithm: `sha256` or `sha512`.
        client: the httpx client for HTTP sources (tests pass one on a MockTransport);
            without it a short-lived client that follows redirects is used.
        chunk_size: bytes per read.

    Returns:
        64 (SHA-256) or 128 (SHA-512) lowercase hex digits.

    Raises:
        errors.PermanentUpstreamError: the source is missing or unreadable, or the server
            refused the request.
        errors.TransientUpstreamError: timeout, connection failure, HTTP 5xx/429.
        errors.InvalidSettings: an unsupported URL scheme or algorithm, or a bad `chunk_size`.
    """
    if chunk_size <= 0:
        raise errors.InvalidSettings("chunk_size must be positive", chunk_size=chunk_size)
    if algorithm not in _ALGORITHM_BY_LENGTH.values():
        raise errors.InvalidSettings(f"unsupported digest {algorithm!r}")
    path = _local_path(url)
    if path is not None:
        return await _digest_of_file(path, url, algorithm, chunk_size)
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise errors.InvalidSettings(f"unsupported image source scheme {scheme!r}")
    if client is not None:
        return await _digest_of_http(url, client, algorithm, chunk_size)
    async with httpx.AsyncClient(follow_redirects=True, timeout=_HTTP_TIMEOUT) as own:
        return await _digest_of_http(url, own, algorithm, chunk_size)


async def sha256_of(
    url: str,
    *,
    client: httpx.AsyncClient | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> str:
    """The lowercase hex SHA-256 of the image at `url` (`digest_of` with `sha256`)."""
    return await digest_of(url, "sha256", client=client, chunk_size=chunk_size)


async def verify_image(
    url: str,
    expected: str,
    *,
    client: httpx.AsyncClient | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> None:
    """Check that the image at `url` has the digest `expected` (SHA-256 or SHA-512).

    Args:
        url: as for `digest_of`.
        expected: 64 (SHA-256) or 128 (SHA-512) hex digits from a trusted channel (case does
            not matter).
        client: as for `digest_of`.
        chunk_size: as for `digest_of`.

    Raises:
        errors.InvalidSettings: `expected` is not a hex SHA-256 or SHA-512 digest.
        errors.PermanentUpstreamError: the digests differ ("image <url> sha256 mismatch:
            expected <x>, got <y>"), or as for `digest_of`.
        errors.TransientUpstreamError: as for `digest_of`.
    """
    algorithm = _ALGORITHM_BY_LENGTH.get(len(expected))
    if algorithm is None or not _HEX.fullmatch(expected):
        raise errors.InvalidSettings("expected digest is not a hex SHA-256 or SHA-512", url=url)
    expected = expected.lower()
    actual = await digest_of(url, algorithm, client=client, chunk_size=chunk_size)
    if actual != expected:
        shown = _redacted(url)
        raise _permanent(
            f"image {shown} {algorithm} mismatch: expected {expected}, got {actual}",
            url=shown,
            expected=expected,
            actual=actual,
        )
