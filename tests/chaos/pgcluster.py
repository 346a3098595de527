"""A private PostgreSQL cluster for tests that stop, crash and restart their database server.

The machine's shared server (127.0.0.1:5432) serves other test runs and is never touched:
`PrivateCluster.start()` runs `initdb` into a fresh temporary directory and starts a
postmaster of its own on a free loopback port, its Unix socket in that directory too.
`restart()` takes it down in one of three ways and brings it back on the same port:

```
mode        how it goes down                         what clients see
fast        pg_ctl stop -m fast                      57P01 admin_shutdown, then refused
immediate   pg_ctl stop -m immediate (a crash)        dropped connections; crash recovery
kill        SIGKILL the postmaster, children exit     dropped connections; crash recovery
```

The binaries are the Debian packages' (`/usr/lib/postgresql/<version>/bin`, the newest
version installed; `FLUXBILLING_PG_BIN` overrides). PostgreSQL refuses to run as root, so
as root every command runs as the `postgres` user (the package creates it) through
`runuser`. `fsync` is off: the cluster lives only as long as a test, and a killed server
keeps what it wrote in the OS page cache, so no committed transaction is lost.

Run standalone to try it: `python -m tests.chaos.pgcluster` starts one, restarts it each
way and stops it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RESTART_MODES", "PrivateCluster", "postgres_bin_dir"]

RESTART_MODES = ("fast", "immediate", "kill")
_START_SECONDS = 60.0


def postgres_bin_dir() -> Path:
    """The directory holding `initdb` and `pg_ctl`.

    Raises:
        FileNotFoundError: no PostgreSQL server binaries are installed.
    """
    override = os.environ.get("FLUXBILLING_PG_BIN")
    if override:
        candidates = [Path(override)]
    else:
        found = Path("/usr/lib/postgresql").glob("*/bin")
        candidates = sorted(found, key=lambda p: _version_key(p.parent.name), reverse=True)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    msg = (
        "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin; "
        "install Debian's postgresql package (scripts/services does) or set FLUXBILLING_PG_BIN"
    )
    raise FileNotFoundError(msg)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (the postmaster's backends and helpers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            status = (entry / "status").read_text()
            ppid = next(line for line in status.splitlines() if line.startswith("PPid:"))
            if int(ppid.split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _state(pid: int) -> str | None:
    """The process state letter (`Z` for a zombie), None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


@dataclass
class PrivateCluster:
    """One throw-away PostgreSQL server (use `start()`); `stop()` removes everything."""

    root: Path
    port: int
    bin_dir: Path
    run_as: str | None
    restarts: int = 0

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        """`postgresql://postgres@127.0.0.1:<port>/<database>` (trust authentication)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls, *, max_connections: int = 300) -> PrivateCluster:
        """`initdb` a new cluster in a temporary directory and start it on a free port.

        Args:
            max_connections: the server's limit (every worker process keeps a pool).

        Raises:
            FileNotFoundError: PostgreSQL is not installed.
            RuntimeError: initdb or the server failed (the message carries its log).
        """
        bin_dir = postgres_bin_dir()
        run_as = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="fluxbilling-pg-"))
        if run_as is not None:
            account = pwd.getpwnam(run_as)
            os.chown(root, account.pw_uid, account.pw_gid)
        cluster = cls(root=root, port=_free_port(), bin_dir=bin_dir, run_as=run_as)
        try:
            cluster._run(
                "initdb",
                *("-D", str(cluster.data_dir), "-U", "postgres", "--auth=trust"),
                *("--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"),
            )
            settings = {
                "listen_addresses": "127.0.0.1",
                "port": str(cluster.port),
                "unix_socket_directories": str(root),
                "max_connections": str(max_connections),
                "fsync": "off",
                "shared_buffers": "64MB",
                "log_min_messages": "warning",
            }
            with (cluster.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
                conf.writelines(f"{name} = '{value}'\n" for name, value in settings.items())
            cluster._pg_ctl_start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    # -- the server's life -----------------------------------------------------------------

    def restart(self, mode: str = "fast", *, down_seconds: float = 0.0) -> float:
        """Take the server down (`mode`, see the module docstring), wait, start it again.

        Args:
            mode: `fast`, `immediate` or `kill`.
            down_seconds: how long it stays down before it is started again.

        Returns:
            Seconds from the moment it went down until it accepted connections again.
        """
        down_at = time.monotonic()
        self.take_down(mode)
        time.sleep(down_seconds)
        self.bring_up()
        self.restarts += 1
        return time.monotonic() - down_at

    def take_down(self, mode: str = "fast") -> None:
        """Stop the server: `fast`, `immediate` (a crash) or `kill` (SIGKILL the postmaster)."""
        if mode not in RESTART_MODES:
            msg = f"unknown restart mode {mode!r}: use one of {', '.join(RESTART_MODES)}"
            raise ValueError(msg)
        if mode == "kill":
            self._kill_postmaster()
        else:
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w")

    def bring_up(self) -> None:
        """Start the stopped server on the same port; returns once it accepts connections."""
        self._pg_ctl_start()

    def postmaster_pid(self) -> int | None:
        """The running postmaster's pid (None when it is down)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            if _state(pid) not in (None, "Z"):
                return pid
        return None

    def stop(self) -> None:
        """Stop the server (immediately) and delete the cluster (safe to call twice)."""
        if self.root.exists():
            if self.postmaster_pid() is not None:
                with contextlib.suppress(RuntimeError):
                    self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w")
                with contextlib.suppress(RuntimeError):
                    self._kill_postmaster()
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        """SIGKILL the postmaster, then wait for its children (they notice and exit).

        The postmaster is not our child: until whoever adopted it reaps it, it lingers as a
        zombie, and a new postmaster takes its still-listed pid for a live server. So wait
        for it to vanish, and remove the lock file of a zombie that is not reaped in time.
        """
        pid = self.postmaster_pid()
        if pid is None:
            return
        children = _children(pid)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10.0
        while any(_state(p) not in (None, "Z") for p in children):
            if time.monotonic() > deadline:
                # A backend stuck past the postmaster's death would hold the shared memory.
                for child in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)
            time.sleep(0.05)
        deadline = time.monotonic() + 10.0
        while _state(pid) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if _state(pid) is not None:
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def _pg_ctl_start(self) -> None:
        try:
            self._run(
                "pg_ctl",
                *("start", "-D", str(self.data_dir), "-l", str(self.log_path)),
                *("-w", "-t", str(int(_START_SECONDS))),
            )
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\nserver log:\n{self._log_tail()}") from exc

    def _log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log)"

    def _run(self, program: str, *args: str) -> None:
        argv = [str(self.bin_dir / program), *args]
        if self.run_as is not None:
            argv = ["runuser", "-u", self.run_as, "--", *argv]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            cwd=self.root,
            timeout=_START_SECONDS + 30,
        )
        if done.returncode != 0:
            msg = f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            raise RuntimeError(msg)


def _demo() -> None:
    cluster = PrivateCluster.start()
    try:
        print(f"started {cluster.url()} in {cluster.root}")  # noqa: T201
        for mode in RESTART_MODES:
            took = cluster.restart(mode, down_seconds=0.5)
            print(f"restart ({mode}): back after {took:.2f}s")  # noqa: T201
    finally:
        cluster.stop()


if __name__ == "__main__":
    _demo()
