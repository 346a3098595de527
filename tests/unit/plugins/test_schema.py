"""The published JSON Schema: current in the repo, valid, accepting real plugins, rejecting bad ones."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema.exceptions import best_match
from pydantic import create_model

from fluxbilling import errors, plugins
from fluxbilling.plugins import schema
from fluxbilling.plugins.nodes import NodeParams, NodeRegistry, NodeResult, NodeRun, node_type
from fluxbilling.plugins_builtin import builtin_plugin_paths

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT / "docs" / "plugin-format.schema.json"
REGENERATE = "python -m fluxbilling.plugins.schema > docs/plugin-format.schema.json"

REFERENCE: dict[str, Any] = {
    "format": "fluxbilling-visual-plugin",
    "plugin": {
        "slug": "solusvm2-provider",
        "type": "infrastructure-provider",
        "serviceType": "vps",
        "capabilities": {
            "canProvision": True,
            "canSuspend": True,
            "canTerminate": True,
            "canReinstall": True,
            "canConsole": True,
            "canGetStats": True,
        },
    },
    "flows": {
        "provision": {
            "nodes": [
                {"id": "start", "type": "trigger"},
                {
                    "id": "create_vm",
                    "type": "http",
                    "connection": "solusvm2-api",
                    "method": "POST",
                    "path": "/servers/projects/{{project}}/servers",
                    "body": {"plan": "{{plan_id}}", "location": "{{location}}"},
                },
                {"id": "persist", "type": "set_service_data"},
            ]
        }
    },
}
"""The example document of the product page."""


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema.format_schema())


def errors_of(validator: jsonschema.Draft202012Validator, doc: Any) -> list[tuple[str, str]]:
    return sorted(
        (".".join(str(p) for p in error.absolute_path), error.message)
        for error in validator.iter_errors(doc)
    )


def first_problem(validator: jsonschema.Draft202012Validator, doc: Any) -> str | None:
    """Where the most relevant error is (inside `anyOf` branches too), or None when valid."""
    found = best_match(validator.iter_errors(doc))
    return None if found is None else ".".join(str(p) for p in found.absolute_path)


def reference_with(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(REFERENCE)
    doc["flows"]["provision"]["nodes"][1].update(changes)
    return doc


def test_the_committed_schema_is_current() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == schema.format_schema_json(), (
        f"{SCHEMA_FILE.relative_to(ROOT)} is stale; regenerate it with `{REGENERATE}`"
    )


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    generated = schema.format_schema()

    jsonschema.Draft202012Validator.check_schema(generated)
    assert generated["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert generated["$id"] == schema.SCHEMA_ID
    assert generated["title"] and generated["description"]


def test_the_schema_covers_every_verb_and_node_type() -> None:
    generated = schema.format_schema()

    flows = generated["properties"]["flows"]["properties"]
    assert sorted(flows) == sorted(plugins.document.FLOW_NAMES)
    assert flows["test"]["title"] == "Connection test"
    node = generated["$defs"]["Node"]
    assert node["properties"]["type"]["enum"] == plugins.default_registry.names()
    chosen = [choice["if"]["properties"]["type"]["const"] for choice in node["allOf"]]
    assert chosen == plugins.default_registry.names()
    for name in chosen:
        assert generated["$defs"][f"node.{name}"]["properties"]["type"] == {
            "const": name,
            "title": "Type",
        }


@pytest.mark.parametrize("path", builtin_plugin_paths(), ids=lambda p: p.name)
def test_every_shipped_plugin_validates(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    assert errors_of(validator, plugins.load_plugin_file(path)) == []


def test_shipped_plugins_are_found() -> None:
    assert "solusvm2.json" in {p.name for p in builtin_plugin_paths()}


def test_the_reference_document_validates(validator: jsonschema.Draft202012Validator) -> None:
    assert errors_of(validator, REFERENCE) == []


def test_the_reference_document_loads_as_a_draft_only() -> None:
    """The schema checks shape; capabilities without their flows are refused only on save."""
    draft = plugins.load_plugin(REFERENCE, 1, strict=False)

    assert {w.path for w in draft.warnings} >= {"plugin.capabilities.canSuspend"}
    with pytest.raises(errors.InvalidFlow):
        plugins.load_plugin(REFERENCE, 1)


def test_an_unknown_node_type_fails(validator: jsonschema.Draft202012Validator) -> None:
    found = errors_of(validator, reference_with(type="ftp"))

    assert len(found) == 1
    assert found[0][0] == "flows.provision.nodes.1.type"
    assert "'ftp' is not one of" in found[0][1]


def test_an_http_node_without_path_fails(validator: jsonschema.Draft202012Validator) -> None:
    doc = reference_with()
    del doc["flows"]["provision"]["nodes"][1]["path"]

    assert errors_of(validator, doc) == [
        ("flows.provision.nodes.1", "'path' is a required property")
    ]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"bogus": 1}, "flows.provision.nodes.1"),
        ({"method": "FETCH"}, "flows.provision.nodes.1.method"),
        ({"id": "2fast"}, "flows.provision.nodes.1.id"),
        ({"retry": {"max_attempts": 0}}, "flows.provision.nodes.1.retry.max_attempts"),
        ({"classify": [{"status": 200}]}, "flows.provision.nodes.1.classify.0"),
    ],
)
def test_bad_node_parameters_fail_in_the_schema_and_the_loader(
    change: dict[str, Any], where: str, validator: jsonschema.Draft202012Validator
) -> None:
    doc = reference_with(**change)

    assert first_problem(validator, doc) == where
    with pytest.raises(errors.InvalidFlow):
        plugins.load_plugin(doc, 1, strict=False)


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["flows"].update(deploy=d["flows"]["provision"]), "flows"),
        (lambda d: d["plugin"]["capabilities"].update(canFly=True), "plugin.capabilities"),
        (lambda d: d["plugin"].update(connectionType="ftp"), "plugin.connectionType"),
        (lambda d: d["plugin"].update(settings={"type": "objectish"}), "plugin.settings.type"),
        (lambda d: d["plugin"].update(serviceType="mainframe"), "plugin.serviceType"),
        (lambda d: d.update(format="something-else"), "format"),
        (
            lambda d: d["flows"]["provision"]["nodes"][2].update(on_error="route"),
            "flows.provision.nodes.2.on_error",
        ),
        (
            lambda d: d["flows"]["provision"].update(
                edges=[{"from": "a", "port": "up", "to": "b"}]
            ),
            "flows.provision.edges.0.port",
        ),
    ],
)
def test_bad_documents_fail_in_the_schema_and_the_loader(
    mutate: Any, where: str, validator: jsonschema.Draft202012Validator
) -> None:
    doc = copy.deepcopy(REFERENCE)
    mutate(doc)

    assert first_problem(validator, doc) == where
    with pytest.raises(errors.InvalidFlow):
        plugins.load_plugin(doc, 1, strict=False)


def test_route_is_allowed_where_there_is_an_error_port(
    validator: jsonschema.Draft202012Validator,
) -> None:
    assert errors_of(validator, reference_with(on_error="route")) == []


def _params_with_opts(field: str, kind: type) -> type[NodeParams]:
    """A parameter model whose nested models are called `Opts` and `Wrapper`, like another's."""
    opts = create_model("Opts", **{field: (kind, ...)})  # type: ignore[call-overload]
    wrapper = create_model("Wrapper", inner=(opts, ...))
    return create_model(
        "Params", __base__=NodeParams, opts=(opts, ...), wrapped=(wrapper | None, None)
    )


def test_clashing_definitions_of_node_types_are_kept_apart() -> None:
    registry = NodeRegistry()

    async def run(params: NodeParams, run: NodeRun) -> NodeResult:
        return NodeResult()

    node_type("a", params=_params_with_opts("size", int), registry=registry)(run)
    node_type("b", params=_params_with_opts("colour", str), registry=registry)(run)
    generated = schema.format_schema(registry)
    validator = jsonschema.Draft202012Validator(generated)

    defs = generated["$defs"]
    assert sorted(k for k in defs if k.startswith(("Opts", "Wrapper"))) == [
        "Opts",
        "Opts.b",
        "Wrapper",
        "Wrapper.b",  # identical text, but it refers to the renamed Opts
    ]
    assert defs["node.b"]["properties"]["opts"] == {"$ref": "#/$defs/Opts.b"}
    assert defs["Wrapper.b"]["properties"]["inner"] == {"$ref": "#/$defs/Opts.b"}

    def doc(node: dict[str, Any]) -> dict[str, Any]:
        flow = {"nodes": [{"id": "start", "type": "a", "opts": {"size": 1}}, node]}
        return {**REFERENCE, "flows": {"provision": flow}}

    good = {
        "id": "n",
        "type": "b",
        "opts": {"colour": "red"},
        "wrapped": {"inner": {"colour": "x"}},
    }
    assert errors_of(validator, doc(good)) == []
    assert errors_of(validator, doc({**good, "opts": {"size": 1}})) != []
    assert errors_of(validator, doc({**good, "wrapped": {"inner": {"size": 1}}})) != []


def test_identical_definitions_are_shared() -> None:
    defs = schema.format_schema()["$defs"]

    assert "PathCheck" in defs
    assert not [k for k in defs if k.startswith("PathCheck.")]


def test_main_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert schema.main() == 0

    printed = capsys.readouterr().out
    assert printed == schema.format_schema_json()
    assert printed.endswith("}\n")
    assert json.loads(printed) == schema.format_schema()
