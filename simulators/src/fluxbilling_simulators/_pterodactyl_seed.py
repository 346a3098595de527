"""The world a fresh Pterodactyl simulator starts with (modelled on a small stock panel).

Two locations (`ams1`, `fra1`) with one public Wings node each (16 GiB / 160 GiB and 8 GiB /
80 GiB, no overallocation) and five allocations per node (ports 25565-25569 on 192.0.2.10 and
198.51.100.20); user 1 `admin` (root admin, owner of the application key); nests `Minecraft`
(eggs 1 `Paper`, 2 `Vanilla Minecraft`) and `Voice Servers` (egg 3 `Teamspeak3 Server`), whose
variables carry rules like the stock eggs (some required, with regex/integer/size rules).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fluxbilling_simulators._pterodactyl_state import PterodactylState

__all__ = ["allocation_row", "seed_world"]

_T0 = "2024-01-15T09:00:00+00:00"
_T0M = "2024-01-15T09:00:00.000000Z"  # Eloquent's toArray() format, used by egg variables
_LOCATIONS = ((1, "ams1", "Amsterdam, NL"), (2, "fra1", "Frankfurt, DE"))
_JAR = (
    "Server Jar File",
    "SERVER_JARFILE",
    "server.jar",
    r"required|regex:/^([\w\d._-]+)(\.jar)$/",
)
_JAVA = "java -Xms128M -Xmx{{SERVER_MEMORY}}M -jar {{SERVER_JARFILE}}"
_EGGS: tuple[tuple[int, int, str, str, str, list[tuple[str, str, str, str]]], ...] = (
    (1, 1, "Paper", "ghcr.io/pterodactyl/yolks:java_17", _JAVA, [
        ("Minecraft Version", "MINECRAFT_VERSION", "latest", "nullable|string|max:20"),
        _JAR,
        ("Build Number", "BUILD_NUMBER", "latest", "required|string|max:20"),
    ]),
    (2, 1, "Vanilla Minecraft", "ghcr.io/pterodactyl/yolks:java_17", _JAVA, [
        _JAR,
        ("Server Version", "VANILLA_VERSION", "latest", "required|string|between:3,15"),
    ]),
    (3, 2, "Teamspeak3 Server", "ghcr.io/parkervcp/yolks:debian", "./ts3server", [
        ("Server Version", "TS_VERSION", "latest", "required|string|max:6"),
        ("File Transfer Port", "FILE_TRANSFER", "30033", "required|integer|between:1025,65535"),
        ("Query Port", "QUERY_PORT", "10011", "required|integer|between:1025,65535"),
    ]),
)  # fmt: skip


def allocation_row(allocation_id: int, node: int, ip: str, port: int, alias: Any) -> dict[str, Any]:
    """A stored allocation (`_node`, `_server` are private)."""
    row = {"id": allocation_id, "ip": ip, "alias": alias, "port": port, "notes": None}
    return row | {"_node": node, "_server": None}


def seed_world(state: PterodactylState) -> None:
    """Two locations with one Wings node each (5 ports), an admin, two nests, three eggs."""
    for location_id, short, long in _LOCATIONS:
        state.locations[location_id] = {"id": location_id, "short": short, "long": long}
        state.locations[location_id] |= {"updated_at": _T0, "created_at": _T0}
    for node_id, memory, ip in ((1, 16384, "192.0.2.10"), (2, 8192, "198.51.100.20")):
        short = state.locations[node_id]["short"]
        node: dict[str, Any] = {"id": node_id, "uuid": state.new_uuid(), "public": True}
        node |= {"name": f"{short}-wings-1", "description": None, "location_id": node_id}
        node |= {"fqdn": f"{short}-wings-1.example.test", "scheme": "https"}
        node |= {"behind_proxy": False, "maintenance_mode": False, "memory": memory}
        node |= {"memory_overallocate": 0, "disk": memory * 10, "disk_overallocate": 0}
        node |= {"upload_size": 100, "daemon_listen": 8080, "daemon_sftp": 2022}
        node |= {"daemon_base": "/var/lib/pterodactyl/volumes", "created_at": _T0}
        node |= {"updated_at": _T0, "_token": state.new_uuid().replace("-", "")}
        state.nodes[node_id] = node
        for port in range(25565, 25570):
            row_id = state.next_id("allocations")
            state.allocations[row_id] = allocation_row(row_id, node_id, ip, port, None)
    admin = {"id": 1, "external_id": None, "uuid": state.new_uuid(), "username": "admin"}
    admin |= {"email": "admin@example.test", "first_name": "Panel", "last_name": "Admin"}
    admin |= {"language": "en", "root_admin": True, "2fa": False, "created_at": _T0}
    state.users[1] = admin | {"updated_at": _T0, "_password": True}
    for nest_id, name in ((1, "Minecraft"), (2, "Voice Servers")):
        nest = {"id": nest_id, "uuid": state.new_uuid(), "author": "support@pterodactyl.io"}
        state.nests[nest_id] = nest | {"name": name, "description": None}
        state.nests[nest_id] |= {"created_at": _T0, "updated_at": _T0}
    for egg_id, nest_id, name, image, startup, variables in _EGGS:
        egg: dict[str, Any] = {"id": egg_id, "uuid": state.new_uuid(), "name": name}
        egg |= {"nest": nest_id, "author": "support@pterodactyl.io", "description": name}
        egg |= {"docker_image": image, "docker_images": {image.rsplit(":", 1)[-1]: image}}
        egg["config"] = {"files": {}, "startup": {"done": ")! For help, type "}, "stop": "stop"}
        egg["config"] |= {"logs": {}, "file_denylist": [], "extends": None}
        egg |= {"startup": startup, "created_at": _T0, "updated_at": _T0}
        egg["script"] = {"privileged": True, "install": "#!/bin/bash\n", "entry": "bash"}
        egg["script"] |= {"container": "ghcr.io/pterodactyl/installers:alpine", "extends": None}
        egg["_variables"] = []
        for title, env, default, checks in variables:
            variable = {"id": state.next_id("_variable_ids"), "egg_id": egg_id, "name": title}
            variable |= {"description": title, "env_variable": env, "default_value": default}
            variable |= {"user_viewable": True, "user_editable": True, "rules": checks}
            egg["_variables"].append(variable | {"created_at": _T0M, "updated_at": _T0M})
        state.eggs[egg_id] = egg
