"""The Application API of the Pterodactyl simulator: handlers, Fractal rendering, route table.

Mounted at `/api/application` by `simulators.pterodactyl`, which authenticates, throttles,
checks the key's ACL and injects faults before a handler runs. Rendering follows the panel's
transformers and `PterodactylSerializer`: items `{"object", "attributes"}`, includes under
`attributes.relationships` (`null_resource` when the key may not read them), lists with
`meta.pagination` from Laravel's paginator (its links carry only `?page=N`). Filtering follows
spatie/laravel-query-builder: plain `filter[x]` is a case-insensitive substring match (also on
`external_id`; use `/external/{id}` for exact lookups), a comma means "any of".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, Response

from fluxbilling_simulators import _pterodactyl_rules as rules
from fluxbilling_simulators._pterodactyl_rules import Call, Caller, Handler, PanelError
from fluxbilling_simulators._pterodactyl_state import PterodactylState

__all__ = ["ROUTES", "paginate"]

Row = dict[str, Any]
Filter = Callable[[Row, str], bool]
_NULL = {"object": "null_resource", "attributes": None}
_USER_KEYS = "id external_id uuid username email first_name last_name language root_admin 2fa"
_USER_KEYS += " created_at updated_at"


def _relations(state: PterodactylState) -> dict[tuple[str, str], tuple[str, str, Any]]:
    """The includes of each resource: (ACL resource, child resource, loader)."""
    s = state

    def owned(table: str, key: str) -> Callable[[Row], list[Row]]:
        return lambda row: [x for x in getattr(s, table).values() if x[key] == row["id"]]

    def location_of(server: Row) -> Row:
        return s.locations[s.nodes[server["node"]]["location_id"]]

    def variables(server: Row) -> list[Row]:
        values = server["_values"]
        return [
            v | {"server_value": values.get(v["id"])} for v in s.eggs[server["egg"]]["_variables"]
        ]

    return {
        ("server", "allocations"): ("allocations", "allocation", owned("allocations", "_server")),
        ("server", "user"): ("users", "user", lambda r: s.users.get(r["user"])),
        ("server", "nest"): ("nests", "nest", lambda r: s.nests[r["nest"]]),
        ("server", "egg"): ("eggs", "egg", lambda r: s.eggs[r["egg"]]),
        ("server", "variables"): ("servers", "server_variable", variables),
        ("server", "location"): ("locations", "location", location_of),
        ("server", "node"): ("nodes", "node", lambda r: s.nodes[r["node"]]),
        ("user", "servers"): ("servers", "server", owned("servers", "user")),
        ("node", "allocations"): ("allocations", "allocation", owned("allocations", "_node")),
        ("node", "location"): ("locations", "location", lambda r: s.locations[r["location_id"]]),
        ("node", "servers"): ("servers", "server", owned("servers", "node")),
        ("location", "nodes"): ("nodes", "node", owned("nodes", "location_id")),
        ("nest", "eggs"): ("eggs", "egg", owned("eggs", "nest")),
        ("nest", "servers"): ("servers", "server", owned("servers", "nest")),
        ("egg", "nest"): ("nests", "nest", lambda r: s.nests[r["nest"]]),
        ("egg", "servers"): ("servers", "server", owned("servers", "egg")),
        ("egg", "variables"): ("eggs", "egg_variable", lambda r: r["_variables"]),
        ("allocation", "node"): ("nodes", "node", lambda r: s.nodes[r["_node"]]),
        ("allocation", "server"): ("servers", "server", lambda r: s.servers.get(r["_server"])),
    }


def _attributes(state: PterodactylState, kind: str, row: Row) -> Row:
    """A transformer: the public attributes of `row` rendered as a `kind`."""
    attributes = {k: v for k, v in row.items() if not k.startswith("_")}
    if kind == "user":
        attributes = {k: row[k] for k in _USER_KEYS.split()}
    elif kind == "allocation":
        attributes["assigned"] = row["_server"] is not None
    elif kind == "node":
        hosted = [s["limits"] for s in state.servers.values() if s["node"] == row["id"]]
        attributes["allocated_resources"] = {
            k: sum(h[k] for h in hosted) for k in ("memory", "disk")
        }
    elif kind == "server":
        status = row["status"]
        keys = ("id", "external_id", "uuid", "identifier", "name", "description", "status")
        attributes = {k: row[k] for k in keys} | {"suspended": status == "suspended"}
        keys = ("limits", "feature_limits", "user", "node", "allocation", "nest", "egg")
        attributes |= {k: row[k] for k in keys}
        attributes["container"] = row["container"] | {
            "installed": int(status not in ("installing", "install_failed")),
            "environment": state.environment(row),
        }
        attributes |= {"updated_at": row["updated_at"], "created_at": row["created_at"]}
    return attributes


def item(state: PterodactylState, caller: Caller, kind: str, row: Row, includes: Any = ()) -> Row:
    """`{"object", "attributes"}`, with the requested includes as `relationships`."""
    attributes = _attributes(state, kind, row)
    relations = _relations(state) if includes else {}
    for name in includes:
        if (kind, name) not in relations:  # Fractal ignores includes it does not offer
            continue
        resource, child, load = relations[kind, name]
        related = load(row) if caller.can(resource) else None
        if isinstance(related, list):
            value: Row = {
                "object": "list",
                "data": [item(state, caller, child, r) for r in related],
            }
        else:
            value = _NULL if related is None else item(state, caller, child, related)
        attributes.setdefault("relationships", {})[name] = value
    return {"object": kind, "attributes": attributes}


def _includes(call: Call) -> list[str]:
    return [i.strip() for i in call.request.query_params.get("include", "").split(",") if i.strip()]


def _positive(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() and int(text) > 0 else default


def _one(call: Call, kind: str, row: Row, status: int = 200) -> Response:
    return JSONResponse(
        item(call.state, call.caller, kind, row, _includes(call)), status_code=status
    )


def _page(call: Call, kind: str, rows: list[Row]) -> Response:
    includes = _includes(call)
    return paginate(call, rows, lambda row: item(call.state, call.caller, kind, row, includes))


def paginate(call: Call, rows: list[Row], render: Callable[[Row], Row]) -> Response:
    """A Fractal list of `rows` rendered by `render`, with `meta.pagination` (Laravel's
    LengthAwarePaginator: `per_page` default 50, `page`)."""
    query = call.request.query_params
    per_page, page = _positive(query.get("per_page"), 50), _positive(query.get("page"), 1)
    last = max(1, -(-len(rows) // per_page))
    chunk = rows[(page - 1) * per_page : page * per_page]
    base = str(call.request.url.remove_query_params(list(query)))
    links: dict[str, str] = {}
    if page > 1:
        links["previous"] = f"{base}?page={page - 1}"
    if page < last:
        links["next"] = f"{base}?page={page + 1}"
    pagination: Row = {"total": len(rows), "count": len(chunk), "per_page": per_page}
    pagination |= {"current_page": page, "total_pages": last, "links": links}
    data = [render(r) for r in chunk]
    return JSONResponse({"object": "list", "data": data, "meta": {"pagination": pagination}})


def _filtered(call: Call, rows: list[Row], allowed: dict[str, Filter]) -> list[Row]:
    """spatie/laravel-query-builder: `filter[...]` (unknown ones 400) and `sort=[-]id|uuid`."""
    query = call.request.query_params
    requested = {
        k[7:-1]: v for k, v in query.items() if k.startswith("filter[") and k.endswith("]")
    }
    unknown = ", ".join(name for name in requested if name not in allowed)
    if unknown:
        detail = f"Requested filter(s) `{unknown}` are not allowed. "
        detail += f"Allowed filter(s) are `{', '.join(allowed)}`."
        raise PanelError(400, "InvalidFilterQuery", detail)
    for name, value in requested.items():
        rows = [r for r in rows if allowed[name](r, value)]
    sort = query.get("sort", "")
    if sort:
        key = sort.lstrip("-")
        if key not in ("id", "uuid"):
            detail = f"Requested sort(s) `{key}` is not allowed. Allowed sort(s) are `id, uuid`."
            raise PanelError(400, "InvalidSortQuery", detail)
        rows = sorted(rows, key=lambda r: r[key], reverse=sort.startswith("-"))
    return rows


def _partial(get: Callable[[Row], Any]) -> Filter:
    def match(row: Row, value: str) -> bool:
        field, wanted = get(row), [v.strip().lower() for v in value.split(",")]
        return field is not None and any(v in str(field).lower() for v in wanted)

    return match


def _field(key: str) -> Callable[[Row], Any]:
    return lambda row: row.get(key)


def _keyed(*keys: str) -> dict[str, Filter]:
    return {key: _partial(_field(key)) for key in keys}


def _exact(key: str) -> Filter:
    return lambda row, value: str(row[key]) in value.split(",")


def _server_id(row: Row, value: str) -> bool:
    """The allocation `server_id` filter: PHP-empty ("0") or non-numeric selects unassigned."""
    if not value.isdigit() or value == "0":
        return row["_server"] is None
    return bool(row["_server"] == int(value))


def _lister(kind: str, table: str, filters: dict[str, Filter] | None) -> Handler:
    async def handler(call: Call) -> Response:
        rows = list(getattr(call.state, table).values())
        if filters is not None:  # spatie's QueryBuilder; the panel's plain repositories ignore it
            rows = _filtered(call, rows, filters)
        return _page(call, kind, rows)

    handler.__doc__ = f"GET /{table}."
    return handler


def _getter(kind: str, table: str) -> Handler:
    async def handler(call: Call) -> Response:
        if "external_id" in call.request.path_params:
            wanted = str(call.param("external_id")).casefold()  # MySQL's collation
            rows = getattr(call.state, table).values()
            row = next((r for r in rows if str(r["external_id"]).casefold() == wanted), None)
            if row is None:
                raise rules.not_found()
        else:
            row = call.state.find(table, call.param())
        return _one(call, kind, call.state.poll(row) if kind == "server" else row)

    handler.__doc__ = f"GET /{table}/{{id}} and /{table}/external/{{external_id}}."
    return handler


def _duplicate(attribute: str) -> PanelError:
    return rules.invalid([("external_id", "unique", f"The {attribute} has already been taken.")])


async def create_user(call: Call) -> Response:
    """POST /users: 201 with `meta.resource`."""
    if call.state.faults.take_exists():
        raise _duplicate("Third Party Identifier")
    user = call.state.save_user(call.body)
    if call.state.faults.take_crash():
        raise rules.unavailable()
    body = item(call.state, call.caller, "user", user)
    body["meta"] = {"resource": str(call.request.url_for("user", id=user["id"]))}
    return JSONResponse(body, status_code=201)


async def user_write(call: Call) -> Response:
    """PATCH /users/{id} (every create field again) and DELETE /users/{id} (204, or 400)."""
    user = call.state.find("users", call.param())
    if call.request.method == "PATCH":
        return _one(call, "user", call.state.save_user(call.body, user))
    call.state.delete_user(user)
    return Response(status_code=204)


async def create_server(call: Call) -> Response:
    """POST /servers: 201 with `status: installing`."""
    if call.state.faults.take_exists():
        raise _duplicate("external id")
    server = call.state.create_server(call.body)
    if call.state.faults.take_crash():
        raise rules.unavailable()
    return _one(call, "server", server, status=201)


async def patch_server(call: Call) -> Response:
    """PATCH /servers/{id}/details|build|startup: 200 with the server."""
    state, part = call.state, call.param("part")
    updates = {"details": state.update_details, "build": state.update_build}
    updates["startup"] = state.update_startup
    if part not in updates:
        raise rules.not_found(f"The route {call.request.url.path.lstrip('/')} could not be found.")
    server = state.find("servers", call.param())
    updates[part](server, call.body)
    return _one(call, "server", server)


async def server_action(call: Call) -> Response:
    """POST /servers/{id}/suspend|unsuspend|reinstall, DELETE /servers/{id}[/force]: 204."""
    action = call.request.path_params.get("action", "delete")
    if action not in ("suspend", "unsuspend", "reinstall", "delete"):
        raise rules.not_found(f"The route {call.request.url.path.lstrip('/')} could not be found.")
    server = call.state.find("servers", call.param())
    if action in ("suspend", "unsuspend"):
        call.state.set_suspended(server, action == "suspend")
    elif action == "reinstall":
        call.state.reinstall(server)
    else:
        call.state.delete_server(server, force=call.request.path_params.get("force") == "force")
    return Response(status_code=204)


async def deployable(call: Call) -> Response:
    """GET /nodes/deployable?memory=&disk=&location_ids[]=: nodes with room, or 400."""
    query = call.request.query_params
    data = {k: query[k] for k in ("memory", "disk") if k in query} | call.body
    if "location_ids[]" in query:
        data["location_ids"] = query.getlist("location_ids[]")
    call.state.validate(data, rules.DEPLOYABLE)
    nodes = call.state.viable_nodes(data.get("location_ids") or [], data["memory"], data["disk"])
    if "page" in query:
        return _page(call, "node", nodes)
    listed = [item(call.state, call.caller, "node", n, _includes(call)) for n in nodes]
    return JSONResponse({"object": "list", "data": listed})


async def node_configuration(call: Call) -> Response:
    """GET /nodes/{id}/configuration: the node's Wings configuration."""
    node = call.state.find("nodes", call.param())
    live = f"/etc/letsencrypt/live/{node['fqdn'].lower()}"
    ssl = {"enabled": not node["behind_proxy"] and node["scheme"] == "https"}
    ssl |= {"cert": f"{live}/fullchain.pem", "key": f"{live}/privkey.pem"}
    api = {"host": "0.0.0.0", "port": node["daemon_listen"], "ssl": ssl}  # noqa: S104 - Wings'
    api["upload_limit"] = node["upload_size"]
    system = {"data": node["daemon_base"], "sftp": {"bind_port": node["daemon_sftp"]}}
    config = {"debug": False, "uuid": node["uuid"], "token_id": node["_token"][:16]}
    config |= {"token": node["_token"][16:], "api": api, "system": system, "allowed_mounts": []}
    return JSONResponse(config | {"remote": str(call.request.base_url).rstrip("/")})


async def allocations(call: Call) -> Response:
    """GET/POST /nodes/{id}/allocations (POST 204), DELETE .../allocations/{allocation}."""
    node = call.state.find("nodes", call.param())
    if call.request.method == "POST":
        call.state.add_allocations(node, call.body)
        return Response(status_code=204)
    if call.request.method == "DELETE":
        allocation = call.state.find("allocations", call.param("allocation"))
        if allocation["_node"] != node["id"]:  # scoped route binding
            raise rules.not_found()
        if allocation["_server"] is not None:
            raise rules.display(rules.SERVER_IN_USE, "ServerUsingAllocationException")
        del call.state.allocations[allocation["id"]]
        return Response(status_code=204)
    rows = [a for a in call.state.allocations.values() if a["_node"] == node["id"]]
    return _page(call, "allocation", _filtered(call, rows, _ALLOCATION_FILTERS))


async def location_write(call: Call) -> Response:
    """POST /locations (201), PATCH /locations/{id} (200), DELETE /locations/{id} (204)."""
    state = call.state
    if call.request.method == "POST":
        location = state.save_location(call.body)
        body = item(state, call.caller, "location", location)
        body["meta"] = {"resource": str(call.request.url_for("location", id=location["id"]))}
        return JSONResponse(body, status_code=201)
    location = state.find("locations", call.param())
    if call.request.method == "PATCH":
        return _one(call, "location", state.save_location(call.body, location))
    if any(n["location_id"] == location["id"] for n in state.nodes.values()):
        raise rules.display(rules.LOCATION_HAS_NODES, "HasActiveNodesException")
    del state.locations[location["id"]]
    return Response(status_code=204)


async def eggs(call: Call) -> Response:
    """GET /nests/{id}/eggs (a list without pagination) and /nests/{id}/eggs/{egg}."""
    nest = call.state.find("nests", call.param())
    mine = [e for e in call.state.eggs.values() if e["nest"] == nest["id"]]
    if "egg" not in call.request.path_params:
        data = [item(call.state, call.caller, "egg", e, _includes(call)) for e in mine]
        return JSONResponse({"object": "list", "data": data})
    egg = next((e for e in mine if e["id"] == call.param("egg")), None)
    if egg is None:
        raise rules.not_found()
    return _one(call, "egg", egg)


_ALLOCATION_FILTERS = {"ip": _exact("ip"), "port": _exact("port"), "server_id": _server_id}
_ALLOCATION_FILTERS["ip_alias"] = _partial(lambda row: row["alias"])
_SERVER_FILTERS = _keyed("uuid", "name", "description", "external_id")
_SERVER_FILTERS["uuidShort"] = _partial(lambda row: row["identifier"])
_SERVER_FILTERS["image"] = _partial(lambda row: row["container"]["image"])
_S = "/servers/{id:int}"
_USERS = _lister("user", "users", _keyed("email", "uuid", "username", "external_id"))
_NODES = _lister("node", "nodes", _keyed("uuid", "name", "fqdn", "daemon_token_id"))

ROUTES: list[tuple[str, Handler, list[str], str, str | None]] = [
    # path, handler, methods, ACL resource, route name
    ("/users", _USERS, ["GET"], "users", None),
    ("/users", create_user, ["POST"], "users", None),
    ("/users/{id:int}", _getter("user", "users"), ["GET"], "users", "user"),
    ("/users/{id:int}", user_write, ["PATCH", "DELETE"], "users", None),
    ("/users/external/{external_id}", _getter("user", "users"), ["GET"], "users", None),
    ("/servers", _lister("server", "servers", _SERVER_FILTERS), ["GET"], "servers", None),
    ("/servers", create_server, ["POST"], "servers", None),
    (_S, _getter("server", "servers"), ["GET"], "servers", None),
    ("/servers/external/{external_id}", _getter("server", "servers"), ["GET"], "servers", None),
    (_S + "/{part:str}", patch_server, ["PATCH"], "servers", None),
    (_S + "/{action:str}", server_action, ["POST"], "servers", None),
    (_S, server_action, ["DELETE"], "servers", None),
    (_S + "/{force:str}", server_action, ["DELETE"], "servers", None),
    ("/nodes", _NODES, ["GET"], "nodes", None),
    ("/nodes/deployable", deployable, ["GET"], "nodes", None),
    ("/nodes/{id:int}", _getter("node", "nodes"), ["GET"], "nodes", None),
    ("/nodes/{id:int}/configuration", node_configuration, ["GET"], "nodes", None),
    ("/nodes/{id:int}/allocations", allocations, ["GET", "POST"], "allocations", None),
    ("/nodes/{id:int}/allocations/{allocation:int}", allocations, ["DELETE"], "allocations", None),
    (
        "/locations",
        _lister("location", "locations", _keyed("short", "long")),
        ["GET"],
        "locations",
        None,
    ),
    ("/locations", location_write, ["POST"], "locations", None),
    ("/locations/{id:int}", _getter("location", "locations"), ["GET"], "locations", "location"),
    ("/locations/{id:int}", location_write, ["PATCH", "DELETE"], "locations", None),
    ("/nests", _lister("nest", "nests", None), ["GET"], "nests", None),
    ("/nests/{id:int}", _getter("nest", "nests"), ["GET"], "nests", None),
    ("/nests/{id:int}/eggs", eggs, ["GET"], "eggs", None),
    ("/nests/{id:int}/eggs/{egg:int}", eggs, ["GET"], "eggs", None),
]
