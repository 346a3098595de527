from __future__ import annotations

import io
import logging

import pytest

from fluxbilling import logs


def make_logger(stream: io.StringIO) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.KeyValueFormatter())
    handler.addFilter(logs.RedactingFilter())
    logger = logging.getLogger("fluxbilling.test.logs")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_one_line_per_event_with_context() -> None:
    out = io.StringIO()
    make_logger(out).info(
        "phase %s", "completed", extra={"run": 12, "order": 7, "phase": "provision"}
    )
    (line,) = out.getvalue().splitlines()
    assert line.endswith(
        "INFO  fluxbilling.test.logs phase completed run=12 order=7 phase=provision"
    )
    assert line[:4].isdigit() and "Z " in line


def test_registered_secrets_are_masked_even_in_arguments() -> None:
    out = io.StringIO()
    logs.register_secret("tok-ABCDEFGH", None, "x")
    make_logger(out).warning("calling with %s", "Bearer tok-ABCDEFGH")
    assert "tok-ABCDEFGH" not in out.getvalue()
    assert "Bearer ***" in out.getvalue()


def test_per_order_secrets_are_bounded_and_installation_secrets_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(logs, "RECENT_SECRETS", 3)
    logs.register_secret("install-KEY-1")
    for n in range(5):
        logs.register_secret(f"root-pw-{n}", "install-KEY-1", recent=True)
    out = io.StringIO()
    make_logger(out).warning("install-KEY-1 root-pw-0 root-pw-1 root-pw-2 root-pw-4")
    line = out.getvalue()
    # The two oldest passwords were dropped; the installation key never is.
    assert "install-KEY-1" not in line and "root-pw-0 root-pw-1" in line
    assert "root-pw-2" not in line and "root-pw-4" not in line
    logs.register_secret("root-pw-0", recent=True)  # its order's flow ran again
    out = io.StringIO()
    make_logger(out).warning("root-pw-0")
    assert "root-pw-0" not in out.getvalue()


def test_exceptions_follow_indented() -> None:
    out = io.StringIO()
    try:
        raise ValueError("boom")
    except ValueError:
        make_logger(out).exception("failed")
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("failed")
    assert all(line.startswith("  ") for line in lines[1:])


def test_configure_installs_one_handler() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        logs.configure(logging.INFO)
        logs.configure(logging.INFO)
        ours = [h for h in root.handlers if getattr(h, "_fluxbilling", False)]
        assert len(ours) == 1
    finally:
        root.handlers = before
