"""The node-type registry: a node type is a name, a parameter model, named ports and a runner.

Registration is explicit and fails at import time on a duplicate name (STYLE.md convention 7):

```python
@node_type("trigger", params=TriggerParams)
async def trigger(params: TriggerParams, run: NodeRun) -> NodeResult:
    return NodeResult()
```

A runner is async, never sleeps and never touches the database: it returns a `NodeResult`
naming the output port it fired (or `None` to end the flow), its output (stored under the node
id) and, for a node that must be re-run later (`poll`), `wait` seconds. A node type that may
return such a wait is registered with `suspends=True`: a loop in a flow must pass through one
(checked when the plugin is loaded). A runner spends `run.budget` once per upstream request,
so a loop that never waits stops after `REQUEST_BUDGET` requests. The built-in node types
live in `plugins.builtin_nodes` and are registered in `default_registry` when `plugins` is
imported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fluxbilling import errors
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine.policy import RetryPolicy
from fluxbilling.jsontypes import JsonObject
from fluxbilling.plugins import templating

__all__ = [
    "REQUEST_BUDGET",
    "Check",
    "NodeParams",
    "NodeRegistry",
    "NodeResult",
    "NodeRun",
    "NodeSpec",
    "PathCheck",
    "RequestBudget",
    "RetryParams",
    "Runner",
    "default_registry",
    "node_type",
]


REQUEST_BUDGET = 32
"""Upstream requests one call of `run_flow` (one engine step of a flow) may send.

The shipped flows send at most 6 between two waits (Virtualizor's provision); each page of
a `lookup` counts. A flow that needs more must wait (`poll`, `wait`) in between: each
resumed step has a budget of its own.
"""


class RetryParams(BaseModel):
    """A node's own retry of transient upstream errors, before the phase-level retry.

    Between tries the flow is suspended (`Pending`), never slept in: the engine resumes the
    same node after `backoff * 2**(try - 1)` seconds (capped at `max_backoff`), or after the
    upstream's `Retry-After` when it sent one.
    """

    # The docstring above is the plugin format's documentation (the JSON Schema). Decided,
    # like every retry, by `engine.policy.decide`, with `policy`: no jitter, so a flow's
    # waits are reproducible; the phase's own deadline bounds the node's.
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=3, ge=1, le=20)
    backoff: float = Field(default=2.0, gt=0, le=3600)
    max_backoff: float = Field(default=60.0, gt=0, le=86400)

    @property
    def policy(self) -> RetryPolicy:
        """These parameters as a retry policy."""
        return RetryPolicy(
            max_attempts=self.max_attempts,
            deadline=None,
            base=timedelta(seconds=self.backoff),
            cap=timedelta(seconds=self.max_backoff),
            jitter=0.0,
        )


class NodeParams(BaseModel):
    """Fields every node has; node types subclass this with their parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str
    type: str
    on_error: Literal["fail", "route"] = "fail"
    retry: RetryParams | None = None
    label: str | None = None


_TESTS = ("equals", "not_equals", "in_", "not_in", "truthy")


class Check(BaseModel):
    """A test on a value: exactly one of `equals`, `not_equals`, `in`, `not_in` or `truthy`.

    A value that is not there (its path is missing) passes none of `equals`, `not_equals`,
    `in` and `not_in`, and passes `truthy: false`; a `null` that is there is a value like
    any other (`{"not_equals": "ok"}` holds for it).
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        # For editors and the builder: the one test a check has (the validator below says so
        # for the loader).
        json_schema_extra={
            "oneOf": [
                {"required": [name]} for name in ("equals", "not_equals", "in", "not_in", "truthy")
            ]
        },
    )

    equals: Any = Field(
        default=None, title="Equals", description="holds when the value equals this JSON value"
    )
    not_equals: Any = Field(
        default=None,
        title="Not equals",
        description="holds when the value is there and differs from this JSON value",
    )
    in_: list[Any] | None = Field(
        default=None,
        alias="in",
        title="In",
        description="holds when the value equals one of these JSON values",
    )
    not_in: list[Any] | None = Field(
        default=None,
        title="Not in",
        description="holds when the value is there and equals none of these JSON values",
    )
    truthy: bool | None = Field(
        default=None,
        title="Truthy",
        description='true: holds when the value is there and is not null, false, 0, "", '
        "[] or {}; false: holds when it is not",
    )

    @model_validator(mode="after")
    def _exactly_one_test(self) -> Check:
        chosen = self.model_fields_set & set(_TESTS)
        if len(chosen) != 1:
            raise ValueError(
                "exactly one of 'equals', 'not_equals', 'in', 'not_in' or 'truthy' is required"
            )
        return self

    def holds(self, value: Any) -> bool:
        """Whether `value` passes this test.

        Args:
            value: the value under test, or `templating.MISSING`.

        Returns:
            The outcome of the test.

        Examples:
            >>> Check(not_in=["ok", "running"]).holds("error")
            True
            >>> Check(not_equals="ok").holds(templating.MISSING)
            False
        """
        fields = self.model_fields_set
        present = value is not templating.MISSING
        if "equals" in fields:
            return present and bool(value == self.equals)
        if "not_equals" in fields:
            return present and not bool(value == self.not_equals)
        if self.in_ is not None:
            return present and value in self.in_
        if self.not_in is not None:
            return present and value not in self.not_in
        return (present and bool(value)) is bool(self.truthy)


class PathCheck(Check):
    """A `Check` on the value at `path` inside a response body (e.g. `data.status`)."""

    path: str

    def holds_in(self, body: Any) -> bool:
        """Whether the value at `path` inside `body` passes the test.

        Args:
            body: a parsed JSON response.

        Returns:
            The outcome of the test.
        """
        return self.holds(templating.resolve_path(body, self.path))


@dataclass(slots=True)
class RequestBudget:
    """How many upstream requests one call of `run_flow` may still send."""

    limit: int = REQUEST_BUDGET
    sent: int = 0

    def spend(self, run: NodeRun) -> None:
        """Count one upstream request of `run`'s node.

        Args:
            run: the node about to send it.

        Raises:
            errors.InvalidFlow: `limit` requests were sent in this step already: the flow
                loops without waiting (a plugin bug; never retried, never routed).
        """
        if self.sent >= self.limit:
            raise errors.InvalidFlow(
                f"flow {run.verb!r} of {run.plugin}: node {run.node_id!r} would send upstream "
                f"request {self.sent + 1} of one step, over the budget of {self.limit} "
                "(a loop without a 'poll' or 'wait' that waits?)",
                verb=run.verb,
                node=run.node_id,
                request_budget=self.limit,
            )
        self.sent += 1


@dataclass(slots=True)
class NodeRun:
    """What a runner may use: the scope, the connections, the clock and its own state."""

    plugin: str
    verb: str
    node_id: str
    scope: Mapping[str, Any]
    http: Callable[[str], UpstreamHttp]
    correlation_id: str
    now: datetime
    previous: Any = None
    default_connection: str | None = None
    state: JsonObject = field(default_factory=dict)
    budget: RequestBudget = field(default_factory=RequestBudget)

    @property
    def operation(self) -> str:
        """The operation name used in errors and exchange records (`verb.node_id`)."""
        return f"{self.verb}.{self.node_id}"

    def render(self, value: Any) -> Any:
        """Render templates in `value` against the scope (see `templating.render`)."""
        return templating.render(value, self.scope, node_id=self.node_id)


@dataclass(frozen=True, slots=True)
class NodeResult:
    """What a node did: the port it fired (`None` ends the flow), its output, or a wait."""

    port: str | None = "ok"
    output: Any = None
    wait: float | None = None
    service_data: Mapping[str, Any] | None = None


Runner = Callable[[Any, NodeRun], Awaitable[NodeResult]]
_R = TypeVar("_R", bound=Runner)


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """A registered node type."""

    name: str
    params: type[NodeParams]
    ports: frozenset[str]
    required_ports: frozenset[str]
    run: Runner
    suspends: bool = False
    """Whether the node may return a wait: a loop must pass through such a node."""

    @property
    def terminal(self) -> bool:
        """Whether the node always ends the flow (it has no output ports)."""
        return not self.ports


class NodeRegistry:
    """Node types by name; registering a name twice raises `errors.InvariantViolation`."""

    def __init__(self) -> None:
        self._specs: dict[str, NodeSpec] = {}

    def register(self, spec: NodeSpec) -> None:
        """Add a node type.

        Args:
            spec: the node type.

        Raises:
            errors.InvariantViolation: a node type with this name is already registered.
        """
        if spec.name in self._specs:
            raise errors.InvariantViolation(
                f"node type {spec.name!r} is already registered", node_type=spec.name
            )
        self._specs[spec.name] = spec

    def get(self, name: str) -> NodeSpec | None:
        """The node type called `name`, or `None`."""
        return self._specs.get(name)

    def names(self) -> list[str]:
        """Registered node type names, sorted."""
        return sorted(self._specs)


default_registry = NodeRegistry()
"""The registry `load_plugin` and `run_flow` use unless given another."""


def node_type(
    name: str,
    *,
    params: type[NodeParams],
    ports: Iterable[str] = ("ok",),
    required_ports: Iterable[str] | None = None,
    suspends: bool = False,
    registry: NodeRegistry | None = None,
) -> Callable[[_R], _R]:
    """Register the decorated runner as node type `name`.

    Args:
        name: the `type` value in documents.
        params: the parameter model (a `NodeParams` subclass); extra fields are rejected.
        ports: output ports the node may fire; empty for terminal nodes.
        required_ports: ports that must be wired when the node has outgoing edges
            (default: all ports except `error` and `exists`).
        suspends: the node may return a wait (`poll`, `wait`): loops through it are allowed.
        registry: where to register (default: `default_registry`).

    Returns:
        A decorator returning the runner unchanged.

    Raises:
        errors.InvariantViolation: `name` is already registered.
    """
    port_set = frozenset(ports)
    required = (
        frozenset(required_ports) if required_ports is not None else port_set - {"error", "exists"}
    )

    def decorate(runner: _R) -> _R:
        spec = NodeSpec(name, params, port_set, required, runner, suspends)
        (registry or default_registry).register(spec)
        return runner

    return decorate
