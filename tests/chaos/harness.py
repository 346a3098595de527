"""Process plumbing for the chaos test: spawn, signal, reap and diagnose child processes.

Every child (the SolusVM 2 simulator, the workers) is started by a `Fleet`, logs into its
own file, and is SIGKILLed and reaped by `Fleet.kill_all()` — the test calls it in a
`finally`, so no process outlives the test even when an assertion or a timeout fires.
A child is a `subprocess.Popen`, or a worker forked from a pre-imported server
(`forkserver.py`, for high kill rates) behind the same few methods.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import anyio
import httpx

from tests.chaos import forkserver

__all__ = ["Child", "Fleet", "ProcessHandle", "free_port", "wait_http"]


class ProcessHandle(Protocol):
    """What the fleet needs of a started process (`subprocess.Popen` has it)."""

    @property
    def pid(self) -> int:
        """The process id."""

    @property
    def returncode(self) -> int | None:
        """The exit code once it exited."""

    def poll(self) -> int | None:
        """The exit code, None while it runs."""

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit (`subprocess.TimeoutExpired` when it takes longer)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_http(url: str, child: Child, timeout: float = 20.0) -> None:
    """Wait until `url` answers 200; fail early when `child` died."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if child.popen.poll() is not None:
                raise AssertionError(f"{child.name} exited early:\n{child.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await anyio.sleep(0.1)
    raise AssertionError(f"{child.name} did not answer {url} within {timeout}s:\n{child.tail()}")


@dataclass(eq=False)
class Child:
    """One process we started (compared and hashed by identity)."""

    name: str
    role: str
    popen: ProcessHandle
    log_path: Path
    log_file: IO[bytes]
    stopped: bool = False
    exit_note: str = ""

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    @property
    def alive(self) -> bool:
        """Whether it has not exited (a SIGSTOPped process is alive)."""
        return self.popen.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        """Send `sig` unless the process already exited."""
        if self.alive:
            os.kill(self.pid, sig)
        if sig == signal.SIGSTOP:
            self.stopped = True
        elif sig == signal.SIGCONT:
            self.stopped = False

    def kill(self) -> None:
        """SIGKILL and reap."""
        self.signal(signal.SIGKILL)
        self.popen.wait(timeout=10)
        self.exit_note = self.exit_note or "killed"

    def tail(self, lines: int = 25) -> str:
        """The last lines of its log."""
        self.log_file.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(f"    {line}" for line in text.splitlines()[-lines:])

    def log_has(self, *needles: str, head: int = 65536) -> bool:
        """Whether one of the first `head` bytes' log lines contains every one of `needles`."""
        with self.log_path.open("rb") as log:
            text = log.read(head).decode("utf-8", errors="replace")
        return any(all(n in line for n in needles) for line in text.splitlines())

    def log_count(self, needle: str) -> int:
        """How many log lines contain `needle`."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return sum(needle in line for line in text.splitlines())


@dataclass
class Fleet:
    """The processes of one test; `kill_all` leaves none behind."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def spawn(self, role: str, argv: list[str], env: Mapping[str, str]) -> Child:
        """Start `argv` (with `env`) in its own session, output to a log file."""

        def start(log_path: Path, log_file: IO[bytes]) -> ProcessHandle:
            return subprocess.Popen(
                argv,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        return self._start(role, start)

    def _start(self, role: str, start: Callable[[Path, IO[bytes]], ProcessHandle]) -> Child:
        """Name the child, open its log, `start` it, keep it."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        name = f"{role}-{sum(c.role == role for c in self.children) + 1}"
        log_path = self.log_dir / f"{name}.log"
        log_file = log_path.open("wb")
        try:
            process = start(log_path, log_file)
        except BaseException:
            log_file.close()
            raise
        child = Child(name, role, process, log_path, log_file)
        self.children.append(child)
        return child

    def python(self, role: str, module: str, *args: str, env: Mapping[str, str]) -> Child:
        """Start `python -m module args...` with this interpreter."""
        return self.spawn(role, [sys.executable, "-m", module, *args], env)

    def fork_cli(self, role: str, *args: str, env: Mapping[str, str]) -> Child:
        """Fork `fluxbilling args...` from the pre-imported server (see `forkserver.py`)."""
        return self._start(
            role, lambda log_path, _: forkserver.start_cli(list(args), env, log_path)
        )

    def live(self, role: str) -> list[Child]:
        """Children of `role` that have not exited."""
        return [c for c in self.children if c.role == role and c.alive]

    def by_pid(self, pid: int) -> Child | None:
        """The child with process id `pid`."""
        return next((c for c in self.children if c.pid == pid), None)

    def terminate(self, role: str, timeout: float = 20.0) -> list[Child]:
        """SIGTERM (after SIGCONT) every live child of `role`; SIGKILL those that hang.

        Returns:
            The children that did not stop gracefully within `timeout`.
        """
        targets = self.live(role)
        for child in targets:
            child.signal(signal.SIGCONT)
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        hung = []
        for child in targets:
            try:
                child.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                child.exit_note = child.exit_note or f"exited {child.popen.returncode}"
            except subprocess.TimeoutExpired:
                hung.append(child)
                child.exit_note = "hung on SIGTERM"
                child.kill()
        return hung

    def kill_all(self) -> None:
        """SIGKILL and reap every child, close every log (safe to call twice)."""
        for child in self.children:
            with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                if child.alive:
                    child.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.popen.wait(timeout=10)
            child.log_file.close()
