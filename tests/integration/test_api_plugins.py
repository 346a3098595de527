"""The plugin API: list, register (whole-document validation), versions, diff and the schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling.plugins import load_plugin_file
from fluxbilling.plugins import schema as plugin_schema
from fluxbilling.plugins.manager import document_sha256
from fluxbilling.plugins_builtin import builtin_plugin_paths
from tests.integration.support import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

AUTH = {"Authorization": "Bearer test-api-token"}


def shipped() -> dict[str, Any]:
    (path,) = [p for p in builtin_plugin_paths() if p.name == "solusvm2.json"]
    return load_plugin_file(path)


async def stored_versions(inst: bootstrap.Installation) -> list[tuple[str, int]]:
    """Versions of every plugin but the other shipped ones (which tests here never change)."""
    others = {path.stem for path in builtin_plugin_paths()} - {"solusvm2"}
    table = schema.plugin_versions
    found = await rows(inst, sa.select(table.c.slug, table.c.version).order_by(table.c.id))
    return [(r.slug, r.version) for r in found if r.slug not in others]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
async def test_every_plugin_endpoint_needs_the_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for method, path in (
        ("GET", "/api/v1/plugins"),
        ("POST", "/api/v1/plugins"),
        ("GET", "/api/v1/plugins/schema"),
        ("GET", "/api/v1/plugins/solusvm2/versions"),
        ("GET", "/api/v1/plugins/solusvm2/versions/1"),
        ("GET", "/api/v1/plugins/solusvm2/diff?from=1&to=1"),
    ):
        response = await client.request(method, path, headers=headers, json=shipped())
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "HTTPError"


async def test_list_shows_the_newest_version_of_each_plugin_and_rejected_files(
    installation: bootstrap.Installation, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "broken.json").write_text("[1, 2]")
    await installation.plugins.sync_folder(folder)
    changed = shipped()
    changed["plugin"]["name"] = "SolusVM 2 (edited)"
    assert (await client.post("/api/v1/plugins", json=changed, headers=AUTH)).status_code == 201
    listed = (await client.get("/api/v1/plugins", headers=AUTH)).json()
    assert sorted(i["slug"] for i in listed["items"]) == sorted(
        path.stem for path in builtin_plugin_paths()
    )
    (item,) = [i for i in listed["items"] if i["slug"] == "solusvm2"]
    created_at = item.pop("created_at")
    assert item == {
        "slug": "solusvm2",
        "version": 2,
        "name": "SolusVM 2 (edited)",
        "serviceType": "vps",
        "capabilities": shipped()["plugin"]["capabilities"],
        "versions": 2,
        "source": "api",
    }
    assert created_at.startswith("20")
    assert listed["folder_errors"] == [
        {
            "file": str(folder / "broken.json"),
            "message": f"{folder / 'broken.json'}: expected a JSON object, got list",
        }
    ]


async def test_register_stores_a_new_version_or_reports_it_unchanged(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    same = await client.post("/api/v1/plugins", json=shipped(), headers=AUTH)
    assert same.status_code == 200
    assert same.json() == {"slug": "solusvm2", "version": 1, "unchanged": True, "warnings": []}
    changed = shipped()
    del changed["plugin"]["capabilities"]["canReinstall"]  # the reinstall flow stays
    created = await client.post("/api/v1/plugins", json=changed, headers=AUTH)
    assert created.status_code == 201
    assert created.json() == {
        "slug": "solusvm2",
        "version": 2,
        "unchanged": False,
        "warnings": [{"path": "flows.reinstall", "message": "no capability declares this flow"}],
    }
    again = await client.post("/api/v1/plugins", json=changed, headers=AUTH)
    assert (again.status_code, again.json()["version"], again.json()["unchanged"]) == (200, 2, True)
    assert await stored_versions(installation) == [("solusvm2", 1), ("solusvm2", 2)]


async def test_an_invalid_document_is_422_with_each_problem_and_stores_nothing(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    broken = shipped()
    broken["plugin"]["description"] = "would be version 2"
    broken["flows"]["provision"]["nodes"][2]["type"] = "teleport"
    broken["flows"]["provision"]["edges"].append({"from": "wait", "port": "ok", "to": "nowhere"})
    broken["plugin"]["connectionType"] = "carrier-pigeon"
    response = await client.post("/api/v1/plugins", json=broken, headers=AUTH)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "InvalidFlow"
    problems = {p["path"]: p["message"] for p in error["details"]["problems"]}
    assert problems["flows.provision.nodes[2].type"].startswith("unknown node type 'teleport'")
    assert problems["plugin.connectionType"].startswith("unknown connection type 'carrier-pigeon'")
    edge = f"flows.provision.edges[{len(broken['flows']['provision']['edges']) - 1}].to"
    assert problems[edge] == "dangling edge: no node 'nowhere'"
    assert "flows.provision.nodes[2].type" in error["message"]
    assert await stored_versions(installation) == [("solusvm2", 1)]
    listed = (await client.get("/api/v1/plugins/solusvm2/versions", headers=AUTH)).json()
    assert [v["version"] for v in listed] == [1]


async def test_ten_problems_next_to_an_unknown_top_level_key_are_all_answered(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    broken = shipped()
    broken["colour"] = "blue"  # on main this one hid all the others
    broken["plugin"]["connectionType"] = "carrier-pigeon"
    broken["plugin"]["capabilities"]["canTeleport"] = True
    nodes = broken["flows"]["provision"]["nodes"]
    nodes[1]["methd"] = "GET"
    nodes[2]["type"] = "teleport"
    nodes[3]["path"] = "servers/{{create.id | shout}}"
    nodes[4]["id"] = "order"
    broken["flows"]["provision"]["edges"].append({"from": "nowhere", "to": nodes[1]["id"]})
    broken["flows"]["explode"] = {"nodes": [{"id": "start", "type": "trigger"}]}
    broken["flows"]["suspend"]["nodes"].append({"type": "done"})

    response = await client.post("/api/v1/plugins", json=broken, headers=AUTH)

    assert response.status_code == 422
    problems = response.json()["error"]["details"]["problems"]
    paths = [p["path"] for p in problems]
    last_edge = len(broken["flows"]["provision"]["edges"]) - 1
    suspend_end = len(broken["flows"]["suspend"]["nodes"]) - 1
    assert {
        "colour",
        "plugin.connectionType",
        "plugin.capabilities.canTeleport",
        "flows.explode",
        "flows.provision.nodes[1].methd",
        "flows.provision.nodes[2].type",
        "flows.provision.nodes[3].path",
        "flows.provision.nodes[4].id",
        f"flows.provision.edges[{last_edge}].from",
        f"flows.suspend.nodes[{suspend_end}].id",
    } <= set(paths)
    assert "unknown filter 'shout'" in json.dumps(problems)
    assert await stored_versions(installation) == [("solusvm2", 1)]


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({}, ["format", "plugin"]),
        ({"format": "something-else", "plugin": {}, "flows": {}}, ["format", "plugin.slug"]),
        ([1, 2], ["body"]),
    ],
)
async def test_malformed_documents_name_their_paths(
    installation: bootstrap.Installation,
    client: httpx.AsyncClient,
    body: Any,
    paths: list[str],
) -> None:
    response = await client.post("/api/v1/plugins", json=body, headers=AUTH)
    assert response.status_code == 422
    found = [p["path"] for p in response.json()["error"]["details"]["problems"]]
    assert all(path in found for path in paths), found
    assert await stored_versions(installation) == [("solusvm2", 1)]


async def test_versions_newest_first_and_old_documents_stay_readable(
    client: httpx.AsyncClient,
) -> None:
    original = shipped()
    changed = shipped()
    changed["plugin"]["description"] = "v2"
    assert (await client.post("/api/v1/plugins", json=changed, headers=AUTH)).status_code == 201
    listed = (await client.get("/api/v1/plugins/solusvm2/versions", headers=AUTH)).json()
    assert [(v["version"], v["sha256"], v["source"]) for v in listed] == [
        (2, document_sha256(changed), "api"),
        (1, document_sha256(original), "file:solusvm2.json"),
    ]
    first = (await client.get("/api/v1/plugins/solusvm2/versions/1", headers=AUTH)).json()
    assert first["document"] == original
    assert (first["slug"], first["version"], first["source"]) == (
        "solusvm2",
        1,
        "file:solusvm2.json",
    )
    assert first["created_at"] == listed[1]["created_at"]
    second = (await client.get("/api/v1/plugins/solusvm2/versions/2", headers=AUTH)).json()
    assert second["document"]["plugin"]["description"] == "v2"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/plugins/nope/versions", "no plugin 'nope' is registered"),
        ("/api/v1/plugins/solusvm2/versions/9", "plugin solusvm2@9 does not exist"),
        ("/api/v1/plugins/solusvm2/diff?from=1&to=9", "plugin solusvm2@9 does not exist"),
    ],
)
async def test_unknown_plugins_and_versions_are_404(
    client: httpx.AsyncClient, path: str, message: str
) -> None:
    response = await client.get(path, headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"
    assert response.json()["error"]["message"] == message


async def test_diff_lists_structural_changes_and_a_text_diff(client: httpx.AsyncClient) -> None:
    changed = shipped()
    nodes = changed["flows"]["provision"]["nodes"]
    assert [n["id"] for n in nodes[3:5]] == ["refind", "name_taken"]
    nodes[3], nodes[4] = nodes[4], nodes[3]  # move a node (edges name ids, so still valid)
    old_path = nodes[5]["path"]
    nodes[5]["path"] = "servers/{{create.id}}"
    assert (await client.post("/api/v1/plugins", json=changed, headers=AUTH)).status_code == 201
    response = await client.get(
        "/api/v1/plugins/solusvm2/diff", params={"from": 1, "to": 2}, headers=AUTH
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["slug"], body["from_version"], body["to_version"]) == ("solusvm2", 1, 2)
    ids = [n["id"] for n in shipped()["flows"]["provision"]["nodes"]]
    assert body["changes"] == [
        {
            "op": "replace",
            "path": "flows.provision.nodes[5].path",
            "from": old_path,
            "to": "servers/{{create.id}}",
        },
        {
            "op": "replace",
            "path": "flows.provision.nodes",
            "from": ids,
            "to": [n["id"] for n in nodes],
        },
    ]
    lines = body["text"].splitlines()
    assert lines[:2] == ["--- solusvm2@1", "+++ solusvm2@2"]
    assert '+          "path": "servers/{{create.id}}",' in lines
    assert f'-          "path": {json.dumps(old_path)},' in lines
    back = (await client.get("/api/v1/plugins/solusvm2/diff?from=2&to=1", headers=AUTH)).json()
    assert [c["path"] for c in back["changes"]] == [c["path"] for c in body["changes"]]
    same = (await client.get("/api/v1/plugins/solusvm2/diff?from=1&to=1", headers=AUTH)).json()
    assert (same["changes"], same["text"]) == ([], "")


async def test_diff_needs_both_versions(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/plugins/solusvm2/diff?from=1", headers=AUTH)
    assert response.status_code == 422
    problems = response.json()["error"]["details"]["problems"]
    assert [p["path"] for p in problems] == ["query.to"]


async def test_schema_is_the_plugin_format_schema(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/plugins/schema", headers=AUTH)
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(plugin_schema.format_schema()))
    assert response.json()["$id"] == plugin_schema.SCHEMA_ID


async def test_openapi_documents_the_plugin_endpoints(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    for path in (
        "/api/v1/plugins",
        "/api/v1/plugins/schema",
        "/api/v1/plugins/{slug}/versions",
        "/api/v1/plugins/{slug}/versions/{version}",
        "/api/v1/plugins/{slug}/diff",
    ):
        assert path in paths, path
    assert set(paths["/api/v1/plugins"]["post"]["responses"]) >= {"200", "201", "422"}
    components = document["components"]["schemas"]
    assert "serviceType" in components["PluginOut"]["properties"]
    assert {"from", "to"} <= set(components["ChangeOut"]["properties"])
    diff_params = {p["name"] for p in paths["/api/v1/plugins/{slug}/diff"]["get"]["parameters"]}
    assert diff_params == {"slug", "from", "to"}


async def test_a_registered_document_is_stored_exactly_as_sent(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    changed = copy.deepcopy(shipped())
    changed["plugin"]["slug"] = "acme"
    changed["flows"]["provision"]["nodes"][1]["label"] = "Ünïcode label"
    response = await client.post("/api/v1/plugins", json=changed, headers=AUTH)
    assert response.status_code == 201
    assert response.json()["version"] == 1
    stored = (await client.get("/api/v1/plugins/acme/versions/1", headers=AUTH)).json()
    assert stored["document"] == changed
    assert stored["sha256"] == document_sha256(changed)
    assert (await installation.plugins.get("acme")).version == 1


async def test_validate_answers_the_warnings_of_a_valid_document_and_stores_nothing(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    draft = shipped()
    draft["plugin"]["description"] = "a draft, never saved"
    draft["flows"]["reinstall"] = copy.deepcopy(draft["flows"]["provision"])
    draft["plugin"]["capabilities"].pop("canReinstall", None)
    response = await client.post("/api/v1/plugins/validate", json=draft, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {
        "problems": [],
        "warnings": [{"path": "flows.reinstall", "message": "no capability declares this flow"}],
    }
    assert await stored_versions(installation) == [("solusvm2", 1)]


async def test_validate_names_every_problem_as_a_save_would(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    broken = shipped()
    broken["flows"]["provision"]["nodes"][2]["type"] = "teleport"
    broken["flows"]["provision"]["edges"].append({"from": "wait", "port": "ok", "to": "nowhere"})
    broken["plugin"]["colour"] = "blue"
    validated = await client.post("/api/v1/plugins/validate", json=broken, headers=AUTH)
    saved = await client.post("/api/v1/plugins", json=broken, headers=AUTH)
    assert validated.status_code == saved.status_code == 422
    problems = validated.json()["error"]["details"]["problems"]
    assert problems == saved.json()["error"]["details"]["problems"]
    paths = {p["path"] for p in problems}
    edge = f"flows.provision.edges[{len(broken['flows']['provision']['edges']) - 1}].to"
    assert {
        "flows.provision.nodes[2].type",
        "plugin.colour",
        edge,
    } <= paths
    assert await stored_versions(installation) == [("solusvm2", 1)]


@pytest.mark.parametrize("body", [[1, 2], "text", {"format": 1}])
async def test_validate_refuses_what_is_not_a_document(
    client: httpx.AsyncClient, body: Any
) -> None:
    response = await client.post("/api/v1/plugins/validate", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["problems"]


async def test_validate_needs_a_credential(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/plugins/validate", json=shipped())
    assert response.status_code == 401
