"""The shipped cPanel & WHM plugin: its document, and its provision flow's branches on the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest

from fluxbilling import errors, plugins
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine.outcome import Done
from fluxbilling.plugins import check
from fluxbilling.seed import PROVIDERS
from fluxbilling_simulators.whm import WhmState, create_app
from tests.unit.plugins.flowsupport import START, Flows, shipped_path

PATH = shipped_path("whm")
DOCUMENT = plugins.load_plugin_file(PATH)
PLUGIN = plugins.load_plugin(DOCUMENT, 1)
FLOWS = Flows(PLUGIN, connection="whm", base_url="http://whm.test/json-api/")
USER = "fb00002a"
DOMAIN = "shop.example.com"
PASSWORD = "Sup3r-s3cret-pw"


def test_the_document_loads_strictly_with_its_header_and_capabilities() -> None:
    header = PLUGIN.document.plugin
    assert (PLUGIN.slug, PLUGIN.version, PLUGIN.warnings) == ("whm", 1, ())
    assert (header.name, header.type) == ("cPanel & WHM", "infrastructure-provider")
    assert (header.service_type, header.connection_type, header.os_install) == (
        "shared",
        "whm",
        "none",
    )
    assert PLUGIN.document.os_install_mode == "none"
    assert header.capabilities == {
        "canProvision": True,
        "canSuspend": True,
        "canTerminate": True,
        "canResize": True,
        "canResetPassword": True,
        "canConsole": True,
        "canGetStats": True,
    }
    assert set(PLUGIN.document.flows) == {
        "provision",
        "suspend",
        "unsuspend",
        "terminate",
        "resize",
        "reset_password",
        "console",
        "stats",
    }
    assert "reinstall" not in PLUGIN.document.flows  # nothing to reinstall on shared hosting


def test_the_check_command_accepts_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert check.main([str(PATH)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{PATH}: ok (whm, 8 flows)\n"
    assert captured.err == ""


def test_the_settings_schema_fits_the_seeded_product() -> None:
    schema = DOCUMENT["plugin"]["settings"]
    validator = jsonschema.Draft202012Validator(schema)
    seeded = {**PROVIDERS["whm"].options, "poll_interval": 1.0}
    assert list(validator.iter_errors(seeded)) == []
    assert (
        list(validator.iter_errors({**seeded, "panel_url": "https://cp1.example.net:2083/"})) == []
    )
    assert [e.message for e in validator.iter_errors({})] == ["'package' is a required property"]


def requests() -> list[tuple[str, str, dict[str, Any]]]:
    """(verb, node id, node) of every node that calls WHM."""
    return [
        (verb, node.id, node.params)
        for verb, flow in PLUGIN.document.flows.items()
        for node in flow.nodes
        if node.type in ("http", "lookup")
    ]


def test_every_request_uses_api_version_1_and_http_nodes_classify_result_0() -> None:
    calls = requests()
    assert len(calls) == 15
    for verb, node_id, node in calls:
        assert node["query"]["api.version"] == "1", (verb, node_id)
        if node["type"] != "http":
            continue
        rules = node["classify"]
        assert {"where": [{"path": "metadata.result", "equals": 1}], "means": "ok"} in rules
        assert rules[-1]["status"] == 200, (verb, node_id)
        assert rules[-1]["means"] == "permanent", (verb, node_id)
        assert "{{response.metadata.reason ?? response}}" in rules[-1]["message"]
        if node.get("method") == "POST":
            assert node["body_format"] == "form", (verb, node_id)


# -- the provision flow's branches against the simulator ---------------------------------


@pytest.fixture
def whm() -> WhmState:
    return WhmState(token="t0ken-abc")


@pytest.fixture
async def client(whm: WhmState) -> AsyncIterator[UpstreamHttp]:
    async with FLOWS.client(
        httpx.ASGITransport(app=create_app(whm)),
        headers={"Authorization": f"whm root:{whm.token}"},
        secrets=[whm.token, PASSWORD],
    ) as http:
        yield http


def context(**options: Any) -> dict[str, Any]:
    return {
        "order": {"id": 42, "hostname": DOMAIN},
        "customer": {"email": "ada@example.com", "name": "Ada"},
        "product": {"slug": "hosting-starter"},
        "options": {"package": "starter", **options},
        "settings": {"package": "starter", **options},
        "account": {"username": USER},
        "credentials": {"password": PASSWORD, "root_password": PASSWORD},
        "service": {},
        "connection": {"name": "whm", "type": "whm", "base_url": "http://whm.test/json-api/"},
        "correlation_id": "order-42-provision",
    }


async def provision(client: UpstreamHttp, **options: Any) -> Done:
    outcome = await FLOWS.run(client, "provision", context(**options))
    assert isinstance(outcome, Done)
    return outcome


@pytest.mark.anyio
async def test_provision_creates_the_account_and_reads_back_its_address(
    whm: WhmState, client: UpstreamHttp
) -> None:
    done = await provision(client)

    account = whm.accounts[USER]
    assert (account["domain"], account["plan"], account["email"]) == (
        DOMAIN,
        "starter",
        "ada@example.com",
    )
    assert whm.check_password(USER, PASSWORD)
    assert done.output["service_data"] == {
        "external_id": USER,
        "username": USER,
        "domain": DOMAIN,
        "ip": whm.shared_ip,
        "package": "starter",
        "panel_url": f"https://{DOMAIN}:2083/",
        "suspended": False,
    }
    assert list(done.output["outputs"]) == [
        "start",
        "adopt",
        "find",
        "owned",
        "create",
        "summary",
        "login",
        "persist",
    ]
    # createacct's log echoes the password: the flow keeps only WHM's reason.
    assert done.output["outputs"]["create"] == {"reason": "Account Creation Ok"}
    assert client.recorder.last is not None
    assert PASSWORD not in str(client.recorder.last.to_dict())


@pytest.mark.anyio
async def test_a_product_panel_url_overrides_the_default_login(client: UpstreamHttp) -> None:
    done = await provision(client, panel_url="https://cp1.example.net:2083/")
    assert done.output["service_data"]["panel_url"] == "https://cp1.example.net:2083/"


@pytest.mark.anyio
async def test_a_rerun_adopts_the_account_without_createacct(
    whm: WhmState, client: UpstreamHttp
) -> None:
    first = await provision(client)
    second = await provision(client)

    assert list(whm.accounts) == [USER]
    assert second.output["service_data"] == first.output["service_data"]
    assert list(second.output["outputs"]) == ["start", "adopt", "summary", "login", "persist"]


@pytest.mark.anyio
async def test_our_username_on_another_domain_is_not_adopted(
    whm: WhmState, client: UpstreamHttp
) -> None:
    whm.create_account(
        {"username": USER, "domain": "other.example.org", "plan": "default"}, "192.0.2.10"
    )
    requests_before = whm.requests

    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await provision(client)

    assert caught.value.message == (
        f"WHM already has a cPanel account {USER}, for the domain other.example.org instead of "
        f"{DOMAIN}: it is not this order's to adopt. Remove or rename it in WHM, then retry the "
        "run."
    )
    assert whm.requests == requests_before + 2  # adopt and find: no createacct
    assert whm.accounts[USER]["domain"] == "other.example.org"


@pytest.mark.anyio
async def test_a_domain_owned_by_another_account_fails_naming_the_owner(
    whm: WhmState, client: UpstreamHttp
) -> None:
    whm.create_account({"username": "someone", "domain": DOMAIN, "plan": "default"}, "192.0.2.10")

    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await provision(client)

    assert caught.value.message == (
        f"The domain {DOMAIN} already belongs to the cPanel account someone on this server "
        f"(WHM: The domain “{DOMAIN}” already exists in the userdata.). Move or remove that "
        "account, then retry the run."
    )
    assert list(whm.accounts) == ["someone"]


@pytest.mark.anyio
async def test_a_rejected_token_is_a_permanent_failure(whm: WhmState, client: UpstreamHttp) -> None:
    whm.token = "rotated"

    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await provision(client)

    assert caught.value.status == 403
    assert whm.accounts == {}


@pytest.mark.anyio
async def test_an_answer_without_the_api_1_envelope_is_not_success(
    whm: WhmState, client: UpstreamHttp
) -> None:
    whm.create_account({"username": USER, "domain": DOMAIN, "plan": "default"}, "192.0.2.10")
    ctx = {**context(), "service": {"username": USER}, "correlation_id": "c-1"}
    ok = await FLOWS.run(client, "unsuspend", ctx)
    assert isinstance(ok, Done)
    assert ok.output["result"] == {"suspended": False}

    # Without api.version=1 WHM runs API 0 and answers {"result": [{"status": 0, ...}]}.
    legacy = plugins.load_plugin(_without_api_version(DOCUMENT, "unsuspend", "unsuspend"), 1)
    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await plugins.run_flow(legacy, "unsuspend", ctx, FLOWS.connections(client), None, now=START)
    assert caught.value.message.startswith(
        'whm: unsuspend.unsuspend: WHM refused unsuspendacct: {"result":[{"status":0,'
    )


def _without_api_version(document: dict[str, Any], verb: str, node_id: str) -> dict[str, Any]:
    flows = dict(document["flows"])
    nodes = [{**n, "query": {}} if n["id"] == node_id else n for n in flows[verb]["nodes"]]
    flows[verb] = {**flows[verb], "nodes": nodes}
    return {**document, "flows": flows}
