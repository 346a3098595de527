"""Testing a flow without touching production: one verb, traced node by node, nothing stored.

`run_test` runs one lifecycle verb of a plugin through the production path: a `FlowDriver`
(`drivers.driver.call` refuses a verb without a flow), the interpreter with its step and
request budgets, and clients from the connection factory (address policy, timeouts,
redaction). The plugin's `test` flow runs as the connection test runs it (`plugins.probe`:
it sees only `connection`, and a flow that wants to wait fails). It differs from production
in three ways only:

- the interpreter is traced (`plugins.trace`): each node's input, output, port, upstream
  exchanges, time and error become a `TraceStep`;
- nothing is written: no order, service, run, checkpoint or activity row exists for a test;
  the flow's state lives in memory, and a `Pending` flow's cursor goes back to the caller
  (sealed, `plugins.resume`);
- the whole call has a wall-clock budget (`TEST_RUN_SECONDS`): past it the flow is stopped
  and the answer is `failed`, with the trace so far.

Everything in a `TestRunResult` is redacted with the connection's secrets and the test's own
(the credentials in its context), and bounded: each value at most `VALUE_BYTES`, the whole
trace at most `TRACE_BYTES` (values past it are replaced by a marker saying so).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from fluxbilling import errors, limits
from fluxbilling.drivers import driver as drivers
from fluxbilling.drivers.outcome import Done, Failed, Pending, VerbOutcome
from fluxbilling.drivers.upstream import Exchange, ExchangeRecorder, UpstreamHttp
from fluxbilling.jsontypes import JsonObject
from fluxbilling.plugins.document import TEST_FLOW
from fluxbilling.plugins.driver import Connections, FlowDriver
from fluxbilling.plugins.graph import LoadedPlugin
from fluxbilling.plugins.probe import WANTS_TO_WAIT, FlowProbe
from fluxbilling.plugins.trace import NodeFinished, NodeStarted
from fluxbilling.redaction import Redactor

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_EXCHANGES",
    "TEST_RUN_SECONDS",
    "TRACE_BYTES",
    "VALUE_BYTES",
    "ExchangeLog",
    "TestRun",
    "TestRunResult",
    "TestStatus",
    "TraceStep",
    "Tracer",
    "bounded",
    "run_test",
]

TEST_RUN_SECONDS = 30.0
"""Wall-clock budget of one test call (a start or a resume); each request also has the
connection factory's own timeout."""
VALUE_BYTES = 16 * limits.KIB
"""The most one value of the trace (a node's input or output, an exchange) may take, as JSON."""
TRACE_BYTES = 512 * limits.KIB
"""The most the values of one trace may take together, as JSON."""
MAX_EXCHANGES = 200
"""Exchanges an `ExchangeLog` keeps (one call sends at most `nodes.REQUEST_BUDGET`)."""


class TestStatus(StrEnum):
    """How a test call ended."""

    __test__ = False  # not a pytest test class

    DONE = "done"
    PENDING = "pending"
    FAILED = "failed"


class ExchangeLog(ExchangeRecorder):
    """An `ExchangeRecorder` that keeps every exchange (at most `MAX_EXCHANGES`), not just the last."""

    def __init__(self) -> None:
        super().__init__()
        self.every: list[Exchange] = []

    def record(self, exchange: Exchange) -> None:
        """Remember `exchange` as the latest one, and keep it in order."""
        super().record(exchange)
        if len(self.every) < MAX_EXCHANGES:
            self.every.append(exchange)


def bounded(value: Any, max_bytes: int) -> tuple[Any, int, bool]:
    """`value` (as plain JSON) if its JSON takes at most `max_bytes`, else a marker with its start.

    Returns:
        The value as JSON would read it back, or `{"truncated": true, "bytes": n,
        "preview": "..."}`; the size it takes; and whether it was cut.

    Example:
        >>> bounded({"a": 1}, 100)
        ({'a': 1}, 7, False)
        >>> bounded("x" * 50, 30)[0]
        {'truncated': True, 'bytes': 52, 'preview': '"xxxxxxxxxxxxxx'}
    """
    text = json.dumps(value, default=str, separators=(",", ":"))
    if len(text) <= max_bytes:
        return json.loads(text), len(text), False
    preview = text[: max(0, max_bytes // 2)]
    return {"truncated": True, "bytes": len(text), "preview": preview}, len(preview) + 64, True


@dataclass(frozen=True, slots=True)
class TraceStep:
    """What one node did, redacted and bounded.

    Attributes:
        index: its place in the trace of this call (0 first).
        node: the node's id.
        type: its node type.
        label: its label in the document.
        input: what it received (the previous node's output).
        output: what it produced (`None` when it waited or raised).
        port: the port it fired (`None`: the flow ended, waited, or failed here).
        wait: seconds until it runs again, when it suspended the flow.
        service_data: what it merged into the service data.
        exchanges: its upstream requests and responses (`Exchange.to_dict()`), in order.
        error: the classified error it raised (`{"code", "message", "details"}`).
        elapsed_ms: how long it ran.
        resumed: it ran again after its own wait.
    """

    index: int
    node: str
    type: str
    label: str | None
    input: Any
    output: Any
    port: str | None
    wait: float | None
    service_data: JsonObject | None
    exchanges: tuple[JsonObject, ...]
    error: JsonObject | None
    elapsed_ms: float
    resumed: bool


@dataclass(slots=True)
class _Open:
    event: NodeStarted
    started: float
    first_exchange: int


class Tracer:
    """The `FlowObserver` of a test: each finished node becomes a redacted, bounded `TraceStep`.

    Args:
        redact: masks secrets in a JSON-like value.
        log: the exchanges the test's clients record.
        clock: seconds, monotonic (timing only).
        max_bytes: the budget of all values together (`TRACE_BYTES`).
    """

    def __init__(
        self,
        redact: Callable[[Any], Any],
        log: ExchangeLog,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int = TRACE_BYTES,
    ) -> None:
        self._redact = redact
        self._log = log
        self._clock = clock
        self._left = max_bytes
        self._open: _Open | None = None
        self.steps: list[TraceStep] = []
        self.truncated = False

    def _keep(self, value: Any) -> Any:
        """`value` redacted and bounded by the per-value and the remaining trace budget."""
        if value is None:
            return None
        kept, size, cut = bounded(self._redact(value), min(VALUE_BYTES, max(self._left, 0)))
        self.truncated = self.truncated or cut
        self._left -= size
        return kept

    def node_started(self, event: NodeStarted) -> None:
        """Remember when `event`'s node started and which exchange will be its first."""
        self._open = _Open(event, self._clock(), len(self._log.every))

    def node_finished(self, event: NodeFinished) -> None:
        """Turn the node's start and `event` into a `TraceStep`."""
        self._close(event.port, event.output, event.wait, event.service_data, event.error)

    def interrupted(self, error: errors.FluxError) -> None:
        """The call was stopped while a node ran: record that node as failed with `error`."""
        if self._open is not None:
            self._close(None, None, None, None, error.to_dict())

    def _close(
        self,
        port: str | None,
        output: Any,
        wait: float | None,
        service_data: JsonObject | None,
        error: JsonObject | None,
    ) -> None:
        opened, self._open = self._open, None
        if opened is None:
            raise errors.InvariantViolation("a node finished that never started")
        start = opened.event
        exchanges = self._log.every[opened.first_exchange :]
        self.steps.append(
            TraceStep(
                index=len(self.steps),
                node=start.node,
                type=start.type,
                label=start.label,
                input=self._keep(start.input),
                output=self._keep(output),
                port=port,
                wait=wait,
                service_data=self._keep(service_data),
                exchanges=tuple(self._keep(e.to_dict()) for e in exchanges),
                error=self._keep(error),
                elapsed_ms=round((self._clock() - opened.started) * 1000, 1),
                resumed=start.resumed,
            )
        )


@dataclass(frozen=True, slots=True)
class TestRun:
    """One call of a test: a verb of a plugin against a connection, fresh or resumed.

    Attributes:
        plugin: the loaded plugin (a stored version, or a validated unsaved document).
        verb: the lifecycle verb, or `test` (the connection test's flow, `TEST_FLOW`).
        connection: the connection the flow's nodes use unless they name another.
        context: the flow context (`order`, `options`, `service`, ...), without
            `correlation_id`.
        correlation_key: the key every upstream request carries (`test-...:<verb>`).
        now: the current time (poll timeouts).
        cursor: the cursor of the `Pending` being resumed, or `None`.
        secrets: values of `context` to redact everywhere (its credentials).
    """

    __test__ = False  # not a pytest test class

    plugin: LoadedPlugin
    verb: str
    connection: str
    context: JsonObject
    correlation_key: str
    now: datetime
    cursor: JsonObject | None = None
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TestRunResult:
    """How a test call ended, with its trace.

    Attributes:
        status: done, pending or failed.
        steps: the nodes run in this call, in order.
        service_data: what `set_service_data` nodes produced so far (redacted).
        result: the last node's output, when done (what `console` and `stats` answer).
        error: the normalized error (`{"code", "message", "details"}`), when failed.
        check_after: seconds to wait before resuming, when pending.
        cursor: the interpreter's cursor, when pending: never shown, only sealed.
        truncated: some value of the trace was too large and is shown cut.
    """

    __test__ = False  # not a pytest test class

    status: TestStatus
    steps: tuple[TraceStep, ...]
    service_data: JsonObject
    result: Any = None
    error: JsonObject | None = None
    check_after: float | None = None
    cursor: JsonObject | None = field(default=None, repr=False)
    truncated: bool = False


class _Clients:
    """The test's `Connections`: clients for the connections checked beforehand, remembered
    so that the trace is redacted with every secret they hold."""

    def __init__(self, connections: Connections, allowed: Sequence[str]) -> None:
        self._connections = connections
        self._allowed = frozenset(allowed)
        self.made: list[UpstreamHttp] = []

    async def client(self, name: str, recorder: ExchangeRecorder) -> UpstreamHttp:
        if name not in self._allowed:
            raise errors.InvalidSettings(
                f"the test may not use connection {name!r}", connection=name
            )
        made = await self._connections.client(name, recorder)
        self.made.append(made)
        return made

    def redactor(self, secrets: Sequence[str]) -> Redactor:
        """Masks `secrets` and every secret of the clients made so far."""
        redactor = Redactor(secrets)
        for client in self.made:
            redactor = redactor.joined(client.redactor)
        return redactor


async def run_test(
    run: TestRun,
    connections: Connections,
    *,
    allowed: Sequence[str],
    seconds: float = TEST_RUN_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> TestRunResult:
    """Run (or resume) `run`'s verb once, traced, writing nothing.

    Args:
        run: what to run.
        connections: makes the clients (`drivers.connections.ConnectionFactory`).
        allowed: the connections the flow may reach (checked by the caller: test
            connections, or production ones an admin allowed).
        seconds: the wall-clock budget of this call.
        clock: seconds, monotonic (node timing).

    Returns:
        The outcome and its trace; a failed flow is a `failed` result, not an exception.
    """
    log = ExchangeLog()
    clients = _Clients(connections, allowed)
    secrets = tuple(s for s in run.secrets if s)

    cache: dict[int, Redactor] = {}

    def redact(value: Any) -> Any:
        # Clients are made before the first node runs; one redactor serves the whole call.
        made = len(clients.made)
        if made not in cache:
            cache[made] = clients.redactor(secrets)
        return cache[made].value(value)

    tracer = Tracer(redact, log, clock=clock)
    outcome: VerbOutcome
    try:
        async with asyncio.timeout(seconds):
            if run.verb == TEST_FLOW:
                outcome = await _probe(run, clients, log, tracer)
            else:
                operation = drivers.Operation(
                    verb=drivers.Verb(run.verb),
                    correlation_key=run.correlation_key,
                    context=run.context,
                    connection=run.connection,
                    cursor=run.cursor,
                    now=run.now,
                    secrets=secrets,
                    recorder=log,
                )
                driver = FlowDriver(run.plugin, clients, observer=tracer)
                outcome = await drivers.call(driver, operation)
    except TimeoutError:
        stopped = errors.TransientUpstreamError(
            f"the test of {run.verb} stopped after {seconds:g} s, its time budget "
            "(a slow upstream, or a flow that sends many requests before it waits)",
            operation=str(run.verb),
            seconds=seconds,
        )
        tracer.interrupted(stopped)
        outcome = Failed(stopped)
    except errors.FluxError as exc:  # refused before any node ran (no such flow)
        outcome = Failed(exc)
    except Exception as exc:  # our bug: shown as the engine classifies it, and logged whole
        logger.error("test of %s: unexpected %s", run.verb, type(exc).__name__, exc_info=exc)
        bug = errors.InvariantViolation(
            f"the test of {run.verb} failed unexpectedly ({type(exc).__name__}); "
            "the server log has the details",
        )
        tracer.interrupted(bug)
        outcome = Failed(bug)
    return _result(outcome, tracer, redact)


async def _probe(run: TestRun, clients: _Clients, log: ExchangeLog, tracer: Tracer) -> VerbOutcome:
    """The `test` flow run as "test connection" runs it (`plugins.probe.FlowProbe`), traced."""
    if TEST_FLOW not in run.plugin.document.flows:
        raise errors.InvalidFlow(
            f"plugin {run.plugin.slug}@{run.plugin.version} has no {TEST_FLOW!r} flow",
            verb=TEST_FLOW,
        )
    connection = run.context.get("connection")
    probe = FlowProbe(
        run.plugin,
        connection if isinstance(connection, Mapping) else {},
        run.now,
        observer=tracer,
    )
    client = await clients.client(run.connection, log)
    try:
        outcome: VerbOutcome = await probe.run(client)
    except errors.FluxError as exc:
        return Failed(exc)
    finally:
        await client.aclose()
    if isinstance(outcome, Pending):
        return Failed(errors.InvalidFlow(WANTS_TO_WAIT, verb=TEST_FLOW))
    return outcome


def _kept(service_data: JsonObject) -> JsonObject:
    """Service data as shown: whole when small enough, else the truncation marker."""
    kept: JsonObject = bounded(service_data, VALUE_BYTES)[0]
    return kept


def _result(outcome: VerbOutcome, tracer: Tracer, redact: Callable[[Any], Any]) -> TestRunResult:
    steps = tuple(tracer.steps)
    if isinstance(outcome, Done):
        output: Mapping[str, Any] = outcome.output
        return TestRunResult(
            TestStatus.DONE,
            steps,
            service_data=_kept(redact(dict(output.get("service_data") or {}))),
            result=bounded(redact(output.get("result")), VALUE_BYTES)[0],
            truncated=tracer.truncated,
        )
    if isinstance(outcome, Pending):
        cursor = dict(outcome.cursor)
        return TestRunResult(
            TestStatus.PENDING,
            steps,
            service_data=_kept(redact(dict(cursor.get("service_data") or {}))),
            check_after=outcome.check_after.total_seconds(),
            cursor=cursor,
            truncated=tracer.truncated,
        )
    return TestRunResult(
        TestStatus.FAILED,
        steps,
        service_data={},
        error=bounded(redact(outcome.error.to_dict()), VALUE_BYTES)[0],
        truncated=tracer.truncated,
    )
