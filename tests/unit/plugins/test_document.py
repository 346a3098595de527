"""The plugin document models: the reference document loads, shapes are enforced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fluxbilling import errors, plugins
from fluxbilling.plugins.document import PluginDocument

REFERENCE = (
    '{"format":"fluxbilling-visual-plugin","plugin":{"slug":"solusvm2-provider",'
    '"type":"infrastructure-provider","serviceType":"vps","capabilities":{"canProvision":true,'
    '"canSuspend":true,"canTerminate":true,"canReinstall":true,"canConsole":true,'
    '"canGetStats":true}},"flows":{"provision":{"nodes":[{"id":"start","type":"trigger"},'
    '{"id":"create_vm","type":"http","connection":"solusvm2-api","method":"POST",'
    '"path":"/servers/projects/{{project}}/servers","body":{"plan":"{{plan_id}}",'
    '"location":"{{location}}"}},{"id":"persist","type":"set_service_data"}]}}}'
)


def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE)
    return data


def test_the_reference_document_loads_as_written_with_warnings_for_missing_flows() -> None:
    plugin = plugins.load_plugin(reference(), version=1, strict=False)

    assert (plugin.slug, plugin.version) == ("solusvm2-provider", 1)
    assert plugin.document.plugin.service_type == "vps"
    assert [n.id for n in plugin.flow("provision").nodes] == ["start", "create_vm", "persist"]
    assert plugin.flow("provision").linear
    warned = {(w.path, w.message.split()[-2]) for w in plugin.warnings}
    assert ("plugin.capabilities.canSuspend", "'unsuspend'") in warned
    assert ("plugin.capabilities.canGetStats", "'stats'") in warned
    assert not any(w.path == "plugin.capabilities.canProvision" for w in plugin.warnings)


def test_node_params_keep_extra_fields() -> None:
    document = PluginDocument.model_validate(reference())
    node = document.flows["provision"].nodes[1]
    assert node.params["method"] == "POST"
    assert node.params["body"] == {"plan": "{{plan_id}}", "location": "{{location}}"}


def test_saving_requires_a_flow_for_every_declared_capability() -> None:
    with pytest.raises(errors.InvalidFlow) as caught:
        plugins.load_plugin(reference(), version=1)
    problems = caught.value.details["problems"]
    assert {
        "path": "plugin.capabilities.canConsole",
        "message": ("declared but there is no 'console' flow"),
    } in problems
    assert len(problems) == 6  # suspend, unsuspend, terminate, reinstall, console, stats


def test_a_missing_flow_is_an_error_when_asked_for() -> None:
    plugin = plugins.load_plugin(reference(), version=1, strict=False)
    with pytest.raises(errors.InvalidFlow, match="no 'suspend' flow"):
        plugin.flow("suspend")


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.update(format="other"), "format"),
        (lambda d: d["plugin"].update(serviceType="fridge"), "plugin.serviceType"),
        (lambda d: d["plugin"].update(slug="Bad Slug"), "plugin.slug"),
        (
            lambda d: d["flows"]["provision"]["nodes"][1].update(id="bad id"),
            "flows.provision.nodes[1].id",
        ),
        (lambda d: d["flows"]["provision"].update(nodes=[]), "flows.provision.nodes"),
    ],
)
def test_shape_problems_are_located(change: Any, path: str) -> None:
    document = reference()
    change(document)
    with pytest.raises(errors.InvalidFlow) as caught:
        plugins.load_plugin(document, version=1)
    assert path in [p["path"] for p in caught.value.details["problems"]]


def test_python_field_names_are_refused_like_the_schema_does() -> None:
    document = reference()
    document["plugin"]["service_type"] = document["plugin"].pop("serviceType")
    document["flows"]["provision"]["edges"] = [{"from_": "start", "to": "create_vm"}]

    with pytest.raises(errors.InvalidFlow) as caught:
        plugins.load_plugin(document, version=1, strict=False)

    paths = {p["path"] for p in caught.value.details["problems"]}
    assert {"plugin.serviceType", "plugin.service_type"} <= paths
    assert "flows.provision.edges[0].from_" in paths


def test_version_must_be_positive() -> None:
    with pytest.raises(errors.InvalidFlow, match="version"):
        plugins.load_plugin(reference(), version=0)


def test_load_plugin_file_reports_bad_json(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(REFERENCE, encoding="utf-8")
    assert plugins.load_plugin_file(good) == reference()

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": ', encoding="utf-8")
    with pytest.raises(errors.InvalidFlow, match="invalid JSON at line 1"):
        plugins.load_plugin_file(bad)

    array = tmp_path / "array.json"
    array.write_text("[]", encoding="utf-8")
    with pytest.raises(errors.InvalidFlow, match="expected a JSON object"):
        plugins.load_plugin_file(array)

    with pytest.raises(errors.InvalidFlow, match="cannot read"):
        plugins.load_plugin_file(tmp_path / "absent.json")


def test_load_plugin_file_refuses_files_too_large_deep_or_not_utf8(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    with pytest.raises(errors.InvalidFlow, match="plugin file larger than 2 MiB"):
        plugins.load_plugin_file(big)

    deep = tmp_path / "deep.json"
    deep.write_bytes(b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
    with pytest.raises(errors.InvalidFlow, match="JSON nested deeper than 64 levels") as caught:
        plugins.load_plugin_file(deep)
    assert caught.value.details["problems"] == [
        {"path": "", "message": "JSON nested deeper than 64 levels"}
    ]

    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"name": "Caf\u00e9"}'.encode("latin-1"))
    with pytest.raises(errors.InvalidFlow, match="not UTF-8"):
        plugins.load_plugin_file(latin1)
