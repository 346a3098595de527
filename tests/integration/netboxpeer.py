"""The real NetBox the DCIM sync tests talk to (started by scripts/services, in the background).

`scripts/peers/netbox` writes `.peers/netbox.env` (or `$FLUXBILLING_PEERS_DIR/netbox.env`)
once NetBox answers. Its cold start is slow (a venv and NetBox's migrations, both cached
afterwards), so `running()` waits for it, up to `FLUXBILLING_NETBOX_WAIT` seconds (default
900), then fails, never skips, naming what is missing and the start log to read. Tests that
change NetBox hold `lock()`: the xdist workers share one NetBox.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
START = "scripts/services (scripts/test runs it; or scripts/peers/netbox alone)"


@dataclass(frozen=True, slots=True)
class NetBox:
    """How to reach it: the API root and a v2 token (`Authorization: Bearer nbt_...`)."""

    api_url: str
    token: str


def state_dir() -> Path:
    """Where the peer script keeps its state and env file."""
    return Path(os.environ.get("FLUXBILLING_PEERS_DIR", ROOT / ".peers"))


def _answers(found: NetBox) -> str | None:
    """None when the API answers the token, else why not."""
    try:
        response = httpx.get(
            f"{found.api_url}status/",
            headers={"Authorization": f"Bearer {found.token}"},
            timeout=5,
        )
    except httpx.HTTPError as exc:
        return f"{found.api_url} does not answer ({exc})"
    if response.status_code != 200 or "netbox-version" not in response.text:
        return f"{found.api_url}status/ answered HTTP {response.status_code}"
    return None


def _read(path: Path) -> NetBox | None:
    if not path.is_file():
        return None
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    if "NETBOX_URL" not in values or "NETBOX_TOKEN" not in values:
        return None
    return NetBox(values["NETBOX_URL"].rstrip("/") + "/api/", values["NETBOX_TOKEN"])


def _start_error(log: Path) -> str | None:
    if not log.is_file():
        return None
    lines = [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line]
    return lines[-1] if lines else None


def running() -> NetBox:
    """The running NetBox (waiting for a start in progress), or a test failure saying why."""
    deadline = time.monotonic() + float(os.environ.get("FLUXBILLING_NETBOX_WAIT", "900"))
    env = state_dir() / "netbox.env"
    log = state_dir() / "netbox-start.log"
    why = f"{env} is missing"
    while True:
        found = _read(env)
        if found is not None:
            problem = _answers(found)
            if problem is None:
                return found
            why = problem
        failed = _start_error(log)
        if failed is not None and found is None:
            pytest.fail(f"NetBox did not start: {failed} (log: {log}); start it with {START}")
        if time.monotonic() > deadline:
            pytest.fail(
                f"NetBox is not running ({why}) after waiting; see {log}, or start it with {START}"
            )
        time.sleep(2)


@contextmanager
def lock() -> Iterator[None]:
    """Hold NetBox for this test (other xdist workers wait)."""
    state_dir().mkdir(parents=True, exist_ok=True)
    with (state_dir() / "netbox-tests.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
