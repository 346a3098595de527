"""`python -m fluxbilling.plugins.check FILE...`: validate plugin documents (pre-commit and CI)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from fluxbilling import errors
from fluxbilling.plugins.graph import load_plugin, load_plugin_file

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Validate each file; print every problem with its JSON path; non-zero when any is invalid."""
    paths = list(sys.argv[1:] if argv is None else argv)
    failed = 0
    for path in paths:
        try:
            plugin = load_plugin(load_plugin_file(path), 1)
        except errors.InvalidFlow as exc:
            failed += 1
            sys.stderr.write(f"{path}: invalid\n")
            for problem in exc.details.get("problems", []):
                sys.stderr.write(f"  {problem['path'] or '(document)'}: {problem['message']}\n")
            continue
        for warning in plugin.warnings:
            sys.stderr.write(f"{path}: warning: {warning.path}: {warning.message}\n")
        sys.stdout.write(f"{path}: ok ({plugin.slug}, {len(plugin.document.flows)} flows)\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
