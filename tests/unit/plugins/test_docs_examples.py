"""docs/plugins.md and docs/examples/acmepanel.json cannot rot: every example loads and runs.

Every ```json block of the guide is checked: whole documents load (strictly, as a save
would), node and edge fragments validate against their models, the 422 example is what
the loader really answers, and the run's `last_error` example is what the provision phase's
settings check really raises. The AcmePanel example is then driven against an in-memory
AcmePanel, through a connection configured exactly as the guide configures it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from fluxbilling import errors, plugins
from fluxbilling.drivers.connection_types import credentials_for
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.orders import view
from fluxbilling.plugins import builtin_nodes, document, schema, templating
from fluxbilling.plugins.driver import check_settings
from fluxbilling.plugins.nodes import PathCheck
from fluxbilling.plugins.probe import FlowProbe
from tests.unit.plugins.flowsupport import START, Flows

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "plugins.md"
ACMEPANEL = ROOT / "docs" / "examples" / "acmepanel.json"
BLOCK = re.compile(r"^```json\n(.*?)^```$", re.DOTALL | re.MULTILINE)


INLINE = re.compile(r"`(\{[^`]+\})`")
ACME_OPTIONS = {"plan", "region", "poll_interval", "addressing"}
# The AcmePanel product options that the guide's InvalidSettings example was produced from.
BAD_ACME_OPTIONS = {"plan": "small-2g", "poll_interval": "15", "addressing": "provider"}


def numbered_blocks() -> list[tuple[int, str]]:
    """The guide's json blocks with the line each starts on."""
    text = GUIDE.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


def blocks() -> list[str]:
    return [text for _, text in numbered_blocks()]


def documents() -> list[str]:
    return [b for b in blocks() if b.startswith(('{"format"', '{\n  "format"'))]


def parsed_blocks() -> list[Any]:
    return [json.loads(b) for b in blocks()]


def acmepanel() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ACMEPANEL.read_text(encoding="utf-8"))
    return loaded


def test_the_guide_has_examples() -> None:
    assert len(documents()) >= 3
    assert len(blocks()) > len(documents())


@pytest.mark.parametrize(
    ("line", "text"), [pytest.param(n, t, id=f"line-{n}") for n, t in numbered_blocks()]
)
def test_every_json_block_is_json(line: int, text: str) -> None:
    try:
        json.loads(text)
    except ValueError as exc:
        pytest.fail(f"docs/plugins.md line {line}: {exc}")


def inline_objects() -> list[dict[str, Any]]:
    """Inline `{...}` code spans of the guide that are JSON objects (others are prose)."""
    found = []
    for span in INLINE.findall(GUIDE.read_text(encoding="utf-8")):
        try:
            value = json.loads(span)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def _check_inline(value: dict[str, Any]) -> str:
    """Validate one inline fragment by what it is; returns its kind."""
    if "means" in value:
        builtin_nodes.Rule.model_validate(value)
        return "rule"
    if "path" in value:
        PathCheck.model_validate(value)
        return "check"
    if "status" in value:
        builtin_nodes.ExistsWhen.model_validate(value)
        return "exists_when"
    if "scheme" in value:
        names = {value.get("secret"), *dict(value.get("params") or {}).values()}
        credentials_for("http", {"auth": value}, {str(n): "s3cret" for n in names if n})
        return "auth"
    if all(isinstance(v, dict) and "scheme" in v for v in value.values()):
        names = {v.get("secret") for v in value.values()}
        found = credentials_for("http", {"credentials": value}, {str(n): "x" for n in names})
        assert set(value) <= set(found)
        return "credentials"
    if set(value) <= set(document.CAPABILITY_VERBS):
        return "capabilities"
    if {"plan", "region"} <= set(value) <= ACME_OPTIONS:
        jsonschema.validate(value, acmepanel()["plugin"]["settings"])
        product = {"service_type": "vps", "options": value}
        assert view.addressing(product) == value.get("addressing", "ipam")
        return "acmepanel options"
    return "other"


def test_inline_json_fragments_are_valid() -> None:
    kinds = [_check_inline(value) for value in inline_objects()]

    assert {"rule", "check", "exists_when", "auth", "credentials", "acmepanel options"} <= set(
        kinds
    )


@pytest.mark.parametrize("text", documents(), ids=lambda t: str(json.loads(t)["plugin"]["slug"]))
def test_every_document_in_the_guide_loads_strictly(text: str) -> None:
    doc = json.loads(text)

    plugin = plugins.load_plugin(doc, 1)

    assert plugin.slug == doc["plugin"]["slug"]
    assert list(jsonschema.Draft202012Validator(schema.format_schema()).iter_errors(doc)) == []


def _is_node(value: Any) -> bool:
    return isinstance(value, dict) and "id" in value and "type" in value and "format" not in value


@pytest.mark.parametrize(
    "node", [b for b in parsed_blocks() if _is_node(b)], ids=lambda n: str(n["id"])
)
def test_every_node_example_is_a_valid_node(node: dict[str, Any]) -> None:
    spec = plugins.default_registry.get(node["type"])
    assert spec is not None, f"unknown node type {node['type']!r}"

    spec.params.model_validate(node)
    assert templating.check(node) == []


def test_every_json_block_is_checked_by_some_test() -> None:
    def kind(value: Any) -> str:
        if isinstance(value, dict) and "format" in value:
            return "document"
        if _is_node(value):
            return "node"
        if isinstance(value, dict) and {"from", "to"} <= set(value):
            document.Edge.model_validate(value)
            return "edge"
        if isinstance(value, dict) and set(value) <= {"nodes", "edges"}:
            flow = document.Flow.model_validate(value)
            for node in flow.nodes:
                spec = plugins.default_registry.get(node.type)
                assert spec is not None
                spec.params.model_validate(node.params)
                assert templating.check(node.params) == []
            return "flow"
        if isinstance(value, dict) and "error" in value:
            return "error"
        if isinstance(value, dict) and value.get("code") == "InvalidSettings":
            return "last_error"
        return "unchecked"

    assert [kind(b) for b in parsed_blocks() if kind(b) == "unchecked"] == []


def test_the_worked_example_in_the_guide_is_the_example_file() -> None:
    in_guide = [
        json.loads(d) for d in documents() if json.loads(d)["plugin"]["slug"] == "acmepanel"
    ]

    assert in_guide == [acmepanel()]


def test_the_example_file_loads_strictly_without_warnings() -> None:
    plugin = plugins.load_plugin(acmepanel(), 1)

    assert plugin.warnings == ()
    assert sorted(plugin.document.flows) == [
        "provision",
        "suspend",
        "terminate",
        "test",
        "unsuspend",
    ]


def test_the_422_in_the_guide_is_what_the_loader_answers() -> None:
    broken = acmepanel()
    broken["plugin"]["capabilities"]["canReinstall"] = True
    create = broken["flows"]["provision"]["nodes"][2]
    assert create["id"] == "create"
    create["exist_when"] = create.pop("exists_when")
    assert broken["flows"]["provision"]["edges"][7]["to"] == "persist"
    broken["flows"]["provision"]["edges"][7]["to"] = "persit"
    [shown] = [b for b in parsed_blocks() if isinstance(b, dict) and "error" in b]

    with pytest.raises(errors.InvalidFlow) as caught:
        plugins.load_plugin(broken, 1)

    assert shown == {
        "error": {
            "code": "InvalidFlow",
            "message": caught.value.message,
            "details": caught.value.details,
        }
    }


def test_the_invalid_settings_in_the_guide_is_what_the_provision_phase_raises() -> None:
    [shown] = [
        b for b in parsed_blocks() if isinstance(b, dict) and b.get("code") == "InvalidSettings"
    ]
    assert f"`{json.dumps(BAD_ACME_OPTIONS)}`" in GUIDE.read_text(encoding="utf-8")

    with pytest.raises(errors.InvalidSettings) as caught:
        check_settings(plugins.load_plugin(acmepanel(), 1), BAD_ACME_OPTIONS, "acme-vps-2g")

    assert shown == caught.value.to_dict()


# -- AcmePanel, in memory ------------------------------------------------------------------

BASE_URL = "https://panel.acme.example/api/v2/"
API_KEY = "acme-key-123"


@dataclass
class AcmePanel:
    """The fictional AcmePanel API of the guide, as a fake with observable state.

    As the guide says, an instance is *locked* while its create task runs: it is listed
    (with `include_locked=true`) under a placeholder name without its `external_ref`, the
    `external_ref` filter cannot see it, and the duplicate check does not know its
    reference yet. The task ends when the instance is first read by id, or after
    `create_task_lists` more list calls.
    """

    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    region_full: bool = False
    hide_from_lists: int = 0  # the next N list calls miss everything (a racing creator)
    creates: int = 0
    create_task_lists: int = 2
    lose_next_answer: bool = False  # the next create is done, but its answer never arrives
    locked: dict[str, int] = field(default_factory=dict)  # instance id -> list calls left

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("X-Acme-Key") != API_KEY:
            return httpx.Response(401, json={"ok": False, "error": {"code": "unauthorized"}})
        path = request.url.path.removeprefix("/api/v2/")
        parts = path.split("/")
        if path == "" and request.method == "GET":
            return httpx.Response(501, json={"ok": False, "error": {"code": "not_implemented"}})
        if path == "instances" and request.method == "GET":
            return self._list(request.url.params)
        if path == "instances" and request.method == "POST":
            answer = self._create(json.loads(request.content))
            if self.lose_next_answer:
                self.lose_next_answer = False
                raise httpx.ReadTimeout("the answer was lost", request=request)
            return answer
        instance = self.instances.get(parts[1]) if len(parts) > 1 else None
        if instance is None:
            return httpx.Response(404, json={"ok": False, "error": {"code": "not_found"}})
        self.locked.pop(instance["id"], None)  # the create task ends
        if len(parts) == 2 and request.method == "GET":
            if instance["state"] == "building":
                instance["state"] = "running"  # building finishes after one look
                return httpx.Response(
                    200, json={"ok": True, "data": {**instance, "state": "building"}}
                )
            return httpx.Response(200, json={"ok": True, "data": instance})
        if len(parts) == 2 and request.method == "DELETE":
            del self.instances[parts[1]]
            return httpx.Response(204)
        return self._change_state(instance, parts[2])

    def _listed(self, instance: dict[str, Any]) -> dict[str, Any]:
        if instance["id"] not in self.locked:
            return {**instance, "locked": False}
        placeholder = f"creating-{instance['id']}"
        return {**instance, "name": placeholder, "external_ref": None, "locked": True}

    def _list(self, params: httpx.QueryParams) -> httpx.Response:
        ref, with_locked = params.get("external_ref"), params.get("include_locked") == "true"
        listed = [self._listed(i) for i in self.instances.values()]
        found = [
            i
            for i in listed
            if (ref is None or i["external_ref"] == ref) or (with_locked and i["locked"])
        ]
        for ident in list(self.locked):
            self.locked[ident] -= 1
            if self.locked[ident] <= 0:
                del self.locked[ident]
        if self.hide_from_lists:
            self.hide_from_lists -= 1
            found = []
        return httpx.Response(200, json={"ok": True, "data": found, "links": {"next": None}})

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        if self.region_full:
            error = {"code": "region_full", "message": f"{body['region']} is full"}
            return httpx.Response(200, json={"ok": False, "error": error})
        if any(
            i["external_ref"] == body["external_ref"] and i["id"] not in self.locked
            for i in self.instances.values()
        ):
            return httpx.Response(
                409, json={"ok": False, "error": {"code": "duplicate_external_ref"}}
            )
        self.creates += 1
        ident = f"i-{80 + self.creates}"
        self.instances[ident] = {
            "id": ident,
            **body,
            "state": "building",
            "ipv4": f"198.51.100.{self.creates}",
        }
        self.locked[ident] = self.create_task_lists
        return httpx.Response(201, json={"ok": True, "data": {"id": ident, "state": "building"}})

    def _change_state(self, instance: dict[str, Any], action: str) -> httpx.Response:
        wanted, conflict = {
            "suspend": ("suspended", "already_suspended"),
            "unsuspend": ("running", "not_suspended"),
        }[action]
        if instance["state"] == wanted:
            return httpx.Response(409, json={"ok": False, "error": {"code": conflict}})
        instance["state"] = wanted
        return httpx.Response(202, json={"ok": True, "data": {"state": wanted}})


PLUGIN = plugins.load_plugin(acmepanel(), 1)
FLOWS = Flows(PLUGIN, "acme-eu", BASE_URL, default_connection="acme-eu", max_calls=20)


@pytest.fixture
def panel() -> AcmePanel:
    return AcmePanel()


@pytest.fixture
async def client(panel: AcmePanel) -> AsyncIterator[UpstreamHttp]:
    # The connection exactly as the guide creates it: type http, X-Acme-Key from `api_key`.
    settings = {"auth": {"scheme": "header", "name": "X-Acme-Key", "secret": "api_key"}}
    async with FLOWS.client(
        httpx.MockTransport(panel.handle),
        secrets=[API_KEY],
        credentials=credentials_for("http", settings, {"api_key": API_KEY}),
    ) as http:
        yield http


def context(service: dict[str, Any] | None = None) -> dict[str, Any]:
    options = {"plan": "small-2g", "region": "eu-1", "poll_interval": 15}
    return {
        "order": {"id": 42, "hostname": "vps-42.example.test"},
        "options": options,
        "settings": options,
        "image": {"external_ref": "debian-12"},
        "service": service or {},
        "correlation_id": "42:provision",
    }


@pytest.mark.anyio
async def test_provision_creates_one_tagged_instance(
    panel: AcmePanel, client: UpstreamHttp
) -> None:
    done, _ = await FLOWS.drive(client, "provision", context())

    [instance] = panel.instances.values()
    assert instance["external_ref"] == "42:provision"
    assert (instance["name"], instance["plan"], instance["region"]) == (
        "vps-42.example.test",
        "small-2g",
        "eu-1",
    )
    assert done.output["service_data"] == {
        "external_id": instance["id"],
        "ip": instance["ipv4"],
        "state": "running",
    }
    assert client.recorder.last is not None
    assert client.recorder.last.request_headers["X-Correlation-Id"] == "42:provision"


@pytest.mark.anyio
async def test_provision_run_again_adopts_instead_of_creating(
    panel: AcmePanel, client: UpstreamHttp
) -> None:
    first, _ = await FLOWS.drive(client, "provision", context())
    second, _ = await FLOWS.drive(client, "provision", context())

    assert panel.creates == 1
    assert second.output["service_data"] == first.output["service_data"]
    assert "create" not in second.output["outputs"]


@pytest.mark.anyio
async def test_a_409_duplicate_is_adopted_through_refind(
    panel: AcmePanel, client: UpstreamHttp
) -> None:
    await FLOWS.drive(client, "provision", context())
    panel.hide_from_lists = 1  # our lookup misses it, so we try to create it again

    done, _ = await FLOWS.drive(client, "provision", context())

    assert panel.creates == 1
    assert "refind" in done.output["outputs"]
    assert done.output["service_data"]["external_id"] == "i-81"


@pytest.mark.anyio
async def test_a_retry_after_a_lost_answer_waits_for_the_locked_instance_instead_of_creating(
    panel: AcmePanel, client: UpstreamHttp
) -> None:
    panel.lose_next_answer = True
    with pytest.raises(errors.TransientUpstreamError):
        await FLOWS.drive(client, "provision", context())
    assert panel.creates == 1 and list(panel.locked) == ["i-81"]

    # The phase's retry runs the flow again from the start: `find` sees only a placeholder.
    done, calls = await FLOWS.drive(client, "provision", context())

    assert panel.creates == 1
    assert calls > 1  # it waited while the instance was locked
    assert "create" not in done.output["outputs"]
    assert done.output["service_data"]["external_id"] == "i-81"


@pytest.mark.anyio
async def test_an_instance_locked_for_too_long_fails_the_run_rather_than_doubling(
    panel: AcmePanel, client: UpstreamHttp
) -> None:
    panel.create_task_lists = 10**6
    panel.lose_next_answer = True
    with pytest.raises(errors.TransientUpstreamError):
        await FLOWS.drive(client, "provision", context())

    with pytest.raises(errors.PermanentUpstreamError, match="still being created after 1800s"):
        await FLOWS.drive(client, "provision", context(), max_calls=200)
    assert panel.creates == 1


@pytest.mark.anyio
async def test_a_full_region_is_capacity_not_failure(
    panel: AcmePanel, client: UpstreamHttp
) -> None:
    panel.region_full = True

    with pytest.raises(errors.CapacityExhausted, match="no room for small-2g in eu-1"):
        await FLOWS.drive(client, "provision", context())
    assert panel.instances == {}


@pytest.mark.anyio
async def test_suspend_unsuspend_and_terminate_are_idempotent(
    panel: AcmePanel, client: UpstreamHttp
) -> None:
    provisioned, _ = await FLOWS.drive(client, "provision", context())
    service = copy.deepcopy(provisioned.output["service_data"])

    for _ in range(2):
        done, _ = await FLOWS.drive(client, "suspend", context(service))
        assert done.output["service_data"] == {"suspended": True}
        assert panel.instances["i-81"]["state"] == "suspended"
    for _ in range(2):
        done, _ = await FLOWS.drive(client, "unsuspend", context(service))
        assert done.output["service_data"] == {"suspended": False}
        assert panel.instances["i-81"]["state"] == "running"
    for _ in range(2):
        done, _ = await FLOWS.drive(client, "terminate", context(service))
        assert done.output["service_data"] == {"terminated": True}
    assert panel.instances == {}


@pytest.mark.anyio
async def test_the_test_flow_passes_with_the_key_and_fails_without(
    panel: AcmePanel, client: UpstreamHttp
) -> None:
    connection = {"name": "acme-eu", "type": "http", "base_url": BASE_URL}
    probe = FlowProbe(PLUGIN, connection, now=START)

    assert await probe(client) == (True, "the plugin's test flow passed")
    assert client.recorder.last is not None
    assert client.recorder.last.url == BASE_URL + "instances?limit=1"
    assert probe.label == "plugin acmepanel@1, flow 'test'"

    async with FLOWS.client(httpx.MockTransport(panel.handle)) as keyless:
        with pytest.raises(errors.PermanentUpstreamError, match="HTTP 401"):
            await probe(keyless)
