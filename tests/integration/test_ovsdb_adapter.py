"""`OvsdbSwitchPorts` against the real ovsdb-server (`scripts/peers/ovs`), over TCP and the unix
socket: what it writes is what Open vSwitch's own `ovs-vsctl` reads, and every failure is
classified at its boundary (a missing port permanent and named, a concurrent change or an
unreachable server transient, a VLAN out of range permanent)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.network.ovsdb import OvsdbSwitchPorts
from fluxbilling.network.switchport import PortVlans
from tests.integration import ovspeer

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def switch() -> ovspeer.OpenVSwitch:
    return ovspeer.running()


@pytest.fixture
def name(switch: ovspeer.OpenVSwitch) -> Iterator[str]:
    port = f"ad{secrets.token_hex(4)}"
    switch.add_port(port)
    yield port
    switch.vsctl("--if-exists", "del-port", switch.bridge, port)


@pytest.mark.parametrize("over", ["tcp", "unix"])
async def test_vlans_written_are_read_back_by_ovs_vsctl(
    switch: ovspeer.OpenVSwitch, name: str, over: str
) -> None:
    ports = OvsdbSwitchPorts(switch.tcp if over == "tcp" else switch.unix)
    assert await ports.get_port(name) == PortVlans(name)

    await ports.set_access_vlan(name, 310)
    assert switch.vsctl("get", "Port", name, "tag") == "310"
    assert switch.vsctl("get", "Port", name, "vlan_mode") == "access"
    assert await ports.get_port(name) == PortVlans(name, 310, frozenset(), "access")
    await ports.set_access_vlan(name, 310)  # idempotent

    switch.vsctl("clear", "Port", name, "tag", "--", "clear", "Port", name, "vlan_mode")
    await ports.set_trunks(name, frozenset({310, 320}), expected=frozenset())
    assert switch.vsctl("get", "Port", name, "trunks") == "[310, 320]"
    assert (await ports.get_port(name)).trunks == {310, 320}


async def test_a_trunk_set_changed_meanwhile_is_not_overwritten(
    switch: ovspeer.OpenVSwitch, name: str
) -> None:
    ports = OvsdbSwitchPorts(switch.tcp)
    switch.vsctl("set", "Port", name, "trunks=400")
    with pytest.raises(errors.TransientUpstreamError, match="changed meanwhile"):
        await ports.set_trunks(name, frozenset({410}), expected=frozenset())
    assert switch.vsctl("get", "Port", name, "trunks") == "[400]"


async def test_failures_are_classified_at_the_boundary(
    switch: ovspeer.OpenVSwitch, name: str
) -> None:
    ports = OvsdbSwitchPorts(switch.tcp)
    for missing in (ports.get_port("no-such-port"), ports.set_access_vlan("no-such-port", 5)):
        with pytest.raises(errors.PermanentUpstreamError, match="no port named 'no-such-port'"):
            await missing
    with pytest.raises(errors.PermanentUpstreamError, match="VLAN 4095 is not in 1-4094"):
        await ports.set_access_vlan(name, 4095)
    with pytest.raises(errors.TransientUpstreamError):
        await OvsdbSwitchPorts("tcp:127.0.0.1:1", timeout=2).get_port(name)
    with pytest.raises(errors.InvalidSettings):
        OvsdbSwitchPorts("ssl:127.0.0.1:6640")


async def test_echoes_are_answered_and_replies_split_anywhere_are_read(tmp_path: Path) -> None:
    """A scripted server: an `echo` first (the adapter must answer it), then the reply cut
    in two with a multi-byte character across the cut; then a JSON-RPC error."""
    heard: list[dict[str, Any]] = []
    row = {"name": "pé", "tag": 7, "trunks": ["set", [7, 8]], "vlan_mode": "trunk"}

    handlers: list[asyncio.Task[Any]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        decoder, buffer = json.JSONDecoder(), ""
        while not buffer.strip():
            buffer += (await reader.read(65536)).decode()
        request, _ = decoder.raw_decode(buffer)
        writer.write(json.dumps({"method": "echo", "params": ["hi"], "id": "echo"}).encode())
        await writer.drain()
        heard.append(json.loads((await reader.read(65536)).decode()))
        if request["params"][1]["op"] == "select":
            result = {"id": request["id"], "error": None, "result": [{"rows": [row]}]}
            reply = json.dumps(result, ensure_ascii=False)
        else:
            reply = json.dumps({"id": request["id"], "error": "unknown database", "result": None})
        data = reply.encode()
        cut = data.find("é".encode()) + 1 or len(data) // 2
        for part in (data[:cut], data[cut:]):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.close()
        await writer.wait_closed()

    path = tmp_path / "db.sock"
    server = await asyncio.start_unix_server(serve, path=str(path))
    async with server:
        ports = OvsdbSwitchPorts(f"unix:{path}")
        assert await ports.get_port("pé") == PortVlans("pé", 7, frozenset({7, 8}), "trunk")
        assert heard[0] == {"result": ["hi"], "error": None, "id": "echo"}
        with pytest.raises(errors.PermanentUpstreamError, match="unknown database"):
            await ports.set_access_vlan("pé", 7)
        await asyncio.gather(*handlers)  # each connection closed on both sides
