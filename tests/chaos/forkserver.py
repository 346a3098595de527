"""Worker processes forked from a server that imported the code once: started in ~0.1 s.

A `python -m fluxbilling.cli worker` spends seconds importing (3-7 s on a loaded two-core
machine) before it claims anything. Killed every 0.3-1.2 s, such workers would be killed
while still importing, or right after, and never run a phase: the test would measure
Python's start-up, not the engine. `make chaos` therefore starts workers the way
`multiprocessing`'s forkserver does: one server process imports `fluxbilling` and forks a
fresh child per worker, which sets its environment and log file and runs the same
`fluxbilling.cli.main(["worker"])`. Each is a separate OS process with its own pid,
SIGKILLed and SIGSTOPped like any other; only the import time is saved.

The CI variant keeps starting real `python -m fluxbilling.cli worker` processes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

__all__ = ["ForkedProcess", "start_cli"]

# `__main__` too: otherwise every child imports the test runner's main module itself.
_PRELOAD = ["__main__", "fluxbilling.cli", "fluxbilling.server", "tests.chaos.forkserver"]


def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    assert isinstance(context, ForkServerContext)
    context.set_forkserver_preload(_PRELOAD)
    return context


@contextlib.contextmanager
def _without_coverage() -> Iterator[None]:
    """The forkserver inherits the environment once: keep pytest-cov's hooks out of it."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("COV_CORE_")}
    try:
        yield
    finally:
        os.environ.update(saved)


def _run_cli(argv: list[str], env: dict[str, str], log_path: str) -> None:
    """In the forked child: own session, own environment, output to the log, then the CLI."""
    os.setsid()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    from fluxbilling import cli

    sys.argv = ["fluxbilling", *argv]
    cli.main(argv)


class ForkedProcess:
    """A forked child behind the few `subprocess.Popen` members the `Fleet` uses."""

    def __init__(self, process: BaseProcess) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        """The child's process id."""
        pid = self.process.pid
        assert pid is not None
        return pid

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: the signal), None while it runs."""
        return self.process.exitcode

    def poll(self) -> int | None:
        """The exit code, None while it runs."""
        return self.process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit; raises `subprocess.TimeoutExpired` like `Popen.wait`."""
        self.process.join(timeout)
        code = self.process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
        return code


def start_cli(argv: list[str], env: Mapping[str, str], log_path: Path) -> ForkedProcess:
    """Fork `fluxbilling <argv>` from the pre-imported server, output appended to `log_path`."""
    process = _context().Process(
        target=_run_cli, args=(list(argv), dict(env), str(log_path)), daemon=True
    )
    with _without_coverage():
        process.start()
    return ForkedProcess(process)
