"""Plugin versions: register, dedupe, reject invalid documents whole, hot-load a folder, pin per order."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap, errors
from fluxbilling.db import schema
from fluxbilling.plugins import load_plugin_file
from fluxbilling.plugins.manager import PluginManager, document_sha256
from fluxbilling.plugins_builtin import builtin_plugin_paths
from fluxbilling_simulators.solusvm2 import SolusVM2State
from tests.integration.support import (
    drain,
    make_due,
    place_and_pay,
    poll_every,
    rows,
    run_of,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def solusvm2_document() -> dict[str, Any]:
    (path,) = [p for p in builtin_plugin_paths() if p.name == "solusvm2.json"]
    return load_plugin_file(path)


async def versions(inst: bootstrap.Installation, slug: str = "solusvm2") -> list[int]:
    table = schema.plugin_versions
    query = sa.select(table.c.version).where(table.c.slug == slug).order_by(table.c.version)
    return [r.version for r in await rows(inst, query)]


async def test_same_document_same_version_changed_document_next_version(
    installation: bootstrap.Installation,
) -> None:
    manager = installation.plugins
    document = solusvm2_document()
    assert (
        await manager.register(document, source="api")
    ).version == 1  # identical to the shipped one
    changed = copy.deepcopy(document)
    changed["plugin"]["description"] = "changed"
    assert (await manager.register(changed, source="api")).version == 2
    assert await versions(installation) == [1, 2]
    assert (await manager.get("solusvm2")).version == 2
    assert (await manager.get("solusvm2", 1)).document.plugin.model_dump().get(
        "description"
    ) != "changed"


async def test_an_invalid_document_is_rejected_whole(installation: bootstrap.Installation) -> None:
    broken = solusvm2_document()
    broken["flows"]["provision"]["nodes"][1]["type"] = "teleport"
    broken["flows"]["provision"]["edges"].append({"from": "wait", "port": "ok", "to": "nowhere"})
    with pytest.raises(errors.InvalidFlow) as caught:
        await installation.plugins.register(broken, source="api")
    paths = [p["path"] for p in caught.value.details["problems"]]
    assert "flows.provision.nodes[1].type" in paths
    assert any("nowhere" in p["message"] for p in caught.value.details["problems"])
    assert await versions(installation) == [1]


async def test_a_folder_is_hot_loaded_and_a_bad_save_keeps_the_last_good_version(
    installation: bootstrap.Installation, tmp_path: Path
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    manager = PluginManager(installation.db)
    document = solusvm2_document()
    document["plugin"]["slug"] = "acme"
    path = folder / "acme.json"
    path.write_text(json.dumps(document))
    assert [p.version for p in await manager.sync_folder(folder)] == [1]
    assert await manager.sync_folder(folder) == []  # unchanged file: nothing to do
    path.write_text("{ not json")
    assert await manager.sync_folder(folder) == []
    assert "invalid JSON at line 1" in manager.folder_errors[str(path)]
    document["plugin"]["description"] = "v2"
    path.write_text(json.dumps(document))
    assert [p.version for p in await manager.sync_folder(folder)] == [2]
    assert manager.folder_errors == {}


async def test_an_order_in_flight_finishes_on_the_version_it_started_with(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    sim.polls_until_started = 50
    await poll_every(installation, 3600)  # provisioning stays in flight at its first wait
    sim.polls_until_started = 50
    await poll_every(installation, 3600)  # provisioning stays in flight at its first wait
    order_id = await place_and_pay(installation, "pinned.example.com")
    await drain(installation)
    run = await run_of(installation, order_id)
    assert (run.phase, run.state) == ("provision", "queued")
    changed = solusvm2_document()
    changed["plugin"]["description"] = "v2"
    changed["flows"]["provision"]["nodes"][-1]["data"]["marker"] = "v2"
    assert (await installation.plugins.register(changed, source="api")).version == 2
    sim.polls_until_started = 0
    for server in sim.servers.values():
        server.update(status="started", is_processing=False)
    await make_due(installation, order_id)
    await drain(installation)
    (service,) = await rows(installation, sa.select(schema.services))
    assert service.plugin_version == 1
    assert "marker" not in service.service_data
    second = await place_and_pay(installation, "fresh.example.com")
    await drain(installation)
    services = await rows(
        installation, sa.select(schema.services).where(schema.services.c.order_id == second)
    )
    assert services[0].plugin_version == 2 and services[0].service_data["marker"] == "v2"


async def test_submit_says_whether_a_version_was_stored(
    installation: bootstrap.Installation,
) -> None:
    document = solusvm2_document()
    same = await installation.plugins.submit(document, source="api")
    assert (same.created, same.plugin.version) == (False, 1)
    document["plugin"]["description"] = "v2"
    stored = await installation.plugins.submit(document, source="api")
    assert (stored.created, stored.plugin.version) == (True, 2)
    assert await versions(installation) == [1, 2]


async def test_list_plugins_summarises_the_newest_version_of_each_slug(
    installation: bootstrap.Installation,
) -> None:
    manager = installation.plugins
    acme = solusvm2_document()
    acme["plugin"].update(slug="acme", name="Acme v1")
    await manager.register(acme, source="api")
    acme["plugin"].update(name="Acme v2", serviceType="game")
    del acme["plugin"]["capabilities"]["canReinstall"]
    await manager.register(acme, source="file:acme.json")
    summaries = {s.newest.slug: s for s in await manager.list_plugins()}
    shipped_slugs = {path.stem for path in builtin_plugin_paths()}
    assert sorted(summaries) == sorted({"acme"} | shipped_slugs)
    newest = summaries["acme"]
    assert (newest.newest.version, newest.versions, newest.newest.source) == (
        2,
        2,
        "file:acme.json",
    )
    assert (newest.name, newest.service_type) == ("Acme v2", "game")
    expected = {k: v for k, v in solusvm2_document()["plugin"]["capabilities"].items()}
    del expected["canReinstall"]
    assert newest.capabilities == expected
    assert newest.newest.created_at.tzinfo is not None
    shipped = summaries["solusvm2"]
    assert (shipped.newest.version, shipped.versions, shipped.name) == (1, 1, "SolusVM 2")
    assert shipped.newest.source == "file:solusvm2.json"


async def test_versions_are_listed_newest_first_and_old_documents_stay_readable(
    installation: bootstrap.Installation,
) -> None:
    manager = installation.plugins
    original = solusvm2_document()
    changed = copy.deepcopy(original)
    changed["plugin"]["description"] = "v2"
    await manager.register(changed, source="api")
    listed = await manager.versions("solusvm2")
    assert [(v.version, v.source) for v in listed] == [(2, "api"), (1, "file:solusvm2.json")]
    assert listed[0].sha256 == document_sha256(changed)
    assert listed[1].sha256 == document_sha256(original)
    first = await manager.document("solusvm2", 1)
    assert first.document == original
    assert (first.info.version, first.info.sha256) == (1, listed[1].sha256)
    assert (await manager.document("solusvm2", 2)).document["plugin"]["description"] == "v2"


async def test_unknown_slugs_and_versions_are_not_found(
    installation: bootstrap.Installation,
) -> None:
    with pytest.raises(errors.NotFound, match="no plugin 'nope'"):
        await installation.plugins.versions("nope")
    with pytest.raises(errors.NotFound, match="solusvm2@7 does not exist"):
        await installation.plugins.document("solusvm2", 7)


async def test_a_plugin_file_saved_while_orders_are_in_flight_only_changes_new_orders(
    installation: bootstrap.Installation, sim: SolusVM2State, tmp_path: Path
) -> None:
    """Hot-load from the watched folder mid-order: the order in flight keeps its version."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    sim.polls_until_started = 50
    await poll_every(installation, 3600)  # provisioning stays in flight at its first wait
    first = await place_and_pay(installation, "inflight-1.example.com")
    await drain(installation)
    assert (await run_of(installation, first)).phase == "provision"  # pinned, waiting

    edited = solusvm2_document()
    edited["flows"]["provision"]["nodes"][-1]["data"]["generation"] = "saved-on-disk"
    (folder / "solusvm2.json").write_text(json.dumps(edited))
    [loaded] = await installation.plugins.sync_folder(folder)  # what `serve --plugin-dir` runs
    assert (loaded.slug, loaded.version) == ("solusvm2", 2)

    second = await place_and_pay(installation, "inflight-2.example.com")
    await poll_every(installation, 0.01)
    sim.polls_until_started = 0
    for server in sim.servers.values():
        server.update(status="started", is_processing=False)
    for order_id in (first, second):
        await make_due(installation, order_id)
    await drain(installation)
    by_order = {s.order_id: s for s in await rows(installation, sa.select(schema.services))}
    assert by_order[first].plugin_version == 1
    assert "generation" not in by_order[first].service_data
    assert by_order[second].plugin_version == 2
    assert by_order[second].service_data["generation"] == "saved-on-disk"
    assert {(await run_of(installation, o)).state for o in (first, second)} == {"completed"}
