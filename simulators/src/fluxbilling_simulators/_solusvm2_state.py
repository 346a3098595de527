"""The simulated SolusVM 2 world: catalogue, servers, tasks and the fault-injection knobs.

Plain data plus the rules that change it; the HTTP layer is `simulators.solusvm2`. Used from
one asyncio loop: no method awaits, so each request's read-modify-write is atomic.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fluxbilling_simulators._faults import Faults

__all__ = ["TASK_STEPS", "SolusVM2State"]

TASK_STEPS = ("pending", "queued", "running", "done")
_ACTIONS = {
    "start": "vm-start",
    "stop": "vm-stop",
    "restart": "vm-restart",
    "suspend": "vm-suspend",
    "resume": "vm-resume",
    "reinstall": "vm-reinstall",
    "delete": "vm-delete",
    "resize": "vm-resize",
}


def laravel_integer(value: Any) -> Any:
    """Laravel's `integer` rule accepts numeric strings ("21"); the API then uses the int."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _default_catalogue() -> dict[str, list[dict[str, Any]]]:
    return {
        "plans": [
            {"id": 1, "name": "VPS S", "specifications": {"disk": 20, "ram": 1024, "vcpu": 1}},
            {"id": 2, "name": "VPS M", "specifications": {"disk": 40, "ram": 2048, "vcpu": 2}},
        ],
        "locations": [{"id": 1, "name": "Amsterdam"}, {"id": 2, "name": "Frankfurt"}],
        "os_images": [
            {"id": 1, "name": "Ubuntu", "versions": [{"id": 11, "version": "22.04"}]},
            {"id": 2, "name": "Debian", "versions": [{"id": 21, "version": "12"}]},
        ],
    }


@dataclass
class SolusVM2State:
    """Everything the simulator knows; tests read `servers`, `tasks` and `requests`.

    Attributes:
        token: the only accepted bearer token.
        polls_until_started: GETs of a new server before it is `started`.
        faults: latency, random and forced 5xx/4xx/timeouts, "already exists" and crash after
            create (`simulators._faults.Faults`).
        per_page: default page size of lists.
        seed: seeds `rng` (uuids, VNC passwords; faults have their own seed).
    """

    token: str = "sim-token"  # noqa: S105 - the simulator's well-known test token
    polls_until_started: int = 2
    faults: Faults = field(default_factory=Faults)
    per_page: int = 10
    seed: int = 0
    servers: dict[int, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    catalogue: dict[str, list[dict[str, Any]]] = field(default_factory=_default_catalogue)
    rng: random.Random = field(init=False)
    _task_failures: deque[str] = field(default_factory=deque, init=False, repr=False)
    _polls_left: dict[int, int] = field(default_factory=dict, init=False, repr=False)
    _next_id: int = field(default=1, init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - simulation, not cryptography

    def fail_next_task(self, output: str = "simulated failure") -> None:
        """Make the next task created end `failed` with `output`."""
        self._task_failures.append(output)

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def plan(self, plan_id: Any) -> dict[str, Any] | None:
        """The catalogue plan with this id (numeric strings accepted), or None."""
        plan_id = laravel_integer(plan_id)
        return next((p for p in self.catalogue["plans"] if p["id"] == plan_id), None)

    def usage(self, server: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        """Deterministic usage samples of a server (one per 5 minutes, the last hour)."""
        base = server["id"] * 7 % 13
        items: list[dict[str, Any]] = []
        for n in range(12):
            time = f"2026-01-01T00:{n * 5:02d}:00Z"
            if kind == "cpu":
                items.append({"time": time, "load_average": round(0.1 * (base + n % 4), 2)})
            elif kind == "memory":
                ram = server["specifications"]["ram"]
                items.append({"time": time, "memory": ram * (40 + base + n) // 100})
            elif kind == "network":
                items.append(
                    {
                        "time": time,
                        "derivative": {"read_kb": 100 * (base + n), "write_kb": 40 * (base + n)},
                    }
                )
            else:
                items.append(
                    {"time": time, "derivative": {"read_kb": 10 * (base + n), "write_kb": 5 * n}}
                )
        return items

    def os_version_exists(self, version_id: Any) -> bool:
        """Whether `version_id` is an OS image version in the catalogue."""
        version_id = laravel_integer(version_id)
        return any(
            v["id"] == version_id
            for image in self.catalogue["os_images"]
            for v in image["versions"]
        )

    def validate_create(self, body: dict[str, Any]) -> dict[str, list[str]]:
        """Laravel-style field errors for a create-server body (empty when valid)."""
        problems: dict[str, list[str]] = {}
        name = body.get("name")
        if not isinstance(name, str) or not name:
            problems["name"] = ["The name field is required."]
        elif any(s["name"] == name for s in self.servers.values()):
            problems["name"] = ["The name has already been taken."]
        for key, kind in (("plan", "plans"), ("location", "locations")):
            body[key] = laravel_integer(body.get(key))
            if not any(item["id"] == body[key] for item in self.catalogue[kind]):
                problems[key] = [f"The selected {key} is invalid."]
        if not self.os_version_exists(body.get("os")):
            problems["os"] = ["The selected os is invalid."]
        return problems

    def create_server(self, body: dict[str, Any]) -> dict[str, Any]:
        """Store a new `processing` server built from a valid create body."""
        server_id = self._id()
        plan = next(p for p in self.catalogue["plans"] if p["id"] == body["plan"])
        location = next(loc for loc in self.catalogue["locations"] if loc["id"] == body["location"])
        primary = body.get("primary_ip") or f"192.0.2.{server_id % 250 + 1}"
        server = {
            "id": server_id,
            "uuid": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "name": body["name"],
            "description": body.get("description", ""),
            "virtualization_type": "kvm",
            "status": "processing",
            "is_suspended": False,
            "is_processing": True,
            "specifications": dict(plan["specifications"]),
            "ips": {"ipv4": [{"ip": primary, "is_primary": True}], "ipv6": []},
            "location": dict(location),
            "plan": {"id": plan["id"], "name": plan["name"]},
            "user": {"id": body.get("user") or 0},
            "settings": {
                "os_image": {"version_id": body["os"]},
                "vnc_password": f"vnc{self.rng.getrandbits(32):08x}",
            },
            "boot_mode": "disk",
            "created_at": datetime.now(UTC).isoformat(),
        }
        self.servers[server_id] = server
        self._polls_left[server_id] = self.polls_until_started
        return server

    def poll_server(self, server_id: int) -> dict[str, Any] | None:
        """GET a server: counts towards a new server becoming `started`."""
        server = self.servers.get(server_id)
        if server is None:
            return None
        left = self._polls_left.get(server_id, 0)
        if left > 0:
            self._polls_left[server_id] = left - 1
        elif server["status"] == "processing":
            server.update(status="started", is_processing=False)
        return server

    def start_task(self, server_id: int, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create the task of `action` on a server."""
        task: dict[str, Any] = {
            "id": self._id(),
            "compute_resource_id": 1,
            "compute_resource_vm_id": server_id,
            "queue": "default",
            "action": _ACTIONS.get(action, f"vm-{action}"),
            "status": "pending",
            "output": "",
            "progress": 0,
            "duration": 0,
            "_params": body,
            "_fail": self._task_failures.popleft() if self._task_failures else None,
        }
        self.tasks[task["id"]] = task
        self.servers[server_id]["is_processing"] = True
        return self._public(task)

    def advance_task(self, task_id: int) -> dict[str, Any] | None:
        """GET a task: moves it one step on, applying its effect when it finishes."""
        task = self.tasks.get(task_id)
        if task is None:
            return None
        if task["status"] in TASK_STEPS[:-1]:
            task["status"] = TASK_STEPS[TASK_STEPS.index(task["status"]) + 1]
            task["progress"] = {"queued": 0, "running": 50}.get(task["status"], 100)
            if task["status"] == "done":
                self._finish(task)
        return self._public(task)

    def _finish(self, task: dict[str, Any]) -> None:
        server = self.servers.get(task["compute_resource_vm_id"])
        if task["_fail"] is not None:
            task.update(status="failed", output=task["_fail"])
        if server is None:
            return
        server["is_processing"] = False
        if task["status"] == "failed":
            return
        action = task["action"]
        if action == "vm-delete":
            del self.servers[server["id"]]
        elif action in ("vm-suspend", "vm-resume"):
            server["is_suspended"] = action == "vm-suspend"
        elif action in ("vm-stop", "vm-start", "vm-restart", "vm-reinstall"):
            server["status"] = "stopped" if action == "vm-stop" else "started"
        if action == "vm-reinstall":
            server["settings"]["os_image"] = {"version_id": task["_params"].get("os")}
            server["user_data"] = task["_params"].get("user_data")
        elif action == "vm-resize":
            plan = self.plan(task["_params"].get("plan_id"))
            if plan is not None:
                server["plan"] = {"id": plan["id"], "name": plan["name"]}
                server["specifications"] = dict(plan["specifications"])

    @staticmethod
    def _public(task: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in task.items() if not k.startswith("_")}

    def dump(self) -> dict[str, Any]:
        """A JSON view of the world for `GET /_sim/state`."""
        return {
            "servers": list(self.servers.values()),
            "tasks": [self._public(t) for t in self.tasks.values()],
            "requests": self.requests,
        }
