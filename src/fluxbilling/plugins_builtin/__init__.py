"""The visual plugins shipped with FluxBilling (JSON documents next to this module)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["builtin_plugin_paths"]


def builtin_plugin_paths() -> list[Path]:
    """The shipped plugin documents, sorted by file name.

    Returns:
        Paths of every `*.json` file in this package.
    """
    return sorted(Path(__file__).parent.glob("*.json"))
