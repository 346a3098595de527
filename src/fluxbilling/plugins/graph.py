"""Load-time validation of a visual plugin: a document either loads whole or is rejected.

`load_plugin` turns a parsed document into a `LoadedPlugin` or raises `errors.InvalidFlow`
whose `details["problems"]` lists every problem found as `{"path", "message"}`, with paths
such as `flows.provision.nodes[2].type`. Checked here:

- the document shape (pydantic) and each node's parameters against its node type;
- unknown node types, duplicate or reserved node ids, template syntax;
- exactly one `trigger` per flow (first in list order when the flow has no edges);
- edges: dangling ends, unknown ports, a port wired twice, unwired branch ports;
- nodes unreachable from the trigger;
- loops that never wait: every cycle of edges must pass through a node type that may
  suspend the flow (`poll`, `wait`), or the flow would hammer the upstream in one step
  (a warning only when a stored version is read back, `strict=False`: it stays runnable,
  and the interpreter's request budget bounds it);
- capabilities without their flow, unknown connection types, a settings schema that is
  not a JSON Schema; flows no capability declares (a warning only; the `test` flow needs
  none, and its nodes may not name another connection).

Routing rules the interpreter relies on: a flow without `edges` runs its nodes in list order
and may not contain branching nodes; a flow with `edges` starts at the trigger, follows the
edge of the port a node fired (`exists` falls back to `ok`) and ends at a node with no
outgoing edges.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import ValidationError

from fluxbilling import errors, limits
from fluxbilling.drivers.connection_types import CONNECTION_TYPES
from fluxbilling.jsontypes import JsonObject
from fluxbilling.plugins import templating
from fluxbilling.plugins.document import (
    CAPABILITY_VERBS,
    FLOW_NAMES,
    RESERVED_NAMES,
    TEST_FLOW,
    Flow,
    Node,
    PluginDocument,
    PluginHeader,
)
from fluxbilling.plugins.nodes import NodeParams, NodeRegistry, default_registry

__all__ = ["LoadedPlugin", "Problem", "load_plugin", "load_plugin_file"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation finding, located by a dotted path into the document."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """JSON form, as stored in `InvalidFlow.details["problems"]`."""
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    """A validated plugin pinned at a version; `params` holds each node's parsed parameters."""

    slug: str
    version: int
    document: PluginDocument
    warnings: tuple[Problem, ...] = ()
    params: Mapping[str, Mapping[str, NodeParams]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def flow(self, verb: str) -> Flow:
        """The flow for `verb`.

        Raises:
            errors.InvalidFlow: the plugin has no such flow.
        """
        found = self.document.flows.get(verb)
        if found is None:
            raise errors.InvalidFlow(
                f"plugin {self.slug}@{self.version} has no {verb!r} flow", verb=verb
            )
        return found


def _loc(parts: tuple[int | str, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")


def _pydantic_problems(exc: ValidationError, prefix: str = "") -> list[Problem]:
    return [
        Problem(_loc((prefix, *error["loc"])) if prefix else _loc(error["loc"]), error["msg"])
        for error in exc.errors()
    ]


def _check_header(
    header: PluginHeader, flows: Sequence[str], *, strict: bool
) -> tuple[list[Problem], list[Problem]]:
    problems: list[Problem] = []
    warnings: list[Problem] = []
    capabilities = header.capabilities
    for name, enabled in capabilities.items():
        path = f"plugin.capabilities.{name}"
        if name not in CAPABILITY_VERBS:
            problems.append(Problem(path, f"unknown capability {name!r}"))
            continue
        for verb in CAPABILITY_VERBS[name] if enabled else ():
            if verb not in flows:
                missing = Problem(path, f"declared but there is no {verb!r} flow")
                (problems if strict else warnings).append(missing)
    if header.os_install == "reinstall" and "reinstall" not in flows:
        problems.append(
            Problem(
                "plugin.osInstall",
                "'reinstall' hands our cloud-init over through the 'reinstall' flow: add one",
            )
        )
    kind = header.connection_type
    if kind is not None and kind not in CONNECTION_TYPES:
        known = ", ".join(sorted(CONNECTION_TYPES))
        problems.append(
            Problem("plugin.connectionType", f"unknown connection type {kind!r} ({known})")
        )
    if header.settings is not None:
        try:
            jsonschema.Draft202012Validator.check_schema(header.settings)
        except jsonschema.SchemaError as exc:
            where = ".".join(str(p) for p in exc.absolute_path)
            problems.append(
                Problem(
                    "plugin.settings" + (f".{where}" if where else ""),
                    f"not a valid JSON Schema: {exc.message}",
                )
            )
    declared = {v for n, on in capabilities.items() if on for v in CAPABILITY_VERBS.get(n, ())}
    for verb in flows:
        if verb not in FLOW_NAMES:
            problems.append(Problem(f"flows.{verb}", f"unknown lifecycle verb {verb!r}"))
        elif verb not in declared and verb != TEST_FLOW:
            warnings.append(Problem(f"flows.{verb}", "no capability declares this flow"))
    return problems, warnings


def _check_nodes(
    prefix: str,
    nodes: list[tuple[int, Node]],
    registry: NodeRegistry,
    connection: str | None,
    *,
    linear: bool = False,
) -> tuple[list[Problem], dict[str, NodeParams]]:
    """Each node on its own: id, type, parameters, templates, `on_error`, connection."""
    problems: list[Problem] = []
    parsed: dict[str, NodeParams] = {}
    seen: set[str] = set()
    for index, node in nodes:
        at = f"{prefix}.nodes[{index}]"
        if node.id in seen:
            problems.append(Problem(f"{at}.id", f"duplicate node id {node.id!r}"))
            continue
        seen.add(node.id)
        if node.id in RESERVED_NAMES:
            problems.append(Problem(f"{at}.id", f"{node.id!r} is reserved for the run context"))
        problems.extend(
            Problem(at + where, message) for where, message in templating.located(node.params)
        )
        spec = registry.get(node.type)
        if spec is None:
            known = ", ".join(registry.names())
            problems.append(Problem(f"{at}.type", f"unknown node type {node.type!r} ({known})"))
            continue
        try:
            params = spec.params.model_validate(node.params, by_alias=True, by_name=False)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, at))
            continue
        parsed[node.id] = params
        if params.on_error == "route" and "error" not in spec.ports:
            problems.append(Problem(f"{at}.on_error", f"{node.type!r} has no 'error' port"))
        elif params.on_error == "route" and linear:
            problems.append(
                Problem(f"{at}.on_error", "'route' needs edges: wire the node's 'error' port")
            )
        if "connection" in type(params).model_fields and not (
            getattr(params, "connection", None) or connection
        ):
            problems.append(
                Problem(f"{at}.connection", "no connection and no plugin connectionType")
            )
    return problems, parsed


def _check_graph(  # noqa: C901 - one linear pass per rule; splitting hides the rules
    prefix: str, flow: Flow, registry: NodeRegistry, parsed: Mapping[str, NodeParams]
) -> list[Problem]:
    problems: list[Problem] = []
    index_of = {node.id: i for i, node in reversed(list(enumerate(flow.nodes)))}
    triggers = [i for i, node in enumerate(flow.nodes) if node.type == "trigger"]
    if len(triggers) != 1:
        problems.append(Problem(f"{prefix}.nodes", "a flow needs exactly one 'trigger' node"))
    if flow.linear:
        if triggers and triggers[0] != 0:
            problems.append(Problem(f"{prefix}.nodes[0]", "the trigger must be the first node"))
        ended = False
        for i, node in enumerate(flow.nodes):
            spec = registry.get(node.type)
            if ended:
                problems.append(Problem(f"{prefix}.nodes[{i}]", "unreachable (after an end)"))
            elif spec is not None and spec.required_ports - {"ok"}:
                problems.append(
                    Problem(f"{prefix}.nodes[{i}].type", f"{node.type!r} branches: add edges")
                )
            ended = ended or (spec is not None and spec.terminal)
        return problems
    wired: dict[str, set[str]] = {}
    for j, edge in enumerate(flow.edges or []):
        at = f"{prefix}.edges[{j}]"
        for end, name in (("from", edge.from_), ("to", edge.to)):
            if name not in index_of:
                problems.append(Problem(f"{at}.{end}", f"dangling edge: no node {name!r}"))
        spec = (
            registry.get(flow.nodes[index_of[edge.from_]].type) if edge.from_ in index_of else None
        )
        if spec is not None and edge.port not in spec.ports:
            problems.append(Problem(f"{at}.port", f"{spec.name!r} has no port {edge.port!r}"))
        if edge.port in wired.setdefault(edge.from_, set()):
            problems.append(Problem(f"{at}.port", f"port {edge.port!r} is wired twice"))
        wired[edge.from_].add(edge.port)
        if edge.to in index_of and flow.nodes[index_of[edge.to]].type == "trigger":
            problems.append(Problem(f"{at}.to", "edges may not lead into the trigger"))
    for i, node in enumerate(flow.nodes):
        spec = registry.get(node.type)
        params = parsed.get(node.id)
        if spec is None or params is None:
            continue
        ports = set(spec.required_ports)
        if params.on_error == "route":
            ports.add("error")
        if node.id in wired or spec.required_ports - {"ok"} or params.on_error == "route":
            for port in sorted(ports - wired.get(node.id, set())):
                problems.append(Problem(f"{prefix}.nodes[{i}]", f"port {port!r} is not wired"))
    targets: dict[str, list[str]] = {}
    for edge in flow.edges or []:
        targets.setdefault(edge.from_, []).append(edge.to)
    reached: set[str] = set()
    todo = [flow.nodes[t].id for t in triggers]
    while todo:
        current = todo.pop()
        if current not in reached:
            reached.add(current)
            todo.extend(targets.get(current, ()))
    for i, node in enumerate(flow.nodes):
        if node.id not in reached:
            problems.append(Problem(f"{prefix}.nodes[{i}]", "unreachable from the trigger"))
    return problems


def _waitless_loops(flow: Flow, registry: NodeRegistry) -> list[list[str]]:
    """Cycles of edges that pass through no suspending node, each as its node ids in order.

    An iterative depth-first search over the edges between non-suspending nodes: every back
    edge closes one cycle (the graph has a cycle exactly when the search finds a back edge).
    """
    spec_of = {node.id: registry.get(node.type) for node in flow.nodes}
    looping = {n for n, spec in spec_of.items() if spec is not None and not spec.suspends}
    following: dict[str, list[str]] = {n: [] for n in looping}
    for edge in flow.edges or []:
        if edge.from_ in looping and edge.to in looping:
            following[edge.from_].append(edge.to)
    loops: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    done: set[str] = set()
    for root in (node.id for node in flow.nodes if node.id in looping):
        if root in done:
            continue
        path, on_path = [root], {root}
        todo = [iter(following[root])]
        while todo:
            step = next(todo[-1], None)
            if step is None:
                todo.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif step in on_path:
                loop = path[path.index(step) :]
                if frozenset(loop) not in seen:
                    seen.add(frozenset(loop))
                    loops.append(loop)
            elif step not in done:
                path.append(step)
                on_path.add(step)
                todo.append(iter(following[step]))
    return loops


def _check_loops(prefix: str, flow: Flow, registry: NodeRegistry) -> list[Problem]:
    index_of = {node.id: i for i, node in reversed(list(enumerate(flow.nodes)))}
    return [
        Problem(
            f"{prefix}.nodes[{index_of[loop[0]]}]",
            "a loop that never waits: "
            + " -> ".join([*loop, loop[0]])
            + "; put a 'poll' or 'wait' node on it (one step of a flow may not loop)",
        )
        for loop in _waitless_loops(flow, registry)
    ]


def _check_document(
    document: Mapping[str, Any], registry: NodeRegistry, *, strict: bool
) -> tuple[list[Problem], list[Problem], dict[str, dict[str, NodeParams]]]:
    """Every problem of `document`, section by section, so that one cannot hide another.

    The top level, the header and each flow are validated on their own: an unknown
    top-level key or a broken header still lets every flow be checked, and in a flow that
    does not parse as a whole (a bad edge, a node without an id) each node that parses is
    still checked. The graph rules (edges, reachability, loops) run on every whole flow.
    """
    problems: list[Problem] = []
    warnings: list[Problem] = []
    try:
        PluginDocument.model_validate(
            {**document, "plugin": _HEADER_STUB, "flows": {}}, by_alias=True, by_name=False
        )
    except ValidationError as exc:
        problems += _pydantic_problems(exc)
    flows: Any = document.get("flows", {})
    if not isinstance(flows, Mapping):
        problems.append(Problem("flows", "Input should be a valid dictionary"))
        flows = {}
    header: PluginHeader | None = None
    try:
        header = PluginHeader.model_validate(document.get("plugin"), by_alias=True, by_name=False)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, "plugin")
    else:
        header_problems, warnings = _check_header(header, list(flows), strict=strict)
        problems += header_problems
    connection = header.connection_type if header is not None else _raw_connection_type(document)
    params: dict[str, dict[str, NodeParams]] = {}
    for verb, raw in flows.items():
        prefix = f"flows.{verb}"
        try:
            flow = Flow.model_validate(raw, by_alias=True, by_name=False)
        except ValidationError as exc:
            problems += _pydantic_problems(exc, prefix)
            problems += _check_nodes(prefix, _parsable_nodes(raw), registry, connection)[0]
            continue
        node_problems, params[verb] = _check_nodes(
            prefix, list(enumerate(flow.nodes)), registry, connection, linear=flow.linear
        )
        if verb == TEST_FLOW:
            node_problems += [
                Problem(f"{prefix}.nodes[{i}].connection", "a test flow tests one connection")
                for i, node in enumerate(flow.nodes)
                if "connection" in node.params
            ]
        problems += node_problems + _check_graph(prefix, flow, registry, params[verb])
        (problems if strict else warnings).extend(_check_loops(prefix, flow, registry))
    return problems, warnings, params


_HEADER_STUB = {"slug": "x", "type": "infrastructure-provider", "serviceType": "vps"}
"""Stands in for the header while the top level is checked (the header is checked alone)."""


def _raw_connection_type(document: Mapping[str, Any]) -> str | None:
    """`plugin.connectionType` of a header that does not parse (so nodes are not blamed)."""
    header = document.get("plugin")
    kind = header.get("connectionType") if isinstance(header, Mapping) else None
    return kind if isinstance(kind, str) else None


def _parsable_nodes(raw: Any) -> list[tuple[int, Node]]:
    """The nodes of a flow that does not parse whole which parse on their own, by index.

    The others were reported by the flow's own validation, at their own paths.
    """
    nodes = raw.get("nodes") if isinstance(raw, Mapping) else None
    found: list[tuple[int, Node]] = []
    for index, item in enumerate(nodes if isinstance(nodes, list) else []):
        try:
            found.append((index, Node.model_validate(item)))
        except ValidationError:
            continue
    return found


def load_plugin(
    document: Mapping[str, Any],
    version: int,
    *,
    registry: NodeRegistry | None = None,
    strict: bool = True,
) -> LoadedPlugin:
    """Validate a plugin document and pin it at `version`.

    Every problem is reported, each with its JSON path: the shape of the top level, the
    header and every flow (pydantic), then, for what parsed, the header's rules, each node
    against its node type, template syntax, and the graph rules of every whole flow.

    Args:
        document: the parsed JSON document.
        version: the version number this document is registered under (>= 1).
        registry: node types to validate against (default: the built-in registry).
        strict: a declared capability without its flow, and a loop that never waits, are
            problems (saving a plugin); with `False` they are only warnings (reading a
            draft, or a stored version back: what was accepted once stays loadable).

    Returns:
        The loaded plugin, with non-fatal findings in `warnings`.

    Raises:
        errors.InvalidFlow: the document is invalid; `details["problems"]` lists why.
    """
    registry = registry or default_registry
    if version < 1:
        raise errors.InvalidFlow(f"plugin version must be >= 1, got {version}", problems=[])
    problems, warnings, params = _check_document(document, registry, strict=strict)
    if not problems:
        parsed = PluginDocument.model_validate(document, by_alias=True, by_name=False)
        return LoadedPlugin(parsed.plugin.slug, version, parsed, tuple(warnings), params)
    slug = (
        document.get("plugin", {}).get("slug") if isinstance(document.get("plugin"), dict) else None
    )
    raise errors.InvalidFlow(
        f"plugin {slug or '?'} is invalid: "
        + "; ".join(f"{p.path}: {p.message}" for p in problems[:5])
        + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
        problems=[p.to_dict() for p in problems],
    )


def load_plugin_file(path: str | Path) -> JsonObject:
    """Read and parse a plugin JSON file (validation is `load_plugin`'s job).

    Args:
        path: the file to read.

    Returns:
        The parsed JSON object.

    Raises:
        errors.InvalidFlow: the file cannot be read, is larger than `limits.PLUGIN_BYTES`,
            is not UTF-8 JSON, nests deeper than `limits.JSON_DEPTH` or is not a JSON object.
    """
    try:
        with Path(path).open("rb") as file:
            raw = file.read(limits.PLUGIN_BYTES + 1)
        limits.check_size(len(raw), limits.PLUGIN_BYTES, "plugin file")
        data = limits.loads_json(raw)
    except OSError as exc:
        raise errors.InvalidFlow(
            f"{path}: cannot read plugin file: {exc.strerror}",
            problems=[{"path": "", "message": str(exc)}],
        ) from exc
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise errors.InvalidFlow(
            f"{path}: {message}", problems=[{"path": "", "message": message}]
        ) from exc
    except errors.InvalidBody as exc:
        raise errors.InvalidFlow(
            f"{path}: {exc.message}", problems=[{"path": "", "message": exc.message}]
        ) from exc
    if not isinstance(data, dict):
        message = f"expected a JSON object, got {type(data).__name__}"
        raise errors.InvalidFlow(f"{path}: {message}", problems=[{"path": "", "message": message}])
    return data
