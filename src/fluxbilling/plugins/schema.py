"""The published JSON Schema (draft 2020-12) of the visual plugin format, built from the code.

Nothing here is written by hand twice: the header, flow and edge schemas come from the
pydantic models in `plugins.document`, each node type's schema from its parameter model in
the node registry, and the enumerations (lifecycle verbs, capabilities, connection types,
port names) from the tables the loader itself uses. The schema therefore cannot drift from
`load_plugin`. It is *looser* where a rule needs the whole graph or runs code (edges
pointing at real nodes, reachability, one trigger, template syntax, a declared
capability having its flow), and *stricter* where
pydantic is lenient: it knows only the documented spellings (`serviceType`, not the Python
name `service_type`) and does not coerce (`"409"` is not a status).

```
{"format": const, "plugin": PluginHeader, "flows": {<verb>: Flow}}
Flow  = {"nodes": [Node, ...], "edges"?: [Edge, ...] | null}
Node  = {"id", "type": enum} + allOf [if type == "http" then node.http, ...]
Edge  = {"from", "port", "to"}
```

`python -m fluxbilling.plugins.schema > docs/plugin-format.schema.json` regenerates the copy
kept in the repository (a test keeps the two equal).
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from typing import Any

from fluxbilling.drivers import connection_types
from fluxbilling.jsontypes import JsonObject

# Importing the `plugins` package (as these imports do) registers the built-in node types.
from fluxbilling.plugins import document, filters, nodes

__all__ = ["SCHEMA_ID", "format_schema", "format_schema_json", "main"]

SCHEMA_ID = "urn:fluxbilling:visual-plugin-format"
"""The schema's `$id` (a URN: the schema is served by each installation, not from one host)."""

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_REF_PREFIX = "#/$defs/"


def _walk(value: Any) -> Iterator[JsonObject]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _refs(value: Any) -> set[str]:
    """Names of the `$defs` entries that `value` refers to."""
    return {
        str(node["$ref"]).removeprefix(_REF_PREFIX)
        for node in _walk(value)
        if str(node.get("$ref", "")).startswith(_REF_PREFIX)
    }


def _rename_refs(value: Any, renames: dict[str, str]) -> None:
    for node in _walk(value):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            name = ref.removeprefix(_REF_PREFIX)
            node["$ref"] = _REF_PREFIX + renames.get(name, name)


def _merge_defs(own: JsonObject, defs: JsonObject, suffix: str) -> JsonObject:
    """Move `own["$defs"]` into the shared `defs`, renaming clashes; returns `own` fixed up.

    A definition identical to the shared one of the same name is shared. One that differs
    (another model with the same class name) is kept as `<name>.<suffix>`, and so is every
    shared-looking definition that refers to a renamed one.
    """
    own_defs: JsonObject = own.pop("$defs", {})
    renamed = {name for name, body in own_defs.items() if name in defs and defs[name] != body}
    changed = True
    while changed:
        changed = False
        for name, body in own_defs.items():
            if name in defs and name not in renamed and _refs(body) & renamed:
                renamed.add(name)
                changed = True
    renames = {name: f"{name}.{suffix}" for name in renamed}
    for name, body in own_defs.items():
        _rename_refs(body, renames)
        defs[renames.get(name, name)] = body
    _rename_refs(own, renames)
    return own


def _node_schema(spec: nodes.NodeSpec, id_schema: JsonObject) -> JsonObject:
    """One node type's schema: its parameter model with `id` and `type` pinned down."""
    schema = spec.params.model_json_schema(by_alias=True)
    properties: JsonObject = schema["properties"]
    properties["id"] = copy.deepcopy(id_schema)
    properties["type"] = {"const": spec.name, "title": "Type"}
    if "error" not in spec.ports:
        # `load_plugin` rejects on_error "route" on a node type without an `error` port.
        properties["on_error"] = {"const": "fail", "default": "fail", "title": "On Error"}
    ports = ", ".join(sorted(spec.ports)) or "none (ends the flow)"
    summary = str(schema.get("description") or f"A `{spec.name}` node.")
    schema["title"] = f"{spec.name} node"
    schema["description"] = f"{summary}\n\nOutput ports: {ports}."
    return schema


def _tighten_header(header: JsonObject) -> None:
    """Enumerate what `load_plugin` accepts in the header (capabilities, connection types)."""
    properties: JsonObject = header["properties"]
    properties["capabilities"]["propertyNames"] = {"enum": sorted(document.CAPABILITY_VERBS)}
    properties["capabilities"]["description"] = "Which lifecycle verbs the plugin implements; " + (
        "; ".join(
            f"{name} needs {' and '.join(verbs)}"
            for name, verbs in sorted(document.CAPABILITY_VERBS.items())
        )
    )
    properties["connectionType"]["anyOf"] = [
        {"enum": sorted(connection_types.CONNECTION_TYPES)},
        {"type": "null"},
    ]
    properties["connectionType"]["description"] = (
        "The kind of connection the plugin talks to; request nodes without their own "
        "`connection` use the product's connection"
    )
    properties["settings"]["anyOf"] = [
        {"type": "object", "$ref": _DIALECT},
        {"type": "null"},
    ]
    properties["settings"]["description"] = (
        "A JSON Schema (draft 2020-12) of the product options this plugin reads"
    )


def format_schema(registry: nodes.NodeRegistry | None = None) -> JsonObject:
    """The JSON Schema (draft 2020-12) of a whole plugin document.

    Args:
        registry: node types to describe (default: the built-in registry).

    Returns:
        A JSON-serialisable schema; equal inputs give equal schemas.

    Examples:
        >>> schema = format_schema()
        >>> schema["$defs"]["node.http"]["properties"]["type"]
        {'const': 'http', 'title': 'Type'}
    """
    registry = registry or nodes.default_registry
    schema = document.PluginDocument.model_json_schema(by_alias=True)
    defs: JsonObject = schema.pop("$defs")
    id_schema = defs["Node"]["properties"]["id"]
    choices: list[JsonObject] = []
    ports: set[str] = set()
    for name in registry.names():
        spec = registry.get(name)
        if spec is None:  # pragma: no cover - names() lists registered types only
            continue
        key = f"node.{name}"
        defs[key] = _merge_defs(_node_schema(spec, id_schema), defs, name)
        choices.append(
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {"$ref": _REF_PREFIX + key},
            }
        )
        ports |= spec.ports
    node = defs["Node"]
    node.pop("additionalProperties", None)
    node["properties"]["type"] = {"enum": registry.names(), "title": "Type"}
    # A discriminated choice: `type` picks the one schema that applies, so a validator
    # reports the real problem ("'path' is a required property"), not "no oneOf branch".
    node["allOf"] = choices
    node["description"] = (
        "One node: `id` (unique in its flow), `type` (a registered node type) and that "
        "type's parameters, as given by the `node.<type>` definition its `type` selects."
    )
    defs["Edge"]["properties"]["port"]["enum"] = sorted(ports)
    _tighten_header(defs["PluginHeader"])
    schema["properties"]["flows"] = {
        "title": "Flows",
        "description": "One flow per lifecycle verb the plugin implements, and optionally "
        "`test`, the connection test",
        "type": "object",
        "properties": {
            **{verb: {"$ref": _REF_PREFIX + "Flow"} for verb in sorted(document.VERBS)},
            document.TEST_FLOW: {
                "$ref": _REF_PREFIX + "Flow",
                "title": "Connection test",
                "description": "Run by `POST /api/v1/connections/{name}/test` instead of the "
                "connection type's probe: a short, read-only check that the panel answers and "
                "accepts the credentials (any node may fail it). It sees only `connection` and "
                "`correlation_id`, may not wait, and its nodes use the connection under test",
            },
        },
        "additionalProperties": False,
    }
    return {
        "$schema": _DIALECT,
        "$id": SCHEMA_ID,
        **schema,
        "title": "FluxBilling visual plugin",
        "description": (
            f"A visual plugin document (format {document.FORMAT!r}): a header and one flow of "
            "typed nodes per lifecycle verb. Load-time validation (`load_plugin`) also checks "
            "the graph (edges, ports, reachability, one trigger), template syntax and that "
            "every declared capability has its flows. String parameters may hold templates, "
            "`{{path ?? fallback | filter(argument)}}`; the filters are "
            + ", ".join(f"`{name}`" for name in sorted(filters.FILTERS))
            + "."
        ),
        "$defs": defs,
    }


def format_schema_json(registry: nodes.NodeRegistry | None = None) -> str:
    """`format_schema()` as the repository keeps it: indented, sorted keys, final newline."""
    return json.dumps(format_schema(registry), indent=2, sort_keys=True) + "\n"


def main() -> int:
    """Print the schema (`python -m fluxbilling.plugins.schema > docs/plugin-format.schema.json`)."""
    sys.stdout.write(format_schema_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
