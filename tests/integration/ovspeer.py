"""The real Open vSwitch the switch-port tests talk to (started by scripts/services).

`scripts/peers/ovs` runs our own `ovsdb-server` and `ovs-vswitchd` (userspace dummy datapath)
and writes `.peers/ovs.env` (or `$FLUXBILLING_PEERS_DIR/ovs.env`); a test that needs them
fails, never skips, when the file is missing or the database does not answer: the suite runs
under `scripts/test`, which starts them. `vsctl` is Open vSwitch's own client, so what a test
reads back does not go through our adapter.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest

from tests.integration import peers


@dataclass(frozen=True, slots=True)
class OpenVSwitch:
    """How to reach the peer: OVSDB at `tcp` (`tcp:HOST:PORT`) or `unix`, and its bridge."""

    host: str
    port: int
    tcp: str
    unix: str
    bridge: str

    def vsctl(self, *args: str) -> str:
        """Run `ovs-vsctl` against the peer (waiting for ovs-vswitchd); its stdout, stripped."""
        done = subprocess.run(
            ["ovs-vsctl", f"--db={self.unix}", "--timeout=10", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=20,
        )
        if done.returncode != 0:
            pytest.fail(f"ovs-vsctl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def add_port(self, name: str) -> None:
        """A fresh dummy port on the bridge (removed first if a test left it behind)."""
        self.vsctl(
            "--if-exists", "del-port", self.bridge, name,
            "--", "add-port", self.bridge, name,
            "--", "set", "Interface", name, "type=dummy",
        )  # fmt: skip


def running() -> OpenVSwitch:
    """The running peer, or a test failure that says how to start it."""
    values = peers.settings("ovs", "Open vSwitch")
    found = OpenVSwitch(
        values["OVS_DB_HOST"],
        int(values["OVS_DB_PORT"]),
        values["OVS_DB_TCP"],
        values["OVS_DB_UNIX"],
        values["OVS_BRIDGE"],
    )
    peers.answers("Open vSwitch", "ovs", found.host, found.port, found.tcp)
    return found
