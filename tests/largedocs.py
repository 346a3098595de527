"""Plugin documents as large as the format allows, for the tests of size and time bounds."""

from __future__ import annotations

import copy
import json
from typing import Any

from fluxbilling import limits
from fluxbilling.plugins import load_plugin_file
from fluxbilling.plugins.document import MAX_NODES
from fluxbilling.plugins_builtin import builtin_plugin_paths

LINEAR_FLOWS = ("suspend", "unsuspend", "resize", "console", "stats")
"""The shipped SolusVM 2 plugin's flows without edges: nodes can be added to them anywhere."""


def maximal_plugin(variant: int = 0, *, slug: str = "huge", keys: int = 80) -> dict[str, Any]:
    """A valid plugin of almost 2 MiB (compact JSON): its linear flows filled to `MAX_NODES`.

    Each added node is an `http` node whose body has `keys` small fields, so the document
    pretty-prints to about 220,000 lines. Documents of different `variant`s differ in the path
    of every other added node: changes scattered all over, the hardest case for a text diff.
    """
    (path,) = [p for p in builtin_plugin_paths() if p.name == "solusvm2.json"]
    document = copy.deepcopy(load_plugin_file(path))
    document["plugin"]["slug"] = slug
    for verb in LINEAR_FLOWS:
        nodes = document["flows"][verb]["nodes"]
        added = [
            {
                "id": f"{verb}_{i}",
                "type": "http",
                "method": "POST",
                "path": f"servers/{{{{service.external_id}}}}/{verb}/{i}/{variant * (i % 2)}",
                "body": {f"k{k}": 0 for k in range(keys)},
            }
            for i in range(MAX_NODES - len(nodes))
        ]
        nodes[1:1] = added
    size = len(json.dumps(document, separators=(",", ":")).encode())  # as clients send it
    assert limits.PLUGIN_BYTES * 0.8 < size <= limits.PLUGIN_BYTES, size
    return document
