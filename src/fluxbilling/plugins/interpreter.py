"""The flow interpreter: runs one verb's flow of a loaded plugin until it is done or must wait.

`run_flow` is async but never sleeps and never touches the database. A node that has to wait
(`poll`) makes the run return `Pending` whose JSON-serialisable cursor holds the whole
interpreter state, so any worker can resume it by calling `run_flow` again with that cursor:

```
cursor = {"plugin", "version", "verb",          # what this cursor belongs to
          "node":         current node id,      # the node to (re-)run on resume
          "previous":     id of the last finished node or null,
          "outputs":      {node id: output},    # also the template scope, next to the context
          "service_data": {...},                # merged set_service_data mappings
          "node_state":   {...}}                # the current node's own state (poll start time)
```

A node with `retry` retries its own transient errors by suspending (the cursor keeps the try
count; a `poll` node's tries count across its waits). Everything else is retried by the engine,
which re-runs the whole phase from its cursor, which is why flows must be safe to re-run
(lookup before create).

A traced call (`observer`, see `plugins.trace`) reports each node's start and finish; an
untraced one builds no events.

One call runs at most `step_budget` nodes and sends at most `request_budget` upstream
requests (`nodes.REQUEST_BUDGET`) before it fails with `InvalidFlow`: loading refuses loops
that cannot wait, these budgets stop loops that could but do not (and versions stored before
that rule).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from fluxbilling import errors
from fluxbilling.drivers.outcome import Done, Pending
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine import policy
from fluxbilling.jsontypes import JsonObject
from fluxbilling.plugins.document import Flow, Node
from fluxbilling.plugins.graph import LoadedPlugin
from fluxbilling.plugins.nodes import (
    REQUEST_BUDGET,
    NodeRegistry,
    NodeResult,
    NodeRun,
    NodeSpec,
    RequestBudget,
    default_registry,
)
from fluxbilling.plugins.trace import NO_OBSERVER, FlowObserver, NodeFinished, NodeStarted

__all__ = ["run_flow"]


def _initial_state(plugin: LoadedPlugin, verb: str, flow: Flow) -> JsonObject:
    entry = next(node.id for node in flow.nodes if node.type == "trigger")
    return {
        "plugin": plugin.slug,
        "version": plugin.version,
        "verb": verb,
        "node": entry,
        "previous": None,
        "outputs": {},
        "service_data": {},
        "node_state": {},
    }


def _resumed_state(plugin: LoadedPlugin, verb: str, cursor: Mapping[str, Any]) -> JsonObject:
    pinned = (cursor.get("plugin"), cursor.get("version"), cursor.get("verb"))
    if pinned != (plugin.slug, plugin.version, verb):
        raise errors.InvariantViolation(
            f"cursor belongs to {pinned}, not ({plugin.slug!r}, {plugin.version}, {verb!r})"
        )
    return _json_copy(cursor)


def _json_copy(state: Mapping[str, Any]) -> JsonObject:
    try:
        copied: JsonObject = json.loads(json.dumps(state))
    except (TypeError, ValueError) as exc:
        raise errors.InvariantViolation(f"flow state is not JSON-serialisable: {exc}") from exc
    return copied


def _next_node(flow: Flow, node: Node, port: str | None) -> str | None:
    """The id of the node after `node` fired `port`, or `None` when the flow ends."""
    if port is None:
        return None
    if flow.linear:
        index = next(i for i, n in enumerate(flow.nodes) if n.id == node.id)
        return flow.nodes[index + 1].id if index + 1 < len(flow.nodes) else None
    outgoing = {edge.port: edge.to for edge in flow.edges or [] if edge.from_ == node.id}
    if not outgoing:
        return None
    target = outgoing.get(port) or (outgoing.get("ok") if port == "exists" else None)
    if target is None:
        raise errors.InvariantViolation(
            f"node {node.id!r} fired port {port!r}, which load-time validation left unwired"
        )
    return target


async def _step(
    spec: NodeSpec, plugin: LoadedPlugin, run: NodeRun, state: Mapping[str, Any]
) -> NodeResult:
    params = plugin.params[state["verb"]][run.node_id]
    try:
        return await spec.run(params, run)
    except errors.UpstreamError as exc:
        tries = int(run.state.get("tries", 0)) + 1
        if params.retry is not None:
            decision = policy.decide(exc, tries, params.retry.policy, run.now, run.now, 0.0)
            if isinstance(decision, policy.Retry):
                # Resume this same node later: the engine stores the cursor, no worker sleeps.
                run.state = {**run.state, "tries": tries, "last_error": exc.message}
                return NodeResult(wait=(decision.at - run.now).total_seconds())
        if params.on_error != "route":
            raise
        return NodeResult(port="error", output=exc.to_dict())


async def _traced_step(
    spec: NodeSpec,
    plugin: LoadedPlugin,
    run: NodeRun,
    state: Mapping[str, Any],
    node: Node,
    observer: FlowObserver,
) -> NodeResult:
    """`_step`, reported to `observer` (the error, if any, propagates unchanged)."""
    label = plugin.params[state["verb"]][node.id].label
    observer.node_started(
        NodeStarted(node.id, node.type, label, run.previous, resumed=bool(run.state))
    )
    try:
        result = await _step(spec, plugin, run, state)
    except errors.FluxError as exc:
        observer.node_finished(NodeFinished(node.id, node.type, None, error=exc.to_dict()))
        raise
    observer.node_finished(
        NodeFinished(
            node.id,
            node.type,
            None if result.wait is not None else result.port,
            output=result.output,
            wait=result.wait,
            service_data=dict(result.service_data) if result.service_data else None,
        )
    )
    return result


async def run_flow(
    plugin: LoadedPlugin,
    verb: str,
    context: Mapping[str, Any],
    http: Callable[[str], UpstreamHttp],
    cursor: Mapping[str, Any] | None,
    *,
    now: datetime,
    step_budget: int = 200,
    request_budget: int = REQUEST_BUDGET,
    registry: NodeRegistry | None = None,
    default_connection: str | None = None,
    observer: FlowObserver = NO_OBSERVER,
) -> Done | Pending:
    """Run (or resume) the `verb` flow of `plugin`.

    Args:
        plugin: the loaded plugin (pinned version).
        verb: the lifecycle verb, e.g. `"provision"`.
        context: `order`, `product`, `options`, `customer`, `settings`, `service`,
            `correlation_id` and any extra keys; node outputs join it under their node ids.
        http: the `UpstreamHttp` for a connection name.
        cursor: `None` for a fresh run, or the cursor of the `Pending` being resumed.
        now: the current time (timezone-aware); poll timeouts are measured with it.
        step_budget: the most nodes one call may run before the flow is deemed runaway.
        request_budget: the most upstream requests one call may send (see
            `nodes.REQUEST_BUDGET`); loading a plugin already refuses loops that never wait,
            this bounds those that could wait but do not (a `poll` whose test holds at once).
        registry: node types (default: the built-in registry).
        default_connection: the connection a node without `connection` uses (the
            product's); default: the plugin's `connectionType` as a connection name.
        observer: told when each node starts and finishes (`plugins.trace`); the default
            ignores everything, and no event is built for it.

    Returns:
        `Done` with `output = {"service_data", "outputs", "result"}` (`result` is the last
        node's output: what a `console` or `stats` flow answers), or `Pending` whose cursor
        resumes the flow at the waiting node.

    Raises:
        errors.UpstreamError: a node failed (`on_error: "fail"`, the default) or a `fail` node.
        errors.InvalidFlow: a template path is unknown, or the step or request budget ran out.
        errors.InvariantViolation: the cursor does not belong to this plugin version and verb.
    """
    registry = registry or default_registry
    flow = plugin.flow(verb)
    correlation_id = context.get("correlation_id")
    if not isinstance(correlation_id, str) or not correlation_id:
        raise errors.InvariantViolation("the run context has no correlation_id")
    state = (
        _initial_state(plugin, verb, flow)
        if cursor is None
        else (_resumed_state(plugin, verb, cursor))
    )
    nodes = {node.id: node for node in flow.nodes}
    budget = RequestBudget(request_budget)
    for _ in range(step_budget):
        node = nodes.get(state["node"])
        spec = registry.get(node.type) if node is not None else None
        if node is None or spec is None:
            raise errors.InvariantViolation(f"cursor names unknown node {state['node']!r}")
        outputs: JsonObject = state["outputs"]
        run = NodeRun(
            plugin=plugin.slug,
            verb=verb,
            node_id=node.id,
            scope={**context, **outputs},
            http=http,
            correlation_id=correlation_id,
            now=now,
            previous=outputs.get(state["previous"]) if state["previous"] else None,
            default_connection=default_connection or plugin.document.plugin.connection_type,
            state=dict(state["node_state"]),
            budget=budget,
        )
        result = (
            await _step(spec, plugin, run, state)
            if observer is NO_OBSERVER
            else await _traced_step(spec, plugin, run, state, node, observer)
        )
        if result.wait is not None:
            state["node_state"] = run.state
            return Pending(
                cursor=_json_copy(state),
                check_after=timedelta(seconds=result.wait),
                note=f"{verb}: waiting at node {node.id!r}",
            )
        outputs[node.id] = result.output
        state["previous"] = node.id
        state["node_state"] = {}
        state["service_data"].update(result.service_data or {})
        following = _next_node(flow, node, result.port)
        if following is None:
            final = _json_copy(state)
            return Done(
                output={
                    "service_data": final["service_data"],
                    "outputs": final["outputs"],
                    "result": final["outputs"].get(node.id),
                }
            )
        state["node"] = following
    raise errors.InvalidFlow(
        f"flow {verb!r} of {plugin.slug}@{plugin.version} ran {step_budget} nodes without "
        "finishing or waiting (a cycle without a poll?)",
        verb=verb,
        step_budget=step_budget,
    )
