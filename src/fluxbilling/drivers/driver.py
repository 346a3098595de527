"""The `Driver` protocol: one lifecycle, whoever implements it (a visual plugin, a native class).

A driver declares what it can do and runs one lifecycle verb per call:

```
phase ──Operation(verb, context, connection, correlation key, cursor)──► Driver.run
      ◄── Done(output) | Pending(cursor, check_after) | Failed(classified error) ──
```

`call` is the only way phases and actions reach a driver: it refuses a verb the driver
lacks before the driver sees it. A driver never sleeps: something slow returns `Pending`
and the same operation comes back later with that cursor. Every verb must be safe to run
again with the same correlation key (lookup before create), because retries are automatic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from fluxbilling import errors
from fluxbilling.drivers.outcome import VerbOutcome
from fluxbilling.drivers.upstream import ExchangeRecorder

__all__ = [
    "CAPABILITY_VERBS",
    "VERBS",
    "Driver",
    "Operation",
    "OsInstall",
    "Verb",
    "call",
    "capability_of",
]


class Verb(StrEnum):
    """The lifecycle verbs (DESIGN.md section 3)."""

    PROVISION = "provision"
    SUSPEND = "suspend"
    UNSUSPEND = "unsuspend"
    TERMINATE = "terminate"
    REINSTALL = "reinstall"
    RESIZE = "resize"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a verb, not a password
    CONSOLE = "console"
    STATS = "stats"


VERBS = frozenset(str(verb) for verb in Verb)
"""The verbs as plain strings (what a flow document names)."""

CAPABILITY_VERBS: dict[str, tuple[str, ...]] = {
    "canProvision": ("provision",),
    "canSuspend": ("suspend", "unsuspend"),
    "canTerminate": ("terminate",),
    "canReinstall": ("reinstall",),
    "canResize": ("resize",),
    "canResetPassword": ("reset_password",),
    "canConsole": ("console",),
    "canGetStats": ("stats",),
}
"""Which verbs each declared capability stands for."""

_CAPABILITY = {verb: name for name, verbs in CAPABILITY_VERBS.items() for verb in verbs}

OsInstall = Literal["reinstall", "provision", "none"]
"""How a driver's services get their OS: our cloud-init through `reinstall`, the provider
during `provision`, or not at all (shared hosting, game servers)."""


def capability_of(verb: str) -> str:
    """The capability that declares `verb`.

    Example:
        >>> capability_of("unsuspend")
        'canSuspend'
    """
    return _CAPABILITY[verb]


@dataclass(frozen=True, slots=True)
class Operation:
    """One call of one lifecycle verb for one order's service."""

    verb: Verb
    correlation_key: str
    """`<order id>:<phase>[...]`: the idempotency key every upstream create carries."""
    context: Mapping[str, Any]
    """What the verb works on: `order`, `customer`, `product`, `service`, `settings`,
    `allocation`, ... and per verb `credentials`, `cloud_init` or `action`."""
    connection: str
    """The name of the product's connection (base URL and credentials of the upstream)."""
    cursor: Mapping[str, Any] | None
    """`None` on a fresh call, else the cursor of the `Pending` being resumed."""
    now: datetime
    secrets: tuple[str, ...] = ()
    """Values in `context` to redact everywhere (a new root password, cloud-init documents)."""
    recorder: ExchangeRecorder = field(default_factory=ExchangeRecorder)
    """Collects the upstream exchanges, for the operator console."""

    @property
    def settings(self) -> Mapping[str, Any]:
        """The product's options as the driver's settings."""
        value = self.context.get("settings")
        return value if isinstance(value, Mapping) else {}


class Driver(Protocol):
    """A provider's implementation of the lifecycle, pinned at one version."""

    @property
    def slug(self) -> str:
        """The driver's name, as products and services refer to it."""
        ...

    @property
    def version(self) -> int:
        """The version a service pins when it is provisioned."""
        ...

    @property
    def capabilities(self) -> frozenset[str]:
        """The capabilities it declares (`canProvision`, `canSuspend`, ...): what an operator
        may ask of it."""
        ...

    @property
    def verbs(self) -> frozenset[str]:
        """The verbs it can run; `call` refuses any other."""
        ...

    @property
    def os_install(self) -> OsInstall:
        """How its services get their OS."""
        ...

    @property
    def connection_type(self) -> str | None:
        """The connection type it needs (`None`: any)."""
        ...

    def validate(self, settings: Mapping[str, Any], product: str) -> None:
        """Check a product's options before anything is sent (fast, offline).

        Args:
            settings: the product's options.
            product: the product's slug, for the message.

        Raises:
            errors.InvalidSettings: naming every option that is missing or wrong.
        """
        ...

    async def run(self, operation: Operation) -> VerbOutcome:
        """Run (or resume) one verb.

        Args:
            operation: the verb, its context and the cursor to resume from.

        Returns:
            `Done` with the verb's output (`service_data`, `result`), `Pending` with the
            cursor to resume from, or `Failed` with a classified error.
        """
        ...


async def call(driver: Driver, operation: Operation) -> VerbOutcome:
    """Run `operation` on `driver`, refusing a verb it lacks.

    Raises:
        errors.InvalidFlow: the driver cannot run the verb (a plugin without that flow).
    """
    if operation.verb not in driver.verbs:
        raise errors.InvalidFlow(
            f"plugin {driver.slug}@{driver.version} has no {str(operation.verb)!r} flow",
            verb=str(operation.verb),
        )
    return await driver.run(operation)
