"""The interpreter's tracing seam: an observer told when each node starts and finishes.

`run_flow` takes an optional `FlowObserver`. Production runs pass none and get `NO_OBSERVER`,
whose methods do nothing; the interpreter then builds no event at all, so an untraced run
pays one identity comparison per node. A traced run (the builder's test of a flow,
`plugins.testrun`) receives, per node:

```
node_started(NodeStarted(node, type, label, input, resumed))
node_finished(NodeFinished(node, type, port, output, wait, service_data, error))
```

`input` is what the node received: the previous node's output (`None` at the trigger).
`error` is the classified error (`FluxError.to_dict()`) when the node raised; the error then
propagates as it would untraced. Events hold the interpreter's own values: an observer that
keeps them must copy and redact them (the tracer in `plugins.testrun` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from fluxbilling.jsontypes import JsonObject

__all__ = ["NO_OBSERVER", "FlowObserver", "NodeFinished", "NodeStarted", "NullObserver"]


@dataclass(frozen=True, slots=True)
class NodeStarted:
    """A node is about to run.

    Attributes:
        node: the node's id.
        type: its node type.
        label: its label, if the document gives one.
        input: the previous node's output (`None` for the first node of a call).
        resumed: the node runs again after its own wait (a `poll` or `wait` resumed).
    """

    node: str
    type: str
    label: str | None
    input: Any
    resumed: bool


@dataclass(frozen=True, slots=True)
class NodeFinished:
    """A node has run (or raised).

    Attributes:
        node: the node's id.
        type: its node type.
        port: the port it fired (`None`: the flow ends here, it waits, or it raised).
        output: its output (stored under its id for later templates).
        wait: seconds until the node runs again, when it suspended the flow.
        service_data: what it merged into the service data (`set_service_data`).
        error: the classified error it raised (`{"code", "message", "details"}`).
    """

    node: str
    type: str
    port: str | None
    output: Any = None
    wait: float | None = None
    service_data: JsonObject | None = None
    error: JsonObject | None = None


class FlowObserver(Protocol):
    """Told about every node a traced `run_flow` call runs."""

    def node_started(self, event: NodeStarted) -> None:
        """A node is about to run.

        Args:
            event: which node, and what it receives.
        """
        ...

    def node_finished(self, event: NodeFinished) -> None:
        """A node has finished, suspended the flow, or raised.

        Args:
            event: what it did.
        """
        ...


class NullObserver:
    """The observer of untraced runs: it ignores everything."""

    def node_started(self, event: NodeStarted) -> None:
        """Ignore `event`."""

    def node_finished(self, event: NodeFinished) -> None:
        """Ignore `event`."""


NO_OBSERVER = NullObserver()
"""The default observer; `run_flow` builds no events for it."""
