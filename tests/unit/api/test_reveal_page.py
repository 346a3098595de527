"""The reveal link's pages: self-contained, locked down, and one neutral answer for dead links."""

from __future__ import annotations

import base64
import hashlib
import re

from fluxbilling.api import reveal_page


def test_the_password_is_escaped() -> None:
    page = reveal_page.shown("<b>&'\"")
    assert page.status == 200
    assert "<code>&lt;b&gt;&amp;&#x27;&quot;</code>" in page.html


def test_the_ask_page_only_posts_back_to_itself() -> None:
    page = reveal_page.ask()
    assert page.status == 200
    assert '<form method="post">' in page.html
    assert "action=" not in page.html


def test_dead_and_refused_links_have_their_own_statuses() -> None:
    assert reveal_page.gone().status == 404
    assert reveal_page.refused().status == 403


def test_pages_load_nothing_and_their_one_style_is_allowed_by_hash() -> None:
    for page in (reveal_page.ask(), reveal_page.shown("pw"), reveal_page.gone()):
        assert "<script" not in page.html and "src=" not in page.html and "href=" not in page.html
        [style] = re.findall(r"<style>(.*?)</style>", page.html)
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in reveal_page.HEADERS["Content-Security-Policy"]


def test_the_headers_forbid_storing_framing_and_referring() -> None:
    headers = reveal_page.HEADERS
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    policy = headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none';")
    assert "frame-ancestors 'none'" in policy
    assert "form-action 'self'" in policy
