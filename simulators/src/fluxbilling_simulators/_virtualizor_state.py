"""The simulated Virtualizor world: catalogue, nodes, IPv4 pool, users, VPSes and tasks.

Plain data plus the rules that change it; the HTTP layer (auth, submit flags, envelopes, faults)
is `simulators.virtualizor`, whose docstring lists the wire shapes. Used from one asyncio loop and
no method awaits, so each request's read-modify-write is atomic. Records hold ints; `public()`
stringifies numbers as the vendor's JSON does and drops private `_` fields (root password, power).

Modelled rules (ours; the vendor docs are silent): node capacity (`total_ram` MB, `total_space`
GB; a VPS holds its resources until its delete task completes, a queued resize reserves its
growth); one IPv4 pool for all nodes (`ipid` = position + 1); hostnames unique among live VPSes,
case-insensitively, while `unique_hostnames`; a VPS with a running task is `locked` and refuses
other changes. Task `status` codes follow a third-party SDK (unverified): 1 in progress,
2 completed, -1 error (`status_txt` = the error). Every read (`act=tasks`, `act=vs` without an
action) advances each running task one poll; it completes on its `polls_until_ready`-th poll
(0: at once), and only then applies its effect::

    queued (1, progress 0) --poll--> (1, progress 50) --poll--> completed (2, progress 100)
                                                       \\------> error (-1), VPS unchanged
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxbilling_simulators._faults import Faults

__all__ = ["InBandError", "Messages", "Record", "VirtualizorState", "public", "to_int"]

Record = dict[str, Any]

IN_PROGRESS, COMPLETED, ERRORED = 1, 2, -1
TASK_ACTIONS = {
    "addvs": "Creating VPS",
    "rebuildvs": "Rebuilding VPS",
    "resizevps": "Resizing VPS",
    "deletevs": "Deleting VPS",
    "changepassword": "Changing VPS Password",
}
VIRTS = ("kvm", "openvz", "xen", "xenhvm", "xcp", "xcphvm", "lxc", "proxk", "proxo", "proxl")
# POST field -> VPS field; the form says `swapram`, the VPS record `swap`.
_SAME = ("space", "ram", "burst", "cpu", "cores", "cpu_percent", "bandwidth", "network_speed")
_RESOURCES = {"swapram": "swap", "upload_speed": "upload_speed"} | {k: k for k in _SAME}
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Messages:
    """The in-band error texts a plugin may match on (capacity ones say "enough resources")."""

    NO_SERVER = "There is no server with enough resources"
    SERVER_FULL = "The selected server does not have enough resources"
    NO_IPS = "There are not enough free IPs in the IP pool"
    HOSTNAME_TAKEN = "The hostname is already in use"
    LOCKED = "The VPS is locked as a task is in progress"
    NO_VPS = "The VPS specified does not exist"
    AUTH = "Invalid API key or API password"


class InBandError(Exception):
    """A refusal the vendor answers with HTTP 200 and `{"error": ...}`.

    `error` is a list of messages, or an object keyed by form field for validation errors.
    """

    def __init__(self, error: list[str] | dict[str, str]) -> None:
        super().__init__(error)
        self.error = error


def to_int(value: object) -> int | None:
    """A form value as an int (`"12"` -> 12), or None when it is not a whole number."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _stringify(value: Any) -> Any:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _stringify(v) for k, v in value.items()}
    return value


def public(record: Mapping[str, Any]) -> Record:
    """The vendor's view of a record: numbers as strings, private `_` fields dropped."""
    return {k: _stringify(v) for k, v in record.items() if not k.startswith("_")}


_PLAN_KEYS = ("plid", "plan_name", "ips", "space", "ram", "cores", "bandwidth")
_PLAN_FIXED: Record = {"virt": "kvm", "ips6": 0, "ips6_subnet": 0, "swap": 0, "burst": 0}
_PLAN_FIXED |= {"cpu": 1000, "cpu_percent": 0, "network_speed": 0, "upload_speed": 0, "vnc": 1}
_PLAN_FIXED |= {"nic_type": "virtio", "osid": 0, "kvm_cache": "none", "io_mode": "native"}
_PLAN_FIXED |= {"vnc_keymap": "en-us", "osreinstall_limit": 0, "is_enabled": 1}


def _plans() -> dict[int, Record]:
    rows = [(1, "KVM 1G", 1, 20, 1024, 1, 1000), (2, "KVM 4G", 2, 80, 4096, 2, 4000)]
    return {row[0]: dict(zip(_PLAN_KEYS, row, strict=True)) | _PLAN_FIXED for row in rows}


def _templates() -> dict[int, Record]:
    rows = [
        (101, "kvm", "ubuntu", "Ubuntu 22.04"),
        (102, "kvm", "ubuntu", "Ubuntu 24.04"),
        (111, "kvm", "debian", "Debian 12"),
        (201, "openvz", "centos", "CentOS 7"),
    ]
    return {
        osid: {"osid": osid, "type": virt, "distro": distro, "name": name}
        | {"filename": name.lower().replace(" ", "-") + "-x86_64.img"}
        for osid, virt, distro, name in rows
    }


def _servers() -> dict[int, Record]:
    return {
        0: {"serid": 0, "server_name": "localhost", "ip": "198.51.100.10", "virt": "kvm"}
        | {"total_ram": 8192, "total_space": 200},
        1: {"serid": 1, "server_name": "node-2", "ip": "198.51.100.11", "virt": "kvm"}
        | {"total_ram": 4096, "total_space": 100},
    }


def _users() -> dict[int, Record]:
    return {
        1: {"uid": 1, "email": "alice@example.com", "type": 0, "fname": "Alice", "lname": ""}
        | {"uplid": 0, "suspended": 0, "date_created": 1_700_000_000, "_pass": "alice-pass"}
    }


@dataclass
class VirtualizorState:
    """Everything the simulator knows; tests read `vps`, `users`, `tasks`, `ip_owner`, `requests`.

    Attributes:
        api_key: the accepted `adminapikey` (also `apikey` on end-user actions).
        api_pass: the accepted `adminapipass` (also `apipass` on end-user actions).
        faults: the shared fault-injection knobs (latency, 5xx/4xx, timeouts, duplicates, crash).
        polls_until_ready: reads (`act=tasks`, `act=vs`) before a queued task completes.
        unique_hostnames: refuse a hostname already used by a live VPS (modelled rule).
        reslen: default page length of lists.
        seed: seeds `rng` (UUIDs, VNC passwords).
        clock: the time source of `time`/`timenow` fields.
        plans, templates, servers, ip_pool, users: the seeded catalogue and world.
        vps, tasks: live VPS records and every task, by id (private fields start with `_`).
        ip_owner: allocated address -> vpsid.
        requests: API requests seen (faulted ones included).
    """

    api_key: str = "sim-key"
    api_pass: str = "sim-pass"  # noqa: S105 - the simulator's well-known test credential
    faults: Faults = field(default_factory=Faults)
    polls_until_ready: int = 2
    unique_hostnames: bool = True
    reslen: int = 50
    seed: int = 0
    clock: Callable[[], float] = field(default_factory=lambda: time.time, repr=False)
    plans: dict[int, Record] = field(default_factory=_plans)
    templates: dict[int, Record] = field(default_factory=_templates)
    servers: dict[int, Record] = field(default_factory=_servers)
    ip_pool: list[str] = field(default_factory=lambda: [f"192.0.2.{n}" for n in range(10, 26)])
    users: dict[int, Record] = field(default_factory=_users)
    vps: dict[int, Record] = field(default_factory=dict)
    tasks: dict[int, Record] = field(default_factory=dict)
    ip_owner: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    rng: random.Random = field(init=False, repr=False)
    _task_failures: deque[str] = field(default_factory=deque, init=False, repr=False)
    _ids: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - simulation, not cryptography
        self._ids = {"vps": max(self.vps, default=0), "user": max(self.users, default=0)}
        self._ids["task"] = max(self.tasks, default=0)

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def _now(self) -> int:
        return int(self.clock())

    def fail_next_task(self, message: str = "The task failed") -> None:
        """Make the next task queued end in error (status -1) with `message` as `status_txt`."""
        self._task_failures.append(message)

    def free(self, serid: int) -> tuple[int, int]:
        """Free (RAM MB, space GB) on a node, net of VPSes and queued resizes."""
        node = self.servers[serid]
        ram, space = node["total_ram"], node["total_space"]
        for vps in self.vps.values():
            if vps["serid"] == serid:
                ram, space = ram - vps["ram"], space - vps["space"]
        for task in self.tasks.values():
            owner, new = self.vps.get(task["vpsid"]), task["_params"]
            if task["action"] == "resizevps" and task["status"] == IN_PROGRESS and owner:
                mine = owner["serid"] == serid
                ram -= max(0, new.get("ram", 0) - owner["ram"]) if mine else 0
                space -= max(0, new.get("space", 0) - owner["space"]) if mine else 0
        return ram, space

    def find_user(self, email: str) -> Record | None:
        """The user with exactly this email (case-insensitive), if any."""
        return next((u for u in self.users.values() if u["email"].lower() == email.lower()), None)

    def add_user(self, email: str, pw: str, priority: int = 0, **names: str) -> Record:
        """Store a new user (`priority` 0 user, 1 admin, 2 cloud) with password `pw`."""
        uid = self._next("user")
        user = {"uid": uid, "email": email, "type": priority, "fname": names.get("fname", "")}
        user |= {"lname": names.get("lname", ""), "uplid": 0, "suspended": 0}
        self.users[uid] = user | {"date_created": self._now(), "_pass": pw}
        return self.users[uid]

    def adduser(self, form: Mapping[str, str]) -> Record:
        """Validate and apply an `act=adduser` form; raise `InBandError` when refused."""
        errors: dict[str, str] = {}
        email = form.get("newemail", "").strip()
        if not _EMAIL.match(email):
            errors["newemail"] = "Please provide a valid email address"
        elif self.find_user(email):
            errors["newemail"] = "A user with this email address already exists"
        if not form.get("newpass"):
            errors["newpass"] = "Please enter the password"
        priority = to_int(form.get("priority") or "0")
        if priority not in (0, 1, 2):
            errors["priority"] = "Invalid user type"
        if errors or priority is None:
            raise InBandError(errors)
        names = {k: form.get(k, "") for k in ("fname", "lname")}
        return self.add_user(email, form["newpass"], priority, **names)

    def hostname_taken(self, hostname: str) -> bool:
        """Whether a live VPS already has this hostname (case-insensitive)."""
        return any(v["hostname"].lower() == hostname.lower() for v in self.vps.values())

    def prepare_vps(self, form: Mapping[str, str]) -> Record:
        """Validate an `act=addvs` form into a create spec; raise `{field: message}` errors."""
        errors: dict[str, str] = {}
        spec = self._resources(form, errors)
        os = self.templates.get(to_int(form.get("osid")) or 0)
        if os is None or os["type"] != spec["virt"]:
            errors["osid"] = "Invalid OS template"
        hostname = form.get("hostname", "").strip()
        if not _HOSTNAME.match(hostname):
            errors["hostname"] = "Invalid hostname"
        elif self.unique_hostnames and self.hostname_taken(hostname):
            errors["hostname"] = Messages.HOSTNAME_TAKEN
        if not form.get("rootpass"):
            errors["rootpass"] = "Please enter the root password"
        spec |= {"os": os, "hostname": hostname, "rootpass": form.get("rootpass", "")}
        spec |= {"vncpass": form.get("vncpass", ""), "serid": self._node_choice(form, errors)}
        spec |= self._owner(form, errors)
        if errors:
            raise InBandError(errors)
        return spec

    def _resources(self, form: Mapping[str, str], errors: dict[str, str]) -> Record:
        plid = to_int(form.get("plid") or "0")
        plan = self.plans.get(plid or 0, {})
        if plid is None or (plid and not plan):
            errors["plid"] = "Invalid plan"
        spec = {key: plan.get(key, 0) for key in _RESOURCES.values()}
        spec |= {"plid": plid or 0, "num_ips": plan.get("ips", 0)}
        spec["virt"] = form.get("virt") or plan.get("virt", "")
        for key, target in (*_RESOURCES.items(), ("num_ips", "num_ips")):
            if form.get(key):
                value = to_int(form[key])
                if value is None:
                    errors[key] = f"Invalid value for {key}"
                else:
                    spec[target] = value
        if spec["virt"] not in VIRTS:
            errors["virt"] = "Invalid virtualization type"
        if spec["ram"] <= 0:
            errors.setdefault("ram", "Invalid RAM")
        if spec["space"] <= 0:
            errors.setdefault("space", "Invalid disk space")
        return spec

    def _node_choice(self, form: Mapping[str, str], errors: dict[str, str]) -> int | None:
        if form.get("node_select") == "1":
            return None
        serid = to_int(form.get("slave_server") or form.get("serid") or "0")
        if serid is None or serid not in self.servers:
            errors["slave_server"] = "Invalid server"
        return serid

    def _owner(self, form: Mapping[str, str], errors: dict[str, str]) -> Record:
        if form.get("uid"):
            uid = to_int(form["uid"])
            if uid not in self.users:
                errors["uid"] = "The user specified does not exist"
            return {"uid": uid}
        email = form.get("user_email", "").strip()
        if not _EMAIL.match(email):
            errors["user_email"] = "Please provide a valid email address"
            return {}
        user = self.find_user(email)
        if user is not None:
            return {"uid": user["uid"]}
        if not form.get("user_pass"):
            errors["user_pass"] = "Please enter the user password"  # noqa: S105 - a message
        return {"new_user": (email, form.get("user_pass", ""))}

    def _place(self, spec: Mapping[str, Any]) -> int:
        def fits(serid: int) -> bool:
            ram, space = self.free(serid)
            return bool(spec["ram"] <= ram and spec["space"] <= space)

        serid = spec["serid"]
        if serid is not None:
            if self.servers[serid]["virt"] != spec["virt"]:
                raise InBandError({"virt": "The server does not support this virtualization"})
            if not fits(serid):
                raise InBandError([Messages.SERVER_FULL])
            return int(serid)
        nodes = [s for s, n in self.servers.items() if n["virt"] == spec["virt"] and fits(s)]
        if not nodes:
            raise InBandError([Messages.NO_SERVER])
        return max(nodes, key=lambda s: (self.free(s)[0], -s))

    def create_vps(self, spec: Mapping[str, Any]) -> Record:
        """Place, allocate IPs, store a new VPS and queue its `addvs` build task."""
        serid = self._place(spec)
        free_ips = [ip for ip in self.ip_pool if ip not in self.ip_owner]
        if len(free_ips) < spec["num_ips"]:
            raise InBandError([Messages.NO_IPS])
        uid = spec.get("uid") or self.add_user(*spec["new_user"])["uid"]
        vpsid, now, os = self._next("vps"), self._now(), spec["os"]
        ips = {self.ip_pool.index(ip) + 1: ip for ip in free_ips[: spec["num_ips"]]}
        vnc_pass = spec["vncpass"] or "".join(self.rng.choices("abcdefghjkmnpqrstuvwxyz", k=8))
        vps: Record = {"vpsid": vpsid, "vps_name": f"v{1000 + vpsid}"}
        vps |= {"uuid": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), "serid": serid}
        vps |= {"time": now, "edittime": now, "virt": spec["virt"], "uid": uid}
        vps |= {"plid": spec["plid"], "hostname": spec["hostname"], "osid": os["osid"]}
        vps |= {"os_name": os["name"], "os_distro": os["distro"], "iso": "", "boot": "dc"}
        vps |= {key: spec[key] for key in _RESOURCES.values()}
        vps |= {"suspended": 0, "nw_suspended": 0, "locked": 0, "vnc": 1}
        vps |= {"vncport": 5900 + vpsid, "vnc_passwd": vnc_pass, "ips": ips}
        vps |= {"email": self.users[uid]["email"], "_rootpass": spec["rootpass"], "_power": 0}
        self.vps[vpsid] = vps
        self.ip_owner |= {ip: vpsid for ip in ips.values()}
        self.start_task(vps, "addvs")
        return vps

    def editable(self, vpsid: object) -> Record:
        """The VPS `vpsid` if it exists and no task holds it; raise `InBandError` otherwise."""
        vps = self.vps.get(to_int(vpsid) or 0)
        if vps is None:
            raise InBandError([Messages.NO_VPS])
        if vps["locked"]:
            raise InBandError([Messages.LOCKED])
        return vps

    def rebuild(self, vps: Record, form: Mapping[str, str]) -> Record:
        """Queue a `rebuildvs` task (reinstall `osid`, root password `newpass`)."""
        os = self.templates.get(to_int(form.get("osid")) or 0)
        errors = self._passwords(form)
        if os is None or os["type"] != vps["virt"]:
            errors["osid"] = "Invalid OS template"
        if errors:
            raise InBandError(errors)
        vps["_power"] = 0
        return self.start_task(vps, "rebuildvs", {"osid": form["osid"], "newpass": form["newpass"]})

    def change_password(self, vps: Record, form: Mapping[str, str]) -> Record:
        """Queue a `changepassword` task (the root password changes when it completes)."""
        errors = self._passwords(form)
        if errors:
            raise InBandError(errors)
        return self.start_task(vps, "changepassword", {"newpass": form["newpass"]})

    @staticmethod
    def _passwords(form: Mapping[str, str]) -> dict[str, str]:
        if not form.get("newpass"):
            return {"newpass": "Please enter the new password"}
        if form.get("conf") != form["newpass"]:
            return {"conf": "The passwords do not match"}
        return {}

    def resize(self, vps: Record, form: Mapping[str, str]) -> Record:
        """Queue a `resizevps` task: `plid` (+ its resources if `apply_plan=1`) and/or fields."""
        new: Record = {}
        if form.get("plid"):
            plan = self.plans.get(to_int(form["plid"]) or 0)
            if plan is None:
                raise InBandError({"plid": "Invalid plan"})
            new["plid"] = plan["plid"]
            if form.get("apply_plan") == "1":
                new |= {key: plan[key] for key in _RESOURCES.values()}
        for key, target in _RESOURCES.items():
            if form.get(key):
                value = to_int(form[key])
                if value is None:
                    raise InBandError({key: f"Invalid value for {key}"})
                new[target] = value
        ram, space = self.free(vps["serid"])
        if new.get("ram", 0) - vps["ram"] > ram or new.get("space", 0) - vps["space"] > space:
            raise InBandError([Messages.SERVER_FULL])
        return self.start_task(vps, "resizevps", new)

    def start_task(self, vps: Record, action: str, params: Record | None = None) -> Record:
        """Queue `action` on `vps` (which it locks) as a task in progress."""
        actid, now, node = self._next("task"), self._now(), self.servers[vps["serid"]]
        task: Record = {"actid": actid, "slaveactid": 0, "uid": vps["uid"]}
        task |= {"vpsid": vps["vpsid"], "serid": vps["serid"], "server_name": node["server_name"]}
        task |= {"email": vps["email"], "ip": "", "action": action}
        task |= {"action_txt": TASK_ACTIONS[action], "status": IN_PROGRESS}
        task |= {"status_txt": "In Progress", "progress": 0, "time": now, "started": now}
        task |= {"updated": now, "ended": 0, "data": "", "proc_id": 0, "internal": 0}
        fail = self._task_failures.popleft() if self._task_failures else None
        task |= {"_polls": self.polls_until_ready, "_total": max(1, self.polls_until_ready)}
        task |= {"_params": params or {}, "_fail": fail}
        self.tasks[actid] = task
        vps["locked"] = 1
        if task["_polls"] <= 0:
            self._finish(task)
        return task

    def tick(self) -> None:
        """One read happened: every running task moves one poll closer to its end."""
        for task in list(self.tasks.values()):
            if task["status"] != IN_PROGRESS:
                continue
            task["_polls"] -= 1
            task["updated"] = self._now()
            if task["_polls"] <= 0:
                self._finish(task)
            else:
                task["progress"] = 100 * (task["_total"] - task["_polls"]) // task["_total"]

    def _finish(self, task: Record) -> None:
        now = self._now()
        task |= {"updated": now, "ended": now}
        vps = self.vps[task["vpsid"]]  # a locked VPS cannot be deleted by another task
        vps["locked"] = 0
        if task["_fail"] is not None:
            task |= {"status": ERRORED, "status_txt": task["_fail"]}
            return
        task |= {"status": COMPLETED, "status_txt": "Task Completed", "progress": 100}
        action, params = task["action"], task["_params"]
        if action == "deletevs":
            for ip in vps["ips"].values():
                self.ip_owner.pop(ip, None)
            del self.vps[vps["vpsid"]]
            return
        if action == "rebuildvs":
            os = self.templates[to_int(params["osid"]) or 0]
            vps |= {"osid": os["osid"], "os_name": os["name"], "os_distro": os["distro"]}
        if action in ("rebuildvs", "changepassword"):
            vps["_rootpass"] = params["newpass"]
        if action == "resizevps":
            vps |= params
        if action in ("addvs", "rebuildvs"):
            vps["_power"] = 1
        vps["edittime"] = now

    def dump(self) -> Record:
        """A JSON view of the world for `GET /_sim/state` (private fields included)."""
        return {
            "vps": list(self.vps.values()),
            "users": list(self.users.values()),
            "tasks": list(self.tasks.values()),
            "ip_owner": self.ip_owner,
            "requests": self.requests,
        }
