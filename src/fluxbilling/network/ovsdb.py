"""`OvsdbSwitchPorts`: the `SwitchPortBackend` of Open vSwitch, over OVSDB JSON-RPC (RFC 7047).

Raw JSON-RPC over asyncio streams, no client library: the protocol is small (one `transact`
per operation), and the `ovs` IDL would keep a full replica of the database in memory for
three columns of one row. Each operation opens its own connection (`tcp:HOST:PORT` or
`unix:PATH`), so a worker holds no socket between jobs.

- `get_port`: `select` of the `Port` row by name (`tag`, `trunks`, `vlan_mode`).
- `set_access_vlan`: `wait` (the port exists) then `update` `tag` and `vlan_mode=access`.
- `set_trunks`: `wait` (the port exists), `wait` (its `trunks` are still what the caller
  read: compare and set), then `update` `trunks`.
- every write also `mutate`s `Open_vSwitch.next_cfg += 1`, as `ovs-vsctl` does, so
  `cur_cfg` tells when ovs-vswitchd applied it.

Errors are classified here and nowhere else (`drivers.upstream.upstream_call` for socket
errors and timeouts → transient): a missing port → permanent, naming the port; a `trunks`
set changed by someone else meanwhile → transient (read and decide again); any other
OVSDB error (a constraint, an unknown database) → permanent, with OVSDB's words.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fluxbilling import errors
from fluxbilling.drivers.upstream import upstream_call
from fluxbilling.network.switchport import PortVlans, valid_vlan

__all__ = ["OvsdbSwitchPorts", "parse_address"]

UPSTREAM = "ovsdb"
_DB = "Open_vSwitch"
_MAX_MESSAGE = 4 * 1024 * 1024
"""A reply larger than this is refused (one Port row is a few hundred bytes)."""


def parse_address(address: str) -> tuple[str, str, int]:
    """`tcp:HOST:PORT` or `unix:PATH` as `(kind, host or path, port)`.

    Example:
        >>> parse_address("tcp:127.0.0.1:6640"), parse_address("unix:/run/db.sock")
        (('tcp', '127.0.0.1', 6640), ('unix', '/run/db.sock', 0))

    Raises:
        errors.InvalidSettings: anything else.
    """
    kind, _, rest = address.partition(":")
    if kind == "unix" and rest:
        return kind, rest, 0
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return kind, host.strip("[]"), int(port)
    raise errors.InvalidSettings(
        f"OVSDB address {address!r} is not tcp:HOST:PORT or unix:PATH", address=address[:200]
    )


def _set(value: Any) -> list[Any]:
    """The members of an OVSDB set value (`["set", [...]]`, or one bare atom)."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        return list(value[1])
    return [value]


def _port_row(name: str, row: dict[str, Any]) -> PortVlans:
    tag = _set(row.get("tag", ["set", []]))
    mode = _set(row.get("vlan_mode", ["set", []]))
    return PortVlans(
        name,
        tag=int(tag[0]) if tag else None,
        trunks=frozenset(int(v) for v in _set(row.get("trunks", ["set", []]))),
        mode=str(mode[0]) if mode else None,
    )


class OvsdbSwitchPorts:
    """Switch ports of one Open vSwitch, through its OVSDB server.

    Args:
        address: `tcp:HOST:PORT` or `unix:PATH` (`Settings.switch_ovsdb`).
        timeout: seconds for connecting and for each reply.
    """

    def __init__(self, address: str, *, timeout: float = 10.0) -> None:
        self.kind, self.host, self.port = parse_address(address)
        self.address = address
        self.timeout = timeout
        self._ids = itertools.count(1)

    async def get_port(self, port: str) -> PortVlans:
        """The VLAN configuration of `port` (permanent error when there is none)."""
        operation = f"read port {port}"
        select = {
            "op": "select",
            "table": "Port",
            "where": [["name", "==", port]],
            "columns": ["name", "tag", "trunks", "vlan_mode"],
        }
        try:
            results = await self._transact(operation, [select])
        except _OpFailed as failed:
            raise errors.PermanentUpstreamError(
                f"{UPSTREAM}: {operation}: {failed.error}", upstream=UPSTREAM, operation=operation
            ) from failed
        rows = results[0].get("rows") or []
        if not rows:
            raise self._no_port(port, operation)
        return _port_row(port, rows[0])

    async def set_access_vlan(self, port: str, vlan: int) -> None:
        """Make `port` an access port on `vlan`."""
        operation = f"set port {port} to access VLAN {vlan}"
        self._check_vlans(operation, [vlan])
        update = {
            "op": "update",
            "table": "Port",
            "where": [["name", "==", port]],
            "row": {"tag": vlan, "vlan_mode": "access"},
        }
        await self._write(port, operation, [update])

    async def set_trunks(
        self, port: str, trunks: frozenset[int], *, expected: frozenset[int]
    ) -> None:
        """Set the VLANs `port` trunks, provided they are still `expected`."""
        operation = f"set port {port} trunks to {sorted(trunks)}"
        self._check_vlans(operation, trunks)
        if not trunks:
            # An empty set trunks every VLAN on Open vSwitch: never what a job means.
            raise errors.InvariantViolation(f"{operation}: an empty trunks set carries every VLAN")
        where = [["name", "==", port]]
        unchanged = {
            "op": "wait",
            "table": "Port",
            "where": where,
            "columns": ["trunks"],
            "until": "==",
            "rows": [{"trunks": ["set", sorted(expected)]}],
            "timeout": 0,
        }
        update = {
            "op": "update",
            "table": "Port",
            "where": where,
            "row": {"trunks": ["set", sorted(trunks)]},
        }
        await self._write(port, operation, [unchanged, update])

    # -- protocol --------------------------------------------------------------------------

    def _check_vlans(self, operation: str, vlans: Sequence[int] | frozenset[int]) -> None:
        bad = sorted(v for v in vlans if not valid_vlan(v))
        if bad:
            raise errors.PermanentUpstreamError(
                f"{UPSTREAM}: {operation}: VLAN {bad[0]} is not in 1-4094",
                upstream=UPSTREAM,
                operation=operation,
            )

    def _no_port(self, port: str, operation: str) -> errors.PermanentUpstreamError:
        return errors.PermanentUpstreamError(
            f"{UPSTREAM}: the switch has no port named {port!r}",
            upstream=UPSTREAM,
            operation=operation,
            port=port,
        )

    async def _write(self, port: str, operation: str, ops: list[dict[str, Any]]) -> None:
        """`ops` after a `wait` that the port exists, with `next_cfg` bumped."""
        exists = {
            "op": "wait",
            "table": "Port",
            "where": [["name", "==", port]],
            "columns": ["name"],
            "until": "==",
            "rows": [{"name": port}],
            "timeout": 0,
        }
        bump = {
            "op": "mutate",
            "table": "Open_vSwitch",
            "where": [],
            "mutations": [["next_cfg", "+=", 1]],
        }
        try:
            await self._transact(operation, [exists, *ops, bump])
        except _OpFailed as failed:
            if failed.index == 0:
                raise self._no_port(port, operation) from failed
            if failed.index == 1 and ops[0]["op"] == "wait":
                raise errors.TransientUpstreamError(
                    f"{UPSTREAM}: {operation}: the port's VLANs changed meanwhile; read again",
                    upstream=UPSTREAM,
                    operation=operation,
                    port=port,
                ) from failed
            raise errors.PermanentUpstreamError(
                f"{UPSTREAM}: {operation}: {failed.error}",
                upstream=UPSTREAM,
                operation=operation,
            ) from failed

    async def _transact(self, operation: str, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One `transact`; its per-operation results (`_OpFailed` names the failing one)."""
        with upstream_call(UPSTREAM, operation):
            async with asyncio.timeout(self.timeout):
                reply = await self._call("transact", [_DB, *ops])
        results = reply if isinstance(reply, list) else []
        for index, result in enumerate(results):
            if isinstance(result, dict) and result.get("error"):
                detail = result.get("details")
                raise _OpFailed(index, f"{result['error']}" + (f" ({detail})" if detail else ""))
        if len(results) < len(ops):
            raise errors.PermanentUpstreamError(
                f"{UPSTREAM}: {operation}: {len(results)} results for {len(ops)} operations",
                upstream=UPSTREAM,
                operation=operation,
            )
        return [r if isinstance(r, dict) else {} for r in results[: len(ops)]]

    async def _call(self, method: str, params: list[Any]) -> Any:
        """Send one request and read until its reply (answering the server's echoes)."""
        if self.kind == "unix":
            reader, writer = await asyncio.open_unix_connection(self.host, limit=_MAX_MESSAGE)
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port, limit=_MAX_MESSAGE)
        try:
            request_id = next(self._ids)
            await _send(writer, {"method": method, "params": params, "id": request_id})
            async for message in _messages(reader):
                if message.get("method") == "echo":
                    reply = {
                        "result": message.get("params"),
                        "error": None,
                        "id": message.get("id"),
                    }
                    await _send(writer, reply)
                elif message.get("id") == request_id:
                    if message.get("error") is not None:
                        raise errors.PermanentUpstreamError(
                            f"{UPSTREAM}: {method} refused: {message['error']}",
                            upstream=UPSTREAM,
                            operation=method,
                        )
                    return message.get("result")
            raise ConnectionResetError("the OVSDB server closed the connection before replying")
        finally:
            writer.close()
            with contextlib.suppress(OSError):  # the answer is in; a reset now changes nothing
                await writer.wait_closed()


class _OpFailed(Exception):
    """One operation of a transaction failed (the whole transaction was rolled back)."""

    def __init__(self, index: int, error: str) -> None:
        super().__init__(f"operation {index}: {error}")
        self.index = index
        self.error = error


async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(json.dumps(message).encode())
    await writer.drain()


async def _messages(reader: asyncio.StreamReader) -> AsyncIterator[dict[str, Any]]:
    """The JSON messages of the stream: OVSDB frames them by nothing but their own syntax."""
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer = ""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return
        buffer += text.decode(chunk)
        if len(buffer) > _MAX_MESSAGE:
            raise errors.PermanentUpstreamError(
                f"{UPSTREAM}: a reply larger than {_MAX_MESSAGE} bytes", upstream=UPSTREAM
            )
        while buffer.strip():
            try:
                message, end = decoder.raw_decode(buffer.lstrip())
            except json.JSONDecodeError:
                break  # incomplete: read more
            buffer = buffer.lstrip()[end:]
            if isinstance(message, dict):
                yield message
