"""The image library: image digests, guest password hashes and cloud-init seed documents.

Import the modules, not their names: `from fluxbilling.images import cloudinit` then
`cloudinit.render(spec)`.
"""

from __future__ import annotations

from fluxbilling.images import cloudinit, hashing, passwords

__all__ = ["cloudinit", "hashing", "passwords"]
