"""Image checks: the source URL, the digests and the user-data template."""

from __future__ import annotations

import pytest

from fluxbilling.catalogue.images import (
    ImageSpec,
    OsFamily,
    check,
    source_problem,
    template_problem,
)

SHA256 = "ab" * 32


def spec(**change: object) -> ImageSpec:
    values: dict[str, object] = {
        "slug": "debian-12",
        "name": "Debian 12",
        "os_family": OsFamily.LINUX,
        "source_url": "https://cloud.example.com/debian-12.qcow2",
        "sha256": SHA256,
    }
    return ImageSpec(**{**values, **change})  # type: ignore[arg-type]


def test_a_plain_image_is_fine() -> None:
    assert check(spec()) == []
    assert check(spec(sha256=None, sha512="CD" * 64)) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://cloud.example.com/a.qcow2",
        "http://mirror.example.net:8080/images/a.img",
        "file:///var/lib/fluxbilling/images/a.qcow2",
    ],
)
def test_good_sources(url: str) -> None:
    assert source_problem(url) is None


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("https://u:p@cloud.example.com/a.qcow2", "credentials"),
        ("https://cloud.example.com/a.qcow2?sig=1", "query"),
        ("https://cloud.example.com/a\r\n.qcow2", "control characters"),
        ("http://169.254.169.254/latest/", "metadata"),
        ("ftp://cloud.example.com/a.qcow2", "http(s) URL or file:///"),
        ("file://server/share/a.qcow2", "file:///absolute/path"),
        ("file:relative.qcow2", "file:///absolute/path"),
        ("file:///a b.qcow2", "spaces"),
    ],
)
def test_bad_sources_say_why(url: str, needle: str) -> None:
    problem = source_problem(url)
    assert problem is not None
    assert needle in problem


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"sha256": None}, "sha256", "give the expected sha256 or sha512 of the image"),
        ({"sha256": "ab" * 31}, "sha256", "must be 64 hexadecimal digits"),
        ({"sha256": "zz" * 32}, "sha256", "must be 64 hexadecimal digits"),
        ({"sha512": "ab" * 32}, "sha512", "must be 128 hexadecimal digits"),
        (
            {"slug": "debian 12"},
            "slug",
            "must be letters, digits, '.', '_' or '-', starting with a letter or digit",
        ),
        ({"name": " "}, "name", "must not be blank"),
    ],
)
def test_each_problem_is_named(change: dict[str, object], path: str, message: str) -> None:
    assert check(spec(**change)) == [{"path": path, "message": message}]


def test_templates_render_in_the_sandbox_before_they_are_stored() -> None:
    assert template_problem("#cloud-config\npackages: [htop]\n") is None
    assert template_problem("#!/bin/sh\necho {{hostname}} > /etc/motd\n") is None
    assert "unclosed" in (template_problem("#cloud-config\n{{#if x}}\n") or "")
    assert "must start with '#cloud-config' or '#!'" in (template_problem("packages: [x]") or "")
    clash = template_problem("#cloud-config\nusers: []\n") or ""
    assert "repeats keys FluxBilling sets: users" in clash
    (problem,) = check(spec(user_data_template="#cloud-config\nruncmd: {{{order.id}}\n"))
    assert problem["path"] == "user_data_template"
