"""Plugin documents as large as the format allows, for the tests of size and time bounds."""

from __future__ import annotations

import copy
import json
from typing import Any

from fluxbilling import limits
from fluxbilling.plugins import load_plugin_file
from fluxbilling.plugins.document import CAPABILITY_VERBS, MAX_NODES
from fluxbilling.plugins_builtin import builtin_plugin_paths


def maximal_plugin(variant: int = 0, *, slug: str = "huge", keys: int = 38) -> dict[str, Any]:
    """A valid plugin of almost 2 MiB (compact JSON): every lifecycle flow with `MAX_NODES` nodes.

    Each node is an `http` node whose body has `keys` small fields, so the document
    pretty-prints to about 150,000 lines. Documents of different `variant`s differ in the path
    of every node: changes scattered all over, the hardest case for a line diff.
    """
    (path,) = [p for p in builtin_plugin_paths() if p.name == "solusvm2.json"]
    document = copy.deepcopy(load_plugin_file(path))
    document["plugin"]["slug"] = slug
    document["plugin"]["capabilities"] = dict.fromkeys(CAPABILITY_VERBS, True)
    verbs = sorted({verb for flows in CAPABILITY_VERBS.values() for verb in flows})
    document["flows"] = {
        verb: {
            "nodes": [
                {"id": "start", "type": "trigger"},
                *(
                    {
                        "id": f"{verb}_{i}",
                        "type": "http",
                        "method": "POST",
                        "path": f"servers/{{{{service.external_id}}}}/{verb}/{i}/{variant}",
                        "body": {f"k{k}": 0 for k in range(keys)},
                    }
                    for i in range(MAX_NODES - 1)
                ),
            ]
        }
        for verb in verbs
    }
    size = len(json.dumps(document, separators=(",", ":")).encode())  # as clients send it
    assert limits.PLUGIN_BYTES * 0.8 < size <= limits.PLUGIN_BYTES, size
    return document
