"""A Virtualizor Admin API simulator (ASGI), faithful to `shared/vendor-apis/virtualizor.md`.

`GET|POST /index.php?act=<action>&api=json&adminapikey=K&adminapipass=P` is the admin API;
`GET /_sim/state` (no auth) dumps the world for tests. The rules (capacity, IP pool, hostname
uniqueness, tasks) live in `_virtualizor_state`. Every API request:

1. counts towards `state.requests`, then asks `state.faults`: latency; a forced or random
   4xx/5xx answered as an HTML error page; a timeout that sleeps, then answers normally;
2. without `api=json` gets the panel's HTML login page (HTTP 200, not JSON);
3. must carry the key pair in the *query string* (the end-user actions `changepassword` and
   `vnc` also take it as `apikey`/`apipass`); a mismatch is HTTP 200
   `{"error": ["Invalid API key or API password"]}` (wording unverified);
4. is dispatched on `act`. Selectors (`vpsid`, `svs`, `page`, `reslen`, filters, `suspend=<id>`,
   ...) come from the form or the query; write fields and submit flags only from the POST form.

Replies are HTTP 200 JSON echoing `title`, `timenow`, `time_taken`. Success: a truthy `done`.
Failure: a non-empty `error`, a list of messages or `{field: message}` for form validation.
Lists are objects keyed by id with string numbers, paged by `page` (1-based) and `reslen` (50).
Without its submit flag a write action changes nothing and answers its form data (no `done`).

- `plans` (`planname`, `ptype`) -> `plans`; `os` -> `oslist.<virt>.<distro>.<osid>`;
  `users` (`email` substring, as the vendor's LIKE search; `uid`; `type`) -> `users`.
- `adduser` (`adduser=1`, `newemail`, `newpass`, `priority`) -> `done` = the new uid.
- `addvs` (`addvps=1`, ...) -> `done: true`, `newvs` (the VPS; `newvs.vpsid`), `vs_info` (the
  same; seen in a third-party SDK, unverified); queues task `addvs`.
- `vs` -> `vs` (filters `vpsid`, `vpsname`, `vpshostname` substring, `vpsip`, `vsstatus` s/u,
  `vstype`, `user` email substring, `serid`); `suspend`/`unsuspend`/`suspend_net`/
  `unsuspend_net=<id>` -> `done: 1`; `action=start|stop|restart|poweroff&vpsid=` -> `done: 1`;
  `delete=<id>` -> `done: true` and task `deletevs` (the VPS stays listed until it completes);
  `vs_status=<id,...>` -> `status.<vpsid>.status` (an int: 1 running, 0 off) plus usage
  (unverified). Changes to a VPS whose task runs answer `LOCKED`; to an unknown one `NO_VPS`.
- `rebuild` (`reos=1`, `vpsid`, `osid`, `newpass`, `conf`) -> `done: 1`, `vpses`; task
  `rebuildvs`. `managevps`/`editvs` (`vpsid`; `editvps=1`, `plid`, `apply_plan=1` or `ram`,
  `space`, ...) -> `done: {"done": true}`, `vps`; task `resizevps` applies them when done.
  Without `editvps` it answers `vps`: the way to read one VPS.
- `tasks` (`actid`, `vpsid`, `action`, `status`, `username`) -> `tasks`, newest first.
- `vps_stats` (`vpsid`) -> `vps_data.<vpsid>` and `vps_stats` series (shape unverified).
- `vnc` (`novnc=<vpsid>`, or end-user `novnc=1&svs=<vpsid>`) -> `info` {`ip`, `port`, `password`}.
- `changepassword` (`svs=<vpsid>`; `changepass=1`, `newpass`, `conf`) -> `done.msg`; task
  `changepassword` sets the root password when it completes.

Build completion (our choice of signal): poll `act=tasks&vpsid=<id>` until the `addvs` task has
`status` "2" and `progress` "100" ("-1": failed, `status_txt` says why), or `act=vs&vs_status=<id>`
until `status` is 1. The `vs` entry's `locked` is "1" while a task runs (meaning unverified).
Capacity errors contain "enough resources"; IP exhaustion says "IPs"; a duplicate is
`error.hostname` = "The hostname is already in use".

Run standalone: `python -m fluxbilling_simulators.virtualizor --port 4085`.
"""

from __future__ import annotations

import argparse
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fluxbilling_simulators import _faults
from fluxbilling_simulators._virtualizor_state import (
    InBandError,
    Messages,
    Record,
    VirtualizorState,
    public,
    to_int,
)

__all__ = ["Messages", "VirtualizorState", "create_app", "main"]

Payload = dict[str, Any]
_ENDUSER_ACTS = ("changepassword", "vnc")
_LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Virtualizor - Login</title></head>"
    '<body><form method="post" action="index.php?act=login"></form></body></html>'
)
_PASSWORD_QUEUED = "The password will be changed when the VPS is booted again"  # noqa: S105


@dataclass(frozen=True, slots=True)
class Call:
    """One API call: its query-string parameters and its POSTed form fields."""

    query: Mapping[str, str]
    form: Mapping[str, str]

    def get(self, name: str) -> str:
        """A selector, as PHP's `$_REQUEST`: the POST field, else the query parameter."""
        return self.form.get(name) or self.query.get(name) or ""

    def flag(self, name: str) -> bool:
        """Whether the submit flag `name` was POSTed with a truthy value."""
        return self.form.get(name, "") not in ("", "0")


Handler = Callable[[VirtualizorState, Call], Payload]


class _CrashError(Exception):
    """The create happened, but the faults say to answer 503."""


def _page(state: VirtualizorState, call: Call, rows: list[tuple[int, Payload]]) -> Payload:
    reslen = to_int(call.get("reslen")) or state.reslen
    page = to_int(call.get("page")) or 1
    return {str(key): row for key, row in rows[(page - 1) * reslen : page * reslen]}


def _vps(state: VirtualizorState, vpsid: str) -> dict[str, Any]:
    vps = state.vps.get(to_int(vpsid) or 0)
    if vps is None:
        raise InBandError([Messages.NO_VPS])
    return vps


def _oslist(state: VirtualizorState) -> Payload:
    tree: Payload = {}
    for osid, os in state.templates.items():
        tree.setdefault(os["type"], {}).setdefault(os["distro"], {})[str(osid)] = public(os)
    return tree


def _usage(vps: Record) -> Payload:
    on = vps["_power"]
    return {"vpsid": str(vps["vpsid"]), "status": on, "used_cpu": str(3 * on)} | {
        "used_ram": str(vps["ram"] // 4 * on),
        "ram": str(vps["ram"]),
        "used_disk": str(vps["space"] // 10),
        "disk": str(vps["space"]),
        "used_bandwidth": "0",
        "bandwidth": str(vps["bandwidth"]),
    }


def _all_plans(state: VirtualizorState) -> Payload:
    return {str(plid): public(plan) for plid, plan in state.plans.items()}


def plans(state: VirtualizorState, call: Call) -> Payload:
    """`act=plans`: filters `planname` (substring) and `ptype` (virtualization)."""
    name, ptype = call.get("planname").lower(), call.get("ptype")
    rows = [
        (plid, public(plan))
        for plid, plan in state.plans.items()
        if name in plan["plan_name"].lower() and ptype in ("", plan["virt"])
    ]
    return {"plans": _page(state, call, rows)}


def os_templates(state: VirtualizorState, call: Call) -> Payload:
    """`act=os`."""
    return {"oslist": _oslist(state)}


def users(state: VirtualizorState, call: Call) -> Payload:
    """`act=users`: filters `email` (substring), `uid`, `type`."""
    email, uid, kind = call.get("email").lower(), call.get("uid"), call.get("type")
    rows = []
    for user in state.users.values():
        wanted = uid in ("", str(user["uid"])) and kind in ("", str(user["type"]))
        if wanted and email in user["email"].lower():
            count = str(sum(1 for v in state.vps.values() if v["uid"] == user["uid"]))
            rows.append((user["uid"], public(user) | {"num_vs": count, "numvps": count}))
    return {"users": _page(state, call, rows)}


def adduser(state: VirtualizorState, call: Call) -> Payload:
    """`act=adduser`: `adduser=1`, `newemail`, `newpass`, `priority`, `fname`, `lname`."""
    if not call.flag("adduser"):
        return {"uplans": {}}
    return {"done": state.adduser(call.form)["uid"]}


def addvs(state: VirtualizorState, call: Call) -> Payload:
    """`act=addvs`: `addvps=1` and the VPS fields; queues the `addvs` build task."""
    if not call.flag("addvps"):
        servers = {}
        for serid, node in state.servers.items():
            free_ram, free_space = state.free(serid)
            servers[str(serid)] = public(node | {"free_ram": free_ram, "free_space": free_space})
        return {"servers": servers, "plans": _all_plans(state), "oslist": _oslist(state)}
    spec = state.prepare_vps(call.form)
    if state.faults.take_exists():
        raise InBandError({"hostname": Messages.HOSTNAME_TAKEN})
    vps = public(state.create_vps(spec))
    if state.faults.take_crash():
        raise _CrashError
    return {"done": True, "newvs": vps, "vs_info": vps}


# act=vs switches, applied at once (no task): `<key>=<vpsid>`, or `action=<key>&vpsid=<vpsid>`.
_SWITCHES: dict[str, Record] = {
    "suspend": {"suspended": 1, "_power": 0},
    "unsuspend": {"suspended": 0, "_power": 1},
    "suspend_net": {"nw_suspended": 1},
    "unsuspend_net": {"nw_suspended": 0},
}
_POWER = {"start": 1, "restart": 1, "stop": 0, "poweroff": 0}
_FILTERS: dict[str, Callable[[Record, str], bool]] = {
    "vpsid": lambda v, w: str(v["vpsid"]) == w,
    "vpsname": lambda v, w: w.lower() in str(v["vps_name"]).lower(),
    "vpshostname": lambda v, w: w.lower() in str(v["hostname"]).lower(),
    "vpsip": lambda v, w: w in v["ips"].values(),
    "vsstatus": lambda v, w: bool(v["suspended"]) == (w == "s"),
    "vstype": lambda v, w: v["virt"] == w,
    "user": lambda v, w: w.lower() in str(v["email"]).lower(),
    "serid": lambda v, w: str(v["serid"]) == w,
}


def vs(state: VirtualizorState, call: Call) -> Payload:
    """`act=vs`: an action (delete, suspensions, power) or a read (list, `vs_status`)."""
    if call.get("delete"):
        state.start_task(state.editable(call.get("delete")), "deletevs")
        return {"done": True}
    for key, change in _SWITCHES.items():
        if call.get(key):
            state.editable(call.get(key)).update(change)
            return {"done": 1}
    if call.get("action"):
        vps, power = state.editable(call.get("vpsid")), _POWER.get(call.get("action"))
        if power is None:
            raise InBandError(["Invalid action"])
        if power and vps["suspended"]:
            raise InBandError(["The VPS is suspended"])
        vps["_power"] = power
        return {"done": 1}
    state.tick()
    if call.get("vs_status"):
        found = [state.vps.get(to_int(i) or 0) for i in call.get("vs_status").split(",")]
        return {"status": {str(v["vpsid"]): _usage(v) for v in found if v is not None}}
    rows = [
        (vps["vpsid"], public(vps))
        for vps in state.vps.values()
        if all(test(vps, call.get(key)) for key, test in _FILTERS.items() if call.get(key))
    ]
    return {"vs": _page(state, call, rows)}


def rebuild(state: VirtualizorState, call: Call) -> Payload:
    """`act=rebuild`: `reos=1`, `vpsid`, `osid`, `newpass`, `conf`; queues `rebuildvs`."""
    if not call.flag("reos"):
        vps = state.vps.get(to_int(call.get("vpsid")) or 0)
        return {"vpses": {str(vps["vpsid"]): public(vps)} if vps else {}, "oslist": _oslist(state)}
    vps = state.editable(call.get("vpsid"))
    state.rebuild(vps, call.form)
    return {"done": 1, "vpses": {str(vps["vpsid"]): public(vps)}}


def managevps(state: VirtualizorState, call: Call) -> Payload:
    """`act=managevps&vpsid=`: `editvps=1`, `plid`, `apply_plan`, resources; queues `resizevps`."""
    vps = _vps(state, call.get("vpsid"))
    if not call.flag("editvps"):
        return {"vps": public(vps), "plans": _all_plans(state)}
    state.resize(state.editable(call.get("vpsid")), call.form)
    return {"done": {"done": True}, "vps": public(vps)}


def tasks(state: VirtualizorState, call: Call) -> Payload:
    """`act=tasks`: filters `actid`, `vpsid`, `action`, `status`, `username`; newest first."""
    state.tick()
    wanted = {k: call.get(k) for k in ("actid", "vpsid", "action", "status") if call.get(k)}
    user = call.get("username").lower()
    rows = [
        (task["actid"], public(task))
        for task in reversed(state.tasks.values())
        if all(str(task[k]) == w for k, w in wanted.items()) and user in task["email"].lower()
    ]
    return {"tasks": _page(state, call, rows)}


def vps_stats(state: VirtualizorState, call: Call) -> Payload:
    """`act=vps_stats`: `vpsid` -> current usage and (one-sample) series."""
    vps = _vps(state, call.get("vpsid"))
    usage, now = _usage(vps), str(int(state.clock()))
    series = {key: [[now, usage[f"used_{key}"]]] for key in ("cpu", "ram", "disk")}
    return {"vps_data": {str(vps["vpsid"]): usage}, "vps_stats": series}


def vnc(state: VirtualizorState, call: Call) -> Payload:
    """`act=vnc`: `novnc=<vpsid>` (admin) or `novnc=1&svs=<vpsid>` (end-user)."""
    vps = _vps(state, call.get("svs") or call.get("novnc"))
    node = state.servers[vps["serid"]]
    return {"info": {"ip": node["ip"], "port": str(vps["vncport"]), "password": vps["vnc_passwd"]}}


def changepassword(state: VirtualizorState, call: Call) -> Payload:
    """`act=changepassword&svs=<vpsid>`: `changepass=1`, `newpass`, `conf` (end-user API)."""
    _vps(state, call.get("svs"))
    if not call.flag("changepass"):
        return {"act": "changepassword"}
    state.change_password(state.editable(call.get("svs")), call.form)
    return {"act": "changepassword", "done": {"msg": _PASSWORD_QUEUED}}


_ACTS: dict[str, tuple[str, Handler]] = {
    "plans": ("Plans", plans),
    "os": ("OS Templates", os_templates),
    "users": ("Users", users),
    "adduser": ("Add User", adduser),
    "addvs": ("Add Virtual Server", addvs),
    "vs": ("Virtual Servers", vs),
    "rebuild": ("Rebuild VPS", rebuild),
    "managevps": ("Manage VPS", managevps),
    "editvs": ("Edit VPS", managevps),
    "tasks": ("Tasks", tasks),
    "vps_stats": ("VPS Statistics", vps_stats),
    "vnc": ("VNC", vnc),
    "changepassword": ("Change Password", changepassword),
}


def _authenticated(state: VirtualizorState, call: Call, act: str) -> bool:
    prefix = "" if act in _ENDUSER_ACTS and "adminapikey" not in call.query else "admin"
    key = call.query.get(f"{prefix}apikey", "").encode()
    password = call.query.get(f"{prefix}apipass", "").encode()
    key_ok = hmac.compare_digest(key, state.api_key.encode())
    return hmac.compare_digest(password, state.api_pass.encode()) and key_ok


def _http_error(status: int) -> Response:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    page = f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body>"
    return HTMLResponse(page + "</html>", status_code=status)


def create_app(state: VirtualizorState) -> ASGIApp:
    """The simulator as an ASGI app over `state` (which tests inspect and steer).

    Args:
        state: the simulated world, fault knobs included.

    Returns:
        A Starlette app serving `/index.php` (admin API) and `GET /_sim/state`.
    """

    async def index(request: Request) -> Response:
        state.requests += 1
        started = time.perf_counter()
        status = await state.faults.before_request()
        if status is not None:
            return _http_error(status)
        body = (await request.body()).decode("utf-8", "replace")
        form = dict(parse_qsl(body, keep_blank_values=True)) if request.method == "POST" else {}
        call = Call(dict(request.query_params), form)
        if call.query.get("api") != "json":
            return HTMLResponse(_LOGIN_PAGE)
        act = call.query.get("act", "")
        title, handler = _ACTS.get(act, ("Virtualizor", None))
        try:
            if not _authenticated(state, call, act):
                raise InBandError([Messages.AUTH])
            if handler is None:
                raise InBandError([f"Invalid act: {act}"])
            payload = handler(state, call)
        except InBandError as exc:
            payload = {"error": exc.error}
        except _CrashError:
            return _http_error(503)
        return JSONResponse(
            {"title": title, **payload, "timenow": str(int(state.clock()))}
            | {"time_taken": f"{time.perf_counter() - started:.3f}"}
        )

    async def dump(request: Request) -> Response:
        return JSONResponse(state.dump())

    return Starlette(
        routes=[
            Route("/index.php", index, methods=["GET", "POST"]),
            Route("/_sim/state", dump, methods=["GET"]),
            _faults.control_route(state.faults),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator with uvicorn (one process; several workers may share it).

    Args:
        argv: command-line arguments (default: `sys.argv[1:]`).
    """
    parser = argparse.ArgumentParser(description="Virtualizor Admin API simulator")
    _faults.add_arguments(parser, port=4085)
    parser.add_argument("--key", default="sim-key", help="the accepted adminapikey")
    parser.add_argument("--pass", dest="password", default="sim-pass", help="adminapipass")
    parser.add_argument("--polls-until-ready", type=int, default=2)
    parser.add_argument("--allow-duplicate-hostnames", action="store_true")
    args = parser.parse_args(argv)
    state = VirtualizorState(
        api_key=args.key,
        api_pass=args.password,
        faults=_faults.from_arguments(args),
        polls_until_ready=args.polls_until_ready,
        unique_hostnames=not args.allow_duplicate_hostnames,
        seed=args.seed,
    )
    _faults.serve(create_app(state), args)


if __name__ == "__main__":
    main()
