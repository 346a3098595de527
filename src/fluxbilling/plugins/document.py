"""The visual plugin document (`format: fluxbilling-visual-plugin`) as pydantic models.

These models check the *shape* of a document. Node parameters are kept as extra fields on
`Node` and checked against their node type's parameter model by `graph`, which also checks
everything that needs the whole graph (edges, reachability, capabilities).

```
PluginDocument
├── format: "fluxbilling-visual-plugin"
├── plugin: PluginHeader (slug, type, serviceType, capabilities, connectionType?, osInstall?,
│                        settings?)
└── flows: {verb or "test": Flow}
    └── Flow: nodes [Node {id, type, on_error?, ...params}], edges? [Edge {from, port, to}]
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# A plugin is one kind of driver: its flows are the Driver protocol's verbs and capabilities.
from fluxbilling.drivers.driver import CAPABILITY_VERBS, VERBS
from fluxbilling.jsontypes import JsonObject

__all__ = [
    "CAPABILITY_VERBS",
    "FLOW_NAMES",
    "FORMAT",
    "MAX_EDGES",
    "MAX_NODES",
    "RESERVED_NAMES",
    "TEST_FLOW",
    "VERBS",
    "Edge",
    "Flow",
    "Node",
    "PluginDocument",
    "PluginHeader",
]

FORMAT = "fluxbilling-visual-plugin"

TEST_FLOW = "test"
"""The flow "test connection" runs instead of the connection type's probe: not a lifecycle
verb, needs no capability, sees only `connection` and `correlation_id`."""
FLOW_NAMES = VERBS | {TEST_FLOW}
"""What a document's flows may be called."""

MAX_NODES = 500
"""Nodes a flow may have (the shipped plugins use at most 17); the whole document is at
most 2 MiB (`limits.PLUGIN_BYTES`)."""
MAX_EDGES = 1000
"""Edges a flow may have."""

RESERVED_NAMES = frozenset(
    {
        "order",
        "product",
        "options",
        "customer",
        "settings",
        "service",
        "correlation_id",
        "image",
        "location",
        "connection",
        "allocation",
        "account",
        "credentials",
        "cloud_init",
        "action",
        "item",
        "response",
        "status",
    }
)
"""Context keys; a node id may not shadow them because node outputs share the scope."""

_NODE_ID = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PluginHeader(_Model):
    """Identity and declarations of a plugin."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$", max_length=64)
    type: Literal["infrastructure-provider"]
    service_type: Literal["vps", "shared", "game", "baremetal"] = Field(alias="serviceType")
    capabilities: dict[str, bool] = Field(default_factory=dict)
    connection_type: str | None = Field(default=None, alias="connectionType")
    os_install: Literal["reinstall", "provision", "none"] | None = Field(
        default=None,
        alias="osInstall",
        description="how the OS gets installed: our cloud-init through the `reinstall` flow, "
        "by the panel during `provision`, or not at all (default: none for shared and game "
        "plugins, else reinstall when there is a reinstall flow, else provision)",
    )
    settings: JsonObject | None = None
    name: str | None = None
    description: str | None = None


class Node(BaseModel):
    """One node; its type-specific parameters stay as extra fields until `graph` checks them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(pattern=_NODE_ID, max_length=64)
    type: str = Field(min_length=1)

    @property
    def params(self) -> JsonObject:
        """The node as a plain dict (id, type and every parameter)."""
        return {"id": self.id, "type": self.type, **(self.model_extra or {})}


class Edge(_Model):
    """A wire from a named output port of one node to another node, by stable id."""

    from_: str = Field(alias="from")
    port: str = "ok"
    to: str


class Flow(_Model):
    """A graph of nodes; with no `edges` the nodes run in list order."""

    nodes: list[Node] = Field(min_length=1, max_length=MAX_NODES)
    edges: list[Edge] | None = Field(default=None, max_length=MAX_EDGES)

    @property
    def linear(self) -> bool:
        """Whether the flow runs its nodes in list order (no edges given)."""
        return not self.edges


class PluginDocument(_Model):
    """A whole visual plugin document."""

    format: Literal["fluxbilling-visual-plugin"]
    plugin: PluginHeader
    flows: dict[str, Flow] = Field(default_factory=dict)

    @property
    def os_install_mode(self) -> Literal["reinstall", "provision", "none"]:
        """`plugin.osInstall`, or its default for the service type and flows."""
        if self.plugin.os_install is not None:
            return self.plugin.os_install
        if self.plugin.service_type in ("shared", "game"):
            return "none"
        return "reinstall" if "reinstall" in self.flows else "provision"
