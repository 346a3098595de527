"""A cPanel & WHM "WHM API 1" (json-api) simulator (ASGI), faithful to `shared/vendor-apis/cpanel-whm.md`.

Serves `GET`/`POST /json-api/<function>?api.version=1&...` (query parameters, or a form body
on POST) and `GET /_sim/state` (no auth) for tests. Each request, in order:

1. counts in `state.requests` and asks `state.faults` (latency, forced status, timeout); a
   forced status answers a small HTML page, never the JSON envelope (a proxy/cpsrvd error);
2. checks `Authorization: whm <username>:<token>` (scheme case-insensitive); anything else is
   HTTP 403 with cpsrvd's legacy `{"cpanelresult": {... "Access denied" ...}}` body, which is
   not the API 1 envelope (as reported by cPanel client users, not by cPanel's docs);
3. requires `api.version=1`: a real server runs a call without it as WHM API 0; we do not run
   it and answer HTTP 200 `{"result": [{"status": 0, "statusmsg": ...}]}` (API 0 style);
4. dispatches. Every answer is HTTP 200 `{"metadata": {"command", "version": 1, "result": 1|0,
   "reason", "output"?: {"raw"}}, "data"?: ...}`; success is `metadata.result == 1`. Unknown
   functions: result 0, "Unknown app (“f”) requested for this version (1) of the API.".

`createacct` honours `faults.take_exists()` (duplicate-username failure, nothing created) and
`faults.take_crash()` (the account is created, then HTTP 503).

Run standalone: `python -m fluxbilling_simulators.whm --port 8082 --token T`.
"""

from __future__ import annotations

import argparse
import re
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
from fluxbilling_simulators._whm_state import DUPLICATE_USER, SESSION_PORTS, WhmState

__all__ = ["WhmState", "create_app", "main"]

SEARCH_TYPES = {"domain": "domain", "owner": "owner", "user": "user", "ip": "ip", "package": "plan"}


@dataclass(frozen=True, slots=True)
class Call:
    """One API call: the function name and its merged query/form parameters."""

    command: str
    params: Mapping[str, str]

    def get(self, name: str, default: str = "") -> str:
        """A parameter's value, stripped, or `default`."""
        return self.params.get(name, default).strip() or default


Handler = Callable[[WhmState, Call], Response]


def answer(
    call: Call, reason: str = "OK", data: Any = None, raw: str | None = None, result: int = 1
) -> Response:
    """The WHM API 1 envelope, always HTTP 200."""
    metadata: dict[str, Any] = dict(command=call.command, version=1, result=result, reason=reason)
    if raw is not None:
        metadata["output"] = {"raw": raw}
    body: dict[str, Any] = {"metadata": metadata}
    if data is not None:
        body["data"] = data
    return JSONResponse(body)


def refuse(call: Call, reason: str) -> Response:
    """A failed call: HTTP 200, `metadata.result` 0 and the cause in `reason`."""
    return answer(call, reason, result=0)


def http_error(status: int) -> Response:
    """A non-JSON error page, as a proxy or cpsrvd itself answers."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    page = f"<html><head><title>{status} {phrase}</title></head><body>{phrase}</body></html>\n"
    return HTMLResponse(page, status_code=status)


def _account(state: WhmState, call: Call, name: str = "user") -> dict[str, Any] | Response:
    user = call.get(name).lower()
    if not user:
        return refuse(call, f"The “{name}” parameter is required.")
    account = state.find(user=user)
    if account is None:
        return refuse(call, f"The user “{user}” does not exist.")
    return account


def createacct(state: WhmState, call: Call) -> Response:
    """Create an account; `metadata.output.raw` carries the wwwacct log."""
    if state.faults.take_exists():
        return refuse(call, DUPLICATE_USER)
    user = call.get("username").lower()
    params = dict(call.params)
    params.update(
        username=user,
        domain=call.get("domain", f"{user}.{state.hostname}").lower(),
        plan=call.get("plan", "default"),
    )
    free = state.free_dedicated_ips()
    ip: str | None = state.shared_ip
    if call.get("customip"):
        ip = call.get("customip") if call.get("customip") in [state.shared_ip, *free] else None
    elif call.get("ip", "n").lower() == "y":
        ip = free[0] if free else None
    problem = state.refuse_create(user, params["domain"], params["plan"], ip)
    if problem or ip is None:
        return refuse(call, problem or "No IP address is available.")
    account = state.create_account(params, ip)
    if state.faults.take_crash():
        return http_error(503)
    nameservers = {
        f"nameserver{n + 1 if n else ''}": ns for n, ns in enumerate(state.nameservers[:4])
    }
    raw = (
        "Checking input data...Validating Username......Done\nValidating IP......Done\n"
        "WWWAcct 12.6.0 (c) WebPros International, LLC...\n"
        f"| Domain: {account['domain']}\n| Ip: {ip} ({'n' if ip == state.shared_ip else 'y'})\n"
        f"| UserName: {user}\n| PassWord: {call.get('password')}\n| Package: {account['plan']}\n"
        "Adding User...Success...Done\nConfiguring DNS...Done\n"
        "Account Creation Complete!!!...Account Creation Ok...Done\n"
    )
    data = {"ip": ip, **nameservers, "package": account["plan"]}
    return answer(call, "Account Creation Ok", data, raw)


def accountsummary(state: WhmState, call: Call) -> Response:
    """One account, by `user` or `domain`: `data.acct[0]`."""
    if call.get("user"):
        found = _account(state, call)
    elif call.get("domain"):
        domain = call.get("domain").lower()
        found = state.find(domain=domain) or refuse(call, f"The domain “{domain}” does not exist.")
    else:
        return refuse(call, "You must specify a “user” or a “domain”.")
    if isinstance(found, Response):
        return found
    return answer(call, data={"acct": [state.public(found)]})


def _matching(state: WhmState, call: Call, regex_only: bool) -> list[dict[str, Any]] | Response:
    accounts = list(state.accounts.values())
    kind, search = call.get("searchtype"), call.params.get("search", "")
    if not kind or not search:
        return accounts
    if kind not in SEARCH_TYPES:
        return refuse(call, f"Invalid searchtype “{kind}”.")
    key = SEARCH_TYPES[kind]
    if call.get("searchmethod") == "exact" and not regex_only:
        return [a for a in accounts if str(a[key]) == search]
    try:
        pattern = re.compile(search)
    except re.error:
        return refuse(call, f"The search “{search}” is not a valid regular expression.")
    return [a for a in accounts if pattern.search(str(a[key]))]


def listaccts(state: WhmState, call: Call) -> Response:
    """Accounts, filtered by `search`/`searchtype`/`searchmethod`, fields limited by `want`."""
    found = _matching(state, call, regex_only=False)
    if isinstance(found, Response):
        return found
    rows = [state.public(a) for a in found]
    want = [w.strip() for w in call.get("want").split(",") if w.strip()]
    if want:
        rows = [{k: v for k, v in row.items() if k in want} for row in rows]
    return answer(call, data={"acct": rows})


def suspendacct(state: WhmState, call: Call) -> Response:
    """Suspend (idempotent: a repeat refreshes the reason); no `data`."""
    account = _account(state, call)
    if isinstance(account, Response):
        return account
    user = account["user"]
    state.suspend(user, call.get("reason", "Unknown"), call.get("disallowun") == "1")
    raw = (
        f"Changing Shell to /bin/false...Changing shell for {user}.\nShell changed. Done\n"
        f"Locking Password...Locking password for user {user}.\npasswd: Success\nDone\n"
        f"Suspending websites...Done\n{user}'s account has been suspended\n"
    )
    return answer(call, raw=raw)


def unsuspendacct(state: WhmState, call: Call) -> Response:
    """Lift a suspension (also OK for an active account)."""
    account = _account(state, call)
    if isinstance(account, Response):
        return account
    state.unsuspend(account["user"])
    raw = f"Unlocking password for {account['user']}...Done\n{account['user']}'s account is now active\n"
    return answer(call, raw=raw)


def listsuspended(state: WhmState, call: Call) -> Response:
    """Suspended accounts: `data.account[]`."""
    return answer(call, data={"account": state.suspended()})


def removeacct(state: WhmState, call: Call) -> Response:
    """Terminate an account: `username`, or the deprecated `user`."""
    account = _account(state, call, "username" if call.get("username") else "user")
    if isinstance(account, Response):
        return account
    user, domain = account["user"], account["domain"]
    state.remove(user)
    raw = (
        f"Running pre removal script......Done\nCollecting Domain Name and IP...User: {user}\n"
        f"Domain: {domain}\n...Done\nRemoving User & Group.......Success...Done\n"
        f"Account Removal Complete!!!...{user} account removed...Done\n"
    )
    return answer(call, f"{user} account removed", raw=raw)


def passwd(state: WhmState, call: Call) -> Response:
    """Change the password (stored as a hash): `data.app` lists the services updated."""
    account = _account(state, call)
    if isinstance(account, Response):
        return account
    password = call.params.get("password", "")
    if not password:
        return refuse(call, "The “password” parameter is required.")
    state.set_password(account["user"], password)
    apps = ["system", "ftp", "mail"] + (["mySQL"] if call.get("db_pass_update", "1") == "1" else [])
    return answer(call, f"Password changed for user “{account['user']}”.", {"app": apps})


def changepackage(state: WhmState, call: Call) -> Response:
    """Move an account to another existing package (`pkg`)."""
    account = _account(state, call)
    if isinstance(account, Response):
        return account
    plan = call.get("pkg")
    if plan not in state.packages:
        return refuse(call, f"The package “{plan}” does not exist.")
    state.change_package(account["user"], plan)
    return answer(call, "Account Upgraded/Downgraded")


def listpkgs(state: WhmState, call: Call) -> Response:
    """Hosting packages: `data.pkg[]`."""
    return answer(call, data={"pkg": list(state.packages.values())})


def modifyacct(state: WhmState, call: Call) -> Response:
    """Change the main domain, contact email or owner (a minimal `modifyacct`)."""
    account = _account(state, call)
    if isinstance(account, Response):
        return account
    changes = {k: call.get(k) for k in ("domain", "contactemail", "owner")}
    problem = state.modify(account["user"], changes)
    if problem:
        return refuse(call, problem)
    return answer(call, "Account Modified", {"acct": [state.public(account)]})


def showbw(state: WhmState, call: Call) -> Response:
    """Bandwidth per account for `month`/`year` (default: now); usage in bytes."""
    now = state.clock()
    try:
        month, year = int(call.get("month", str(now.month))), int(call.get("year", str(now.year)))
    except ValueError:
        return refuse(call, "The “month” and “year” parameters must be integers.")
    found = _matching(state, call, regex_only=True)
    if isinstance(found, Response):
        return found
    current = (month, year) == (now.month, now.year)
    rows = [state.bandwidth_row(a, current) for a in found]
    total = sum(row["totalbytes"] for row in rows)
    data = {
        "acct": rows,
        "month": month,
        "year": year,
        "reseller": state.username,
        "totalused": total,
    }
    return answer(call, data=data)


def create_user_session(state: WhmState, call: Call) -> Response:
    """A one-time login URL: `data.url`, `data.session`, `data.expires` (epoch seconds)."""
    service = call.get("service")
    if service not in SESSION_PORTS:
        return refuse(call, f"The service “{service}” is not one of: cpaneld, whostmgrd, webmaild.")
    if service == "whostmgrd" and call.get("user") == state.username:
        return answer(call, data=state.open_session(state.username, service, call.get("app")))
    account = _account(state, call)
    if isinstance(account, Response):
        return account
    return answer(call, data=state.open_session(account["user"], service, call.get("app")))


def version(state: WhmState, call: Call) -> Response:
    """The cPanel & WHM version: `data.version`."""
    return answer(call, data={"version": state.version})


# fmt: off
_HANDLERS = (createacct, accountsummary, listaccts, suspendacct, unsuspendacct, listsuspended,
             removeacct, passwd, changepackage, listpkgs, modifyacct, showbw, create_user_session,
             version)
# fmt: on
FUNCTIONS: dict[str, Handler] = {handler.__name__: handler for handler in _HANDLERS}


def _denied() -> Response:
    body = (
        '{"cpanelresult":{"apiversion":"2","error":"Access denied",'
        '"data":{"reason":"Access denied","result":"0"},"type":"text"}}'
    )
    return Response(body, status_code=403, media_type="text/plain")


def _authorized(request: Request, state: WhmState) -> bool:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "whm" and credentials.strip() == f"{state.username}:{state.token}"


def create_app(state: WhmState) -> ASGIApp:
    """The simulator as an ASGI app over `state` (which tests inspect and steer).

    Args:
        state: the simulated server, fault knobs included.

    Returns:
        A Starlette app serving `/json-api/{function}` and `GET /_sim/state`.
    """

    async def json_api(request: Request) -> Response:
        state.requests += 1
        status = await state.faults.before_request()
        if status is not None:
            return http_error(status)
        if not _authorized(request, state):
            return _denied()
        params = dict(request.query_params)
        if request.method == "POST":  # urlencoded forms only (no python-multipart dependency)
            params.update(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        command = request.path_params["function"]
        if params.get("api.version") != "1":
            message = "This simulator implements WHM API 1 only: add api.version=1 to the call."
            return JSONResponse({"result": [{"status": 0, "statusmsg": message}]})
        call = Call(command, params)
        handler = FUNCTIONS.get(command)
        if handler is None:
            return refuse(
                call, f"Unknown app (“{command}”) requested for this version (1) of the API."
            )
        return handler(state, call)

    async def dump(request: Request) -> Response:
        return JSONResponse(state.dump())

    return Starlette(
        routes=[
            Route("/_sim/state", dump, methods=["GET"]),
            _faults.control_route(state.faults),
            Route("/json-api/{function}", json_api, methods=["GET", "POST"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator with uvicorn (one process; several workers may share it).

    Args:
        argv: command-line arguments (default: `sys.argv[1:]`).
    """
    parser = argparse.ArgumentParser(description="cPanel & WHM (WHM API 1) simulator")
    _faults.add_arguments(parser, port=2087)
    parser.add_argument("--username", default="root")
    parser.add_argument("--token", default="sim-token")
    parser.add_argument("--max-accounts", type=int, default=None)
    args = parser.parse_args(argv)
    state = WhmState(
        username=args.username,
        token=args.token,
        max_accounts=args.max_accounts,
        faults=_faults.from_arguments(args),
        seed=args.seed,
    )
    _faults.serve(create_app(state), args)


if __name__ == "__main__":
    main()
