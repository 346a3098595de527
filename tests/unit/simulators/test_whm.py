"""The WHM API 1 simulator speaks WHM's json-api shapes, enforces its account rules, injects faults."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn

from fluxbilling_simulators import whm
from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators.whm import WhmState, create_app
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio

NOW = datetime(2024, 5, 17, 12, 0, tzinfo=UTC)
STAMP = int(NOW.timestamp())


@pytest.fixture
def state() -> WhmState:
    return WhmState(token="tok", faults=Faults(timeout_delay=0.01, seed=1), clock=lambda: NOW)


@pytest.fixture
async def api(state: WhmState) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": "whm root:tok"}
    async with asgi_client(
        create_app(state), "http://whm.test/json-api/", headers=headers
    ) as client:
        yield client


async def call(api: httpx.AsyncClient, function: str, **params: Any) -> dict[str, Any]:
    response = await api.get(function, params={"api.version": 1, **params})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert (body["metadata"]["command"], body["metadata"]["version"]) == (function, 1)
    return body


async def create(api: httpx.AsyncClient, username: str, domain: str, **params: Any) -> None:
    body = await call(api, "createacct", username=username, domain=domain, **params)
    assert (body["metadata"]["result"], body["metadata"]["reason"]) == (1, "Account Creation Ok")


async def refused(api: httpx.AsyncClient, function: str, **params: Any) -> str:
    """The reason of a call that must fail with HTTP 200 and result 0."""
    metadata = (await call(api, function, **params))["metadata"]
    assert metadata["result"] == 0
    text: str = metadata["reason"]
    return text


async def acct(api: httpx.AsyncClient, user: str) -> dict[str, Any]:
    body = await call(api, "accountsummary", user=user)
    assert body["metadata"]["result"] == 1
    found: dict[str, Any] = body["data"]["acct"][0]
    return found


@pytest.mark.parametrize(
    "header", [None, "whm root:wrong", "whm admin:tok", "Basic cm9vdDp0b2s=", "Bearer tok"]
)
async def test_bad_credentials_are_refused_before_dispatch(
    state: WhmState, api: httpx.AsyncClient, header: str | None
) -> None:
    api.headers.pop("Authorization")
    response = await api.get(
        "createacct",
        params={"api.version": 1, "username": "alice", "domain": "alice.test"},
        headers={"Authorization": header} if header else {},
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/plain")
    assert "Access denied" in response.text and "metadata" not in response.text
    assert (state.accounts, state.requests) == ({}, 1)


async def test_scheme_is_case_insensitive_and_version_answers(api: httpx.AsyncClient) -> None:
    response = await api.get(
        "version", params={"api.version": 1}, headers={"Authorization": "WHM root:tok"}
    )
    assert response.json() == {
        "metadata": {"command": "version", "version": 1, "result": 1, "reason": "OK"},
        "data": {"version": "11.130.0.5"},
    }


@pytest.mark.parametrize("params", [{}, {"api.version": "0"}, {"api.version": "2"}])
async def test_calls_without_api_version_1_get_a_legacy_answer_and_do_nothing(
    state: WhmState, api: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await api.get("createacct", params={**params, "username": "al", "domain": "a.test"})
    assert response.status_code == 200
    assert response.json() == {
        "result": [
            {
                "status": 0,
                "statusmsg": "This simulator implements WHM API 1 only: "
                "add api.version=1 to the call.",
            }
        ]
    }
    assert state.accounts == {}


async def test_unknown_function_is_result_0(api: httpx.AsyncClient) -> None:
    assert await refused(api, "makecoffee") == (
        "Unknown app (“makecoffee”) requested for this version (1) of the API."
    )


async def test_createacct_creates_and_reports(state: WhmState, api: httpx.AsyncClient) -> None:
    body = await call(
        api,
        "createacct",
        username="Alice",
        domain="Alice.example",
        plan="starter",
        password="hunter2!",
        contactemail="a@mail.test",
    )
    assert body["data"] == {
        "ip": "192.0.2.10",
        "nameserver": "ns1.sim.test",
        "nameserver2": "ns2.sim.test",
        "package": "starter",
    }
    raw = body["metadata"]["output"]["raw"]
    assert "| Domain: alice.example" in raw and raw.endswith("Account Creation Ok...Done\n")
    summary = await acct(api, "alice")
    assert summary == {
        "user": "alice",
        "domain": "alice.example",
        "ip": "192.0.2.10",
        "plan": "starter",
        "owner": "root",
        "email": "a@mail.test",
        "suspended": 0,
        "suspendreason": "not suspended",
        "suspendtime": None,
        "is_locked": 0,
        "startdate": "24 May 17 12:00",
        "unix_startdate": STAMP,
        "diskused": "0M",
        "disklimit": "1024M",
        "partition": "home",
        "theme": "jupiter",
        "shell": "/usr/local/cpanel/bin/noshell",
        "maxaddons": "10",
        "maxpop": "10",
        "maxsql": "10",
        "backup": 0,
        "temporary": 0,
    }
    assert state.check_password("alice", "hunter2!")
    assert not state.check_password("alice", "hunter3!")
    assert "hunter2!" not in repr(state.accounts)


async def test_createacct_defaults_plan_and_temporary_domain(api: httpx.AsyncClient) -> None:
    body = await call(api, "createacct", username="bob")
    assert body["metadata"]["result"] == 1
    summary = await acct(api, "bob")
    assert (summary["domain"], summary["plan"], summary["disklimit"]) == (
        "bob.whm.sim.test",
        "default",
        "unlimited",
    )


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("", "You must specify a username."),
        ("a" * 17, "usernames cannot exceed 16 characters"),
        ("bad_name", "may only contain lowercase letters (a-z) and digits (0-9)"),
        ("1abc", "cannot begin with a digit or “test”"),
        ("testing", "cannot begin with a digit or “test”"),
        ("mypassword", "cannot end with “assword”"),
        ("root", "The username “root” is reserved."),
    ],
)
async def test_createacct_username_rules(
    state: WhmState, api: httpx.AsyncClient, username: str, expected: str
) -> None:
    assert expected in await refused(api, "createacct", username=username, domain="x.test")
    assert state.accounts == {}


async def test_createacct_uniqueness_rules(state: WhmState, api: httpx.AsyncClient) -> None:
    await create(api, "abcdefgh1", "one.test")
    assert await refused(api, "createacct", username="abcdefgh1", domain="two.test") == (
        "Sorry, a passwd entry for that username already exists."
    )
    assert await refused(api, "createacct", username="abcdefgh2", domain="two.test") == (
        "The username “abcdefgh2” conflicts with the account “abcdefgh1”: the first 8 "
        "characters of a username must be unique."
    )
    assert await refused(api, "createacct", username="other", domain="ONE.test") == (
        "The domain “one.test” already exists in the userdata."
    )
    assert await refused(api, "createacct", username="other", domain="not a domain") == (
        "“not a domain” is not a valid domain name."
    )
    assert await refused(api, "createacct", username="other", domain="o.test", plan="gold") == (
        "The package “gold” does not exist."
    )
    await create(api, "abcdefg2", "two.test")
    assert sorted(state.accounts) == ["abcdefg2", "abcdefgh1"]


async def test_capacity_limit_is_a_matchable_refusal(
    state: WhmState, api: httpx.AsyncClient
) -> None:
    state.max_accounts = 1
    await create(api, "first", "first.test")
    text = await refused(api, "createacct", username="second", domain="second.test")
    assert "account creation limit" in text and "1 accounts" in text
    assert list(state.accounts) == ["first"]
    await call(api, "removeacct", username="first")
    await create(api, "second", "second.test")


async def test_dedicated_ips_come_from_the_pool(state: WhmState, api: httpx.AsyncClient) -> None:
    await create(api, "dedone", "d1.test", ip="y")
    await create(api, "dedtwo", "d2.test", ip="y")
    assert "no free dedicated IP" in await refused(
        api, "createacct", username="dedthree", domain="d3.test", ip="y"
    )
    await create(api, "shared", "s.test", customip="192.0.2.10")
    assert [a["ip"] for a in state.accounts.values()] == [
        "192.0.2.20",
        "192.0.2.21",
        "192.0.2.10",
    ]


async def test_accountsummary_lookups(api: httpx.AsyncClient) -> None:
    await create(api, "carol", "carol.test")
    by_domain = await call(api, "accountsummary", domain="CAROL.test")
    assert by_domain["data"]["acct"][0]["user"] == "carol"
    assert (
        await refused(api, "accountsummary", user="nobody1") == "The user “nobody1” does not exist."
    )
    assert await refused(api, "accountsummary", domain="x.test") == (
        "The domain “x.test” does not exist."
    )
    assert await refused(api, "accountsummary") == "You must specify a “user” or a “domain”."


async def test_listaccts_search_and_want(api: httpx.AsyncClient) -> None:
    await create(api, "dave", "dave.test", plan="starter")
    await create(api, "davey", "davey.example", plan="business")
    await create(api, "erin", "erin.test")

    async def users(**params: Any) -> list[str]:
        body = await call(api, "listaccts", **params)
        assert body["metadata"]["result"] == 1
        return [a["user"] for a in body["data"]["acct"]]

    assert await users() == ["dave", "davey", "erin"]
    assert await users(searchtype="user", search="dave", searchmethod="exact") == ["dave"]
    assert await users(searchtype="user", search="dave") == ["dave", "davey"]
    assert await users(searchtype="domain", search=r"\.test$", searchmethod="regex") == [
        "dave",
        "erin",
    ]
    assert await users(searchtype="package", search="business", searchmethod="exact") == ["davey"]
    assert await users(searchtype="user", search="zed", searchmethod="exact") == []
    wanted = await call(api, "listaccts", searchtype="user", search="^erin$", want="user,plan")
    assert wanted["data"]["acct"] == [{"user": "erin", "plan": "default"}]
    assert await refused(api, "listaccts", searchtype="user", search="(") == (
        "The search “(” is not a valid regular expression."
    )
    assert await refused(api, "listaccts", searchtype="color", search="x") == (
        "Invalid searchtype “color”."
    )


async def test_suspend_unsuspend_and_listsuspended(api: httpx.AsyncClient) -> None:
    await create(api, "frank", "frank.test")
    first = await call(api, "suspendacct", user="frank")
    assert first["metadata"]["result"] == 1 and "data" not in first
    assert "frank's account has been suspended" in first["metadata"]["output"]["raw"]
    assert (await acct(api, "frank"))["suspendreason"] == "Unknown"
    again = await call(api, "suspendacct", user="frank", reason="Nonpayment", disallowun=1)
    assert again["metadata"]["result"] == 1
    listed = await call(api, "listsuspended")
    assert listed["data"] == {
        "account": [
            {
                "user": "frank",
                "owner": "root",
                "reason": "Nonpayment",
                "time": "Fri May 17 12:00:00 2024",
                "unixtime": STAMP,
                "is_locked": 1,
            }
        ]
    }
    summary = await acct(api, "frank")
    assert (summary["suspended"], summary["suspendtime"]) == (1, STAMP)
    for _ in range(2):
        lifted = await call(api, "unsuspendacct", user="frank")
        assert lifted["metadata"]["result"] == 1
    assert (await call(api, "listsuspended"))["data"] == {"account": []}
    assert (await acct(api, "frank"))["suspendreason"] == "not suspended"
    assert await refused(api, "suspendacct", user="ghost") == "The user “ghost” does not exist."
    assert await refused(api, "unsuspendacct") == "The “user” parameter is required."


async def test_passwd(state: WhmState, api: httpx.AsyncClient) -> None:
    await create(api, "gina", "gina.test", password="old-secret")
    body = await call(api, "passwd", user="gina", password="new-secret")
    assert body["metadata"]["reason"] == "Password changed for user “gina”."
    assert body["data"] == {"app": ["system", "ftp", "mail", "mySQL"]}
    assert state.check_password("gina", "new-secret")
    assert not state.check_password("gina", "old-secret")
    no_db = await call(api, "passwd", user="gina", password="third", db_pass_update=0)
    assert no_db["data"] == {"app": ["system", "ftp", "mail"]}
    assert await refused(api, "passwd", user="gina") == "The “password” parameter is required."
    assert await refused(api, "passwd", user="ghost", password="x") == (
        "The user “ghost” does not exist."
    )


async def test_changepackage_listpkgs_and_modifyacct(api: httpx.AsyncClient) -> None:
    await create(api, "hank", "hank.test", plan="starter")
    await create(api, "ivy", "ivy.test")
    packages = (await call(api, "listpkgs"))["data"]["pkg"]
    assert [(p["name"], p["QUOTA"], p["BWLIMIT"]) for p in packages] == [
        ("default", "unlimited", "unlimited"),
        ("starter", 1024, 10240),
        ("business", 10240, 102400),
    ]
    moved = await call(api, "changepackage", user="hank", pkg="business")
    assert (moved["metadata"]["result"], moved["metadata"]["reason"]) == (
        1,
        "Account Upgraded/Downgraded",
    )
    summary = await acct(api, "hank")
    assert (summary["plan"], summary["disklimit"]) == ("business", "10240M")
    assert await refused(api, "changepackage", user="hank", pkg="gold") == (
        "The package “gold” does not exist."
    )
    assert (await acct(api, "hank"))["plan"] == "business"
    modified = await call(api, "modifyacct", user="hank", domain="hank.example", contactemail="h@x")
    assert modified["metadata"]["reason"] == "Account Modified"
    assert (modified["data"]["acct"][0]["domain"], modified["data"]["acct"][0]["email"]) == (
        "hank.example",
        "h@x",
    )
    assert await refused(api, "modifyacct", user="hank", domain="ivy.test") == (
        "The domain “ivy.test” already exists in the userdata."
    )


async def test_removeacct_and_its_deprecated_alias(state: WhmState, api: httpx.AsyncClient) -> None:
    await create(api, "jack", "jack.test")
    await create(api, "kate", "kate.test")
    await call(api, "create_user_session", user="jack", service="cpaneld")
    body = await call(api, "removeacct", username="jack")
    assert body["metadata"]["reason"] == "jack account removed"
    assert "Domain: jack.test" in body["metadata"]["output"]["raw"]
    assert await refused(api, "accountsummary", user="jack") == "The user “jack” does not exist."
    assert state.sessions == []
    alias = await call(api, "removeacct", user="kate")
    assert alias["metadata"]["reason"] == "kate account removed"
    assert state.accounts == {}
    assert await refused(api, "removeacct", username="jack") == "The user “jack” does not exist."


async def test_showbw_reports_bytes(state: WhmState, api: httpx.AsyncClient) -> None:
    await create(api, "liam", "liam.test", plan="starter")
    await create(api, "mia", "mia.test")
    state.record_usage("liam", disk_mb=300, bw_bytes=5000)
    assert (await acct(api, "liam"))["diskused"] == "300M"
    body = await call(api, "showbw", searchtype="user", search="^liam$")
    assert body["data"] == {
        "acct": [
            {
                "user": "liam",
                "maindomain": "liam.test",
                "owner": "root",
                "reseller": 0,
                "deleted": 0,
                "limit": 10240 * 1024 * 1024,
                "totalbytes": 5000,
                "bwusage": [{"domain": "liam.test", "usage": 5000, "deleted": 0}],
            }
        ],
        "month": 5,
        "year": 2024,
        "reseller": "root",
        "totalused": 5000,
    }
    everyone = (await call(api, "showbw"))["data"]
    assert [(a["user"], a["limit"]) for a in everyone["acct"]] == [
        ("liam", 10240 * 1024 * 1024),
        ("mia", 0),
    ]
    april = (await call(api, "showbw", month=4, year=2024))["data"]
    assert (april["totalused"], april["month"]) == (0, 4)
    assert await refused(api, "showbw", month="may") == (
        "The “month” and “year” parameters must be integers."
    )


async def test_create_user_session(state: WhmState, api: httpx.AsyncClient) -> None:
    await create(api, "nora", "nora.test")
    first = (await call(api, "create_user_session", user="nora", service="cpaneld"))["data"]
    assert set(first) == {"service", "session", "cp_security_token", "url", "expires"}
    assert first["url"] == (
        f"https://whm.sim.test:2083{first['cp_security_token']}/login/?session={first['session']}"
    )
    assert first["session"].startswith("nora:") and first["expires"] == STAMP + 900
    second = (
        await call(api, "create_user_session", user="nora", service="cpaneld", app="Email_Accounts")
    )["data"]
    assert second["session"] != first["session"]
    assert second["url"].endswith("&goto_app=Email_Accounts")
    whm_login = (await call(api, "create_user_session", user="root", service="whostmgrd"))["data"]
    assert whm_login["url"].startswith("https://whm.sim.test:2087/cpsess")
    assert [s["user"] for s in state.sessions] == ["nora", "nora", "root"]
    assert await refused(api, "create_user_session", user="nora", service="ftpd") == (
        "The service “ftpd” is not one of: cpaneld, whostmgrd, webmaild."
    )
    assert await refused(api, "create_user_session", user="ghost", service="cpaneld") == (
        "The user “ghost” does not exist."
    )


async def test_post_form_is_accepted(state: WhmState, api: httpx.AsyncClient) -> None:
    response = await api.post(
        "createacct",
        params={"api.version": 1},
        data={"username": "olga", "domain": "olga.test", "password": "pw"},
    )
    assert response.json()["metadata"]["result"] == 1
    assert state.check_password("olga", "pw")


@pytest.mark.parametrize("status", [503, 500, 429])
async def test_forced_status_answers_a_non_json_page(
    state: WhmState, api: httpx.AsyncClient, status: int
) -> None:
    state.faults.fail_next(1, status)
    response = await api.get("createacct", params={"api.version": 1, "username": "pat"})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert state.accounts == {}
    await create(api, "pat", "pat.test")
    assert state.requests == 2


async def test_faults_come_before_auth(state: WhmState, api: httpx.AsyncClient) -> None:
    state.faults.fail_next(1, 502)
    response = await api.get("version", headers={"Authorization": "whm root:wrong"})
    assert response.status_code == 502


async def test_timeout_still_does_the_work(state: WhmState, api: httpx.AsyncClient) -> None:
    state.faults.fail_next(1, "timeout")
    started = time.monotonic()
    await create(api, "quinn", "quinn.test")
    assert time.monotonic() - started >= 0.01
    assert list(state.accounts) == ["quinn"]


async def test_exists_next_refuses_without_creating(
    state: WhmState, api: httpx.AsyncClient
) -> None:
    state.faults.exists_next()
    assert await refused(api, "createacct", username="rita", domain="rita.test") == (
        "Sorry, a passwd entry for that username already exists."
    )
    assert state.accounts == {}
    await create(api, "rita", "rita.test")


async def test_crash_after_create_creates_then_503(state: WhmState, api: httpx.AsyncClient) -> None:
    state.faults.crash_after_create = True
    response = await api.get(
        "createacct", params={"api.version": 1, "username": "sam", "domain": "sam.test"}
    )
    assert response.status_code == 503 and "metadata" not in response.text
    assert (await acct(api, "sam"))["domain"] == "sam.test"
    state.faults.crash_after_create = False
    state.faults.crash_next_create(1)
    crashed = await api.get(
        "createacct", params={"api.version": 1, "username": "tom", "domain": "tom.test"}
    )
    assert crashed.status_code == 503
    await create(api, "uma", "uma.test")
    assert list(state.accounts) == ["sam", "tom", "uma"]


async def test_latency_delays_every_request(state: WhmState, api: httpx.AsyncClient) -> None:
    state.faults.latency = 0.05
    started = time.monotonic()
    await call(api, "version")
    assert time.monotonic() - started >= 0.05


async def test_sim_state_needs_no_auth_and_hides_hashes(
    state: WhmState, api: httpx.AsyncClient
) -> None:
    await create(api, "vera", "vera.test", password="s3cret")
    response = await api.get("http://whm.test/_sim/state", headers={"Authorization": ""})
    dump = response.json()
    assert [a["user"] for a in dump["accounts"]] == ["vera"]
    assert [p["name"] for p in dump["packages"]] == ["default", "starter", "business"]
    assert (dump["requests"], dump["max_accounts"], dump["sessions"]) == (1, None, [])
    assert "pbkdf2" not in response.text and "s3cret" not in response.text


async def test_main_serves_a_configured_state(monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}

    def fake_run(app: Any, **options: Any) -> None:
        served.update(options, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    whm.main(["--port", "9099", "--token", "T", "--max-accounts", "3"])
    assert (served["host"], served["port"]) == ("127.0.0.1", 9099)
    async with asgi_client(served["app"], "http://sim") as client:
        assert (await client.get("/_sim/state")).json()["max_accounts"] == 3
        version = await client.get(
            "/json-api/version", params={"api.version": 1}, headers={"Authorization": "whm root:T"}
        )
    assert version.json()["metadata"]["result"] == 1


@pytest.mark.parametrize(
    ("function", "params"),
    [
        ("changepackage", {"user": "ghost", "pkg": "starter"}),
        ("modifyacct", {"user": "ghost", "contactemail": "g@x"}),
        ("unsuspendacct", {"user": "ghost"}),
    ],
)
async def test_unknown_users_are_refused_everywhere(
    api: httpx.AsyncClient, function: str, params: dict[str, str]
) -> None:
    assert await refused(api, function, **params) == "The user “ghost” does not exist."


async def test_showbw_rejects_a_bad_regex(api: httpx.AsyncClient) -> None:
    assert await refused(api, "showbw", searchtype="user", search="[") == (
        "The search “[” is not a valid regular expression."
    )


def test_an_account_created_without_password_has_none(state: WhmState) -> None:
    account = state.create_account(
        {"username": "wes", "domain": "wes.test", "plan": "default"}, "ip"
    )
    assert account["_password_hash"] is None
    assert not state.check_password("wes", "")
    assert not state.check_password("nobody", "x")


async def test_unusual_forced_status_still_gets_a_page(
    state: WhmState, api: httpx.AsyncClient
) -> None:
    state.faults.fail_next(1, 599)
    response = await api.get("version", params={"api.version": 1})
    assert (response.status_code, "<title>599 Error</title>" in response.text) == (599, True)


def test_default_clock_is_aware_utc_now() -> None:
    before = datetime.now(UTC)
    stamp = WhmState().clock()
    assert stamp.tzinfo is UTC and before <= stamp <= datetime.now(UTC)
