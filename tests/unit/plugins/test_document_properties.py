"""Properties of loading a plugin: any document is loaded whole or refused with `InvalidFlow`.

Arbitrary JSON-ish documents, and the shipped plugins with random damage done to them,
never make the loader (`document`, `graph`, `check`) raise anything else or hang; a valid
document survives a round trip through its own dump.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fluxbilling import errors, plugins
from fluxbilling.plugins import check, document
from fluxbilling.plugins_builtin import builtin_plugin_paths
from tests.propertysupport import BOUNDED, json_bytes, json_values

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = [
    plugins.load_plugin_file(path)
    for path in [*builtin_plugin_paths(), ROOT / "docs" / "examples" / "acmepanel.json"]
]
NODE_TYPES = plugins.default_registry.names()
PORTS = ["ok", "error", "exists", "found", "missing", "true", "false", "nope"]
TEXT_KEYS = st.sampled_from(["format", "plugin", "flows", "nodes", "edges", "id", "type"]) | (
    st.text(max_size=8)
)


def load(doc: Any, *, strict: bool = True) -> plugins.LoadedPlugin | None:
    """The loaded plugin, or None when `InvalidFlow` refused it (anything else fails)."""
    try:
        return plugins.load_plugin(doc, version=1, strict=strict)
    except errors.InvalidFlow as exc:
        assert exc.details["problems"], exc.message
        assert all(set(p) == {"path", "message"} for p in exc.details["problems"])
        return None


@settings(BOUNDED, max_examples=200)
@given(
    doc=st.fixed_dictionaries(
        {},
        optional={
            "format": st.just(document.FORMAT) | st.text(max_size=5),
            "plugin": json_values(TEXT_KEYS),
            "flows": json_values(TEXT_KEYS),
        },
    )
    | st.dictionaries(TEXT_KEYS, json_values(TEXT_KEYS), max_size=5)
)
def test_arbitrary_documents_load_or_are_refused(doc: dict[str, Any]) -> None:
    load(doc)
    load(doc, strict=False)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location inside a JSON value, parents before children."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def damaged(draw: st.DrawFn) -> dict[str, Any]:
    """A shipped plugin with one to four random edits (replace, delete, rewire, retype, copy)."""
    doc: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(SHIPPED)))
    for _ in range(draw(st.integers(1, 4))):
        flows = doc.get("flows") if isinstance(doc.get("flows"), dict) else {}
        flow = flows.get(draw(st.sampled_from(sorted(flows)))) if flows else None
        nodes = flow.get("nodes") if isinstance(flow, dict) else None
        nodes = nodes if isinstance(nodes, list) and nodes else None
        ids = [n.get("id") for n in nodes or [] if isinstance(n, dict)] or ["x"]
        edit = draw(st.sampled_from(["set", "delete", "edge", "retype", "copy"]))
        if edit == "edge" and isinstance(flow, dict):
            endpoint = st.sampled_from(ids) | st.text(max_size=4)
            edge = {
                "from": draw(endpoint),
                "port": draw(st.sampled_from(PORTS)),
                "to": draw(endpoint),
            }
            edges = flow.get("edges")
            flow["edges"] = [*(edges if isinstance(edges, list) else []), edge]
        elif edit == "retype" and nodes:
            node = draw(st.sampled_from(nodes))
            if isinstance(node, dict):
                node["type"] = draw(st.sampled_from(NODE_TYPES) | st.text(max_size=5))
        elif edit == "copy" and nodes:
            nodes.append(copy.deepcopy(draw(st.sampled_from(nodes))))
        else:
            path = draw(st.sampled_from(_paths(doc)[1:]))
            parent = _parent(doc, path)
            if edit == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(json_values(TEXT_KEYS, max_leaves=4))
    return doc


@settings(BOUNDED, max_examples=200)
@given(doc=damaged())
def test_damaged_shipped_plugins_load_or_are_refused(doc: dict[str, Any]) -> None:
    loaded = load(doc)
    lenient = load(doc, strict=False)
    if loaded is not None:
        assert lenient is not None  # strict only adds problems
        again = load(loaded.document.model_dump(mode="json", by_alias=True))
        assert again is not None and again.document == loaded.document


IDS = st.builds(
    "{}{}".format, st.sampled_from(["n", "create", "find_", "Step", "_x"]), st.integers(0, 50)
)
STEPS = st.one_of(
    st.builds(
        lambda method, path: {"type": "http", "method": method, "path": path},
        st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
        st.sampled_from(["servers", "servers/1/start", "v2/tasks", "a"]),
    ),
    st.builds(
        lambda data: {"type": "set_service_data", "data": data},
        st.dictionaries(st.sampled_from(["ip", "id", "note"]), json_values(), max_size=3),
    ),
    st.builds(lambda s: {"type": "wait", "seconds": s}, st.integers(1, 3600)),
    st.builds(lambda v: {"type": "map", "value": v}, json_values()),
)


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A plugin built to be valid: one flow per declared capability, linear or chained edges."""
    flows: dict[str, Any] = {}
    capabilities = draw(
        st.lists(st.sampled_from(sorted(document.CAPABILITY_VERBS)), min_size=1, unique=True)
    )
    for verb in sorted({v for c in capabilities for v in document.CAPABILITY_VERBS[c]}):
        ids = draw(
            st.lists(IDS, min_size=1, max_size=6, unique=True).filter(lambda i: "start" not in i)
        )
        nodes = [{"id": "start", "type": "trigger"}] + [
            {"id": node_id, **draw(STEPS)} for node_id in ids
        ]
        flow: dict[str, Any] = {"nodes": nodes}
        if draw(st.booleans()):
            flow["edges"] = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
        flows[verb] = flow
    return {
        "format": document.FORMAT,
        "plugin": {
            "slug": draw(st.sampled_from(["acme", "a-1", "0panel"])),
            "type": "infrastructure-provider",
            "serviceType": draw(st.sampled_from(["vps", "shared", "game", "baremetal"])),
            "connectionType": "http",
            "capabilities": dict.fromkeys(capabilities, True),
        },
        "flows": flows,
    }


@settings(BOUNDED, max_examples=100)
@given(doc=valid_documents())
def test_a_valid_document_loads_and_round_trips(doc: dict[str, Any]) -> None:
    loaded = plugins.load_plugin(json.loads(json.dumps(doc)), version=1)
    assert loaded.warnings == ()
    dumped = loaded.document.model_dump(mode="json", by_alias=True)
    again = plugins.load_plugin(dumped, version=2)
    assert again.document == loaded.document
    assert again.document.model_dump(mode="json", by_alias=True) == dumped


@settings(BOUNDED, max_examples=60)
@given(content=json_bytes | damaged().map(lambda d: json.dumps(d).encode()))
def test_the_check_command_reports_never_raises(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plugin.json"
        path.write_bytes(content)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            status = check.main([str(path)])
    assert status in (0, 1)
    assert (status == 0) == out.getvalue().endswith("flows)\n")
