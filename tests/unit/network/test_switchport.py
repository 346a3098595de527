"""The switch-port job's decisions: which job, what the port becomes, when it is done."""

from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.network import switchport
from fluxbilling.network.switchport import Change, PortVlans, SwitchJobSpec, SwitchOp

Q = 4094


def port(
    tag: int | None = None, trunks: set[int] | None = None, mode: str | None = None
) -> PortVlans:
    return PortVlans("ge-0/0/1", tag, frozenset(trunks or ()), mode)


@pytest.mark.parametrize(
    ("service_type", "provision", "terminate"),
    [
        (
            "vps",
            SwitchJobSpec("p1", 100, SwitchOp.TRUNK_ADD),
            SwitchJobSpec("p1", 100, SwitchOp.TRUNK_REMOVE),
        ),
        (
            "baremetal",
            SwitchJobSpec("p1", 100, SwitchOp.ACCESS),
            SwitchJobSpec("p1", Q, SwitchOp.ACCESS),
        ),
    ],
)
def test_the_job_follows_the_kind_of_machine(
    service_type: str, provision: SwitchJobSpec, terminate: SwitchJobSpec
) -> None:
    assert switchport.provision_job(port="p1", vlan=100, service_type=service_type) == provision
    assert (
        switchport.terminate_job(port="p1", vlan=100, service_type=service_type, quarantine_vlan=Q)
        == terminate
    )


@pytest.mark.parametrize(("port_name", "vlan"), [(None, 100), ("", 100), ("p1", None)])
def test_no_port_or_no_vlan_is_no_job(port_name: str | None, vlan: int | None) -> None:
    assert switchport.provision_job(port=port_name, vlan=vlan, service_type="vps") is None
    assert (
        switchport.terminate_job(port=port_name, vlan=vlan, service_type="vps", quarantine_vlan=Q)
        is None
    )


def test_the_dedupe_key_names_order_port_vlan_and_operation() -> None:
    add = SwitchJobSpec("p1", 100, SwitchOp.TRUNK_ADD)
    remove = SwitchJobSpec("p1", 100, SwitchOp.TRUNK_REMOVE)
    assert switchport.dedupe_key(7, add) == switchport.dedupe_key(7, add)
    assert len({switchport.dedupe_key(7, add), switchport.dedupe_key(7, remove),
                switchport.dedupe_key(8, add)}) == 3  # fmt: skip


def test_a_trunk_gains_the_vlan_and_loses_the_quarantine_stand_in() -> None:
    assert switchport.plan(SwitchOp.TRUNK_ADD, 100, port(trunks={Q}), quarantine_vlan=Q) == Change(
        trunks=frozenset({100})
    )
    assert switchport.plan(
        SwitchOp.TRUNK_ADD, 100, port(trunks={200}), quarantine_vlan=Q
    ) == Change(trunks=frozenset({100, 200}))


def test_a_vlan_already_there_is_no_write() -> None:
    assert (
        switchport.plan(SwitchOp.TRUNK_ADD, 100, port(trunks={100, 200}), quarantine_vlan=Q) is None
    )
    assert switchport.plan(SwitchOp.ACCESS, 100, port(tag=100), quarantine_vlan=Q) is None
    assert (
        switchport.plan(SwitchOp.TRUNK_REMOVE, 100, port(trunks={200}), quarantine_vlan=Q) is None
    )


def test_removing_the_last_vlan_never_leaves_an_empty_all_vlan_trunk() -> None:
    change = switchport.plan(SwitchOp.TRUNK_REMOVE, 100, port(trunks={100}), quarantine_vlan=Q)
    assert change == Change(trunks=frozenset({Q}))
    assert not switchport.satisfied(SwitchOp.TRUNK_REMOVE, 100, port(), quarantine_vlan=Q)


def test_access_moves_a_port_that_is_elsewhere_or_in_trunk_mode() -> None:
    assert switchport.plan(SwitchOp.ACCESS, 100, port(tag=200), quarantine_vlan=Q) == Change(
        tag=100
    )
    assert switchport.plan(
        SwitchOp.ACCESS, 100, port(tag=100, mode="trunk"), quarantine_vlan=Q
    ) == Change(tag=100)


def test_a_trunk_job_on_an_access_port_is_permanent_and_names_the_port() -> None:
    with pytest.raises(errors.PermanentUpstreamError, match="ge-0/0/1 is an access port"):
        switchport.plan(SwitchOp.TRUNK_ADD, 100, port(tag=5), quarantine_vlan=Q)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (port(trunks={100}), True),
        (port(trunks={100, Q}), False),
        (port(trunks={200}), False),
        (port(), False),
    ],
)
def test_a_trunk_add_is_done_only_when_read_back_carries_the_vlan(
    state: PortVlans, expected: bool
) -> None:
    assert switchport.satisfied(SwitchOp.TRUNK_ADD, 100, state, quarantine_vlan=Q) is expected


def test_effective_mode_and_valid_vlans() -> None:
    assert (
        port().effective_mode,
        port(tag=3).effective_mode,
        port(tag=3, mode="trunk").effective_mode,
    ) == (
        "trunk",
        "access",
        "trunk",
    )
    assert [switchport.valid_vlan(v) for v in (0, 1, 4094, 4095)] == [False, True, True, False]
