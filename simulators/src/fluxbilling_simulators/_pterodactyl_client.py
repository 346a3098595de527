"""The Client API part of the Pterodactyl simulator: servers, console token, usage, power.

Mounted at `/api/client` by `simulators.pterodactyl`, which authenticates and injects faults.
`GET /api/client` lists the caller's servers (`type`: owned by default; `admin` and
`admin-all` for root admins; `owner`), `GET /servers/{server}` shows one with `meta.
is_server_owner` and `user_permissions`, both in the client `ServerTransformer`'s shape with
its default includes (allocations, variables); `filter[...]` is not modelled (ignored).
`{server}` is the 8-character `identifier` or the full uuid (`SubstituteClientBindings`). As in
the panel (`RequireClientApiKey`, `AuthenticateServerAccess`): an application key gets 403; a
user who neither owns the server nor is a root admin gets 404; a suspended, installing or
maintenance server gets 409 `ServerStateConflictException` (a root admin may still open the
websocket of an installing server; anyone may view it). Wings' power states: offline -> starting -> running ->
stopping -> offline; a transitional state settles on the next `resources` read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fluxbilling_simulators import _pterodactyl_rules as rules
from fluxbilling_simulators._pterodactyl_application import paginate
from fluxbilling_simulators._pterodactyl_rules import Call, Handler, PanelError
from fluxbilling_simulators._pterodactyl_state import PterodactylState

__all__ = ["routes"]
MIB = 1024 * 1024
_SIGNALS = {"start": "starting", "restart": "starting", "stop": "stopping", "kill": "offline"}
_SETTLED = {"starting": "running", "stopping": "offline"}
_ADMIN_PERMISSIONS = [
    "admin.websocket.errors",
    "admin.websocket.install",
    "admin.websocket.transfer",
]


def _conflict(state: PterodactylState, server: dict[str, Any]) -> str | None:
    """Why `Server::validateCurrentState` refuses the server, or None."""
    if server["status"] == "suspended":
        return "This server is currently suspended and the functionality requested is unavailable."
    if state.nodes[server["node"]]["maintenance_mode"]:
        return (
            "The node of this server is currently under maintenance and the functionality "
            "requested is unavailable."
        )
    if server["status"] in ("installing", "install_failed"):
        return "This server has not yet completed its installation process, please try again later."
    if server["status"] == "restoring_backup":
        return "This server is currently restoring from a backup, please try again later."
    return None


def _client_key(call: Call) -> None:
    """`RequireClientApiKey`: an application key may not use the client API."""
    if call.caller.kind == "application":
        detail = (
            "You are attempting to use an application API key on an endpoint that requires a "
            "client API key."
        )
        raise PanelError(403, "AccessDeniedHttpException", detail)


def _server(call: Call, route: str) -> dict[str, Any]:
    """Bind `{server}`, then apply the client API's key, access and state checks."""
    state, caller, key = call.state, call.caller, call.param("server")
    column = "identifier" if len(key) == 8 else "uuid"
    server = next((s for s in state.servers.values() if s[column] == key), None)
    if server is None:
        raise rules.not_found()
    _client_key(call)
    admin = bool(caller.user["root_admin"])
    if caller.user["id"] != server["user"] and not admin:
        raise rules.not_found("The requested resource does not exist on this server.")
    if route == "view":  # still shown while installing, suspended or transferring
        return server
    conflict = _conflict(state, server)
    if conflict is not None:
        allowed = route == "websocket" and admin and server["status"] != "suspended"
        if not allowed or state.nodes[server["node"]]["maintenance_mode"]:
            raise PanelError(409, "ServerStateConflictException", conflict)
    return server


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(header: dict[str, Any], claims: dict[str, Any], key: str) -> str:
    """An HS256 JWT like the panel's `NodeJWTService` signs with the node's daemon token."""
    parts = [_b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)]
    signing = ".".join(parts)
    signature = hmac.new(key.encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_b64(signature)}"


def _invocation(state: PterodactylState, server: dict[str, Any]) -> str:
    """`StartupCommandService`: the startup line with values filled in (hidden ones masked)."""
    allocation = state.allocations[server["allocation"]]
    command = str(server["container"]["startup_command"])
    found = {"SERVER_MEMORY": server["limits"]["memory"], "SERVER_IP": allocation["ip"]}
    found["SERVER_PORT"] = allocation["port"]
    for variable in state.eggs[server["egg"]]["_variables"]:
        value = server["_values"].get(variable["id"]) or variable["default_value"]
        found[variable["env_variable"]] = value if variable["user_viewable"] else "[hidden]"
    for name, value in found.items():
        command = command.replace("{{" + name + "}}", str(value))
    return command


def _listed(state: PterodactylState, server: dict[str, Any], user: dict[str, Any]) -> Any:
    """The client `ServerTransformer` with its default includes (allocations, variables)."""
    node = state.nodes[server["node"]]
    limits = {k: server["limits"].get(k) for k in ("memory", "swap", "disk", "io", "cpu")}
    limits |= {k: server["limits"].get(k) for k in ("threads", "oom_disabled")}
    allocations = [
        {
            "object": "allocation",
            "attributes": {
                "id": a["id"],
                "ip": a["ip"],
                "ip_alias": a["alias"],
                "port": a["port"],
                "notes": a["notes"],
                "is_default": a["id"] == server["allocation"],
            },
        }
        for a in state.allocations.values()
        if a["_server"] == server["id"]
    ]
    variables = [
        {"object": "egg_variable", "attributes": _variable(v, server)}
        for v in state.eggs[server["egg"]]["_variables"]
        if v["user_viewable"]
    ]
    attributes = {
        "server_owner": user["id"] == server["user"],
        "identifier": server["identifier"],
        "internal_id": server["id"],
        "uuid": server["uuid"],
        "name": server["name"],
        "node": node["name"],
        "is_node_under_maintenance": node["maintenance_mode"],
        "sftp_details": {"ip": node["fqdn"], "port": node["daemon_sftp"]},
        "description": server["description"],
        "limits": limits,
        "invocation": _invocation(state, server),
        "docker_image": server["container"]["image"],
        "egg_features": state.eggs[server["egg"]].get("features"),
        "feature_limits": dict(server["feature_limits"]),
        "status": server["status"],
        "is_suspended": server["status"] == "suspended",
        "is_installing": server["status"] in ("installing", "install_failed"),
        "is_transferring": False,
        "relationships": {
            "allocations": {"object": "list", "data": allocations},
            "variables": {"object": "list", "data": variables},
        },
    }
    return {"object": "server", "attributes": attributes}


def _variable(variable: dict[str, Any], server: dict[str, Any]) -> dict[str, Any]:
    value = server["_values"].get(variable["id"])
    keys = ("name", "description", "env_variable", "default_value")
    shown = {k: variable[k] for k in keys} | {"server_value": value}
    return shown | {"is_editable": variable["user_editable"], "rules": variable["rules"]}


async def list_servers(call: Call) -> Response:
    """GET / (`/api/client`): the caller's servers, 50 a page."""
    _client_key(call)
    state, user = call.state, call.caller.user
    kind = call.request.query_params.get("type", "")
    servers = [state.poll(s) for s in state.servers.values()]
    if kind in ("admin", "admin-all") and user["root_admin"]:
        chosen = [s for s in servers if kind == "admin-all" or s["user"] != user["id"]]
    else:  # "", "owner" (no subusers are modelled, so both are the owned servers)
        chosen = [s for s in servers if s["user"] == user["id"]]
    return paginate(call, chosen, lambda server: _listed(state, server, user))


async def view(call: Call) -> Response:
    """GET /servers/{server}: the server, and the caller's permissions on it."""
    server, user = _server(call, "view"), call.caller.user
    owner = user["id"] == server["user"]
    permissions = ["*", *_ADMIN_PERMISSIONS] if user["root_admin"] else ["*"]
    body = _listed(call.state, call.state.poll(server), user)
    body["meta"] = {"is_server_owner": owner, "user_permissions": permissions}
    return JSONResponse(body)


async def websocket(call: Call) -> Response:
    """GET /servers/{server}/websocket: a 10-minute token and the Wings socket URL."""
    server, state = _server(call, "websocket"), call.state
    node = state.nodes[server["node"]]
    address = f"{node['scheme']}://{node['fqdn']}:{node['daemon_listen']}"
    user = call.caller.user
    jti = hashlib.md5(f"{user['id']}{server['uuid']}".encode()).hexdigest()  # noqa: S324 - as the panel
    now = int(state.clock())
    permissions = ["*", *_ADMIN_PERMISSIONS] if user["root_admin"] else ["*"]
    claims: dict[str, Any] = {
        "iss": str(call.request.base_url).rstrip("/"),
        "aud": [address],
        "jti": jti,
    }
    claims |= {"iat": now, "nbf": now - 300, "exp": now + 600, "server_uuid": server["uuid"]}
    claims |= {"permissions": permissions, "user_uuid": user["uuid"], "user_id": user["id"]}
    claims["unique_id"] = secrets.token_urlsafe(12)[:16]
    token = _jwt({"typ": "JWT", "alg": "HS256", "jti": jti}, claims, node["_token"])
    socket = address.replace("https://", "wss://").replace("http://", "ws://")
    return JSONResponse(
        {"data": {"token": token, "socket": f"{socket}/api/servers/{server['uuid']}/ws"}}
    )


async def resources(call: Call) -> Response:
    """GET /servers/{server}/resources: Wings' utilisation as the `stats` object."""
    server, state = _server(call, "resources"), call.state
    if state.daemon_offline:
        raise rules.daemon_unreachable()
    current = server["_power"]
    server["_power"] = _SETTLED.get(current, current)
    if current == "starting":
        server["_since"] = state.clock()
    running = current in ("running", "stopping")
    limits = server["limits"]
    uptime = int((state.clock() - server.get("_since", state.clock())) * 1000) if running else 0
    usage: dict[str, Any] = {
        "memory_bytes": limits["memory"] * MIB // 4 if running else 0,
        "cpu_absolute": round(min(limits["cpu"] or 100, 100) * 0.125, 3) if running else 0,
        "disk_bytes": limits["disk"] * MIB // 10,
        "network_rx_bytes": uptime * 2 if running else 0,
        "network_tx_bytes": uptime if running else 0,
        "uptime": uptime,
    }
    stats = {"current_state": current, "is_suspended": server["status"] == "suspended"}
    return JSONResponse({"object": "stats", "attributes": stats | {"resources": usage}})


async def power(call: Call) -> Response:
    """POST /servers/{server}/power `{"signal": "start|stop|restart|kill"}`: 204."""
    server = _server(call, "power")
    call.state.validate(call.body, {"signal": "required|string|in:start,stop,restart,kill"})
    if call.state.daemon_offline:
        raise rules.daemon_unreachable()
    server["_power"] = _SIGNALS[call.body["signal"]]
    return Response(status_code=204)


def routes(wrap: Callable[[Handler], Callable[[Request], Awaitable[Response]]]) -> list[Route]:
    """The client API routes, each handler wrapped by the app's guard.

    Args:
        wrap: turns a handler into a Starlette endpoint (auth, faults, rate limit, errors).

    Returns:
        Routes relative to `/api/client`.
    """
    return [
        Route("/", wrap(list_servers), methods=["GET"]),
        Route("/servers/{server}", wrap(view), methods=["GET"]),
        Route("/servers/{server}/websocket", wrap(websocket), methods=["GET"]),
        Route("/servers/{server}/resources", wrap(resources), methods=["GET"]),
        Route("/servers/{server}/power", wrap(power), methods=["POST"]),
    ]
