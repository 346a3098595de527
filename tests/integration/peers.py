"""What the real-peer modules share: read the env file a `scripts/peers/<name>` script wrote,
and check the peer answers, failing (never skipping) with how to start it otherwise."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def env_file(name: str) -> Path:
    """Where `scripts/peers/<name>` wrote its settings (`$FLUXBILLING_PEERS_DIR` or `.peers`)."""
    return Path(os.environ.get("FLUXBILLING_PEERS_DIR", ROOT / ".peers")) / f"{name}.env"


def settings(name: str, title: str) -> dict[str, str]:
    """The peer's KEY=VALUE settings, or a test failure that says how to start it."""
    path = env_file(name)
    if not path.is_file():
        pytest.fail(f"{title} is not running ({path} is missing): start it with {start(name)}")
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def answers(title: str, name: str, host: str | None, port: int | None, where: str) -> None:
    """Fail the test unless `host:port` accepts a TCP connection."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        pytest.fail(f"{title} does not answer at {where} ({exc}): start it with {start(name)}")


def start(name: str) -> str:
    """How to start the peer."""
    return f"scripts/services (scripts/test runs it; or scripts/peers/{name} alone)"
