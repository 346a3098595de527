"""The Virtualizor simulator speaks the vendor's admin API shapes and injects faults on demand."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators.virtualizor import Messages, VirtualizorState, create_app, main
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio

Json = dict[str, Any]
NOW = 1_700_000_500.0
AUTH = {"api": "json", "adminapikey": "sim-key", "adminapipass": "sim-pass"}
VPS = {
    "addvps": "1",
    "virt": "kvm",
    "node_select": "1",
    "uid": "1",
    "plid": "1",
    "osid": "101",
    "hostname": "web1.example.test",
    "rootpass": "Root-pass-1",
}


@pytest.fixture
def state() -> VirtualizorState:
    return VirtualizorState(faults=Faults(timeout_delay=0.01), clock=lambda: NOW)


@pytest.fixture
async def api(state: VirtualizorState) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(state), "http://sim") as client:
        yield client


async def call(
    api: httpx.AsyncClient, act: str, data: dict[str, str] | None = None, **params: str
) -> Json:
    """GET (or POST `data` to) `act` with the admin key pair; expect HTTP 200 JSON."""
    query = {"act": act, **AUTH, **params}
    if data is None:
        response = await api.get("/index.php", params=query)
    else:
        response = await api.post("/index.php", params=query, data=data)
    assert response.status_code == 200
    body: Json = response.json()
    return body


async def create(api: httpx.AsyncClient, **changes: str) -> Json:
    body = await call(api, "addvs", {**VPS, **changes})
    assert body["done"] is True, body
    vps: Json = body["newvs"]
    return vps


async def settle(api: httpx.AsyncClient, polls: int = 2) -> None:
    for _ in range(polls):
        await call(api, "tasks")


async def test_credentials_are_checked_in_band(api: httpx.AsyncClient) -> None:
    for wrong in ({"adminapipass": "nope"}, {"adminapikey": "", "adminapipass": ""}):
        response = await api.get("/index.php", params={**AUTH, "act": "plans", **wrong})
        assert response.status_code == 200
        assert response.json()["error"] == [Messages.AUTH]
        assert "plans" not in response.json()
    missing = await api.get("/index.php", params={"act": "plans", "api": "json"})
    assert missing.json()["error"] == [Messages.AUTH]
    in_form = await api.post(
        "/index.php",
        params={"act": "plans", "api": "json"},
        data={"adminapikey": "sim-key", "adminapipass": "sim-pass"},
    )
    assert in_form.json()["error"] == [Messages.AUTH]
    end_user_names = {"act": "plans", "api": "json", "apikey": "sim-key", "apipass": "sim-pass"}
    admin_only = await api.get("/index.php", params=end_user_names)
    assert admin_only.json()["error"] == [Messages.AUTH]
    html = await api.get("/index.php", params={**AUTH, "act": "plans", "api": "serialize"})
    assert (html.status_code, html.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert (await call(api, "nosuch"))["error"] == ["Invalid act: nosuch"]


async def test_catalogue_is_keyed_by_id_with_string_numbers(api: httpx.AsyncClient) -> None:
    body = await call(api, "plans")
    assert list(body["plans"]) == ["1", "2"]
    plan = body["plans"]["2"]
    assert (plan["plid"], plan["plan_name"], plan["virt"]) == ("2", "KVM 4G", "kvm")
    assert (plan["ram"], plan["space"], plan["cores"], plan["ips"]) == ("4096", "80", "2", "2")
    assert (body["title"], body["timenow"]) == ("Plans", "1700000500")
    assert float(body["time_taken"]) >= 0
    assert list((await call(api, "plans", planname="4g"))["plans"]) == ["2"]
    assert (await call(api, "plans", ptype="openvz"))["plans"] == {}
    oslist = (await call(api, "os"))["oslist"]
    assert sorted(oslist) == ["kvm", "openvz"]
    assert sorted(oslist["kvm"]["ubuntu"]) == ["101", "102"]
    assert oslist["kvm"]["debian"]["111"]["name"] == "Debian 12"


async def test_users_by_email_and_adduser_needs_its_flag(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    found = (await call(api, "users", email="alice@example.com"))["users"]
    assert (list(found), found["1"]["email"], found["1"]["num_vs"]) == (
        ["1"],
        "alice@example.com",
        "0",
    )
    assert (await call(api, "users", email="nobody@example.com"))["users"] == {}
    form = {"newemail": "bob@example.com", "newpass": "Bob-pass-1", "priority": "0"}
    without_flag = await call(api, "adduser", form)
    assert "done" not in without_flag
    flag_in_query = await call(api, "adduser", form, adduser="1")
    assert "done" not in flag_in_query
    assert list(state.users) == [1]
    assert (await call(api, "adduser", {**form, "adduser": "1"}))["done"] == 2
    assert (state.users[2]["email"], state.users[2]["type"]) == ("bob@example.com", 0)
    again = await call(api, "adduser", {**form, "adduser": "1"})
    assert again["error"] == {"newemail": "A user with this email address already exists"}
    bad = await call(api, "adduser", {"adduser": "1", "newemail": "nope", "priority": "7"})
    assert set(bad["error"]) == {"newemail", "newpass", "priority"}


async def test_addvs_without_its_flag_returns_form_data(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    body = await call(api, "addvs", {k: v for k, v in VPS.items() if k != "addvps"})
    assert "done" not in body
    assert "error" not in body
    assert state.vps == {}
    assert (body["servers"]["0"]["free_ram"], body["servers"]["1"]["server_name"]) == (
        "8192",
        "node-2",
    )
    assert "101" in body["oslist"]["kvm"]["ubuntu"]
    assert list(body["plans"]) == ["1", "2"]


async def test_create_builds_through_a_task_until_ready(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    vps = await create(api)
    vpsid = vps["vpsid"]
    assert (vpsid, vps["vps_name"], vps["hostname"], vps["serid"]) == (
        "1",
        "v1001",
        "web1.example.test",
        "0",
    )
    assert (vps["plid"], vps["ram"], vps["space"], vps["ips"]) == (
        "1",
        "1024",
        "20",
        {"1": "192.0.2.10"},
    )
    assert (vps["locked"], vps["os_name"], vps["email"], vps["uid"]) == (
        "1",
        "Ubuntu 22.04",
        "alice@example.com",
        "1",
    )
    assert not any(key.startswith("_") or key == "rootpass" for key in vps)
    first = (await call(api, "tasks", vpsid=vpsid))["tasks"]
    assert list(first) == ["1"]
    assert (first["1"]["action"], first["1"]["status"], first["1"]["progress"]) == (
        "addvs",
        "1",
        "50",
    )
    assert (await call(api, "vs", vs_status=vpsid))["status"][vpsid]["status"] == 1
    task = (await call(api, "tasks", vpsid=vpsid))["tasks"]["1"]
    assert (task["status"], task["progress"], task["status_txt"]) == ("2", "100", "Task Completed")
    assert (await call(api, "vs", vpsid=vpsid))["vs"][vpsid]["locked"] == "0"
    assert state.vps[1]["_rootpass"] == "Root-pass-1"


async def test_addvs_with_user_email_creates_or_attaches_the_user(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    owner = {"uid": "", "user_email": "dave@example.com", "user_pass": "Dave-pass-1"}
    assert (await create(api, **owner))["uid"] == "2"
    assert state.users[2]["email"] == "dave@example.com"
    again = await create(
        api, **{**owner, "user_email": "DAVE@example.com", "hostname": "web2.example.test"}
    )
    assert again["uid"] == "2"
    assert len(state.users) == 2
    no_pass = {**VPS, "uid": "", "user_email": "erin@example.com", "hostname": "web3.example.test"}
    assert (await call(api, "addvs", no_pass))["error"] == {
        "user_pass": "Please enter the user password"
    }


async def test_addvs_validation_is_in_band(state: VirtualizorState, api: httpx.AsyncClient) -> None:
    form = {"addvps": "1", "virt": "kvm", "plid": "9", "osid": "201", "hostname": "-x-", "uid": "7"}
    assert (await call(api, "addvs", form))["error"] == {
        "plid": "Invalid plan",
        "ram": "Invalid RAM",
        "space": "Invalid disk space",
        "osid": "Invalid OS template",
        "hostname": "Invalid hostname",
        "rootpass": "Please enter the root password",
        "uid": "The user specified does not exist",
    }
    pinned = {**VPS, "node_select": "0", "slave_server": "99", "ram": "lots"}
    assert (await call(api, "addvs", pinned))["error"] == {
        "slave_server": "Invalid server",
        "ram": "Invalid value for ram",
    }
    openvz = {**VPS, "virt": "openvz", "osid": "201", "node_select": "0", "slave_server": "0"}
    assert (await call(api, "addvs", openvz))["error"] == {
        "virt": "The server does not support this virtualization"
    }
    assert (await call(api, "addvs", {**VPS, "virt": "hyperv"}))["error"] == {
        "virt": "Invalid virtualization type",
        "osid": "Invalid OS template",
    }
    bad_email = {**VPS, "uid": "", "user_email": "not-an-email"}
    assert (await call(api, "addvs", bad_email))["error"] == {
        "user_email": "Please provide a valid email address"
    }
    assert (state.vps, state.ip_owner, state.tasks) == ({}, {}, {})


async def test_addvs_explicit_node_and_resource_overrides(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    state.polls_until_ready = 0
    fields = {"ram": "2048", "space": "30", "cores": "3", "swapram": "512", "num_ips": "2"}
    vps = await create(api, node_select="0", slave_server="1", **fields)
    assert (vps["serid"], vps["plid"], vps["ram"], vps["space"]) == ("1", "1", "2048", "30")
    assert (vps["cores"], vps["swap"]) == ("3", "512")
    assert vps["ips"] == {"1": "192.0.2.10", "2": "192.0.2.11"}
    assert state.free(1) == (4096 - 2048, 100 - 30)
    bare = await create(api, plid="", hostname="bare.test", ram="512", space="10")
    assert (bare["plid"], bare["serid"], bare["ram"], bare["ips"]) == ("0", "0", "512", {})


async def test_hostnames_are_unique_among_live_vpses(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    state.polls_until_ready = 0
    await create(api)
    duplicate = await call(api, "addvs", {**VPS, "hostname": "WEB1.example.test"})
    assert duplicate["error"] == {"hostname": Messages.HOSTNAME_TAKEN}
    assert "done" not in duplicate
    assert len(state.vps) == 1
    assert (await call(api, "vs", delete="1"))["done"] is True
    assert (await create(api))["vpsid"] == "2"
    state.unique_hostnames = False
    assert (await create(api))["hostname"] == "web1.example.test"
    assert sorted(state.vps) == [2, 3]


async def test_capacity_runs_out_in_band(state: VirtualizorState, api: httpx.AsyncClient) -> None:
    state.polls_until_ready = 0
    placed = [(await create(api, plid="2", hostname=f"big{n}.test"))["serid"] for n in range(3)]
    assert placed == ["0", "0", "1"]
    full = await call(api, "addvs", {**VPS, "plid": "2", "hostname": "big3.test"})
    assert full["error"] == [Messages.NO_SERVER]
    assert "enough resources" in full["error"][0]
    pinned = {**VPS, "node_select": "0", "slave_server": "1", "hostname": "small.test"}
    assert (await call(api, "addvs", pinned))["error"] == [Messages.SERVER_FULL]
    assert (len(state.vps), len(state.ip_owner)) == (3, 6)
    assert (state.free(0), state.free(1)) == ((0, 40), (0, 20))


async def test_ip_pool_runs_out_in_band(state: VirtualizorState, api: httpx.AsyncClient) -> None:
    state.polls_until_ready = 0
    state.ip_pool = ["192.0.2.50"]
    assert (await create(api))["ips"] == {"1": "192.0.2.50"}
    second = await call(api, "addvs", {**VPS, "hostname": "web2.example.test"})
    assert second["error"] == [Messages.NO_IPS]
    assert "IPs" in second["error"][0]
    assert list(state.vps) == [1]
    await call(api, "vs", delete="1")
    assert state.ip_owner == {}
    assert (await create(api, hostname="web2.example.test"))["ips"] == {"1": "192.0.2.50"}


async def test_suspend_unsuspend_and_power(state: VirtualizorState, api: httpx.AsyncClient) -> None:
    state.polls_until_ready = 0
    vpsid = (await create(api))["vpsid"]

    async def power() -> int:
        status: int = (await call(api, "vs", vs_status=vpsid))["status"][vpsid]["status"]
        return status

    assert (await call(api, "vs", suspend=vpsid))["done"] == 1
    assert (await call(api, "vs", vpsid=vpsid))["vs"][vpsid]["suspended"] == "1"
    assert list((await call(api, "vs", vsstatus="s"))["vs"]) == [vpsid]
    assert (await call(api, "vs", vsstatus="u"))["vs"] == {}
    assert await power() == 0
    started = await call(api, "vs", action="start", vpsid=vpsid)
    assert started["error"] == ["The VPS is suspended"]
    assert (await call(api, "vs", unsuspend=vpsid))["done"] == 1
    assert await power() == 1
    assert (await call(api, "vs", action="stop", vpsid=vpsid))["done"] == 1
    assert await power() == 0
    assert (await call(api, "vs", action="restart", vpsid=vpsid))["done"] == 1
    assert await power() == 1
    assert (await call(api, "vs", action="reboot!", vpsid=vpsid))["error"] == ["Invalid action"]
    assert (await call(api, "vs", suspend_net=vpsid))["done"] == 1
    assert (state.vps[1]["nw_suspended"], state.vps[1]["suspended"]) == (1, 0)
    assert (await call(api, "vs", unsuspend_net=vpsid))["done"] == 1
    assert state.vps[1]["nw_suspended"] == 0
    assert (await call(api, "vs", suspend="99"))["error"] == [Messages.NO_VPS]


async def test_delete_is_a_task_then_the_vps_is_gone(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    vpsid = (await create(api))["vpsid"]
    await settle(api)
    assert (await call(api, "vs", {"delete": vpsid}))["done"] is True
    assert (await call(api, "vs"))["vs"][vpsid]["locked"] == "1"
    assert (await call(api, "vs", suspend=vpsid))["error"] == [Messages.LOCKED]
    assert (await call(api, "vs"))["vs"] == {}
    deletions = (await call(api, "tasks", action="deletevs"))["tasks"]
    assert [(t["status"], t["vpsid"]) for t in deletions.values()] == [("2", vpsid)]
    assert (state.vps, state.ip_owner) == ({}, {})
    assert (await call(api, "vs", delete=vpsid))["error"] == [Messages.NO_VPS]


async def test_rebuild_reinstalls_when_its_task_completes(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    vpsid = (await create(api))["vpsid"]
    await settle(api)
    form = {"vpsid": vpsid, "osid": "111", "newpass": "New-pass-2", "conf": "New-pass-2"}
    preview = await call(api, "rebuild", form)
    assert "done" not in preview
    assert (preview["vpses"][vpsid]["osid"], list(state.tasks)) == ("101", [1])
    mismatch = await call(api, "rebuild", {**form, "reos": "1", "conf": "other"})
    assert mismatch["error"] == {"conf": "The passwords do not match"}
    no_password = await call(api, "rebuild", {**form, "reos": "1", "newpass": ""})
    assert no_password["error"] == {"newpass": "Please enter the new password"}
    wrong_os = await call(api, "rebuild", {**form, "reos": "1", "osid": "201"})
    assert wrong_os["error"] == {"osid": "Invalid OS template"}
    done = await call(api, "rebuild", {**form, "reos": "1"})
    assert (done["done"], done["vpses"][vpsid]["osid"]) == (1, "101")
    assert (await call(api, "vs", vs_status=vpsid))["status"][vpsid]["status"] == 0
    await call(api, "tasks")
    entry = (await call(api, "vs", vpsid=vpsid))["vs"][vpsid]
    assert (entry["osid"], entry["os_name"], entry["os_distro"]) == ("111", "Debian 12", "debian")
    assert (state.vps[1]["_rootpass"], state.vps[1]["_power"]) == ("New-pass-2", 1)
    assert [
        t["status"] for t in (await call(api, "tasks", action="rebuildvs"))["tasks"].values()
    ] == ["2"]


async def test_resize_applies_the_plan_when_its_task_completes(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    vpsid = (await create(api))["vpsid"]
    await settle(api)
    change = {"plid": "2", "apply_plan": "1"}
    view = await call(api, "managevps", change, vpsid=vpsid)
    assert ("done" in view, view["vps"]["plid"], list(view["plans"])) == (False, "1", ["1", "2"])
    resized = await call(api, "managevps", {**change, "editvps": "1"}, vpsid=vpsid)
    assert (resized["done"], resized["vps"]["plid"]) == ({"done": True}, "1")
    assert state.free(0) == (8192 - 4096, 200 - 80)
    await settle(api)
    entry = (await call(api, "vs", vpsid=vpsid))["vs"][vpsid]
    assert (entry["plid"], entry["ram"], entry["space"], entry["cores"]) == ("2", "4096", "80", "2")
    too_big = await call(api, "managevps", {"editvps": "1", "ram": "99999"}, vpsid=vpsid)
    assert too_big["error"] == [Messages.SERVER_FULL]
    unknown = await call(api, "managevps", {"editvps": "1", "plid": "42"}, vpsid=vpsid)
    assert unknown["error"] == {"plid": "Invalid plan"}
    assert (await call(api, "managevps", vpsid="99"))["error"] == [Messages.NO_VPS]
    bad_field = await call(api, "managevps", {"editvps": "1", "bandwidth": "x"}, vpsid=vpsid)
    assert bad_field["error"] == {"bandwidth": "Invalid value for bandwidth"}
    edited = await call(api, "editvs", {"editvps": "1", "cores": "4"}, vpsid=vpsid)
    assert (edited["title"], edited["done"]) == ("Edit VPS", {"done": True})
    await settle(api)
    assert (state.vps[1]["cores"], state.vps[1]["plid"]) == (4, 2)
    await call(api, "managevps", {"editvps": "1", "plid": "1"}, vpsid=vpsid)
    await settle(api)
    assert (state.vps[1]["plid"], state.vps[1]["ram"]) == (1, 4096)


async def test_password_vnc_and_stats(state: VirtualizorState, api: httpx.AsyncClient) -> None:
    vpsid = (await create(api, vncpass="Vnc-pass"))["vpsid"]
    await settle(api)
    form = {"newpass": "Changed-3", "conf": "Changed-3"}
    assert "done" not in await call(api, "changepassword", form, svs=vpsid)
    assert list(state.tasks) == [1]
    done = await call(api, "changepassword", {**form, "changepass": "1"}, svs=vpsid)
    assert done["done"] == {"msg": "The password will be changed when the VPS is booted again"}
    assert state.vps[1]["_rootpass"] == "Root-pass-1"
    await settle(api)
    assert state.vps[1]["_rootpass"] == "Changed-3"
    end_user = {"act": "changepassword", "api": "json", "apikey": "sim-key", "apipass": "sim-pass"}
    mismatch = await api.post(
        "/index.php",
        params={**end_user, "svs": vpsid},
        data={**form, "changepass": "1", "conf": "x"},
    )
    assert mismatch.json()["error"] == {"conf": "The passwords do not match"}
    info = (await call(api, "vnc", novnc=vpsid))["info"]
    assert info == {"ip": "198.51.100.10", "port": "5901", "password": "Vnc-pass"}
    assert (await call(api, "vnc", novnc="1", svs=vpsid))["info"] == info
    assert (await call(api, "vnc", novnc="99"))["error"] == [Messages.NO_VPS]
    stats = await call(api, "vps_stats", {"vpsid": vpsid})
    assert (stats["vps_data"][vpsid]["used_ram"], stats["vps_data"][vpsid]["ram"]) == (
        "256",
        "1024",
    )
    assert stats["vps_stats"]["ram"] == [["1700000500", "256"]]


async def test_fail_next_task_ends_the_build_in_error(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    state.fail_next_task("Could not create the disk")
    vpsid = (await create(api))["vpsid"]
    await settle(api)
    task = (await call(api, "tasks", vpsid=vpsid))["tasks"]["1"]
    assert (task["status"], task["status_txt"]) == ("-1", "Could not create the disk")
    assert (await call(api, "vs", vs_status=vpsid))["status"][vpsid]["status"] == 0
    assert (await call(api, "vs", vpsid=vpsid))["vs"][vpsid]["locked"] == "0"
    assert (await call(api, "vs", action="start", vpsid=vpsid))["done"] == 1


async def test_lists_paginate_and_search_by_substring(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    state.polls_until_ready = 0
    for n in range(3):
        await create(api, hostname=f"web{n}.example.test")
    page_two = (await call(api, "vs", reslen="2", page="2"))["vs"]
    assert (list(page_two), page_two["3"]["hostname"]) == (["3"], "web2.example.test")
    assert list((await call(api, "vs", reslen="2"))["vs"]) == ["1", "2"]
    assert list((await call(api, "tasks", reslen="2"))["tasks"]) == ["3", "2"]
    assert list((await call(api, "vs", vpshostname="web1"))["vs"]) == ["2"]
    assert list((await call(api, "vs", vpsip="192.0.2.12"))["vs"]) == ["3"]
    assert list((await call(api, "vs", user="ALICE"))["vs"]) == ["1", "2", "3"]
    assert (await call(api, "vs", user="bob"))["vs"] == {}
    assert (await call(api, "users", uid="1"))["users"]["1"]["num_vs"] == "3"
    state.reslen = 1
    assert list((await call(api, "vs"))["vs"]) == ["1"]


async def test_forced_statuses_and_timeouts(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    state.faults.fail_next(2, 503)
    state.faults.fail_next(1, 403)
    answers = [await api.get("/index.php", params={**AUTH, "act": "plans"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [503, 503, 403, 200]
    assert answers[0].headers["content-type"] == "text/html; charset=utf-8"
    assert "Service Unavailable" in answers[0].text
    assert "Forbidden" in answers[2].text
    state.faults.fail_next(1, 599)
    odd = await api.get("/index.php", params={**AUTH, "act": "plans"})
    assert (odd.status_code, "Error" in odd.text) == (599, True)
    state.faults.fail_next(1, "timeout")
    started = time.perf_counter()
    assert (await create(api))["vpsid"] == "1"
    assert time.perf_counter() - started >= 0.01
    assert state.requests == 6


async def test_random_faults_follow_fail_rate(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    state.faults = Faults(fail_rate=1.0, timeout_delay=0.0, seed=3)
    answers = [
        (await api.get("/index.php", params={**AUTH, "act": "os"})).status_code for _ in range(20)
    ]
    assert set(answers) == {500, 503, 200}


async def test_exists_next_answers_duplicate_without_creating(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    state.faults.exists_next()
    duplicate = await call(api, "addvs", VPS)
    assert duplicate["error"] == {"hostname": Messages.HOSTNAME_TAKEN}
    assert (state.vps, state.tasks) == ({}, {})
    assert (await create(api))["vpsid"] == "1"


async def test_crash_after_create_creates_then_answers_503(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    params = {**AUTH, "act": "addvs"}
    state.faults.crash_after_create = True
    assert (await api.post("/index.php", params=params, data=VPS)).status_code == 503
    assert [v["hostname"] for v in state.vps.values()] == ["web1.example.test"]
    state.faults.crash_after_create = False
    state.faults.crash_next_create(1)
    crashed = await api.post("/index.php", params=params, data={**VPS, "hostname": "web2.test"})
    assert crashed.status_code == 503
    assert (await create(api, hostname="web3.test"))["vpsid"] == "3"
    adopted = (await call(api, "vs", vpshostname="web2.test"))["vs"]
    assert [v["hostname"] for v in adopted.values()] == ["web2.test"]


async def test_latency_delays_every_request(
    state: VirtualizorState, api: httpx.AsyncClient
) -> None:
    state.faults.latency = 0.05
    started = time.perf_counter()
    body = await call(api, "plans")
    assert time.perf_counter() - started >= 0.05
    assert float(body["time_taken"]) >= 0.05


async def test_sim_state_needs_no_auth(state: VirtualizorState, api: httpx.AsyncClient) -> None:
    await create(api)
    dump = (await api.get("/_sim/state")).json()
    assert [(v["hostname"], v["_rootpass"]) for v in dump["vps"]] == [
        ("web1.example.test", "Root-pass-1")
    ]
    assert [(t["action"], t["status"]) for t in dump["tasks"]] == [("addvs", 1)]
    assert (dump["ip_owner"], dump["requests"]) == ({"192.0.2.10": 1}, 1)
    assert [u["email"] for u in dump["users"]] == ["alice@example.com"]


async def test_main_serves_a_state_built_from_the_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: Json = {}

    def run(app: Any, **options: Any) -> None:
        served.update(app=app, **options)

    monkeypatch.setattr(uvicorn, "run", run)
    main(["--port", "9999", "--key", "k", "--pass", "p", "--polls-until-ready", "0"])
    assert (served["host"], served["port"]) == ("127.0.0.1", 9999)
    async with asgi_client(served["app"], "http://sim") as client:
        params = {"act": "addvs", "api": "json", "adminapikey": "k", "adminapipass": "p"}
        created = (await client.post("/index.php", params=params, data=VPS)).json()
        tasks = (await client.get("/index.php", params={**params, "act": "tasks"})).json()
    assert created["done"] is True
    assert tasks["tasks"]["1"]["status"] == "2"
