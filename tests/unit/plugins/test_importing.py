"""Importing a plugin document by URL: the allow-list, the address policy and the bounds."""

from __future__ import annotations

import json

import httpx
import pytest

from fluxbilling import errors, limits
from fluxbilling.drivers.address_guard import StaticResolver
from fluxbilling.plugins import importing

pytestmark = pytest.mark.anyio

HOSTS = importing.hosts_of("plugins.example.org")
URL = "https://plugins.example.org/acme.json"
PUBLIC = StaticResolver({"plugins.example.org": "93.184.215.14"})
DOCUMENT = {"format": "fluxbilling-visual-plugin", "plugin": {"slug": "acme"}, "flows": {}}


def serving(
    status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None
) -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda _request: httpx.Response(status, content=body, headers=headers)
    )


def test_hosts_are_lower_case_names_without_blanks() -> None:
    assert importing.hosts_of(" A.example., ,b.example ") == {"a.example", "b.example"}
    assert importing.hosts_of("") == frozenset()


@pytest.mark.parametrize(
    ("url", "hosts", "refused", "says"),
    [
        (URL, frozenset(), errors.Forbidden, "FLUXBILLING_PLUGIN_IMPORT_HOSTS lists no host"),
        ("https://evil.example/x.json", HOSTS, errors.Forbidden, "'evil.example' is not in"),
        ("https://plugins.example.org.evil.example/x", HOSTS, errors.Forbidden, "is not in"),
        ("http://plugins.example.org/x.json", HOSTS, errors.InvalidSettings, "https"),
        ("file:///etc/passwd", HOSTS, errors.InvalidSettings, "https"),
        ("https://user:pw@plugins.example.org/x", HOSTS, errors.InvalidSettings, "credentials"),
        ("https://plugins.example.org:port/x", HOSTS, errors.InvalidSettings, "not a URL"),
    ],
)
def test_refusals_name_the_reason(
    url: str, hosts: frozenset[str], refused: type[errors.UserError], says: str
) -> None:
    problem = importing.refusal(url, hosts)
    assert isinstance(problem, refused)
    assert says in str(problem)


def test_a_listed_https_url_is_not_refused() -> None:
    assert importing.refusal("https://PLUGINS.example.org./a.json", HOSTS) is None


async def test_fetches_a_document_from_a_listed_public_host() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=DOCUMENT)

    document = await importing.fetch(
        URL, hosts=HOSTS, resolver=PUBLIC, transport_for=lambda _url: httpx.MockTransport(answer)
    )
    assert document == DOCUMENT
    (request,) = seen
    assert request.url.host == "93.184.215.14"  # pinned to the checked address
    assert request.headers["host"] == "plugins.example.org"


async def test_a_listed_name_resolving_to_loopback_is_refused_by_the_address_policy() -> None:
    with pytest.raises(errors.PermanentUpstreamError, match="loopback"):
        await importing.fetch(
            URL,
            hosts=HOSTS,
            resolver=StaticResolver({"plugins.example.org": "127.0.0.1"}),
            transport_for=lambda _url: serving(body=json.dumps(DOCUMENT).encode()),
        )


@pytest.mark.parametrize(
    ("status", "headers", "says"),
    [
        (302, {"location": "https://evil.example/x"}, "HTTP 302 (redirects are not followed)"),
        (404, None, "HTTP 404"),
    ],
)
async def test_anything_but_a_200_is_refused(
    status: int, headers: dict[str, str] | None, says: str
) -> None:
    with pytest.raises(errors.PermanentUpstreamError, match=said(says)):
        await importing.fetch(
            URL,
            hosts=HOSTS,
            resolver=PUBLIC,
            transport_for=lambda _url: serving(status, headers=headers),
        )


def said(text: str) -> str:
    return text.replace("(", r"\(").replace(")", r"\)")


async def test_a_document_larger_than_the_plugin_limit_is_refused() -> None:
    body = b'{"x": "' + b"a" * limits.PLUGIN_BYTES + b'"}'
    with pytest.raises(errors.BodyTooLarge):
        await importing.fetch(
            URL, hosts=HOSTS, resolver=PUBLIC, transport_for=lambda _url: serving(body=body)
        )


@pytest.mark.parametrize("body", [b"<html>not json</html>", b"[1, 2]", b'"text"'])
async def test_an_answer_that_is_not_a_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(errors.InvalidFlow, match="not"):
        await importing.fetch(
            URL, hosts=HOSTS, resolver=PUBLIC, transport_for=lambda _url: serving(body=body)
        )


async def test_an_unreachable_host_is_transient() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(errors.TransientUpstreamError):
        await importing.fetch(
            URL, hosts=HOSTS, resolver=PUBLIC, transport_for=lambda _url: httpx.MockTransport(down)
        )


async def test_a_refused_url_is_never_fetched() -> None:
    resolver = StaticResolver({})
    with pytest.raises(errors.Forbidden):
        await importing.fetch("https://evil.example/x", hosts=HOSTS, resolver=resolver)
    assert resolver.asked == []
