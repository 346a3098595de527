"""The simulated Pterodactyl Panel: its tables, knobs and the rules that change them.

Plain data plus the rules that change it (the panel's services, v1.11.8); the HTTP layers
are `simulators.pterodactyl`, `_pterodactyl_application` and `_pterodactyl_client`, request
validation and the error envelope live in `_pterodactyl_rules`, the starting world in
`_pterodactyl_seed`. Every refusal is a `PanelError`. Server `status` moves like this::

    create ──> installing ──(polls_until_installed GETs)──> null | install_failed
    reinstall: any ──> installing ──> null | reinstall_failed
    suspend / unsuspend: null <──> suspended   (an install that ends while suspended keeps it)

Used from one asyncio loop: no method awaits, so each request's read-modify-write is atomic.
"""

from __future__ import annotations

import ipaddress
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fluxbilling_simulators import _pterodactyl_rules as rules
from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators._pterodactyl_rules import PanelError
from fluxbilling_simulators._pterodactyl_seed import allocation_row, seed_world

__all__ = ["ACL_RESOURCES", "PanelError", "PterodactylState"]

ACL_RESOURCES = ("servers", "nodes", "allocations", "users", "locations", "nests", "eggs")
NO_VIABLE_NODES = (
    "No nodes satisfying the requirements specified for automatic deployment could be found."
)
NO_VIABLE_ALLOCATIONS = (
    "No allocations satisfying the requirements for automatic deployment were found."
)
USER_HAS_SERVERS = (
    "Cannot delete a user with active servers attached to their account. "
    "Please delete their servers before continuing."
)
_FEATURES = ("databases", "allocations", "backups")
_PORT_RANGE = re.compile(r"^(\d{4,5})-(\d{4,5})$")


def _default_permissions() -> dict[str, int]:
    return dict.fromkeys(ACL_RESOURCES, 3)


@dataclass
class PterodactylState:
    """Everything the simulator knows; tests read and steer it directly.

    Attributes:
        application_key: the `ptla_` key (admin user 1); only valid on `/api/application`.
        client_key: the `ptlc_` key of user `client_key_user`; on `/api/application` it is
            refused (403) unless that user is a root admin, as in the panel.
        client_key_user: id of the user owning `client_key` (default: the seeded admin).
        key_permissions: ACL of the application key per resource (0 none, 1 read, 3 read+write).
        polls_until_installed: GETs of a server that still show `installing`.
        daemon_offline: Wings is unreachable: create/suspend/reinstall/delete/power answer 504
            (`DaemonConnectionException`); force delete still works.
        rate_limit_application / rate_limit_client: requests per `rate_limit_period` seconds
            per key before 429 (None: off; the panel's defaults are 240 and 720 per minute).
        faults: shared fault injection (latency, 5xx, timeouts, exists, crash after create).
        seed: seeds `rng` (uuids, random allocation choice).
        clock: seconds since the epoch (timestamps, JWTs, rate-limit windows).
        requests: API requests received (counted before faults and auth).
        locations, nodes, allocations, nests, eggs, users, servers: the tables, by id; keys
            starting with `_` are private (e.g. allocation `_server`, server `_power`).
        windows: rate-limit windows per key, `(start, hits)`.
    """

    application_key: str = "ptla_sim"
    client_key: str = "ptlc_sim"
    client_key_user: int = 1
    key_permissions: dict[str, int] = field(default_factory=_default_permissions)
    polls_until_installed: int = 2
    daemon_offline: bool = False
    rate_limit_application: int | None = None
    rate_limit_client: int | None = None
    rate_limit_period: float = 60.0
    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    clock: Callable[[], float] = time.time
    requests: int = 0
    locations: dict[int, dict[str, Any]] = field(default_factory=dict)
    nodes: dict[int, dict[str, Any]] = field(default_factory=dict)
    allocations: dict[int, dict[str, Any]] = field(default_factory=dict)
    nests: dict[int, dict[str, Any]] = field(default_factory=dict)
    eggs: dict[int, dict[str, Any]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    servers: dict[int, dict[str, Any]] = field(default_factory=dict)
    rng: random.Random = field(init=False, repr=False)
    _ids: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _install_failures: int = field(default=0, init=False, repr=False)
    windows: dict[str, tuple[float, int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - simulation, not cryptography
        if not self.nodes:
            seed_world(self)

    # -- plumbing -----------------------------------------------------------------------------

    def next_id(self, table: str) -> int:
        """The next auto-increment id of `table`."""
        current = max(self._ids.get(table, 0), max(getattr(self, table, {}), default=0))
        self._ids[table] = current + 1
        return current + 1

    def new_uuid(self) -> str:
        """A v4 uuid drawn from the seeded `rng`."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def now(self) -> str:
        """The current time in the panel's ISO-8601 (`toAtomString`) format."""
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    def fail_next_install(self, n: int = 1) -> None:
        """Make the next `n` installs (create or reinstall) end `install_failed`/`reinstall_failed`."""
        self._install_failures += n

    def find(self, table: str, key: Any) -> dict[str, Any]:
        """Row `key` of `table` (a route-model binding): 404 when absent."""
        row: dict[str, Any] | None = getattr(self, table).get(key)
        if row is None:
            raise rules.not_found()
        return row

    def validate(
        self,
        data: dict[str, Any],
        table: dict[str, str],
        names: dict[str, str] | None = None,
        ignore: int | None = None,
    ) -> None:
        """Run Laravel-style `table` rules over `data`; raise a 422 listing every failure."""
        failures = rules.check(data, table, names or {}, self._db_rule(ignore))
        if failures:
            raise rules.invalid(failures)

    def _db_rule(self, ignore: int | None) -> Callable[[str, str, str, Any], bool]:
        def passes(rule: str, arg: str, attribute: str, value: Any) -> bool:
            table, _, column = arg.partition(",")
            rows = getattr(self, table).values()
            if rule == "exists":
                key = rules.int_or_none(value)
                return any(r["id"] == key and not (column == "free" and r["_server"]) for r in rows)
            column = column or attribute.rsplit(".", 1)[-1]
            wanted = str(value).casefold()  # MySQL's default collation is case-insensitive
            taken = (str(r[column]).casefold() for r in rows if r["id"] != ignore and r.get(column))
            return wanted not in taken

        return passes

    # -- users --------------------------------------------------------------------------------

    def save_user(self, body: dict[str, Any], user: dict[str, Any] | None = None) -> dict[str, Any]:
        """Create (or, given `user`, fully update) a user from a POST/PATCH `/users` body."""
        self.validate(body, rules.USER, rules.USER_NAMES, ignore=user["id"] if user else None)
        if user is None:
            now = self.now()
            user = {"id": self.next_id("users"), "external_id": None, "uuid": self.new_uuid()}
            user.update(language="en", root_admin=False, created_at=now, _password=False)
            user["2fa"] = False
            self.users[user["id"]] = user
        for key in ("external_id", "email", "first_name", "last_name", "language", "root_admin"):
            if key in body:
                user[key] = body[key] in (True, 1, "1") if key == "root_admin" else body[key]
        user["username"] = str(body["username"]).lower()
        user["_password"] = user["_password"] or bool(body.get("password"))
        user["updated_at"] = self.now()
        return user

    def delete_user(self, user: dict[str, Any]) -> None:
        """Delete a user that owns no servers (else the panel's 400 DisplayException)."""
        if any(s["user"] == user["id"] for s in self.servers.values()):
            raise rules.display(USER_HAS_SERVERS)
        del self.users[user["id"]]

    # -- servers ------------------------------------------------------------------------------

    def create_server(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /servers: validate, place (allocation or deploy), store as `installing`."""
        table = dict(rules.SERVER_CREATE)
        if body.get("deploy"):
            table["deploy.locations"] += "|present"
            table["deploy.port_range"] += "|present"
        else:
            table.update(rules.SERVER_ALLOCATION)
        self.validate(body, table)
        limits, features = body["limits"], body["feature_limits"]
        if body.get("deploy"):
            allocation = self._deploy(body["deploy"], limits["memory"], limits["disk"])
        else:
            allocation = self.allocations[rules.as_int(body["allocation"]["default"])]
        egg = self.eggs[rules.as_int(body["egg"])]
        values = self._variables(egg, body["environment"])
        now, uid = self.now(), self.new_uuid()
        server: dict[str, Any] = {
            "id": self.next_id("servers"),
            "external_id": body.get("external_id"),
            "uuid": uid,
            "identifier": uid[:8],
            "name": body["name"],
            "description": body.get("description") or "",
            "status": "installing",
            "limits": {k: rules.as_int(limits[k]) for k in ("memory", "swap", "disk", "io", "cpu")},
            "feature_limits": {k: rules.int_or_none(features.get(k)) or 0 for k in _FEATURES},
            "user": rules.as_int(body["user"]),
            "node": allocation["_node"],
            "allocation": allocation["id"],
            "nest": egg["nest"],
            "egg": egg["id"],
            "container": {"startup_command": body["startup"], "image": body["docker_image"]},
            "updated_at": now,
            "created_at": now,
            "_values": values,
            "_start": bool(body.get("start_on_completion")),
            "_power": "offline",
        }
        server["limits"]["threads"] = limits.get("threads")
        server["limits"]["oom_disabled"] = bool(body.get("oom_disabled", True))
        self.servers[server["id"]] = server
        extra = (body.get("allocation") or {}).get("additional") or []
        for allocation_id in [allocation["id"], *map(rules.as_int, extra)]:
            self.allocations[allocation_id]["_server"] = server["id"]
        if self.daemon_offline:  # the panel force-deletes what Wings could not create
            self.delete_server(server, force=True)
            raise rules.daemon_unreachable()
        self._start_install(server, reinstall=False)
        return server

    def viable_nodes(self, locations: list[Any], memory: Any, disk: Any) -> list[dict[str, Any]]:
        """FindViableNodesService: public nodes in `locations` with room (400 when none)."""
        wanted = {rules.as_int(x) for x in locations}
        viable = []
        for node in self.nodes.values():
            hosted = [s["limits"] for s in self.servers.values() if s["node"] == node["id"]]
            mem = sum(h["memory"] for h in hosted) + rules.as_int(memory)
            dsk = sum(h["disk"] for h in hosted) + rules.as_int(disk)
            if (
                node["public"]
                and (not wanted or node["location_id"] in wanted)
                and mem <= node["memory"] * (1 + node["memory_overallocate"] / 100)
                and dsk <= node["disk"] * (1 + node["disk_overallocate"] / 100)
            ):
                viable.append(node)
        if not viable:
            raise rules.display(NO_VIABLE_NODES, "NoViableNodeException")
        return viable

    def _deploy(self, deploy: dict[str, Any], memory: Any, disk: Any) -> dict[str, Any]:
        """Automatic deployment: a random free allocation on a viable node."""
        viable = {n["id"] for n in self.viable_nodes(deploy.get("locations") or [], memory, disk)}
        ports: list[tuple[int, int]] = []
        for port in deploy.get("port_range") or []:
            if str(port).isdigit():
                ports.append((int(port), int(port)))
            elif match := _PORT_RANGE.match(str(port)):
                low, high = int(match[1]), int(match[2])
                if abs(high - low) > rules.PORT_RANGE_LIMIT:
                    raise rules.display(rules.TOO_MANY_PORTS)
                ports.append((low, high))
        taken = {(a["_node"], a["ip"]) for a in self.allocations.values() if a["_server"]}
        candidates = [
            a
            for a in self.allocations.values()
            if a["_server"] is None
            and a["_node"] in viable
            and (not ports or any(low <= a["port"] <= high for low, high in ports))
            and not (deploy.get("dedicated_ip") and (a["_node"], a["ip"]) in taken)
        ]
        if not candidates:
            raise rules.display(NO_VIABLE_ALLOCATIONS, "NoViableAllocationException")
        return self.rng.choice(candidates)

    def _variables(self, egg: dict[str, Any], environment: Any) -> dict[int, str]:
        """VariableValidatorService: every egg variable checked against its rules."""
        given = environment if isinstance(environment, dict) else {}
        variables = egg["_variables"]
        data = {"environment": {v["env_variable"]: given.get(v["env_variable"]) for v in variables}}
        table = {f"environment.{v['env_variable']}": v["rules"] for v in variables}
        names = {f"environment.{v['env_variable']}": f"{v['name']} variable" for v in variables}
        self.validate(data, table, names)
        return {v["id"]: rules.php_string(given.get(v["env_variable"])) for v in variables}

    def environment(self, server: dict[str, Any]) -> dict[str, Any]:
        """EnvironmentService: egg variables (server value or default) plus the panel's own."""
        egg = self.eggs[server["egg"]]
        env: dict[str, Any] = {}
        for variable in egg["_variables"]:
            value = server["_values"].get(variable["id"])
            env[variable["env_variable"]] = variable["default_value"] if value is None else value
        location = self.locations[self.nodes[server["node"]]["location_id"]]
        env.update(
            STARTUP=server["container"]["startup_command"],
            P_SERVER_LOCATION=location["short"],
            P_SERVER_UUID=server["uuid"],
            P_SERVER_ALLOCATION_LIMIT=server["feature_limits"]["allocations"],
        )
        return env

    def _start_install(self, server: dict[str, Any], *, reinstall: bool) -> None:
        fail = self._install_failures > 0
        self._install_failures -= fail
        server["_install"] = {"polls": self.polls_until_installed, "fail": fail, "re": reinstall}
        server["_power"] = "offline"

    def poll(self, server: dict[str, Any]) -> dict[str, Any]:
        """A GET of `server`: counts towards the end of a running install."""
        install = server.get("_install")
        if install is None:
            return server
        if install["polls"] > 0:
            install["polls"] -= 1
            return server
        status = None
        if install["fail"]:
            status = "reinstall_failed" if install["re"] else "install_failed"
        if server["status"] != "suspended":  # Wings' report keeps a suspended server suspended
            server["status"] = status
        server["_install"] = None
        if status is None and server["_start"] and server["status"] is None:
            server["_power"] = "running"
        return server

    def set_suspended(self, server: dict[str, Any], suspended: bool) -> None:
        """SuspensionService: a no-op when already in that state, else Wings must sync."""
        if (server["status"] == "suspended") == suspended:
            return
        if self.daemon_offline:
            raise rules.daemon_unreachable()
        server["status"] = "suspended" if suspended else None
        server["_power"] = "offline" if suspended else server["_power"]
        server["updated_at"] = self.now()

    def reinstall(self, server: dict[str, Any]) -> None:
        """ReinstallServerService: status `installing` while Wings reruns the install script."""
        if self.daemon_offline:
            raise rules.daemon_unreachable()
        server["status"] = "installing"
        self._start_install(server, reinstall=True)

    def delete_server(self, server: dict[str, Any], *, force: bool) -> None:
        """ServerDeletionService: Wings deletes first; `force` ignores Wings errors."""
        if self.daemon_offline and not force:
            raise rules.daemon_unreachable()
        for allocation in self.allocations.values():
            if allocation["_server"] == server["id"]:
                allocation["_server"] = None
        self.servers.pop(server["id"], None)

    def update_details(self, server: dict[str, Any], body: dict[str, Any]) -> None:
        """PATCH details: name and user required; an omitted external_id becomes null."""
        self.validate(body, rules.SERVER_DETAILS, rules.DETAILS_NAMES, ignore=server["id"])
        server.update(external_id=body.get("external_id"), name=body["name"])
        server.update(user=rules.as_int(body["user"]), description=body.get("description") or "")
        server["updated_at"] = self.now()

    def update_build(self, server: dict[str, Any], body: dict[str, Any]) -> None:
        """PATCH build: BuildModificationService (no capacity check, as in the panel)."""
        self.validate(body, rules.SERVER_BUILD, rules.BUILD_NAMES, ignore=server["id"])
        primary = rules.as_int(body["allocation"])
        mine = [a for a in self.allocations.values() if a["_node"] == server["node"]]
        adding = [rules.as_int(x) for x in body.get("add_allocations") or []]
        fresh = [a["id"] for a in mine if a["id"] in adding and a["_server"] is None]
        for allocation in mine:
            if allocation["id"] in fresh:
                allocation.update(_server=server["id"], notes=None)
        removing = [rules.as_int(x) for x in body.get("remove_allocations") or []]
        if primary in removing:
            if not fresh:
                raise rules.display(rules.NO_FALLBACK_ALLOCATION)
            primary = fresh[0]
        for allocation in mine:
            if (
                allocation["id"] in set(removing) - set(adding)
                and allocation["_server"] == server["id"]
            ):
                allocation.update(_server=None, notes=None)
        if self.allocations[primary]["_server"] != server["id"]:
            raise rules.display(rules.DEFAULT_NOT_ASSIGNED)
        keys = ("memory", "swap", "io", "cpu", "disk", "threads")
        limits = {k: body[k] for k in keys if k in body} | (body.get("limits") or {})
        for key, value in limits.items():
            server["limits"][key] = value if key == "threads" else rules.as_int(value)
        if "oom_disabled" in body:
            server["limits"]["oom_disabled"] = body["oom_disabled"] in (True, 1, "1")
        features = {k: rules.int_or_none(body["feature_limits"].get(k)) for k in _FEATURES}
        server["feature_limits"] = features | {"backups": features["backups"] or 0}
        server.update(allocation=primary, updated_at=self.now())

    def update_startup(self, server: dict[str, Any], body: dict[str, Any]) -> None:
        """PATCH startup: egg, image, startup; a given environment is checked as a whole."""
        self.validate(body, rules.SERVER_STARTUP)
        egg = self.eggs[rules.as_int(body["egg"])]
        if body["environment"]:
            server["_values"].update(self._variables(egg, body["environment"]))
        server.update(egg=egg["id"], nest=egg["nest"], updated_at=self.now())
        server["container"].update(startup_command=body["startup"], image=body["image"])

    # -- nodes, allocations, locations ---------------------------------------------------------

    def add_allocations(self, node: dict[str, Any], body: dict[str, Any]) -> None:
        """AssignmentService: `ip` (or a /27-/32 CIDR) times `ports` ("25565", "25570-25580")."""
        self.validate(body, rules.ALLOCATION_CREATE)
        address, _, bits = str(body["ip"]).partition("/")
        if bits and (not bits.isdigit() or not 27 <= int(bits) <= 32):
            raise rules.display(rules.CIDR_OUT_OF_RANGE, "CidrOutOfRangeException")
        try:
            ips = [str(ip) for ip in ipaddress.ip_network(body["ip"], strict=False)]
        except ValueError as exc:
            raise rules.display(
                f"Could not parse provided allocation IP address ({address}): {exc}"
            ) from exc
        ports = [p for spec in body["ports"] for p in rules.expand_ports(spec)]
        existing = {(a["_node"], a["ip"], a["port"]) for a in self.allocations.values()}
        for ip in ips:
            for port in ports:
                if (node["id"], ip, port) not in existing:  # insertIgnore
                    allocation_id = self.next_id("allocations")
                    self.allocations[allocation_id] = allocation_row(
                        allocation_id, node["id"], ip, port, body.get("alias")
                    )

    def save_location(
        self, body: dict[str, Any], location: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Create (or update) a location from `{short, long}`."""
        self.validate(body, rules.LOCATION, ignore=location["id"] if location else None)
        if location is None:
            location = {"id": self.next_id("locations"), "long": None, "created_at": self.now()}
            self.locations[location["id"]] = location
        location.update(short=body["short"], updated_at=self.now())
        location["long"] = body.get("long", location["long"])
        return location

    def dump(self) -> dict[str, Any]:
        """A JSON view of the world for `GET /_sim/state` (private fields included)."""
        tables = ("locations", "nodes", "allocations", "nests", "eggs", "users", "servers")
        view: dict[str, Any] = {name: list(getattr(self, name).values()) for name in tables}
        view["requests"] = self.requests
        return view
