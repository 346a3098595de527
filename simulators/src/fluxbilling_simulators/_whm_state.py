"""The simulated WHM server: packages, cPanel accounts, login sessions and the rules that change them.

Plain data plus WHM API 1's account rules; the HTTP layer is `simulators.whm`. Used from one
event loop and no method awaits, so each request's read-modify-write is atomic. A rule that
refuses returns the text WHM would put in `metadata.reason` (a `str`), or None to go on.

Reasons: a taken username answers "Sorry, a passwd entry for that username already exists."
(as matched by existing WHM clients) and a taken domain "The domain “d” already exists in the
userdata." (as quoted in client docs); the capacity refusal ("... account creation limit ..."),
unknown user/package ("... does not exist.") and username-rule texts are modelled; the username
rules themselves are cPanel's documented ones.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fluxbilling_simulators._faults import Faults

__all__ = ["DUPLICATE_USER", "SESSION_PORTS", "WhmState", "domain_problem", "username_problem"]

DUPLICATE_USER = "Sorry, a passwd entry for that username already exists."
RESERVED = frozenset({"root", "nobody", "cpanel", "mysql", "mail", "admin", "virtfs", "all"})
SESSION_PORTS = {"cpaneld": 2083, "whostmgrd": 2087, "webmaild": 2096}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_MB = 1024 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


_LIMITS = ("MAXPOP", "MAXSQL", "MAXFTP", "MAXSUB", "MAXPARK", "MAXADDON")
_PACKAGE = dict(FEATURELIST="default", HASSHELL=0, CGI=1, IP="n", LANG="en", CPMOD="jupiter")


def _package(name: str, quota: int | str, bwlimit: int | str, limit: int | str) -> dict[str, Any]:
    """A `listpkgs` row; QUOTA and BWLIMIT in MB."""
    row = {"name": name, "QUOTA": quota, "BWLIMIT": bwlimit} | dict.fromkeys(_LIMITS, limit)
    return row | _PACKAGE


def _default_packages() -> dict[str, dict[str, Any]]:
    return {
        "default": _package("default", "unlimited", "unlimited", "unlimited"),
        "starter": _package("starter", 1024, 10240, 10),
        "business": _package("business", 10240, 102400, "unlimited"),
    }


def username_problem(name: str) -> str | None:
    """Why WHM rejects `name` as a new cPanel username (already lowercased), or None.

    Rules from cPanel's username documentation; the wording is modelled.
    """
    if not name:
        return "You must specify a username."
    if len(name) > 16:
        return f"The username “{name}” is too long: usernames cannot exceed 16 characters."
    if not re.fullmatch(r"[a-z0-9]+", name):
        return (
            f"The username “{name}” is invalid: usernames may only contain lowercase letters "
            "(a-z) and digits (0-9)."
        )
    if name[0].isdigit() or name.startswith("test"):
        return f"The username “{name}” is invalid: usernames cannot begin with a digit or “test”."
    if name.endswith("assword"):
        return f"The username “{name}” is invalid: usernames cannot end with “assword”."
    if name in RESERVED:
        return f"The username “{name}” is reserved."
    return None


def domain_problem(domain: str) -> str | None:
    """Why `domain` is not a valid account domain (already lowercased), or None (modelled)."""
    if _DOMAIN.fullmatch(domain):
        return None
    return f"“{domain}” is not a valid domain name."


def _hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 10_000)
    return f"pbkdf2_sha256$10000${salt.hex()}${digest.hex()}"


def _verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    _, rounds, salt, digest = stored.split("$")
    check = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds))
    return hmac.compare_digest(check.hex(), digest)


@dataclass
class WhmState:
    """Everything the simulated WHM knows; tests read `accounts`, `sessions` and `requests`.

    Attributes:
        username: the WHM user the API token belongs to (the owner of new accounts).
        token: the only accepted API token (`Authorization: whm <username>:<token>`).
        faults: latency, forced statuses, timeouts, duplicates and crashes (`Faults`).
        hostname: the server's hostname, used in login URLs and temporary domains.
        shared_ip: the address of accounts created without a dedicated IP.
        dedicated_ips: the pool that `createacct ip=y` takes free addresses from.
        nameservers: reported by `createacct`.
        max_accounts: capacity; `createacct` fails once this many accounts exist (None: no limit).
        version: what `version` reports.
        session_ttl: seconds until a `create_user_session` login URL expires.
        packages: hosting packages by name (`listpkgs` shape; QUOTA and BWLIMIT in MB).
        accounts: cPanel accounts by username; keys starting with `_` are private.
        sessions: every session `create_user_session` opened.
        requests: API requests received (faulted ones included).
        clock: the source of "now" (timezone-aware UTC).
        seed: seeds `rng`, the source of session ids.
    """

    username: str = "root"
    token: str = "sim-token"  # noqa: S105 - the simulator's well-known test token
    faults: Faults = field(default_factory=Faults)
    hostname: str = "whm.sim.test"
    shared_ip: str = "192.0.2.10"
    dedicated_ips: list[str] = field(default_factory=lambda: ["192.0.2.20", "192.0.2.21"])
    nameservers: list[str] = field(default_factory=lambda: ["ns1.sim.test", "ns2.sim.test"])
    max_accounts: int | None = None
    version: str = "11.130.0.5"
    session_ttl: int = 900
    packages: dict[str, dict[str, Any]] = field(default_factory=_default_packages)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    clock: Callable[[], datetime] = _now
    seed: int = 0
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - simulation, not cryptography

    # -- lookups ---------------------------------------------------------------------------

    def find(self, user: str = "", domain: str = "") -> dict[str, Any] | None:
        """The account named `user`, or else the one whose main domain is `domain`."""
        if user:
            return self.accounts.get(user)
        domain = domain.lower()
        return next((a for a in self.accounts.values() if domain and a["domain"] == domain), None)

    @staticmethod
    def public(account: dict[str, Any]) -> dict[str, Any]:
        """The account as `accountsummary`/`listaccts` show it (private keys removed)."""
        return {k: v for k, v in account.items() if not k.startswith("_")}

    def check_password(self, user: str, password: str) -> bool:
        """Whether `password` is the account's current password (for tests)."""
        account = self.accounts.get(user)
        return account is not None and _verify_password(password, account["_password_hash"])

    def free_dedicated_ips(self) -> list[str]:
        """Dedicated addresses no account uses yet."""
        used = {a["ip"] for a in self.accounts.values()}
        return [ip for ip in self.dedicated_ips if ip not in used]

    # -- createacct ------------------------------------------------------------------------

    def _taken(self, user: str) -> str | None:
        if user in self.accounts:
            return DUPLICATE_USER
        clash = next((u for u in self.accounts if u[:8] == user[:8]), None)
        if clash is not None:
            return (
                f"The username “{user}” conflicts with the account “{clash}”: the first 8 "
                "characters of a username must be unique."
            )
        return None

    def _domain_taken(self, domain: str, ignore: str = "") -> str | None:
        owner = self.find(domain=domain)
        if owner is not None and owner["user"] != ignore:
            return f"The domain “{domain}” already exists in the userdata."
        return None

    def refuse_create(self, user: str, domain: str, plan: str, ip: str | None) -> str | None:
        """Why WHM refuses this `createacct`, or None; `ip` None means "no free dedicated IP"."""
        problem = (
            username_problem(user)
            or self._taken(user)
            or domain_problem(domain)
            or self._domain_taken(domain)
        )
        if problem:
            return problem
        if plan not in self.packages:
            return f"The package “{plan}” does not exist."
        if self.max_accounts is not None and len(self.accounts) >= self.max_accounts:
            return (
                "Unable to create the account: this server has reached its account creation "
                f"limit of {self.max_accounts} accounts."
            )
        if ip is None:
            return (
                "The requested IP address is not available: no free dedicated IP address is left."
            )
        return None

    def create_account(self, params: dict[str, str], ip: str) -> dict[str, Any]:
        """Store an account from validated `createacct` parameters (username, domain, plan...)."""
        now = self.clock()
        package = self.packages[params["plan"]]
        user = params["username"]
        account: dict[str, Any] = {
            "user": user,
            "domain": params["domain"],
            "ip": ip,
            "plan": params["plan"],
            "owner": params.get("owner") or self.username,
            "email": params.get("contactemail") or "*unknown*",
            "suspended": 0,
            "suspendreason": "not suspended",
            "suspendtime": None,
            "is_locked": 0,
            "startdate": now.strftime("%y %b %d %H:%M"),
            "unix_startdate": int(now.timestamp()),
            "diskused": "0M",
            "disklimit": "",
            "partition": "home",
            "theme": package["CPMOD"],
            "shell": "/usr/local/cpanel/bin/noshell",
            "maxaddons": str(package["MAXADDON"]),
            "maxpop": str(package["MAXPOP"]),
            "maxsql": str(package["MAXSQL"]),
            "backup": 0,
            "temporary": 0,
            "_quota": params.get("quota") or package["QUOTA"],
            "_bwlimit": params.get("bwlimit") or package["BWLIMIT"],
            "_bwused": 0,
            "_password_hash": _hash_password(params["password"])
            if params.get("password")
            else None,
        }
        account["disklimit"] = _megabytes(account["_quota"])
        self.accounts[user] = account
        return account

    # -- lifecycle -------------------------------------------------------------------------

    def suspend(self, user: str, reason: str, locked: bool) -> None:
        """Suspend (again): a repeat only refreshes the reason, lock and time."""
        account = self.accounts[user]
        account.update(
            suspended=1,
            suspendreason=reason,
            suspendtime=int(self.clock().timestamp()),
            is_locked=int(locked),
        )

    def unsuspend(self, user: str) -> None:
        """Lift a suspension (a no-op for an active account)."""
        self.accounts[user].update(
            suspended=0, suspendreason="not suspended", suspendtime=None, is_locked=0
        )

    def suspended(self) -> list[dict[str, Any]]:
        """The `listsuspended` rows."""
        rows = []
        for account in self.accounts.values():
            if account["suspended"]:
                when = datetime.fromtimestamp(account["suspendtime"], UTC)
                rows.append(
                    {
                        "user": account["user"],
                        "owner": account["owner"],
                        "reason": account["suspendreason"],
                        "time": when.strftime("%a %b %d %H:%M:%S %Y"),
                        "unixtime": account["suspendtime"],
                        "is_locked": account["is_locked"],
                    }
                )
        return rows

    def remove(self, user: str) -> dict[str, Any]:
        """Delete an account and its login sessions; returns what was removed."""
        self.sessions = [s for s in self.sessions if s["user"] != user]
        return self.accounts.pop(user)

    def set_password(self, user: str, password: str) -> None:
        """Replace the account's password hash."""
        self.accounts[user]["_password_hash"] = _hash_password(password)

    def change_package(self, user: str, plan: str) -> None:
        """Move an account to an existing package, taking over its quota and bandwidth."""
        package = self.packages[plan]
        self.accounts[user].update(
            plan=plan,
            _quota=package["QUOTA"],
            _bwlimit=package["BWLIMIT"],
            disklimit=_megabytes(package["QUOTA"]),
            maxaddons=str(package["MAXADDON"]),
            maxpop=str(package["MAXPOP"]),
            maxsql=str(package["MAXSQL"]),
        )

    def modify(self, user: str, changes: dict[str, str]) -> str | None:
        """Apply `modifyacct` changes (domain, contactemail, owner); a refusal or None."""
        domain = changes.get("domain", "").lower()
        problem = domain and (domain_problem(domain) or self._domain_taken(domain, user))
        if problem:
            return problem
        account = self.accounts[user]
        account["domain"] = domain or account["domain"]
        account["email"] = changes.get("contactemail") or account["email"]
        account["owner"] = changes.get("owner") or account["owner"]
        return None

    def record_usage(
        self, user: str, disk_mb: int | None = None, bw_bytes: int | None = None
    ) -> None:
        """Set an account's disk use (MB) and this month's bandwidth (bytes), for tests."""
        account = self.accounts[user]
        if disk_mb is not None:
            account["diskused"] = f"{disk_mb}M"
        if bw_bytes is not None:
            account["_bwused"] = bw_bytes

    def bandwidth_row(self, account: dict[str, Any], current: bool) -> dict[str, Any]:
        """One `showbw` row; only the current month has traffic."""
        used = account["_bwused"] if current else 0
        limit = account["_bwlimit"]
        return {
            "user": account["user"],
            "maindomain": account["domain"],
            "owner": account["owner"],
            "reseller": 0,
            "deleted": 0,
            "limit": 0 if limit in ("unlimited", 0, "0") else int(limit) * _MB,
            "totalbytes": used,
            "bwusage": [{"domain": account["domain"], "usage": used, "deleted": 0}],
        }

    def open_session(self, user: str, service: str, app: str) -> dict[str, Any]:
        """Open a one-time login session and return it (`create_user_session` data)."""
        token = "/cpsess" + "".join(self.rng.choices(string.digits, k=10))
        secret = "".join(self.rng.choices(string.ascii_letters + string.digits, k=16))
        session_id = f"{user}:{secret}:CREATE_USER_SESSION,{self.rng.getrandbits(128):032x}"
        url = f"https://{self.hostname}:{SESSION_PORTS[service]}{token}/login/?session={session_id}"
        if app:
            url += f"&goto_app={app}"
        expires = self.clock() + timedelta(seconds=self.session_ttl)
        session = {
            "user": user,
            "service": service,
            "app": app,
            "session": session_id,
            "cp_security_token": token,
            "url": url,
            "expires": int(expires.timestamp()),
        }
        self.sessions.append(session)
        return {k: v for k, v in session.items() if k not in ("user", "app")}

    def dump(self) -> dict[str, Any]:
        """A JSON view of the world for `GET /_sim/state` (no password hashes)."""
        return {
            "accounts": [self.public(a) for a in self.accounts.values()],
            "packages": list(self.packages.values()),
            "sessions": list(self.sessions),
            "max_accounts": self.max_accounts,
            "requests": self.requests,
        }


def _megabytes(value: int | str) -> str:
    return "unlimited" if str(value) in ("unlimited", "0", "") else f"{value}M"
