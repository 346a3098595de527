"""Visual plugins: JSON documents whose flows of typed nodes implement the lifecycle verbs.

The public surface: `load_plugin` / `load_plugin_file` validate a document into a
`LoadedPlugin`; `run_flow` runs one verb's flow and returns `Done` or `Pending`; `node_type`
registers more node types. Importing this package registers the built-in node types.
"""

from __future__ import annotations

from fluxbilling.plugins import builtin_nodes as builtin_nodes
from fluxbilling.plugins.graph import LoadedPlugin, Problem, load_plugin, load_plugin_file
from fluxbilling.plugins.interpreter import run_flow
from fluxbilling.plugins.nodes import NodeRegistry, default_registry, node_type

__all__ = [
    "LoadedPlugin",
    "NodeRegistry",
    "Problem",
    "default_registry",
    "load_plugin",
    "load_plugin_file",
    "node_type",
    "run_flow",
]
