from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.orders import lifecycle
from fluxbilling.orders.lifecycle import OrderEvent, OrderState, ServiceEvent, ServiceState

ROOT = Path(__file__).resolve().parents[3]
OS, OE, S, SE = OrderState, OrderEvent, ServiceState, ServiceEvent

# The behaviour the code had before the table existed, written out by hand: a change to
# the table must be a change to this list too.
ORDER_LEGAL = {
    (OS.AWAITING_PAYMENT, OE.PAID): OS.PROVISIONING_PENDING,
    (OS.PROVISIONING_PENDING, OE.STARTED): OS.PROVISIONING,
    (OS.PROVISIONING, OE.HANDED_OFF): OS.ACTIVE,
    (OS.PROVISIONING, OE.FAILED): OS.FAILED,
    (OS.FAILED, OE.RETRIED): OS.PROVISIONING_PENDING,
    (OS.PROVISIONING_PENDING, OE.CANCELLED): OS.CANCELLED,
    (OS.PROVISIONING, OE.CANCELLED): OS.CANCELLED,
    (OS.FAILED, OE.CANCELLED): OS.CANCELLED,
}
SERVICE_LEGAL = {
    (S.ALLOCATED, SE.PROVISIONED): S.PROVISIONED,
    (S.PROVISIONED, SE.PROVISIONED): S.PROVISIONED,
    (S.INSTALLED, SE.PROVISIONED): S.PROVISIONED,
    (S.PROVISIONED, SE.INSTALLED): S.INSTALLED,
    (S.INSTALLED, SE.INSTALLED): S.INSTALLED,
    (S.PROVISIONED, SE.HANDED_OFF): S.ACTIVE,
    (S.INSTALLED, SE.HANDED_OFF): S.ACTIVE,
    (S.ACTIVE, SE.SUSPENDED): S.SUSPENDED,
    (S.SUSPENDED, SE.UNSUSPENDED): S.ACTIVE,
    (S.ACTIVE, SE.TERMINATED): S.TERMINATED,
    (S.SUSPENDED, SE.TERMINATED): S.TERMINATED,
    (S.ACTIVE, SE.REINSTALLED): S.ACTIVE,
    (S.ACTIVE, SE.RESIZED): S.ACTIVE,
}


@pytest.mark.parametrize(("state", "event"), list(itertools.product(OrderState, OrderEvent)))
def test_every_order_pair(state: OrderState, event: OrderEvent) -> None:
    if (state, event) in ORDER_LEGAL:
        assert (
            lifecycle.next_state(lifecycle.ORDER_TABLE, state, event) == ORDER_LEGAL[state, event]
        )
        return
    with pytest.raises(errors.IllegalTransition) as raised:
        lifecycle.next_state(lifecycle.ORDER_TABLE, state, event)
    assert f"'{state.value}'" in raised.value.message
    assert f"'{event.value}'" in raised.value.message
    assert raised.value.details == {"state": state.value, "event": event.value}


@pytest.mark.parametrize(("state", "event"), list(itertools.product(ServiceState, ServiceEvent)))
def test_every_service_pair(state: ServiceState, event: ServiceEvent) -> None:
    if (state, event) in SERVICE_LEGAL:
        expected = SERVICE_LEGAL[state, event]
        assert lifecycle.next_state(lifecycle.SERVICE_TABLE, state, event) == expected
        return
    with pytest.raises(errors.IllegalTransition) as raised:
        lifecycle.next_state(lifecycle.SERVICE_TABLE, state, event)
    assert f"'{state.value}'" in raised.value.message
    assert f"'{event.value}'" in raised.value.message


def test_the_tables_hold_nothing_the_spec_lacks() -> None:
    assert dict(lifecycle.ORDER_TABLE) == ORDER_LEGAL
    assert dict(lifecycle.SERVICE_TABLE) == SERVICE_LEGAL


def test_an_illegal_transition_is_a_conflict() -> None:
    # The API maps Conflict to 409; an illegal event is one.
    assert issubclass(errors.IllegalTransition, errors.Conflict)


def test_every_state_is_reachable_from_the_initial_one() -> None:
    for table, initial, states in (
        (lifecycle.ORDER_TABLE, OS.AWAITING_PAYMENT, set(OrderState)),
        (lifecycle.SERVICE_TABLE, S.ALLOCATED, set(ServiceState)),
    ):
        seen, frontier = {initial}, [initial]
        while frontier:
            here = frontier.pop()
            for (state, _), target in table.items():
                if state == here and target not in seen:
                    seen.add(target)
                    frontier.append(target)
        assert seen == states


@pytest.mark.parametrize(
    ("machine", "legal", "event"),
    [(lifecycle.ORDERS, ORDER_LEGAL, e) for e in OrderEvent]
    + [(lifecycle.SERVICES, SERVICE_LEGAL, e) for e in ServiceEvent],
)
def test_each_event_is_one_guarded_update(
    machine: lifecycle.Machine[Any, Any],
    legal: dict[tuple[Any, Any], Any],
    event: OrderEvent | ServiceEvent,
) -> None:
    # `transition` applies an event with one UPDATE: the states it is allowed in, one target.
    allowed, target = machine.event(event)
    assert set(allowed) == {s for (s, e) in legal if e == event}
    assert {legal[s, event] for s in allowed} == {target}


def test_an_event_with_two_targets_cannot_be_applied() -> None:
    forked = lifecycle.Machine(
        "order",
        {(OS.FAILED, OE.CANCELLED): OS.CANCELLED, (OS.ACTIVE, OE.CANCELLED): OS.FAILED},
        OS.ACTIVE,
        lifecycle.ORDERS.rows,
        "state",
        "id",
    )
    with pytest.raises(errors.InvariantViolation, match="'cancelled' leads to 2 states"):
        forked.event(OE.CANCELLED)


def test_moves_name_their_machine() -> None:
    assert lifecycle.order(7, OE.PAID) == lifecycle.Move(lifecycle.ORDERS, 7, OE.PAID)
    assert lifecycle.service(3, SE.SUSPENDED).machine is lifecycle.SERVICES
    assert lifecycle.ORDERS.initial == OS.AWAITING_PAYMENT
    assert lifecycle.SERVICES.initial == S.ALLOCATED


def test_docs_lifecycle_md_is_generated_from_the_tables() -> None:
    committed = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    assert committed == lifecycle.mermaid(), (
        "docs/lifecycle.md differs from the lifecycle tables; regenerate it with\n"
        "    .venv/bin/python -m fluxbilling.orders.lifecycle > docs/lifecycle.md"
    )


def test_the_diagram_draws_every_row() -> None:
    text = lifecycle.mermaid()
    assert text.count("stateDiagram-v2") == 2
    assert "    provisioning --> failed: failed" in text
    assert "    suspended --> active: unsuspended" in text
    rows = [line for line in text.splitlines() if "-->" in line and "[*]" not in line]
    assert len(rows) == len(ORDER_LEGAL) + len(SERVICE_LEGAL)


# -- one writer -----------------------------------------------------------------------------

_STATE_WRITE = re.compile(
    r"(?:\b(?:orders|services)\.update\(\)|sa\.update\(\s*(?:schema\.)?(?:orders|services)\b)"
    r"(?:(?!\bupdate\().){0,600}?\.values\([^)]*\b(?:state|status)\s*=",
    re.DOTALL,
)
_STATE_INSERT = re.compile(
    r"(?:\b(?:orders|services)\.insert\(\)|(?:insert_ignore|upsert)\(\s*(?:schema\.)?(?:orders|services)\))"
    r"(?:(?!\binsert).){0,300}?\.values\([^)]*\b(?:state|status)\s*=",
    re.DOTALL,
)
_RAW_SQL_WRITE = re.compile(
    r"UPDATE\s+(?:orders|services)\b[^;]*?\bSET\b[^;]*?\b(?:state|status)\b", re.I
)
_STATUS_COLUMN = re.compile(r"merge_service_data\([^)]*\bstatus\s*=", re.DOTALL)


def state_writes(text: str) -> list[str]:
    """The snippets of `text` that write orders.state or services.status."""
    found = [*_STATE_WRITE.finditer(text), *_STATE_INSERT.finditer(text)]
    found += _RAW_SQL_WRITE.finditer(text)
    found += _STATUS_COLUMN.finditer(text)
    return [m.group(0)[:80] for m in found]


def test_the_checker_finds_the_shapes_it_looks_for() -> None:
    assert state_writes(
        "schema.orders.update()\n.where(schema.orders.c.id == 1)\n.values(state='active')"
    )
    assert state_writes("services.update().where(x).values(\n    status='suspended')")
    assert state_writes("sa.update(schema.orders).values(state=s)")
    assert state_writes("conn.exec_driver_sql(\"UPDATE orders SET state = 'failed'\")")
    assert state_writes("await merge_service_data(conn, 1, {}, status='active')")
    assert state_writes("schema.services.insert()\n.values(order_id=1, status='allocated')")
    assert state_writes("db.insert_ignore(schema.orders)\n.values(hostname=h, state=s)")
    assert not state_writes("schema.services.insert().values(order_id=1, host_id=2)")
    assert not state_writes("services.update().where(x).values(plugin_version=3)")
    assert not state_writes("runs.update().values(state=RunState.QUEUED)")


def test_only_the_lifecycle_module_writes_order_and_service_states() -> None:
    src = ROOT / "src" / "fluxbilling"
    owner = src / "orders" / "lifecycle.py"
    offenders = {
        str(path.relative_to(ROOT)): hits
        for path in sorted(src.rglob("*.py"))
        if path != owner and "migrations" not in path.parts
        for hits in [state_writes(path.read_text(encoding="utf-8"))]
        if hits
    }
    assert offenders == {}, "write order/service states through fluxbilling.orders.lifecycle"


@pytest.mark.parametrize(
    ("facts", "refused"),
    [
        (lifecycle.ReallocationFacts(OS.FAILED, "allocation", None, False), None),
        (lifecycle.ReallocationFacts(OS.FAILED, "provision", S.ALLOCATED, False), None),
        (
            lifecycle.ReallocationFacts(OS.FAILED, "provision", S.ALLOCATED, True),
            "created the service",
        ),
        (
            lifecycle.ReallocationFacts(OS.FAILED, "provision", S.PROVISIONED, False),
            "created the service",
        ),
        (
            lifecycle.ReallocationFacts(OS.FAILED, "os_install", S.PROVISIONED, True),
            "at os_install",
        ),
        (lifecycle.ReallocationFacts(OS.FAILED, None, None, False), "at None"),
        (lifecycle.ReallocationFacts(OS.ACTIVE, "handoff", S.ACTIVE, True), "the order is active"),
        (
            lifecycle.ReallocationFacts(OS.PROVISIONING, "provision", S.ALLOCATED, False),
            "only a failed",
        ),
    ],
)
def test_reallocation_is_allowed_only_before_anything_exists_upstream(
    facts: lifecycle.ReallocationFacts, refused: str | None
) -> None:
    found = lifecycle.reallocation_refusal(facts)
    if refused is None:
        assert found is None
    else:
        assert found is not None and refused in found
